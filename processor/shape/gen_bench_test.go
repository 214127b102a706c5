package shape

import (
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// The 1 KB records make bench sends, fitted to the columns the first ones
// made: the per-record cost of the CrateDB path, allocations included.
func BenchmarkSplitGenerated(b *testing.B) {
	recs, err := daemonsim.Generator{Seed: 1, Size: 1024}.Records(1000)
	if err != nil {
		b.Fatal(err)
	}
	cols := &Columns{}
	for _, r := range recs {
		if _, err := CrateDB.Split(r.Data, cols, Fit); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := CrateDB.Split(recs[i%len(recs)].Data, cols, Fit); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
