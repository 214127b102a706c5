package promtext

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	shard := []Label{{"table", "public.kinesis_events"}, {"shard", "shardId-000000000001"}}
	tests := []struct {
		name  string
		write func(w *Writer)
		want  string
	}{
		{"counter with labels", func(w *Writer) {
			w.Family("kinesis_cratedb_records_written_total", Counter, "Records stored.")
			w.Sample(shard, 16250)
			w.Sample([]Label{{"table", "t"}, {"shard", "s2"}}, 0)
		}, `# HELP kinesis_cratedb_records_written_total Records stored.
# TYPE kinesis_cratedb_records_written_total counter
kinesis_cratedb_records_written_total{table="public.kinesis_events",shard="shardId-000000000001"} 16250
kinesis_cratedb_records_written_total{table="t",shard="s2"} 0
`},
		{"gauge without labels, special values", func(w *Writer) {
			w.Family("up", Gauge, "1 when reachable.")
			w.Sample(nil, 1)
			w.Family("a", Gauge, "x")
			w.Sample(nil, math.NaN())
			w.Sample([]Label{{"k", "+"}}, math.Inf(1))
			w.Sample([]Label{{"k", "-"}}, math.Inf(-1))
			w.Sample([]Label{{"k", "f"}}, 0.25)
			w.Sample([]Label{{"k", "big"}}, 1e6)
			w.Sample([]Label{{"k", "huge"}}, 1e20)
		}, `# HELP up 1 when reachable.
# TYPE up gauge
up 1
# HELP a x
# TYPE a gauge
a NaN
a{k="+"} +Inf
a{k="-"} -Inf
a{k="f"} 0.25
a{k="big"} 1000000
a{k="huge"} 1e+20
`},
		{"escaping: HELP escapes backslash and line feed, a label value the quote too", func(w *Writer) {
			w.Family("e", Gauge, `a \ b`+"\n"+`"q"`)
			w.Sample([]Label{{"v", `C:\x "y"` + "\nz"}}, 1)
		}, `# HELP e a \\ b\n"q"
# TYPE e gauge
e{v="C:\\x \"y\"\nz"} 1
`},
		{"histogram: cumulative buckets, +Inf equals _count, then _sum and _count", func(w *Writer) {
			w.Family("lat_seconds", Histogram, "Latency.")
			w.Histogram([]Label{{"shard", "s"}}, []float64{0.005, 0.5, 10}, []uint64{1, 3, 3, 4}, 12.5)
			w.Histogram(nil, []float64{1}, []uint64{0, 0}, 0)
		}, `# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{shard="s",le="0.005"} 1
lat_seconds_bucket{shard="s",le="0.5"} 3
lat_seconds_bucket{shard="s",le="10"} 3
lat_seconds_bucket{shard="s",le="+Inf"} 4
lat_seconds_sum{shard="s"} 12.5
lat_seconds_count{shard="s"} 4
lat_seconds_bucket{le="1"} 0
lat_seconds_bucket{le="+Inf"} 0
lat_seconds_sum 0
lat_seconds_count 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := NewWriter(&b)
			tt.write(w)
			if err := w.Err(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// Misuse is an error, and nothing more is written after it.
func TestWriterRefuses(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
	}{
		{"a family in two groups", func(w *Writer) {
			w.Family("a", Gauge, "")
			w.Family("b", Gauge, "")
			w.Family("a", Gauge, "")
		}},
		{"a sample before any family", func(w *Writer) { w.Sample(nil, 1) }},
		{"a plain sample in a histogram family", func(w *Writer) {
			w.Family("h", Histogram, "")
			w.Sample(nil, 1)
		}},
		{"a histogram in a gauge family", func(w *Writer) {
			w.Family("g", Gauge, "")
			w.Histogram(nil, []float64{1}, []uint64{0, 0}, 0)
		}},
		{"counts that do not match the bounds", func(w *Writer) {
			w.Family("h", Histogram, "")
			w.Histogram(nil, []float64{1, 2}, []uint64{0, 0}, 0)
		}},
		{"a label named le in a histogram", func(w *Writer) {
			w.Family("h", Histogram, "")
			w.Histogram([]Label{{"le", "x"}}, []float64{1}, []uint64{0, 0}, 0)
		}},
		{"an invalid metric name", func(w *Writer) { w.Family("1abc", Gauge, "") }},
		{"an invalid label name", func(w *Writer) {
			w.Family("g", Gauge, "")
			w.Sample([]Label{{"a-b", "x"}}, 1)
		}},
		{"a reserved label name", func(w *Writer) {
			w.Family("g", Gauge, "")
			w.Sample([]Label{{"__name__", "x"}}, 1)
		}},
		{"an unknown type", func(w *Writer) { w.Family("g", "summary", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := NewWriter(&b)
			tt.write(w)
			if w.Err() == nil {
				t.Fatalf("no error; wrote\n%s", b.String())
			}
			before := b.Len()
			w.Family("later", Gauge, "")
			w.Sample(nil, 1)
			if b.Len() != before {
				t.Fatal("wrote on after an error")
			}
		})
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriterKeepsTheWriteError(t *testing.T) {
	w := NewWriter(failing{})
	w.Family("g", Gauge, "")
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Err() = %v", err)
	}
}
