package status

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report for people: a heading, one line per shard,
// and a closing line per shard that needs someone.
func (r Report) WriteTable(w io.Writer) error {
	leases := "leases: not read"
	switch {
	case r.LeaseSource == "" && r.NoLeases != "":
		leases += " (" + r.NoLeases + ")"
	case r.LeaseErr != nil:
		leases = "leases: unreadable (" + r.LeaseSource + ": " + oneLine(r.LeaseErr.Error()) + ")"
	case r.LeaseSource != "":
		leases = "leases: " + r.LeaseSource
	}
	fmt.Fprintf(w, "%s  %s (%s, progress in %s)  %s\n", r.At.UTC().Format("2006-01-02 15:04:05 MST"), r.Target, r.Dialect, r.ProgressTable, leases)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tOWNER\tRECORDS/S\tBYTES/S\tBEHIND\tCHECKPOINTED\tUPDATED\tWRITTEN\tDEAD\tSTATE")
	for _, s := range r.Shards {
		written, dead := "-", "-"
		if s.Progress != nil {
			written, dead = strconv.FormatInt(s.Progress.RecordsWritten, 10), strconv.FormatInt(s.Progress.DeadLettered, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.owner(r.leasesRead), s.rate(s.RecordsPerSecond, false),
			s.rate(s.BytesPerSecond, true), Duration(s.Behind), ago(s.CheckpointAge), ago(s.UpdateAge), written, dead, s.State)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Alerts() {
		fmt.Fprintf(w, "%s: %s %s\n", strings.ToUpper(string(s.State)), s.ID, s.Reason)
	}
	if len(r.Shards) == 0 {
		fmt.Fprintf(w, "no shard has reported on %s yet\n", r.Target)
	}
	if !r.Complete && len(r.Shards) > 0 {
		fmt.Fprintln(w, "note: the progress table was made by an earlier version: rates and checkpoint times appear once a child of this version has started")
	}
	return nil
}

// owner is the lease's owner, "(none)" for a lease nobody holds, "-" when
// the leases were not read.
func (s Shard) owner(leasesRead bool) string {
	switch {
	case s.Lease != nil && s.Lease.Owner != "":
		return s.Lease.Owner
	case s.Lease != nil || leasesRead:
		return "(none)"
	}
	return "-"
}

func (s Shard) rate(v float64, bytes bool) string {
	if s.Progress == nil || s.Progress.Window <= 0 {
		return "-"
	}
	if bytes {
		return Bytes(v)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// Duration is d for people: 0s, 850ms, 42s, 4m12s, 2h05m, 3d04h; "-" when
// unknown (negative).
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d == 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}

func ago(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return Duration(d) + " ago"
}

// Bytes is a byte count for people, in powers of 1024: 512 B, 1.5 KiB,
// 20.0 MiB.
func Bytes(v float64) string {
	if v < 1024 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	unit := 0
	for v >= 1024 && unit < 4 {
		v /= 1024
		unit++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + [...]string{"", "KiB", "MiB", "GiB", "TiB"}[unit]
}

// oneLine keeps an error on the heading's line.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
