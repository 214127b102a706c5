package kcl

// Hot-path benchmarks of the protocol side of the child, on the records the
// benchmark driver sends (daemonsim's generator: realistic JSON padded to
// 1 KB, 10,000 per processRecords line, as KCL's maxRecords default).
//
//	go test -run '^$' -bench . -benchmem ./processor/kcl
//
// BenchmarkDecodeProcessRecords (decode_test.go) measures decodeMessage on
// a synthetic line; the ones here split its cost into its parts and add the
// reader goroutine and the status writing around it.

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

const (
	benchBatch = 10000
	benchSize  = 1024
)

// benchLine returns one pre-encoded processRecords line (newline included)
// of benchBatch generated records, and the records.
func benchLine(b *testing.B) ([]byte, []daemonsim.Record) {
	b.Helper()
	recs, err := daemonsim.Generator{Seed: 1, Size: benchSize}.Records(benchBatch)
	if err != nil {
		b.Fatal(err)
	}
	zero := int64(0)
	return daemonsim.AppendProcessRecords(nil, recs, &zero), recs
}

// BenchmarkDecodeGenerated is decodeMessage on the generated batch (what the
// child spends per line, reading and decoding, before calling the processor).
// "released" decodes into the memory of the previous, released batch, as
// a processor that calls ProcessRecordsInput.Release gets.
func BenchmarkDecodeGenerated(b *testing.B) {
	line, _ := benchLine(b)
	line = bytes.TrimSuffix(line, []byte("\n"))
	for _, released := range []bool{false, true} {
		b.Run(map[bool]string{false: "fresh", true: "released"}[released], func(b *testing.B) {
			var mem *batchMemory
			if released {
				mem = &batchMemory{}
			}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m, err := decodeMessage(line, mem)
				if err != nil || len(m.Records) != benchBatch {
					b.Fatalf("%d records: %v", len(m.Records), err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// The three parts of decodeMessage that dominate its profile, one record
// (or one line) at a time.

// BenchmarkBase64 decodes one record's payload with the standard library,
// as base64Value does.
func BenchmarkBase64(b *testing.B) {
	_, recs := benchLine(b)
	enc := base64.StdEncoding.EncodeToString(recs[0].Data)
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for range b.N {
		if _, err := base64.StdEncoding.Decode(dst, []byte(enc)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawString finds the end of one record's base64 string with the
// decoder's byte loop; the IndexByte variant is the same search with the
// assembly-accelerated bytes.IndexByte, for comparison.
func BenchmarkRawString(b *testing.B) {
	_, recs := benchLine(b)
	s := []byte(`"` + base64.StdEncoding.EncodeToString(recs[0].Data) + `",`)
	b.Run("decoder", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		b.ReportAllocs()
		for range b.N {
			d := decoder{buf: s}
			raw, _, err := d.rawString()
			if err != nil || len(raw) != len(s)-3 {
				b.Fatal(len(raw), err)
			}
		}
	})
	b.Run("IndexByte", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		b.ReportAllocs()
		for range b.N {
			if i := bytes.IndexByte(s[1:], '"'); i != len(s)-3 {
				b.Fatal(i)
			}
		}
	})
}

// BenchmarkAppendStatus encodes the status line sent after each action.
func BenchmarkAppendStatus(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		buf = appendStatus(buf[:0], ActionProcessRecords)
	}
}

// nopProcessor accepts everything and keeps nothing.
type nopProcessor struct{ records int }

func (*nopProcessor) Initialize(context.Context, InitializeInput) error { return nil }
func (p *nopProcessor) ProcessRecords(_ context.Context, in ProcessRecordsInput) error {
	p.records += len(in.Records)
	return nil
}
func (*nopProcessor) LeaseLost(context.Context, LeaseLostInput) error                 { return nil }
func (*nopProcessor) ShardEnded(context.Context, ShardEndedInput) error               { return nil }
func (*nopProcessor) ShutdownRequested(context.Context, ShutdownRequestedInput) error { return nil }

// BenchmarkProcessLoop runs the whole protocol loop (reader goroutine, line
// reading, decoding, dispatch, status lines) over b.N processRecords lines
// with a processor that does nothing: the protocol's share of a core.
func BenchmarkProcessLoop(b *testing.B) {
	line, _ := benchLine(b)
	zero := int64(0)
	trim := "TRIM_HORIZON"
	in := &daemonsim.Repeat{
		Head: daemonsim.AppendInitialize(nil, daemonsim.DefaultShardID, &trim, &zero),
		Body: line,
		Tail: []byte(`{"action":"leaseLost"}` + "\n"),
		N:    b.N,
	}
	p := &nopProcessor{}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	if err := (&Process{Processor: p, In: in, Out: io.Discard, Err: io.Discard}).Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	if p.records != b.N*benchBatch {
		b.Fatalf("processed %d records, want %d", p.records, b.N*benchBatch)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}
