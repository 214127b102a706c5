package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/rs/zerolog"
)

// TestRetentionDropsOldPartitionsAndTombstones writes rows into daily
// partitions and tombstones of several ages, then runs the retention
// command as cron would: first --dry-run (nothing goes), then for real.
func TestRetentionDropsOldPartitionsAndTombstones(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		ctx := context.Background()
		table := fmt.Sprintf("public.ret_%d", time.Now().UnixNano())
		settings := func(extra config.Properties) config.Settings {
			p := config.Properties{"sink.databaseUrl": db.URL, "sink.table": table, "sink.retention": "2d", "sink.streamRetention": "24h",
				"sink.columns": "id:TEXT=/id, ts:TIMESTAMP=/ts, v:BIGINT=/v", "sink.unmapped": "drop"}
			for k, v := range extra {
				p[k] = v
			}
			s, err := config.FromProperties(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, tb := range []string{table, table + "_keyed"} {
				_, _ = conn.Exec(ctx, `DROP VIEW IF EXISTS `+tb+`_live`)
				_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS `+tb)
				_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS `+tb+`_deadletter`)
			}
			conn.Close(ctx)
		})
		day := 24 * time.Hour
		now := time.Now().UTC()
		// Append rows partitioned by the day of ts: five days back to today.
		daily := settings(config.Properties{"sink.partitionBy": "day:ts"})
		var batch []record.Source
		for age := range 5 {
			for i := range 3 {
				ts := now.Add(-time.Duration(age) * day).Format(time.RFC3339Nano)
				batch = append(batch, record.Source{ShardID: "s", SequenceNumber: fmt.Sprint(age*10 + i), ArrivedAt: now,
					Data: []byte(fmt.Sprintf(`{"id":"r%d-%d","ts":%q,"v":%d}`, age, i, ts, i))})
			}
		}
		storeBatch(t, daily, batch, log)
		// Tombstones: by arrival, one older than the stream's retention plus
		// the margin, one recent.
		keyed := settings(config.Properties{"sink.table": table + "_keyed", "sink.key": "id", "sink.deleteWhen": `/op == "delete"`, "sink.retention": ""})
		storeBatch(t, keyed, []record.Source{
			{ShardID: "s", SequenceNumber: "1", ArrivedAt: now.Add(-3 * day), Data: []byte(`{"id":"old","op":"delete","ts":"2026-01-01T00:00:00Z"}`)},
			{ShardID: "s", SequenceNumber: "2", ArrivedAt: now.Add(-time.Hour), Data: []byte(`{"id":"new","op":"delete","ts":"2026-01-01T00:00:00Z"}`)},
			{ShardID: "s", SequenceNumber: "3", ArrivedAt: now.Add(-3 * day), Data: []byte(`{"id":"live","v":1,"ts":"2026-01-01T00:00:00Z"}`)},
		}, log)

		var out strings.Builder
		if code := retention(ctx, daily, true, &out, log); code != 0 {
			t.Fatalf("dry run: exit %d", code)
		}
		// With 2d of retention the partitions of 3 and 4 days ago go; the
		// one of 2 days ago is partly within it and stays whole.
		if got := strings.Count(out.String(), "would delete partition "); got != 2 || !strings.Contains(out.String(), ": 3 rows") {
			t.Fatalf("dry run said:\n%s", out.String())
		}
		if n := count(t, db, conn, table, ""); n != 15 {
			t.Fatalf("dry run deleted: %d rows left", n)
		}
		out.Reset()
		if code := retention(ctx, daily, false, &out, log); code != 0 {
			t.Fatalf("retention: exit %d", code)
		}
		if n := count(t, db, conn, table, ""); n != 9 {
			t.Fatalf("%d rows left, want 9:\n%s", n, out.String())
		}
		// Running it again finds nothing: cron-safe.
		out.Reset()
		if code := retention(ctx, daily, false, &out, log); code != 0 || out.Len() != 0 {
			t.Fatalf("second run: exit %d, said %q", code, out.String())
		}

		out.Reset()
		if code := retention(ctx, keyed, false, &out, log); code != 0 || !strings.Contains(out.String(), "deleted 1 tombstones of") {
			t.Fatalf("tombstones: exit %d, said %q", code, out.String())
		}
		if got := count(t, db, conn, table+"_keyed", ` WHERE "cdc_deleted" = TRUE`); got != 1 {
			t.Fatalf("%d tombstones left, want the recent one", got)
		}
		if got := count(t, db, conn, table+"_keyed", ` WHERE "cdc_deleted" = FALSE`); got != 1 {
			t.Fatalf("%d live rows, want 1", got)
		}
	})
}

func storeBatch(t *testing.T, s config.Settings, batch []record.Source, log zerolog.Logger) {
	t.Helper()
	st, err := openStore(context.Background(), s, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if dead, err := st.Store.Store(context.Background(), batch); err != nil || dead != 0 {
		t.Fatalf("store: %d dead, %v", dead, err)
	}
}

func count(t *testing.T, db pgtest.DB, conn *pgx.Conn, table, where string) int64 {
	t.Helper()
	ctx := context.Background()
	if db.Crate() {
		if _, err := conn.Exec(ctx, "REFRESH TABLE "+table); err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
