package main

import (
	"fmt"
	"io"
	"slices"
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
	row("wall time", "%.3f s (processRecords stream)", r.WallSeconds)
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
