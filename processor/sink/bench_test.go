package sink

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkWrite writes 10,000 rows of ~1 KB JSON into an empty table per
// iteration (the table is truncated outside the timer) and reports rows/s.
//
//	TEST_DATABASE_URL=$(scripts/pg.sh url) go test -run '^$' -bench . -benchmem ./processor/sink
func BenchmarkWrite(b *testing.B) {
	url := testDatabaseURL(b)
	const n, size = 10000, 1024
	rows := makeRows("shardId-000000000000", n, size)
	for _, m := range postgresMethods {
		for _, chunk := range []int{1000, 5000, 10000} {
			b.Run(fmt.Sprintf("%s/chunk=%d", m, chunk), func(b *testing.B) {
				w := openTest(b, url, func(c *Config) { c.ChunkSize = chunk })
				w.method = m
				ctx := context.Background()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					truncate(b, w, w.target)
					b.StartTimer()
					res, err := w.Write(ctx, rows)
					if err != nil || res.Written != n {
						b.Fatalf("written %d: %v", res.Written, err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
	// Lower bound: plain COPY into the same (empty, indexed) table, without
	// idempotency or per-row error handling.
	b.Run("baseline-copyfrom", func(b *testing.B) {
		w := openTest(b, url, nil)
		ctx := context.Background()
		cols := []string{"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			truncate(b, w, w.target)
			b.StartTimer()
			src := pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				r := &rows[i]
				return []any{r.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey,
					pgtype.Timestamptz{Time: r.ArrivedAt, Valid: true}, string(r.Payload)}, nil
			})
			got, err := w.pool.CopyFrom(ctx, pgx.Identifier{w.target.schema, w.target.name}, cols, src)
			if err != nil || got != n {
				b.Fatalf("copied %d: %v", got, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// Replaying rows that are all present already (the at-least-once case),
	// with the method Open picks.
	b.Run("default-all-duplicates", func(b *testing.B) {
		w := openTest(b, url, nil)
		ctx := context.Background()
		if _, err := w.Write(ctx, rows); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := w.Write(ctx, rows); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

func truncate(b *testing.B, w *Writer, t tableName) {
	b.Helper()
	if _, err := w.pool.Exec(context.Background(), "TRUNCATE "+t.sql()); err != nil {
		b.Fatal(err)
	}
}
