package ingest

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
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// mappedStore opens the store the settings props choose, on fresh tables,
// as the command does.
func mappedStore(t *testing.T, db pgtest.DB, table string, props config.Properties) (*Changes, *pgx.Conn) {
	t.Helper()
	props["sink.databaseUrl"], props["sink.table"] = db.URL, table
	s, err := config.FromProperties(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := sink.OpenChanges(ctx, db.URL, sink.Config{Table: table, CreateTables: true,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Retry:  sink.RetryPolicy{InitialBackoff: 10 * time.Millisecond, MaxWait: time.Minute}}, s.CDC.Tables())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, sql := range []string{`DROP VIEW IF EXISTS ` + table + `_live`, `DROP TABLE IF EXISTS ` + table, `DROP TABLE IF EXISTS ` + table + `_deadletter`} {
			_, _ = conn.Exec(ctx, sql)
		}
		conn.Close(ctx)
		w.Close()
	})
	return &Changes{Decoder: s.CDC, Sink: w}, conn
}

// rowsOf reads query's rows as text, one line each, refreshing first on
// CrateDB.
func rowsOf(t *testing.T, db pgtest.DB, conn *pgx.Conn, table, query string) []string {
	t.Helper()
	ctx := context.Background()
	if db.Crate() {
		for _, tb := range []string{table, table + "_deadletter"} {
			if _, err := conn.Exec(ctx, "REFRESH TABLE "+tb); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, err := conn.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format(time.RFC3339Nano)
			}
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func src(seq int, data string) record.Source {
	return record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4959%020d", seq), PartitionKey: "p",
		ArrivedAt: time.Date(2026, 11, 30, 1, 0, seq, 0, time.UTC), Data: []byte(data)}
}

func TestMappedColumnsStoreExactValuesAndReplayAFixedMapping(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		table := "public.mapped_" + fmt.Sprint(time.Now().UnixNano())
		props := config.Properties{"sink.columns": "ts:TIMESTAMP=/ts, device:TEXT=/meta/device, temp:DOUBLE=/data/value, " +
			"count:BIGINT=/count, pk:TEXT=$partitionKey, note:TEXT=/note INDEX OFF COLUMNSTORE OFF"}
		store, conn := mappedStore(t, db, table, props)
		ctx := context.Background()
		batch := []record.Source{
			src(1, `{"ts":"2026-11-30T01:02:03.456Z","meta":{"device":"d1"},"data":{"value":21.5},"count":9007199254740993,"note":"long text","x":{"y":1}}`),
			src(2, `{"ts":1796000523456,"meta":{"device":"d2"},"data":{"value":-0.1},"count":"7"}`),
			src(3, `{"ts":"2026-11-30T01:02:04Z","meta":{"device":"d3"},"data":{"value":"n/a","celsius":19.25},"count":1}`),
		}
		dead, err := store.Store(ctx, batch)
		if err != nil || dead != 1 {
			t.Fatalf("Store: %d dead, %v", dead, err)
		}
		q := `SELECT device, ts, temp, count, pk, note FROM ` + table + ` ORDER BY device`
		want := []string{
			"d1 2026-11-30T01:02:03.456Z 21.5 9007199254740993 p long text",
			"d2 2026-11-30T01:02:03.456Z -0.1 7 p <nil>",
		}
		if got := rowsOf(t, db, conn, table, q); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		dl := rowsOf(t, db, conn, table, `SELECT stage, error FROM `+table+`_deadletter`)
		if len(dl) != 1 || !strings.Contains(dl[0], `decode column "temp" from /data/value = "n/a"`) {
			t.Fatalf("dead letters: %q", dl)
		}
		// The fix: the producer's documented field. Replay applies it.
		props["sink.columns"] = strings.Replace(props["sink.columns"], "/data/value", "/data/celsius", 1)
		fixed, _ := mappedStore(t, db, table, props)
		res, err := fixed.Replay(ctx, sink.ReplayFilter{})
		if err != nil || res.Replayed != 1 {
			t.Fatalf("replay: %+v %v", res, err)
		}
		want = append(want, "d3 2026-11-30T01:02:04Z 19.25 1 p <nil>")
		if got := rowsOf(t, db, conn, table, q); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("after replay:\n%s", strings.Join(got, "\n"))
		}
		if dl := rowsOf(t, db, conn, table, `SELECT error FROM `+table+`_deadletter`); len(dl) != 0 {
			t.Fatalf("dead letters left: %q", dl)
		}
		// A redelivery of the whole batch is no new row.
		if _, err := fixed.Store(ctx, batch[:2]); err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(t, db, conn, table, `SELECT count(*) FROM `+table); got[0] != "3" {
			t.Fatalf("rows after redelivery: %s", got[0])
		}
	})
}

func TestMappedLatestStateNeverMovesBack(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		table := "public.latest_" + fmt.Sprint(time.Now().UnixNano())
		store, conn := mappedStore(t, db, table, config.Properties{
			"sink.columns": "id:TEXT=/id, v:BIGINT=/v", "sink.key": "/id", "sink.version": "/updated_at",
			"sink.deleteWhen": `/op == "delete"`, "sink.unmapped": "drop",
		})
		ctx := context.Background()
		live := func() string {
			return strings.Join(rowsOf(t, db, conn, table, `SELECT id, v FROM `+table+`_live ORDER BY id`), ", ")
		}
		steps := []struct {
			name  string
			batch []record.Source
			want  string
		}{
			{"newer first", []record.Source{src(10, `{"id":"a","v":2,"updated_at":"2026-11-30T00:00:02Z"}`), src(11, `{"id":"b","v":1,"updated_at":"2026-11-30T00:00:01Z"}`)}, "a 2, b 1"},
			{"an older one arriving late", []record.Source{src(12, `{"id":"a","v":1,"updated_at":"2026-11-30T00:00:01Z"}`)}, "a 2, b 1"},
			{"a replay of the newest", []record.Source{src(10, `{"id":"a","v":2,"updated_at":"2026-11-30T00:00:02Z"}`)}, "a 2, b 1"},
			{"a newer one", []record.Source{src(13, `{"id":"b","v":5,"updated_at":"2026-11-30T00:00:05Z"}`)}, "a 2, b 5"},
			{"the delete rule", []record.Source{src(14, `{"id":"a","op":"delete","updated_at":"2026-11-30T00:00:03Z"}`)}, "b 5"},
			{"an older insert after the delete", []record.Source{src(15, `{"id":"a","v":9,"updated_at":"2026-11-30T00:00:02.5Z"}`)}, "b 5"},
			{"a newer insert brings it back", []record.Source{src(16, `{"id":"a","v":10,"updated_at":"2026-11-30T00:00:04Z"}`)}, "a 10, b 5"},
		}
		for _, s := range steps {
			if dead, err := store.Store(ctx, s.batch); err != nil || dead != 0 {
				t.Fatalf("%s: %d dead, %v", s.name, dead, err)
			}
			if got := live(); got != s.want {
				t.Fatalf("%s: %q, want %q", s.name, got, s.want)
			}
		}
	})
}

// TestMappedBatchLargerThanAPart stores a batch of about 6 MB, which Store
// applies in parts of 4 MB: the newest change of each key wins whichever
// part holds it, and a bad record in the second part is dead-lettered.
func TestMappedBatchLargerThanAPart(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		table := "public.parts_" + fmt.Sprint(time.Now().UnixNano())
		store, conn := mappedStore(t, db, table, config.Properties{
			"sink.columns": "id:TEXT=/id, v:BIGINT=/v", "sink.key": "/id", "sink.version": "/v", "sink.unmapped": "drop",
		})
		const n, keys = 6000, 100
		pad := strings.Repeat("x", 1000)
		batch := make([]record.Source, 0, n+1)
		for i := range n {
			// Keys 0-49 get their newest change first (v falls), 50-99 last.
			v := i
			if i%keys < keys/2 {
				v = n - i
			}
			batch = append(batch, src(i, fmt.Sprintf(`{"id":"k%02d","v":%d,"pad":"%s"}`, i%keys, v, pad)))
		}
		batch = append(batch, src(n, `{"id":"k00","v":"not a number"}`))
		dead, err := store.Store(context.Background(), batch)
		if err != nil || dead != 1 {
			t.Fatalf("Store: %d dead, %v", dead, err)
		}
		got := rowsOf(t, db, conn, table, `SELECT id, v FROM `+table+`_live ORDER BY id`)
		if len(got) != keys {
			t.Fatalf("%d live rows, want %d", len(got), keys)
		}
		for k, row := range got {
			want := fmt.Sprintf("k%02d %d", k, n-k) // first change of k, v = n - k
			if k >= keys/2 {
				want = fmt.Sprintf("k%02d %d", k, n-keys+k) // last change of k
			}
			if row != want {
				t.Errorf("row %d: %q, want %q", k, row, want)
			}
		}
		if dl := rowsOf(t, db, conn, table, `SELECT count(*) FROM `+table+`_deadletter`); dl[0] != "1" {
			t.Errorf("dead letters: %s, want 1", dl[0])
		}
	})
}
