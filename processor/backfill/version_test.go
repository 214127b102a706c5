package backfill

import (
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

func TestScanVersion(t *testing.T) {
	local := time.Date(2026, 11, 30, 12, 0, 0, 500_000_000, time.UTC)
	tests := []struct {
		name   string
		server time.Time
		want   time.Time
	}{
		{"no server clock: ours", time.Time{}, local.Add(-Margin)},
		{"server behind (its Date is cut to the second): the server's", local.Add(-500 * time.Millisecond), local.Add(-500*time.Millisecond - Margin)},
		{"our clock behind: ours", local.Add(time.Hour), local.Add(-Margin)},
	}
	for _, tc := range tests {
		if got := scanVersion(local, tc.server); got != tc.want.UnixMicro() {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want.UnixMicro())
		}
	}
}

// TestItemVersionBelowChanges: a scanned item's version sorts below every
// change record made after the scan began, also one stamped the very
// microsecond of the version.
func TestItemVersionBelowChanges(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	micros := scanVersion(start, start)
	changeAt := func(t time.Time) cdc.Version { // the stream's millisecond stamp, cut
		return cdc.Version{Micros: t.Truncate(time.Millisecond).UnixMicro(), Seq: "49590338271490256608559692538361571095921575989136588898"}
	}
	for _, seg := range []int{0, 1, 999_999} {
		item := itemVersion(micros, seg, 1<<40)
		for _, c := range []cdc.Version{changeAt(start), changeAt(start.Add(-Margin + time.Millisecond)),
			{Micros: micros, Seq: changeAt(start).Seq}} {
			if item.Compare(c) >= 0 || item.String() >= c.String() {
				t.Errorf("segment %d: item %s not below change %s", seg, item, c)
			}
		}
		if older := changeAt(start.Add(-2 * Margin)); item.Compare(older) <= 0 {
			t.Errorf("item %s not above a change made before the margin %s", item, older)
		}
	}
}
