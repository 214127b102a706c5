package backfill

import (
	"strconv"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Margin is how far below the scan's start the version of its items lies.
//
// The version guard keeps, per row, the change with the greatest version,
// ordered by time (µs) first. A scanned item must lose against every change
// the scan may not have seen, i.e. every change made after the scan
// began, whichever is applied first; and it may win against changes made
// before: the scan read the item later (ConsistentRead), so it holds their
// effect or something newer. The scan's start is taken as the earlier of
// this machine's clock and DynamoDB's (the Date of the answer to
// DescribeTable, sent before the first Scan, truncated to the second), so
// a clock of ours running ahead cannot lift the version above a change.
// What remains is the difference between DynamoDB's front end's clock and
// the clock that stamps ApproximateCreationDateTime (AWS hosts keep time
// through the Amazon Time Sync Service, within a millisecond), and the
// stamp's precision: it is cut to the millisecond by default, so a change
// at t carries at least t-1ms. One second covers both with a wide
// margin. A larger margin costs nothing in correctness: a change made
// between the version and the scan's start wins against the item, and the
// stream delivers it with the state it made, which the scan also read or
// which a later change (also winning) replaced.
//
// At equal times the item still loses: its sequence number (the segment
// plus one, at most 7 digits) is shorter than Kinesis's (56 digits), and
// shorter sorts first.
const Margin = time.Second

// scanVersion is the version time of a new scan: the earlier of the local
// clock and DynamoDB's (zero when unknown), minus Margin.
func scanVersion(local, server time.Time) int64 {
	start := local
	if !server.IsZero() && server.Before(local) {
		start = server
	}
	return start.Add(-Margin).UnixMicro()
}

// itemVersion is the version of the n-th item (from 0) of a segment: the
// scan's time, the segment as sequence number, the item's position as
// sub-sequence number. Every item of a scan has its own version, so its
// dead letter has its own key, and a resumed scan gives an item read again
// the version it had (the guard then leaves the row alone).
func itemVersion(micros int64, segment int, n int64) cdc.Version {
	return cdc.Version{Micros: micros, Seq: strconv.Itoa(segment + 1), Sub: n}
}

// scanIDLayout names a scan by its start: fixed width, so text order is
// time order.
const scanIDLayout = "2006-01-02T15:04:05.000000Z"
