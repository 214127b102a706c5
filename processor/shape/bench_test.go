package shape

import (
	"fmt"
	"strings"
	"testing"
)

// A 1 KB record like the benchmarks' (scripts/bench), fitted to columns
// the earlier records made: the cost the CrateDB path adds per record.
func BenchmarkSplitFits(b *testing.B) {
	doc := []byte(fmt.Sprintf(`{"id":%d,"kind":"bench","ts":"2026-01-02T03:04:05Z","nested":{"a":[1,2,3],"b":true,"c":{"d":1.5}},"tags":["x","y"],"pad":"%s"}`,
		12345, strings.Repeat("x", 850)))
	cols := &Columns{}
	if _, err := CrateDB.Split(doc, cols, Fit); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CrateDB.Split(doc, cols, Fit); err != nil {
			b.Fatal(err)
		}
	}
}
