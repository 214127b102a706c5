package histogram

import (
	"errors"
	"math"
	"slices"
	"testing"
)

var tiny = Layout{Version: "t1", Bounds: []float64{0.1, 1, 10}}

func TestObserve(t *testing.T) {
	tests := []struct {
		name      string
		values    []float64
		perBucket []uint64
		count     uint64
		sum       float64
	}{
		{"empty", nil, []uint64{0, 0, 0, 0}, 0, 0},
		{"a bound belongs to its bucket (le)", []float64{0.1, 1, 10}, []uint64{1, 1, 1, 0}, 3, 11.1},
		{"above the last bound is +Inf", []float64{10.5, 1e9}, []uint64{0, 0, 0, 2}, 2, 1e9 + 10.5},
		{"negative counts as zero", []float64{-3}, []uint64{1, 0, 0, 0}, 1, 0},
		{"NaN is ignored", []float64{math.NaN(), 0.5}, []uint64{0, 1, 0, 0}, 1, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(&tiny)
			for _, v := range tt.values {
				h.Observe(v)
			}
			if !slices.Equal(h.counts, tt.perBucket) || math.Abs(h.Sum()-tt.sum) > 1e-9 {
				t.Fatalf("counts %v sum %v, want %v %v", h.counts, h.Sum(), tt.perBucket, tt.sum)
			}
			if h.Count() != tt.count {
				t.Fatalf("count %d, want %d", h.Count(), tt.count)
			}
		})
	}
}

func TestCumulative(t *testing.T) {
	h := New(&tiny)
	for _, v := range []float64{0.05, 0.5, 0.7, 20} {
		h.Observe(v)
	}
	if got := h.Cumulative(); !slices.Equal(got, []uint64{1, 3, 3, 4}) {
		t.Fatalf("cumulative %v", got)
	}
}

func TestRoundTrip(t *testing.T) {
	h := New(&WriteLatency)
	for _, v := range []float64{0.001, 0.02, 0.02, 3, 100} {
		h.Observe(v)
	}
	line := h.String()
	if want := "w1 103.041 1 0 2 0 0 0 0 0 0 1 0 0 0 1"; line != want {
		t.Fatalf("String() = %q, want %q", line, want)
	}
	back, err := Parse(&WriteLatency, line)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != line || back.Count() != 5 {
		t.Fatalf("Parse(String()) = %q (count %d)", back.String(), back.Count())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line     string
		count    uint64
		wantErr  bool
		isLayout bool
	}{
		{"", 0, false, false},
		{"  ", 0, false, false},
		{"t1 1.5 1 2 3 4", 10, false, false},
		{"f1 1.5 1 2 3 4", 0, true, true},    // another layout
		{"t1 1.5 1 2 3", 0, true, false},     // a bucket missing
		{"t1 x 1 2 3 4", 0, true, false},     // sum not a number
		{"t1 -1 1 2 3 4", 0, true, false},    // negative sum
		{"t1 +Inf 1 2 3 4", 0, true, false},  // infinite sum
		{"t1 1.5 1 2 -3 4", 0, true, false},  // negative count
		{"t1 1.5 1 2 3 4 5", 0, true, false}, // a bucket too many
	}
	for _, tt := range tests {
		h, err := Parse(&tiny, tt.line)
		if (err != nil) != tt.wantErr || errors.Is(err, ErrLayout) != tt.isLayout {
			t.Errorf("Parse(%q) error %v, want error %v (layout %v)", tt.line, err, tt.wantErr, tt.isLayout)
			continue
		}
		if err == nil && h.Count() != tt.count {
			t.Errorf("Parse(%q) count %d, want %d", tt.line, h.Count(), tt.count)
		}
	}
}

func TestMerge(t *testing.T) {
	a, b := New(&tiny), New(&tiny)
	a.Observe(0.5)
	b.Observe(0.5)
	b.Observe(50)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if a.String() != "t1 51 0 2 0 1" {
		t.Fatalf("merged %q", a.String())
	}
	if err := a.Merge(New(&Freshness)); err == nil {
		t.Fatal("merged histograms of two layouts")
	}
	a.Reset()
	if a.Count() != 0 || a.Sum() != 0 {
		t.Fatalf("Reset left %q", a.String())
	}
}

// The layouts are part of the stored format: bounds ascending, versions
// distinct.
func TestLayouts(t *testing.T) {
	for _, l := range []*Layout{&WriteLatency, &Freshness} {
		if !slices.IsSorted(l.Bounds) || len(l.Bounds) == 0 {
			t.Errorf("layout %s: bounds %v not ascending", l.Version, l.Bounds)
		}
	}
	if WriteLatency.Version == Freshness.Version {
		t.Error("two layouts share a version")
	}
}
