package ingest

import (
	"strconv"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/histogram"
	"github.com/rs/zerolog"
)

// stats feeds the periodic progress line: counts since the last line (the
// rate window of the progress table) and totals for the progress table.
type stats struct {
	since                               time.Time
	records, bytes, batches             int64
	dead                                int64
	totalRecords, totalDead, totalBytes int64
	// Counts already added to the progress table.
	reportedRecords, reportedDead, reportedBytes int64
	behind                                       int64 // millisBehindLatest of the last batch; -1 unknown
	// latency (per batch) and fresh (per record) are cumulative over the
	// shard's processes: a process starts from the progress row's.
	latency, fresh *histogram.Histogram
}

func (s *stats) reset(now time.Time) {
	if s.since.IsZero() {
		s.behind = -1
		s.latency, s.fresh = histogram.New(&histogram.WriteLatency), histogram.New(&histogram.Freshness)
	}
	s.since = now
	s.records, s.bytes, s.batches, s.dead = 0, 0, 0, 0
}

// add counts a stored batch: how long it took and how old its records were
// when stored (fresh, the batch's own histogram).
func (s *stats) add(records, bytes, dead int, took time.Duration, fresh *histogram.Histogram) {
	s.batches++
	s.records += int64(records)
	s.bytes += int64(bytes)
	s.dead += int64(dead)
	s.totalRecords += int64(records) - int64(dead)
	s.totalDead += int64(dead)
	s.totalBytes += int64(bytes)
	s.latency.Observe(took.Seconds())
	_ = s.fresh.Merge(fresh) // one layout: cannot fail
}

// carryOn adds the histograms a previous process of the shard stored.
func (s *stats) carryOn(latency, fresh string) error {
	lat, err := histogram.Parse(&histogram.WriteLatency, latency)
	if err != nil {
		return err
	}
	fr, err := histogram.Parse(&histogram.Freshness, fresh)
	if err != nil {
		return err
	}
	_ = s.latency.Merge(lat)
	_ = s.fresh.Merge(fr)
	return nil
}

func (s *stats) log(log zerolog.Logger, now time.Time, checkpoint position) {
	secs := now.Sub(s.since).Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	log.Info().
		Float64("records_per_s", round1(float64(s.records)/secs)).
		Float64("bytes_per_s", round1(float64(s.bytes)/secs)).
		Int64("records", s.records).Int64("batches", s.batches).Int64("dead_lettered", s.dead).
		Int64("millis_behind_latest", s.behind).Str("checkpoint", checkpoint.String()).
		Int64("total_written", s.totalRecords).Int64("total_dead_lettered", s.totalDead).
		Msg("progress")
}

// unreported returns the counts not yet added to the progress table.
func (s *stats) unreported() (written, dead, bytes int64) {
	return s.totalRecords - s.reportedRecords, s.totalDead - s.reportedDead, s.totalBytes - s.reportedBytes
}

func (s *stats) reported(written, dead, bytes int64) {
	s.reportedRecords += written
	s.reportedDead += dead
	s.reportedBytes += bytes
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
