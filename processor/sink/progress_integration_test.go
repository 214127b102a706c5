package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// What a child writes to its progress row is what the status command and
// the exporter read back: counts that add up, the rate window, the
// checkpoint's time on the database's clock, and the histograms, which a
// process taking the shard over reads to carry them on.
func TestProgressReadBack(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		w := openTest(t, db.URL, nil)
		ctx := context.Background()
		p := Progress{ShardID: "shardId-000000000001", LastSequence: "10", MillisBehindLatest: 250,
			RecordsWritten: 9, DeadLettered: 1, BytesWritten: 1000, Window: 2 * time.Second, WindowRecords: 10, WindowBytes: 1000,
			CheckpointedAt: time.Now().Add(-90 * time.Second), WriteLatency: "w1 0.5 1", Freshness: "f1 2 1"}
		if err := w.UpdateProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.LastSequence, p.BytesWritten, p.CheckpointedAt, p.WriteLatency = "20", 500, time.Time{}, "w1 0.75 2"
		if err := w.UpdateProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
		r, err := OpenProgress(ctx, db.URL, testConfig(t, func(c *Config) { c.Table, c.ProgressTable = w.target.String(), w.progress.String() }))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		refresh(t, w, w.progress)
		snap, err := r.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Rows) != 1 || !snap.Complete || snap.Target != w.target.schema+"."+w.target.name {
			t.Fatalf("snapshot %+v", snap)
		}
		got := snap.Rows[0]
		if got.LastSequence != "20" || got.RecordsWritten != 18 || got.DeadLettered != 2 || got.BytesWritten != 1500 ||
			got.Window != 2*time.Second || got.WindowRecords != 10 || got.MillisBehindLatest != 250 || got.WriteLatency != "w1 0.75 2" || got.Freshness != "f1 2 1" {
			t.Fatalf("row %+v", got)
		}
		// The second update had no checkpoint of its own: the first's time stays.
		if age := snap.Now.Sub(got.CheckpointedAt); age < 85*time.Second || age > 150*time.Second {
			t.Fatalf("checkpoint age %v, want about 90s", age)
		}
		if age := snap.Now.Sub(got.UpdatedAt); age < 0 || age > time.Minute {
			t.Fatalf("update age %v", age)
		}
		lat, fresh, err := w.ProgressHistograms(ctx, p.ShardID)
		if err != nil || lat != "w1 0.75 2" || fresh != "f1 2 1" {
			t.Fatalf("ProgressHistograms = %q, %q, %v", lat, fresh, err)
		}
		if lat, fresh, err := w.ProgressHistograms(ctx, "shardId-new"); err != nil || lat != "" || fresh != "" {
			t.Fatalf("ProgressHistograms of a new shard = %q, %q, %v", lat, fresh, err)
		}
	})
}

// firstProgressDDL is the progress table as the first version made it.
const firstProgressDDL = `CREATE TABLE %s ("target_table" TEXT, "shard_id" TEXT, "last_seq" TEXT, "last_sub_seq" BIGINT, ` +
	`"checkpoint_seq" TEXT, "checkpoint_sub_seq" BIGINT, "millis_behind_latest" BIGINT, "records_written" BIGINT, ` +
	`"dead_lettered" BIGINT, "updated_at" TIMESTAMP WITH TIME ZONE, PRIMARY KEY ("target_table", "shard_id"))`

// A progress table made by an earlier version gets the added columns at
// Open (its rows' counts carry on), or, when tables may not be changed,
// keeps being written with the columns it has.
func TestProgressTableOfAnEarlierVersion(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		ctx := context.Background()
		base := openTest(t, db.URL, nil) // the target and dead-letter tables
		old := tableName{base.target.schema, base.target.name + "_oldprogress"}
		if _, err := base.pool.Exec(ctx, fmt.Sprintf(firstProgressDDL, old.sql())); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = base.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+old.sql()) })
		cfg := func(create bool) func(*Config) {
			return func(c *Config) { c.Table, c.ProgressTable, c.CreateTables = base.target.String(), old.String(), create }
		}
		p := Progress{ShardID: "shardId-000000000000", RecordsWritten: 5, BytesWritten: 50, WriteLatency: "w1 1 1"}

		basic := openTest(t, db.URL, cfg(false))
		if !basic.basicProgress {
			t.Fatal("a progress table without the added columns, not to be altered, is written in full")
		}
		if err := basic.UpdateProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
		if lat, _, err := basic.ProgressHistograms(ctx, p.ShardID); err != nil || lat != "" {
			t.Fatalf("histograms of a basic table: %q, %v", lat, err)
		}
		snap := readProgress(t, db.URL, basic, cfg(false))
		if snap.Complete || len(snap.Rows) != 1 || snap.Rows[0].RecordsWritten != 5 || snap.Rows[0].BytesWritten != 0 {
			t.Fatalf("basic table read as %+v", snap)
		}

		full := openTest(t, db.URL, cfg(true))
		if full.basicProgress {
			t.Fatal("the added columns were not added")
		}
		if err := full.UpdateProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
		snap = readProgress(t, db.URL, full, cfg(true))
		if !snap.Complete || len(snap.Rows) != 1 || snap.Rows[0].RecordsWritten != 10 || snap.Rows[0].BytesWritten != 50 || snap.Rows[0].WriteLatency != "w1 1 1" {
			t.Fatalf("altered table read as %+v", snap)
		}
	})
}

func readProgress(t *testing.T, url string, w *Writer, mutate func(*Config)) ProgressSnapshot {
	t.Helper()
	r, err := OpenProgress(context.Background(), url, testConfig(t, mutate))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	refresh(t, w, w.progress)
	snap, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
