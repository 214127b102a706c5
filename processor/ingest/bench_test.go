package ingest_test

// Hot-path benchmarks of the record processor, in process, on the records
// the benchmark driver sends (daemonsim's generator: realistic JSON padded to
// 1 KB, 10,000 per batch).
//
//	go test -run '^$' -bench . -benchmem ./processor/ingest
//	TEST_DATABASE_URL=$(scripts/pg.sh url) go test -run '^$' -bench Batch/postgres -benchmem ./processor/ingest
//
// Add -cpuprofile cpu.out and read it with `go tool pprof -top cpu.out` to
// see where a child's CPU goes without a database in the way.

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/decode"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/ingest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

const (
	benchBatch = 10000
	benchSize  = 1024
)

func benchRecords(b *testing.B) []daemonsim.Record {
	b.Helper()
	recs, err := daemonsim.Generator{Seed: 1, Size: benchSize}.Records(benchBatch)
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

// kclRecords converts generated records to what kcl hands the processor.
func kclRecords(recs []daemonsim.Record) []kcl.Record {
	out := make([]kcl.Record, len(recs))
	for i, r := range recs {
		out[i] = kcl.Record{Data: r.Data, PartitionKey: r.PartitionKey, SequenceNumber: r.SequenceNumber,
			SubSequenceNumber: r.SubSequenceNumber, ApproximateArrivalTimestamp: time.UnixMilli(*r.ApproximateArrivalTimestamp).UTC()}
	}
	return out
}

// rowSink is Discard or a *sink.Writer.
type rowSink interface {
	ingest.RowSink
	ingest.ProgressSink
}

// newProcessor never checkpoints or reports progress during the benchmark.
func newProcessor(dst rowSink) *ingest.Processor {
	return &ingest.Processor{Store: &ingest.Rows{Decoder: decode.JSON{}, Sink: dst}, Progress: dst, Log: zerolog.Nop(),
		CheckpointInterval: time.Hour, ProgressInterval: time.Hour}
}

// BenchmarkBatch is ProcessRecords on one decoded batch: payload validation
// and row building, then the sink. "discard" is the CPU of the processor
// alone; "postgres" adds the real sink (a fresh shard id per iteration, so
// every row is new).
func BenchmarkBatch(b *testing.B) {
	recs := kclRecords(benchRecords(b))
	ctx := context.Background()
	run := func(b *testing.B, dst rowSink) {
		p := newProcessor(dst)
		b.SetBytes(int64(len(recs) * benchSize))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := p.Initialize(ctx, kcl.InitializeInput{ShardID: fmt.Sprintf("shardId-%012d", i)}); err != nil {
				b.Fatal(err)
			}
			if err := p.ProcessRecords(ctx, kcl.ProcessRecordsInput{Records: recs}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("discard", func(b *testing.B) { run(b, ingest.Discard{}) })
	b.Run("postgres", func(b *testing.B) {
		url := pgtest.DatabaseURL(b)
		table := fmt.Sprintf("public.bench_ingest_%d", time.Now().UnixNano())
		w, err := sink.Open(ctx, url, sink.Config{Table: table, CreateTables: true, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		b.Cleanup(func() {
			if conn, err := pgx.Connect(ctx, url); err == nil {
				_, _ = conn.Exec(ctx, "DROP TABLE IF EXISTS "+table+", "+table+"_deadletter")
				_ = conn.Close(ctx)
			}
		})
		run(b, w)
	})
}

// BenchmarkChild is the whole child in process with the discard sink
// (sink.mode = discard): protocol lines in, line reading, message and
// base64 decoding, payload validation, row building, status lines out. It
// is the "protocol + decode per core" figure without pipes or scheduling.
func BenchmarkChild(b *testing.B) {
	recs := benchRecords(b)
	zero := int64(0)
	trim := daemonsim.SentinelTrimHorizon
	in := &daemonsim.Repeat{
		Head: daemonsim.AppendInitialize(nil, daemonsim.DefaultShardID, &trim, &zero),
		Body: daemonsim.AppendProcessRecords(nil, recs, &zero),
		Tail: []byte(`{"action":"leaseLost"}` + "\n"),
		N:    b.N,
	}
	p := newProcessor(ingest.Discard{})
	b.SetBytes(int64(len(in.Body)))
	b.ReportAllocs()
	b.ResetTimer()
	if err := (&kcl.Process{Processor: p, In: in, Out: io.Discard, Err: io.Discard}).Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}
