package exporter

import (
	"io"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/histogram"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/promtext"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
)

// Metric names; every one starts with this prefix.
const prefix = "kinesis_cratedb_"

// shardValue is one per-shard series of a counter or gauge family: ok is
// false for a shard without a value (no row, or unknown).
type shardValue func(s status.Shard) (v float64, ok bool)

// family is a per-shard counter or gauge.
type family struct {
	name, typ, help string
	value           shardValue
}

// shardFamilies are the per-shard counters and gauges, in the order
// served.
func shardFamilies() []family {
	return []family{
		{"records_written_total", promtext.Counter, "Records stored in the target table (progress table, summed over the shard's processes).",
			fromRow(func(s status.Shard) int64 { return s.Progress.RecordsWritten })},
		{"bytes_written_total", promtext.Counter, "Kinesis data bytes of the records stored, dead letters included.",
			fromRow(func(s status.Shard) int64 { return s.Progress.BytesWritten })},
		{"dead_lettered_total", promtext.Counter, "Records sent to the dead-letter table.",
			fromRow(func(s status.Shard) int64 { return s.Progress.DeadLettered })},
		{"behind_latest_seconds", promtext.Gauge, "The last batch's millisBehindLatest, in seconds: how far the shard is behind the stream's tip.",
			seconds(func(s status.Shard) time.Duration { return s.Behind })},
		{"checkpoint_age_seconds", promtext.Gauge, "Time since the shard's last checkpoint with the KCL (on a quiet shard it grows: nothing new to checkpoint).",
			seconds(func(s status.Shard) time.Duration { return s.CheckpointAge })},
		{"last_update_age_seconds", promtext.Gauge, "Time since the shard's process last updated its progress row.",
			seconds(func(s status.Shard) time.Duration { return s.UpdateAge })},
		{"shard_stale", promtext.Gauge, "1 when the shard's row is older than the exporter's --stale threshold, else 0.",
			func(s status.Shard) (float64, bool) { return boolValue(s.State == status.Stale), true }},
	}
}

func fromRow(f func(status.Shard) int64) shardValue {
	return func(s status.Shard) (float64, bool) {
		if s.Progress == nil {
			return 0, false
		}
		return float64(f(s)), true
	}
}

// seconds serves a duration that is negative when unknown.
func seconds(f func(status.Shard) time.Duration) shardValue {
	return func(s status.Shard) (float64, bool) { return f(s).Seconds(), f(s) >= 0 }
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// histogramFamily is a per-shard histogram.
type histogramFamily struct {
	name, help string
	layout     *histogram.Layout
	text       func(s status.Shard) string
}

// shardHistograms are the histograms each shard's processes keep in its
// row (package histogram: the buckets are fixed).
func shardHistograms() []histogramFamily {
	return []histogramFamily{
		{"write_latency_seconds", "Time to store a batch, from its arrival at the shard's process to stored (decoding, writing, retries).",
			&histogram.WriteLatency, func(s status.Shard) string { return s.Progress.WriteLatency }},
		{"freshness_seconds", "Age of a record when stored: its arrival in Kinesis (ApproximateArrivalTimestamp) to the end of its write.",
			&histogram.Freshness, func(s status.Shard) string { return s.Progress.Freshness }},
	}
}

// writeMetrics writes one look in the text format.
func writeMetrics(out io.Writer, l look, hasLeases bool) error {
	w := promtext.NewWriter(out)
	w.Family(prefix+"up", promtext.Gauge, "1 when the progress table could be read, else 0 (and no shard series).")
	w.Sample(nil, boolValue(l.err == nil))
	w.Family(prefix+"scrape_duration_seconds", promtext.Gauge, "Time the exporter took to read the progress and lease tables.")
	w.Sample(nil, l.taken.Seconds())
	if l.err != nil {
		return w.Err()
	}
	rep := l.rep
	if hasLeases {
		w.Family(prefix+"lease_table_up", promtext.Gauge, "1 when the KCL lease table could be read, else 0 (owners unknown).")
		w.Sample(nil, boolValue(rep.LeaseErr == nil))
	}
	labels := make([][]promtext.Label, len(rep.Shards))
	for i, s := range rep.Shards {
		labels[i] = []promtext.Label{{Name: "table", Value: rep.Target}, {Name: "shard", Value: s.ID}}
	}
	w.Family(prefix+"shard_info", promtext.Gauge, "1 per shard, labelled with its lease owner (\"\" when unknown or nobody) and state (ok, stale, behind, ended, no lease, no progress).")
	for i, s := range rep.Shards {
		owner := ""
		if s.Lease != nil {
			owner = s.Lease.Owner
		}
		w.Sample(append(labels[i][:2:2], promtext.Label{Name: "owner", Value: owner}, promtext.Label{Name: "state", Value: string(s.State)}), 1)
	}
	for _, f := range shardFamilies() {
		w.Family(prefix+f.name, f.typ, f.help)
		for i, s := range rep.Shards {
			if v, ok := f.value(s); ok {
				w.Sample(labels[i], v)
			}
		}
	}
	for _, f := range shardHistograms() {
		w.Family(prefix+f.name, promtext.Histogram, f.help)
		for i, s := range rep.Shards {
			if s.Progress == nil || f.text(s) == "" {
				continue // no row, or one of an earlier version
			}
			// A line of another layout (a later version's) is left out
			// rather than read into the wrong buckets.
			if h, err := histogram.Parse(f.layout, f.text(s)); err == nil {
				w.Histogram(labels[i], f.layout.Bounds, h.Cumulative(), h.Sum())
			}
		}
	}
	return w.Err()
}
