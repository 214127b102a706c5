package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// TestCrateUnnestFallsBackOnShortCounts covers the two ways an UNNEST into
// CrateDB writes fewer rows than it was sent, without an error: rows that
// are already there (a redelivery overlapping what was stored) and a row
// CrateDB cannot store as sent (another writer made its key a BIGINT
// sub-column after this writer read the table). Both go again as a batch:
// every row ends stored once, nothing is dead-lettered.
func TestCrateUnnestFallsBackOnShortCounts(t *testing.T) {
	db := pgtest.Get(t, pgtest.CrateDB)
	ctx := context.Background()
	rows := func(from, n int, payload func(i int) string) []Row {
		out := make([]Row, n)
		for i := range out {
			out[i] = Row{Source: record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("%056d", from+i), PartitionKey: "k", ArrivedAt: time.Now()}, Payload: []byte(payload(from + i))}
		}
		return out
	}
	plain := func(i int) string { return fmt.Sprintf(`{"id":%d}`, i) }

	t.Run("redelivery", func(t *testing.T) {
		w := openTest(t, db.URL, nil)
		if w.method != methodUnnest {
			t.Fatalf("method %s, want unnest", w.method)
		}
		if _, err := w.Write(ctx, rows(0, 100, plain)); err != nil {
			t.Fatal(err)
		}
		if w.skipUnnest.Load() != 0 {
			t.Fatal("a first write fell back to the batch")
		}
		res, err := w.Write(ctx, rows(50, 100, plain)) // 50 stored already, 50 new
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, w.target); n != 150 || res.Written != 100 || len(res.DeadLettered) != 0 {
			t.Fatalf("%d rows, result %+v; want 150 rows, 100 written, none dead-lettered", n, res)
		}
		if w.skipUnnest.Load() == 0 {
			t.Error("a short count did not send the next chunks to the batch")
		}
	})

	t.Run("type made by another writer", func(t *testing.T) {
		w := openTest(t, db.URL, nil)
		other, err := Open(ctx, db.URL, Config{Table: w.target.sql(), ProgressTable: w.progress.sql(), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.Write(ctx, rows(0, 1, func(int) string { return `{"x":1}` })); err != nil {
			t.Fatal(err)
		}
		// w has not seen payload['x'] BIGINT: it sends a text that
		// CrateDB cannot cast, in the middle of good rows.
		batch := rows(1, 20, plain)
		batch[10].Payload = []byte(`{"x":"not a number"}`)
		res, err := w.Write(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, w.target); n != 21 || len(res.DeadLettered) != 0 {
			t.Fatalf("%d rows, %d dead-lettered; want 21 and none", n, len(res.DeadLettered))
		}
		var kept string
		if err := w.pool.QueryRow(ctx, `SELECT payload_aux['x'] FROM `+w.target.sql()+` WHERE seq = $1`, batch[10].SequenceNumber).Scan(&kept); err != nil || kept != "not a number" {
			t.Fatalf("the refused value: %q, %v; want it in payload_aux", kept, err)
		}
	})
}
