package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// awkward is a catalogue of valid JSON objects that a database's object
// column cannot take as they are. Each must land in the target table.
func awkward() map[string]string {
	deep := strings.Repeat(`{"d":`, 120) + `1` + strings.Repeat(`}`, 120)
	return map[string]string{
		"duplicate key":    `{"k":1,"k":2,"nested":{"x":"a","x":"b"}}`,
		"30-digit integer": `{"n":123456789012345678901234567890,"ok":1}`,
		"2^64-1":           `{"u64":18446744073709551615}`,
		"-2^63-1":          `{"i":-9223372036854775809}`,
		"bigint ends":      `{"max":9223372036854775807,"min":-9223372036854775808}`,
		"inexact decimal":  `{"dec":0.1000000000000000055511151231257827}`,
		"1e400":            `{"huge":1e400}`,
		"120 levels deep":  `{"deep":` + deep + `}`,
		"40 KB string":     `{"s":"` + strings.Repeat("ü", 20000) + `"}`,
		"forbidden keys":   `{"a.b":1,"a[0]":2,"t\tab":3,"":4,"_x":5,"_id":6}`,
		"mixed array":      `{"m":[1,"a",true,null,{"o":1}],"nn":[[1],["a"]]}`,
		"NUL escape":       `{"z":"a\u0000b","k\u0000":1}`,
		"lone surrogate":   `{"w":"\ud800","pair":"\ud83d\ude00"}`,
		"type conflict":    `{"conflict":"now a string","arr":["s"],"obj":{"x":"y"}}`,
		"1 MB record":      `{"big":"` + strings.Repeat("x", 1<<20) + `","n":1}`,
		"wrapped scalar":   `{"value":42}`,
		"empty":            `{}`,
	}
}

func TestWriteKeepsEveryValidJSONRecordExactly(t *testing.T) {
	for _, policy := range []string{"dynamic", "ignored"} {
		t.Run(policy, func(t *testing.T) { testWriteKeepsEveryRecord(t, policy) })
	}
}

func testWriteKeepsEveryRecord(t *testing.T, policy string) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		url := db.URL
		ctx := context.Background()
		w := openTest(t, url, func(c *Config) { c.ObjectPolicy = policy })
		// The first batch fixes the types of conflict, arr and obj.
		first := []Row{{Source: record.Source{ShardID: "s", SequenceNumber: "1"}, Payload: []byte(`{"conflict":1,"arr":[1,2],"obj":{"x":1}}`)}}
		if res, err := w.Write(ctx, first); err != nil || res.Written != 1 {
			t.Fatalf("first write: %+v %v", res, err)
		}
		cat := awkward()
		var rows []Row
		want := map[string]string{"1": string(first[0].Payload)}
		for name, doc := range cat {
			seq := fmt.Sprint(len(rows) + 2)
			rows = append(rows, Row{Source: record.Source{ShardID: "s", SequenceNumber: seq, ArrivedAt: time.Now(), Data: []byte(doc)}, Payload: []byte(doc)})
			want[seq] = name
		}
		res, err := w.Write(ctx, rows)
		if err != nil {
			t.Fatal(err)
		}
		if res.Written != len(rows) || len(res.DeadLettered) != 0 {
			t.Fatalf("written %d of %d, dead-lettered %+v", res.Written, len(rows), res.DeadLettered)
		}
		refresh(t, w.core, w.target, w.deadLetter)
		got := readBack(t, w)
		if len(got) != len(rows)+1 {
			t.Fatalf("%d rows in the table, want %d", len(got), len(rows)+1)
		}
		for _, r := range rows {
			name := want[r.SequenceNumber]
			if !pgtest.SameJSON(t, got[r.SequenceNumber], r.Payload) {
				t.Errorf("%s: read back\n%.300s\nwant\n%.300s", name, got[r.SequenceNumber], r.Payload)
			}
		}
		if n := count(t, w, w.deadLetter); n != 0 {
			t.Errorf("%d dead letters", n)
		}
	})
}

// A second process that has not seen a sub-column's type learns it from
// the database when its row is refused.
func TestWriteLearnsTypesAnotherWriterMade(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		url := db.URL
		ctx := context.Background()
		a := openTest(t, url, nil)
		b := openTest(t, url, func(c *Config) {
			c.Table = a.target.schema + "." + a.target.name
			c.ProgressTable = a.progress.String()
		})
		if _, err := a.Write(ctx, []Row{{Source: record.Source{ShardID: "s", SequenceNumber: "1"}, Payload: []byte(`{"v":1,"o":{"p":true}}`)}}); err != nil {
			t.Fatal(err)
		}
		res, err := b.Write(ctx, []Row{{Source: record.Source{ShardID: "s", SequenceNumber: "2"}, Payload: []byte(`{"v":"text","o":{"p":"no","q":2}}`)}})
		if err != nil || res.Written != 1 || len(res.DeadLettered) != 0 {
			t.Fatalf("%+v %v", res, err)
		}
		refresh(t, a.core)
		got := readBack(t, a)
		if !pgtest.SameJSON(t, got["2"], []byte(`{"v":"text","o":{"p":"no","q":2}}`)) {
			t.Errorf("read back %s", got["2"])
		}
		if a.Dialect() == CrateDB {
			var aux string
			if err := a.pool.QueryRow(ctx, `SELECT payload_aux::TEXT FROM `+a.target.sql()+` WHERE seq = '2'`).Scan(&aux); err != nil {
				t.Fatal(err)
			}
			if !pgtest.SameJSON(t, []byte(aux), []byte(`{"v":"text","o":{"p":"no"}}`)) {
				t.Errorf("payload_aux %s", aux)
			}
		}
	})
}

// readBack reads every record whole, as the README tells users to.
func readBack(t *testing.T, w *Writer) map[string][]byte {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT seq, coalesce(payload_text, payload::TEXT) FROM `+w.target.sql())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][]byte{}
	for rows.Next() {
		var seq, doc string
		if err := rows.Scan(&seq, &doc); err != nil {
			t.Fatal(err)
		}
		got[seq] = []byte(doc)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// The worked example in README.md "What lands in the database".
func TestREADMEWorkedExample(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		url := db.URL
		ctx := context.Background()
		w := openTest(t, url, nil)
		example := `{"device":"a1","temp":"n/a","tags":["x",2],"id":123456789012345678901234567890,"meta":{"a.b":1,"ok":true}}`
		rows := []Row{
			{Source: record.Source{ShardID: "s", SequenceNumber: "1"}, Payload: []byte(`{"device":"a1","temp":21,"tags":["x"]}`)},
			{Source: record.Source{ShardID: "s", SequenceNumber: "2"}, Payload: []byte(example)},
		}
		for i := range rows { // two batches: the first makes the sub-columns
			if res, err := w.Write(ctx, rows[i:i+1]); err != nil || res.Written != 1 {
				t.Fatalf("%+v %v", res, err)
			}
		}
		refresh(t, w.core, w.target, w.deadLetter)
		var payload string
		var aux, text *string
		if err := w.pool.QueryRow(ctx, `SELECT payload::TEXT, payload_aux::TEXT, payload_text FROM `+w.target.sql()+` WHERE seq = '2'`).
			Scan(&payload, &aux, &text); err != nil {
			t.Fatal(err)
		}
		wantPayload, wantAux, wantText := example, "", ""
		if w.Dialect() == CrateDB {
			wantPayload = `{"device":"a1","meta":{"ok":true}}`
			wantAux = `{"temp":"n/a","tags":["x",2],"id":"123456789012345678901234567890","meta":{"a.b":1}}`
			wantText = example
		}
		if !pgtest.SameJSON(t, []byte(payload), []byte(wantPayload)) {
			t.Errorf("payload %s, want %s", payload, wantPayload)
		}
		if (aux == nil) != (wantAux == "") || (aux != nil && !pgtest.SameJSON(t, []byte(*aux), []byte(wantAux))) {
			t.Errorf("payload_aux %v, want %s", deref(aux), wantAux)
		}
		if (text == nil) != (wantText == "") || (text != nil && *text != wantText) {
			t.Errorf("payload_text %v, want %s", deref(text), wantText)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// A table at CrateDB's column limit refuses records with new keys: they
// are stored with their known keys indexed and the new ones in payload_aux.
func TestWriteAtTheColumnLimit(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		url := db.URL
		ctx := context.Background()
		w := openTest(t, url, nil)
		if w.Dialect() == CrateDB {
			if _, err := w.pool.Exec(ctx, `ALTER TABLE `+w.target.sql()+` SET ("mapping.total_fields.limit" = 15)`); err != nil {
				t.Fatal(err)
			}
		}
		var rows []Row
		for i := range 3 {
			doc := fmt.Sprintf(`{"known":%d,"k%d_a":1,"k%d_b":2,"k%d_c":3,"k%d_d":4}`, i, i, i, i, i)
			rows = append(rows, Row{Source: record.Source{ShardID: "s", SequenceNumber: fmt.Sprint(i)}, Payload: []byte(doc)})
		}
		for i := range rows {
			if res, err := w.Write(ctx, rows[i:i+1]); err != nil || res.Written != 1 || len(res.DeadLettered) != 0 {
				t.Fatalf("row %d: %+v %v", i, res, err)
			}
			if i == 1 && w.Dialect() == CrateDB && !w.columnsFull.Load() {
				t.Fatal("the writer did not learn that the table is full")
			}
		}
		refresh(t, w.core, w.target, w.deadLetter)
		got := readBack(t, w)
		for _, r := range rows {
			if !pgtest.SameJSON(t, got[r.SequenceNumber], r.Payload) {
				t.Errorf("read back %s, want %s", got[r.SequenceNumber], r.Payload)
			}
		}
		if w.Dialect() == CrateDB {
			var n int
			if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM `+w.target.sql()+` WHERE payload['known'] = 2`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the known key is not indexed in the last row: %d, %v", n, err)
			}
		}
	})
}
