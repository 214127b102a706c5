package ingest

import (
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// stats feeds the periodic progress line: counts since the last line and
// totals for the progress table.
type stats struct {
	since                   time.Time
	records, bytes, batches int64
	dead                    int64
	totalRecords, totalDead int64
	// Counts already added to the progress table.
	reportedRecords, reportedDead int64
	behind                        int64 // millisBehindLatest of the last batch; -1 unknown
}

func (s *stats) reset(now time.Time) {
	if s.since.IsZero() {
		s.behind = -1
	}
	s.since = now
	s.records, s.bytes, s.batches, s.dead = 0, 0, 0, 0
}

func (s *stats) add(records, bytes, dead int) {
	s.batches++
	s.records += int64(records)
	s.bytes += int64(bytes)
	s.dead += int64(dead)
	s.totalRecords += int64(records) - int64(dead)
	s.totalDead += int64(dead)
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
func (s *stats) unreported() (written, dead int64) {
	return s.totalRecords - s.reportedRecords, s.totalDead - s.reportedDead
}

func (s *stats) reported(written, dead int64) {
	s.reportedRecords += written
	s.reportedDead += dead
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
