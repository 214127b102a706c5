// Package histogram counts observations in fixed buckets and carries them
// as a short line of text, so that a shard's process can keep a cumulative
// histogram in its progress row and a reader in another process (the
// status command, the metrics exporter) can turn it back into buckets.
//
// The buckets are fixed per Layout and never change under a version: a
// stored line names its layout's version, and a line of another version is
// refused rather than read into the wrong buckets.
package histogram

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Layout is a fixed set of bucket upper bounds, in seconds, ascending; an
// implicit last bucket takes everything above (Prometheus's +Inf).
type Layout struct {
	Version string    // written first in every encoded line
	Bounds  []float64 // upper bounds, inclusive (Prometheus's "le")
}

// WriteLatency is the layout of the time to store a batch, from its arrival
// at the child to the end of its write: 5 ms (a small batch into a local
// database) to a minute (a batch that waited out retries).
var WriteLatency = Layout{Version: "w1", Bounds: []float64{
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}}

// Freshness is the layout of a record's age when stored (its
// ApproximateArrivalTimestamp in Kinesis to the end of its write): 100 ms
// (a shard that keeps up) to an hour (one catching up after an outage).
var Freshness = Layout{Version: "f1", Bounds: []float64{
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
}}

// Histogram is a cumulative count of observations in a layout's buckets.
// The zero value is not usable: New makes one. It is not safe for
// concurrent use; merge per-goroutine histograms instead.
type Histogram struct {
	layout *Layout
	counts []uint64 // per bucket (not cumulative), len(Bounds)+1
	sum    float64  // seconds
}

// New returns an empty histogram of layout l.
func New(l *Layout) *Histogram {
	return &Histogram{layout: l, counts: make([]uint64, len(l.Bounds)+1)}
}

// Layout returns the histogram's layout.
func (h *Histogram) Layout() *Layout { return h.layout }

// Observe counts one observation of v seconds. Negative values (clocks
// that disagree) count as 0; NaN is ignored.
func (h *Histogram) Observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	v = max(v, 0)
	h.counts[sort.SearchFloat64s(h.layout.Bounds, v)]++
	h.sum += v
}

// Merge adds o's counts to h; both must share a layout.
func (h *Histogram) Merge(o *Histogram) error {
	if o.layout.Version != h.layout.Version || len(o.counts) != len(h.counts) {
		return fmt.Errorf("histogram: cannot merge layout %s into %s", o.layout.Version, h.layout.Version)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.sum += o.sum
	return nil
}

// Reset empties h.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.sum = 0
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// Sum is the total of the observations, in seconds.
func (h *Histogram) Sum() float64 { return h.sum }

// Cumulative returns, for each bound and then +Inf, the number of
// observations at or below it: Prometheus's _bucket values.
func (h *Histogram) Cumulative() []uint64 {
	out := make([]uint64, len(h.counts))
	var n uint64
	for i, c := range h.counts {
		n += c
		out[i] = n
	}
	return out
}

// String encodes h as one line: the layout's version, the sum in seconds
// (to the microsecond),
// then the count of each bucket (not cumulative, the +Inf bucket last),
// separated by spaces, e.g. "w1 0.734 0 3 10 2 0 0 0 0 0 0 0 0 0 0".
func (h *Histogram) String() string {
	var b strings.Builder
	b.WriteString(h.layout.Version)
	b.WriteByte(' ')
	// Microseconds are all a sum of latencies needs, and the rounding
	// keeps float noise (3.0300000000000002) out of the line.
	b.WriteString(strconv.FormatFloat(math.Round(h.sum*1e6)/1e6, 'f', -1, 64))
	for _, c := range h.counts {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(c, 10))
	}
	return b.String()
}

// ErrLayout is a stored line of another layout than the one asked for.
var ErrLayout = errors.New("histogram: another layout")

// Parse decodes a line String wrote for layout l. An empty line is an empty
// histogram (a row written before histograms were kept).
func Parse(l *Layout, s string) (*Histogram, error) {
	h := New(l)
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return h, nil
	}
	if fields[0] != l.Version {
		return nil, fmt.Errorf("%w: %q, want %s", ErrLayout, fields[0], l.Version)
	}
	if len(fields) != len(h.counts)+2 {
		return nil, fmt.Errorf("histogram: %d fields, want %d for layout %s", len(fields), len(h.counts)+2, l.Version)
	}
	sum, err := strconv.ParseFloat(fields[1], 64)
	if err != nil || sum < 0 || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("histogram: sum %q is not a finite number of seconds", fields[1])
	}
	h.sum = sum
	for i, f := range fields[2:] {
		if h.counts[i], err = strconv.ParseUint(f, 10, 64); err != nil {
			return nil, fmt.Errorf("histogram: bucket %d: %q is not a count", i, f)
		}
	}
	return h, nil
}
