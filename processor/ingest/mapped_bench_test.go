package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/ingest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// benchColumns maps the generator's events as scripts/bench maps them for
// its typed runs (ours-pg-typed, ours-crate-typed).
const benchColumns = "id:BIGINT=/id, event:TEXT=/event, order_id:TEXT=/order_id, customer:TEXT=/customer/id, " +
	"tier:TEXT=/customer/tier, amount:DOUBLE=/amount/value, currency:TEXT=/amount/currency, items:INTEGER=/items, " +
	"active:BOOLEAN=/active, updated_at:TIMESTAMP=/updated_at, pk:TEXT=$partitionKey"

// BenchmarkMappedStore stores one batch of 10,000 generated 1 KB events
// into typed columns (sink.columns), a fresh shard id per iteration so
// every row is new: mapping, the guarded insert, the database.
//
//	TEST_DATABASE_URL=… TEST_CRATEDB_URL=… go test -run '^$' -bench MappedStore -benchmem ./processor/ingest
func BenchmarkMappedStore(b *testing.B) {
	gen := benchRecords(b)
	for _, name := range []string{pgtest.PostgreSQL, pgtest.CrateDB} {
		b.Run(name, func(b *testing.B) {
			db := pgtest.Get(b, name)
			store := openMappedBench(b, db)
			ctx := context.Background()
			b.SetBytes(int64(len(gen) * benchSize))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				batch := make([]record.Source, len(gen))
				for j, r := range gen {
					batch[j] = record.Source{ShardID: fmt.Sprintf("shardId-%012d", i), SequenceNumber: r.SequenceNumber,
						PartitionKey: r.PartitionKey, ArrivedAt: time.UnixMilli(*r.ApproximateArrivalTimestamp).UTC(), Data: r.Data}
				}
				if dead, err := store.Store(ctx, batch); err != nil || dead != 0 {
					b.Fatalf("%d dead-lettered: %v", dead, err)
				}
			}
			b.ReportMetric(float64(b.N*len(gen))/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func openMappedBench(b *testing.B, db pgtest.DB) *ingest.Changes {
	table := fmt.Sprintf("bench_mapped_%d", time.Now().UnixNano())
	s, err := config.FromProperties(config.Properties{"sink.databaseUrl": db.URL, "sink.table": table, "sink.columns": benchColumns}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	w, err := sink.OpenChanges(ctx, db.URL, sink.Config{Table: table, CreateTables: true, Logger: zerolog.Nop()}, s.CDC.Tables())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.Close()
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, sql := range []string{"DROP VIEW IF EXISTS " + table + "_live", "DROP TABLE IF EXISTS " + table, "DROP TABLE IF EXISTS " + table + "_deadletter"} {
			_, _ = conn.Exec(ctx, sql)
		}
	})
	return &ingest.Changes{Decoder: s.CDC, Sink: w}
}
