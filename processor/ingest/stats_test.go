package ingest

import (
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/histogram"
)

// The progress row gets increments of the totals, the window's counts and
// histograms that carry on from the previous process of the shard.
func TestStats(t *testing.T) {
	var s stats
	start := time.Now()
	s.reset(start)
	if err := s.carryOn("w1 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0", ""); err != nil {
		t.Fatal(err)
	}
	fresh := histogram.New(&histogram.Freshness)
	fresh.Observe(0.2)
	fresh.Observe(40)
	s.add(10, 1000, 2, 30*time.Millisecond, fresh)
	s.add(5, 500, 0, 2*time.Second, histogram.New(&histogram.Freshness))
	written, dead, bytes := s.unreported()
	if written != 13 || dead != 2 || bytes != 1500 || s.records != 15 || s.bytes != 1500 {
		t.Fatalf("unreported %d %d %d, window %d records %d bytes", written, dead, bytes, s.records, s.bytes)
	}
	if got, want := s.latency.String(), "w1 3.03 0 0 0 1 0 0 0 1 1 0 0 0 0 0"; got != want {
		t.Fatalf("latency %q, want %q", got, want)
	}
	if got := s.fresh.Count(); got != 2 {
		t.Fatalf("freshness counted %d records, want 2", got)
	}
	s.reported(written, dead, bytes)
	s.reset(start.Add(time.Minute))
	if w, d, b := s.unreported(); w != 0 || d != 0 || b != 0 || s.records != 0 || s.latency.Count() != 3 {
		t.Fatalf("after a report: unreported %d %d %d, window %d, latency %d", w, d, b, s.records, s.latency.Count())
	}
	if err := s.carryOn("x9 1 2", ""); err == nil {
		t.Fatal("carried on a histogram of an unknown layout")
	}
}
