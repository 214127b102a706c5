package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// latencies summarises batch round trips with nearest-rank percentiles.
func latencies(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latencies{P50: ms(rank(0.50)), P99: ms(rank(0.99)), Max: ms(s[len(s)-1])}
}

func printTable(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("run", "%s", r.Name)
	row("records", "%d × %d B in %d batches of ≤ %d", r.Records, r.RecordSize, r.Batches, r.BatchSize)
	row("protocol input", "%.1f MB", float64(r.InputBytes)/1e6)
	row("child start-up", "%.3f s (spawn to initialize status)", r.StartupSeconds)
	row("wall time", "%.3f s (first processRecords to the shutdownRequested status; %.3f s to the last processRecords status)", r.WallSeconds, r.StreamSeconds)
	row("records/s", "%.0f", r.RecordsPerSec)
	row("MB/s", "%.1f (protocol input)", r.MBPerSec)
	row("batch latency", "p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.LatencyMs.P50, r.LatencyMs.P99, r.LatencyMs.Max)
	row("shutdown", "%.3f s (stdin EOF to exit), exit code %d", r.ShutdownSeconds, r.ExitCode)
	row("child peak RSS", "%.1f MiB", r.PeakRSSMiB)
	row("child CPU", "%.2f s (user+sys)", r.CPUSeconds)
	row("checkpoints", "%d requests, last %s, covers all records: %v", r.Checkpoints, orNone(r.LastCheckpoint), r.CheckpointAtEnd)
	row("protocol violations", "%d", r.Violations)
	for _, l := range r.ViolationLines {
		row("", "%s", l)
	}
	if r.Error != "" {
		row("error", "%s", r.Error)
	}
	_ = tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func printE2E(w io.Writer, r *E2EResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("run", "%s (%d shards, %d B records, daemon maxRecords %d)", r.Name, r.Shards, r.RecordSize, r.MaxRecords)
	row("start-up", "%.1f s (daemon launch to first rows visible)", r.StartupSeconds)
	l := r.Latency
	row("latency phase", "%d records at %.0f/s", l.Records, l.Rate)
	row("  PutRecords call", "p50 %.0f ms, p99 %.0f ms, max %.0f ms", l.PutMs.P50, l.PutMs.P99, l.PutMs.Max)
	row("  put to visible", "p50 %.0f ms, p99 %.0f ms, max %.0f ms (poll every %.0f ms)", l.VisibleMs.P50, l.VisibleMs.P99, l.VisibleMs.Max, r.PollMs)
	t := r.Throughput
	row("throughput phase", "%d records", t.Records)
	row("  publish alone", "%.1f s, %.0f records/s", t.PublishSeconds, t.PublishPerSec)
	row("  end to end", "%.1f s, %.0f records/s (drain after the last put %.1f s)", t.EndToEndSeconds, t.RecordsPerSec, t.DrainSeconds)
	row("  put to visible", "p50 %.0f ms, p99 %.0f ms, max %.0f ms", t.VisibleMs.P50, t.VisibleMs.P99, t.VisibleMs.Max)
	names := make([]string, 0, len(t.CPU))
	for n := range t.CPU {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		row("  CPU "+n, "%.1f s = %.2f cores", t.CPU[n].Seconds, t.CPU[n].Cores)
	}
	row("  children", "%d, peak RSS %.1f MiB", t.ChildrenSeen, t.ChildPeakRSSMiB)
	row("rows", "%d", r.Rows)
	row("logs", "%s", r.LogDir)
	if r.Error != "" {
		row("error", "%s", r.Error)
	}
	_ = tw.Flush()
}

func printBulk(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("run", "%s (%s)", r.Name, strings.Join(r.Child, " into "))
	row("records", "%d × %d B in %d COPYs of ≤ %d rows", r.Records, r.RecordSize, r.Batches, r.BatchSize)
	row("wall time", "%.3f s", r.WallSeconds)
	row("records/s", "%.0f", r.RecordsPerSec)
	row("MB/s", "%.1f (of the equivalent protocol input)", r.MBPerSec)
	row("batch latency", "p50 %.1f ms, p99 %.1f ms, max %.1f ms (one COPY)", r.LatencyMs.P50, r.LatencyMs.P99, r.LatencyMs.Max)
	row("client CPU", "%.2f s (this process)", r.CPUSeconds)
	if r.Error != "" {
		row("error", "%s", r.Error)
	}
	_ = tw.Flush()
}
