package ingest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// awkwardRecord is a record and what must become of it: stored (read back
// whole it equals want, or the data itself when want is empty) or
// dead-lettered.
type awkwardRecord struct {
	name string
	data string
	dead bool
	want string
}

func awkwardRecords() []awkwardRecord {
	deep := func(n int) string { return strings.Repeat(`{"d":`, n) + `1` + strings.Repeat(`}`, n) }
	return []awkwardRecord{
		{name: "not JSON", data: "not json at all", dead: true},
		{name: "truncated", data: `{"a":`, dead: true},
		{name: "not UTF-8", data: "{\"s\":\"\xff\xfe\"}", dead: true},
		{name: "empty", data: "", dead: true},
		{name: "raw control byte", data: "{\"s\":\"a\x01b\"}", dead: true},
		{name: "top-level array", data: `[1,"a",{"b":null}]`, want: `{"value":[1,"a",{"b":null}]}`},
		{name: "top-level scalar", data: `42`, want: `{"value":42}`},
		{name: "top-level string", data: `"text"`, want: `{"value":"text"}`},
		{name: "duplicate key", data: `{"k":1,"k":2}`, want: `{"k":2}`},
		{name: "30-digit integer", data: `{"n":123456789012345678901234567890}`},
		{name: "2^64-1", data: `{"n":18446744073709551615}`},
		{name: "-2^63-1", data: `{"n":-9223372036854775809}`},
		{name: "2^63-1 and -2^63", data: `{"max":9223372036854775807,"min":-9223372036854775808}`},
		{name: "inexact decimal", data: `{"x":0.1000000000000000055511151231257827}`},
		{name: "120 levels deep", data: deep(120)},
		{name: "40 KB string", data: `{"s":"` + strings.Repeat("é", 20000) + `"}`},
		{name: "key with a dot", data: `{"a.b":1}`},
		{name: "key with a bracket", data: `{"a[0]":1}`},
		{name: "key with a tab", data: `{"t\tab":1}`},
		{name: "mixed array", data: `{"m":[1,"a",true]}`},
		{name: "type flips 1", data: `{"flip":1}`},
		{name: "type flips 2", data: `{"flip":"one"}`},
		{name: "type flips 3", data: `{"flip":{"x":1}}`},
		{name: "type flips 4", data: `{"flip":[1,2]}`},
		{name: "NUL escape", data: `{"z":"a\u0000b"}`},
		{name: "lone surrogate", data: `{"w":"\ud800"}`},
		{name: "1 MB", data: `{"pad":"` + strings.Repeat("x", 1<<20-20) + `"}`},
	}
}

// TestChildStoresEveryAwkwardRecordOnce sends the whole catalogue in one
// batch, then a batch of good records: each record ends exactly once in the
// table or the dead-letter table, where the catalogue says, and the shard
// moves on (the checkpoint reaches the last record).
func TestChildStoresEveryAwkwardRecordOnce(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		url := db.URL
		table := uniqueTable(t)
		child := startChild(t, map[string]string{"sink.databaseUrl": url, "sink.table": table, "sink.checkpointIntervalMillis": "0"}, nil)
		ctx := context.Background()
		if err := child.Initialize(ctx, "shardId-000000000001", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
			t.Fatal(err)
		}
		cat := awkwardRecords()
		first := batch(0, len(cat), func(i int) string { return cat[i].data })
		second := batch(len(cat), 50, jsonPayload)
		for _, b := range [][]daemonsim.Record{first, second} {
			if err := child.ProcessRecords(ctx, b, ptr(int64(0))); err != nil {
				t.Fatal(err)
			}
		}
		if err := child.ShutdownRequested(ctx); err != nil {
			t.Fatal(err)
		}
		if last, ok := child.LastCheckpoint(); !ok || last.Sequence != second[len(second)-1].SequenceNumber {
			t.Fatalf("checkpoint %+v, want the last record", last)
		}
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if conn.PgConn().ParameterStatus("crate_version") != "" {
			for _, tb := range []string{table, table + "_deadletter"} {
				if _, err := conn.Exec(ctx, "REFRESH TABLE "+tb); err != nil {
					t.Fatal(err)
				}
			}
		}
		stored := readStrings(t, conn, `SELECT seq, coalesce(payload_text, payload::TEXT) FROM `+table)
		dead := readStrings(t, conn, `SELECT seq, error FROM `+table+`_deadletter`)
		for i, c := range cat {
			seq := first[i].SequenceNumber
			doc, inTable := stored[seq]
			why, isDead := dead[seq]
			switch {
			case inTable && isDead:
				t.Errorf("%s: in the table and dead-lettered (%s)", c.name, why)
			case c.dead && !isDead:
				t.Errorf("%s: not dead-lettered (table: %v)", c.name, inTable)
			case !c.dead && !inTable:
				t.Errorf("%s: not in the table (dead letter: %s)", c.name, why)
			case !c.dead:
				want := c.want
				if want == "" {
					want = c.data
				}
				if !pgtest.SameJSON(t, []byte(doc), []byte(want)) {
					t.Errorf("%s: read back %.200s, want %.200s", c.name, doc, want)
				}
			}
		}
		if len(stored) != len(cat)+50-5 || len(dead) != 5 {
			t.Errorf("%d rows and %d dead letters, want %d and 5", len(stored), len(dead), len(cat)+50-5)
		}
	})
}

func readStrings(t *testing.T, conn *pgx.Conn, query string) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
