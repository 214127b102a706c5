package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

var postgresMethods = []writeMethod{methodUnnest, methodCopy, methodBatch}

func TestWriteRoundTripsEveryColumn(t *testing.T) {
	pgtest.Each(t, testWriteRoundTripsEveryColumn)
}

func testWriteRoundTripsEveryColumn(t *testing.T, db pgtest.DB) {
	url := db.URL
	payload := []byte(`{"big": 18446744073709551617, "i63": 9223372036854775808, "p53": 9007199254740993,` +
		` "neg": -123456789012345678901234567890, "dec": 0.1000000000000000055511151231257827,` +
		` "uni": "Grüße 👋 \u00e9 日本", "nested": {"a": [1, {"b": null}], "c": {"d": {"e": "f"}}},` +
		` "esc": "quote\" backslash\\ tab\t"}`)
	seq128 := strings.Repeat("9", 128)
	arrived := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	// CrateDB's BIGINT refuses 2^63-1 ("exceeds allowed range"); KPL
	// sub-sequence numbers are small indexes, so the top one it takes is
	// the edge there.
	topSubSeq := int64(math.MaxInt64)
	if db.Crate() {
		topSubSeq--
	}
	rows := []Row{
		{Source: record.Source{ShardID: "shardId-000000000001", SequenceNumber: seq128, SubSequenceNumber: 7, PartitionKey: "ключ/🔑", ArrivedAt: arrived}, Payload: payload},
		{Source: record.Source{ShardID: "shardId-000000000001", SequenceNumber: seq128, SubSequenceNumber: 8, PartitionKey: ""}, Payload: []byte(`{}`)},
		// Larger than the 64 KiB pieces pgconn reads a COPY in, before the epoch, top sub-sequence.
		{Source: record.Source{ShardID: "shardId-000000000001", SequenceNumber: seq128, SubSequenceNumber: topSubSeq, PartitionKey: "k", ArrivedAt: time.UnixMilli(-1).UTC()}, Payload: []byte(`{"pad":"` + strings.Repeat("é", 150_000) + `"}`)},
	}
	variants := map[string]func(*Writer){}
	if !db.Crate() {
		variants["copy-staged"] = func(w *Writer) { w.method = methodCopy; w.skipDirectCopy.Store(1) }
	}
	for _, m := range methodsFor(db) {
		variants[m.String()] = func(w *Writer) { w.method = m }
	}
	for name, setup := range variants {
		t.Run(name, func(t *testing.T) {
			w := openTest(t, url, nil)
			setup(w)
			before := time.Now().Add(-time.Minute)
			res, err := w.Write(context.Background(), rows)
			if err != nil {
				t.Fatal(err)
			}
			if res.Written != len(rows) || len(res.DeadLettered) != 0 {
				t.Fatalf("result %+v", res)
			}
			refresh(t, w, w.target)
			// A record reads back whole as the README says; on CrateDB the
			// big numbers and the long string are in payload_aux/payload_text.
			q := `SELECT shard_id, seq, sub_seq, partition_key, arrived_at, coalesce(payload_text, payload::text), written_at FROM ` +
				w.target.sql() + ` ORDER BY sub_seq`
			dbRows, err := w.pool.Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			defer dbRows.Close()
			i := 0
			for ; dbRows.Next(); i++ {
				var got Row
				var at pgtype.Timestamptz
				var text string
				var writtenAt time.Time
				if err := dbRows.Scan(&got.ShardID, &got.SequenceNumber, &got.SubSequenceNumber, &got.PartitionKey, &at, &text, &writtenAt); err != nil {
					t.Fatal(err)
				}
				want := rows[i]
				if got.ShardID != want.ShardID || got.SequenceNumber != want.SequenceNumber ||
					got.SubSequenceNumber != want.SubSequenceNumber || got.PartitionKey != want.PartitionKey {
					t.Errorf("row %d: got %+v want %+v", i, got, want)
				}
				wantAt := want.ArrivedAt
				if db.Crate() {
					wantAt = wantAt.Truncate(time.Millisecond) // CrateDB keeps milliseconds
				}
				if want.ArrivedAt.IsZero() != !at.Valid || (at.Valid && !at.Time.Equal(wantAt)) {
					t.Errorf("row %d: arrived_at %+v, want %v (zero means NULL)", i, at, want.ArrivedAt)
				}
				if !pgtest.SameJSON(t, []byte(text), want.Payload) {
					t.Errorf("row %d: payload %.200s, want %.200s", i, text, want.Payload)
				}
				if writtenAt.Before(before) {
					t.Errorf("row %d: written_at %v not set by default", i, writtenAt)
				}
			}
			if err := dbRows.Err(); err != nil {
				t.Fatal(err)
			}
			if i != len(rows) {
				t.Fatalf("read %d rows, want %d", i, len(rows))
			}
			var text string
			if err := w.pool.QueryRow(context.Background(), `SELECT coalesce(payload_text, payload::text) FROM `+w.target.sql()+` WHERE sub_seq = 7`).Scan(&text); err != nil {
				t.Fatal(err)
			}
			for _, digits := range []string{"18446744073709551617", "9223372036854775808", "9007199254740993", "-123456789012345678901234567890"} {
				if !strings.Contains(text, digits) {
					t.Errorf("payload %s lost the digits %s", text, digits)
				}
			}
		})
	}
}

func TestWriteTwiceLeavesOneRowEach(t *testing.T) {
	pgtest.Each(t, testWriteTwiceLeavesOneRowEach)
}

func testWriteTwiceLeavesOneRowEach(t *testing.T, db pgtest.DB) {
	for _, m := range methodsFor(db) {
		t.Run(m.String(), func(t *testing.T) {
			w := openTest(t, db.URL, func(c *Config) { c.ChunkSize = 300 })
			w.method = m
			rows := makeRows("shardId-000000000002", 1000, 100)
			for round := range 2 {
				res, err := w.Write(context.Background(), rows)
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if res.Written != len(rows) || len(res.DeadLettered) != 0 {
					t.Fatalf("round %d: result %+v", round, res)
				}
			}
			// Overlapping replay: half old, half new.
			more := makeRows("shardId-000000000002", 1500, 100)[500:]
			if _, err := w.Write(context.Background(), more); err != nil {
				t.Fatal(err)
			}
			var n, distinct int
			refresh(t, w, w.target)
			err := w.pool.QueryRow(context.Background(),
				`SELECT count(*), count(DISTINCT `+rowKeyText+`) FROM `+w.target.sql()).Scan(&n, &distinct)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1500 || distinct != 1500 {
				t.Fatalf("count %d distinct %d, want 1500", n, distinct)
			}
		})
	}
}

// rowKeyText is a row's primary key as one text, for count(DISTINCT ...)
// (CrateDB has no row values there).
const rowKeyText = `shard_id || '/' || seq || '/' || CAST(sub_seq AS TEXT)`

// badRows are rows the database refuses one by one, with the text expected
// in the error. Valid JSON that jsonb or CrateDB's objects cannot hold
// (\u0000, 1e999999, type conflicts) is not among them: it is stored
// (TestWriteKeepsEveryValidJSONRecordExactly).
func badRows(db pgtest.DB) []struct {
	msg string
	row Row
} {
	if db.Crate() { // the child's own parser names the fault (CrateDB gives a bulk row no text)
		return []struct {
			msg string
			row Row
		}{
			{"text after the value", Row{Source: record.Source{PartitionKey: "trailing text"}, Payload: []byte(`{"a":1}}`)}},
			{"bad literal", Row{Source: record.Source{PartitionKey: "bad literal"}, Payload: []byte(`{"a":tru}`)}},
			{"unexpected end at byte 5", Row{Source: record.Source{PartitionKey: "truncated"}, Payload: []byte(`{"a":`)}},
			{"unexpected end at byte 0", Row{Source: record.Source{PartitionKey: "missing payload"}, Payload: nil}},
		}
	}
	return []struct {
		msg string
		row Row
	}{
		{"invalid input syntax for type json", Row{Source: record.Source{PartitionKey: "trailing text"}, Payload: []byte(`{"a":1}}`)}},
		{"invalid input syntax for type json", Row{Source: record.Source{PartitionKey: "bad literal"}, Payload: []byte(`{"a":tru}`)}},
		{"invalid input syntax for type json", Row{Source: record.Source{PartitionKey: "truncated"}, Payload: []byte(`{"a":`)}},
		{"invalid input syntax for type json", Row{Source: record.Source{PartitionKey: "missing payload"}, Payload: nil}},
		{"invalid byte sequence", Row{Source: record.Source{PartitionKey: "nul\x00key"}, Payload: []byte(`{"ok":1}`)}},
	}
}

func TestBadRowsAreDeadLetteredOthersWritten(t *testing.T) {
	pgtest.Each(t, testBadRowsAreDeadLetteredOthersWritten)
}

func testBadRowsAreDeadLetteredOthersWritten(t *testing.T, db pgtest.DB) {
	url := db.URL
	for _, m := range methodsFor(db) {
		for _, chunk := range []int{0, 16} {
			t.Run(fmt.Sprintf("%s/chunk=%d", m, chunk), func(t *testing.T) {
				w := openTest(t, url, func(c *Config) { c.ChunkSize = chunk })
				w.method = m
				rows := makeRows("shardId-000000000003", 200, 100)
				wantErr := map[string]string{} // seq -> error substring
				pos := []int{0, 57, 58, 120, 199}
				for i, bad := range badRows(db) {
					r := &rows[pos[i]]
					r.PartitionKey, r.Payload, r.Data = bad.row.PartitionKey, bad.row.Payload, append([]byte("raw:"), bad.row.Payload...)
					wantErr[r.SequenceNumber] = bad.msg
				}
				res, err := w.Write(context.Background(), rows)
				if err != nil {
					t.Fatal(err)
				}
				if res.Written != len(rows)-len(wantErr) || len(res.DeadLettered) != len(wantErr) {
					t.Fatalf("written %d dead %d, want %d and %d", res.Written, len(res.DeadLettered), len(rows)-len(wantErr), len(wantErr))
				}
				for _, d := range res.DeadLettered {
					if want, ok := wantErr[d.SequenceNumber]; !ok || !strings.Contains(d.Err, want) || d.Stage != StageWrite {
						t.Errorf("dead letter %s: stage %q err %q, want %q", d.SequenceNumber, d.Stage, d.Err, want)
					}
				}
				if got := count(t, w, w.target); got != len(rows)-len(wantErr) {
					t.Errorf("target has %d rows, want %d", got, len(rows)-len(wantErr))
				}
				refresh(t, w, w.deadLetter)
				dbRows, err := w.pool.Query(context.Background(),
					`SELECT seq, raw, stage, error, attempts, failed_at FROM `+w.deadLetter.sql())
				if err != nil {
					t.Fatal(err)
				}
				defer dbRows.Close()
				seen := 0
				for dbRows.Next() {
					var seq, stage, msg string
					var raw []byte
					var attempts int
					var failedAt time.Time
					if err := dbRows.Scan(&seq, &raw, &stage, &msg, &attempts, &failedAt); err != nil {
						t.Fatal(err)
					}
					seen++
					raw = rawOf(t, w, raw)
					if want := wantErr[seq]; !strings.Contains(msg, want) || stage != StageWrite || attempts != 1 || !bytes.HasPrefix(raw, []byte("raw:")) {
						t.Errorf("dead-letter row %s: stage %q attempts %d raw %q error %q, want error containing %q", seq, stage, attempts, raw, msg, want)
					}
				}
				if seen != len(wantErr) {
					t.Errorf("dead-letter table has %d rows, want %d", seen, len(wantErr))
				}
			})
		}
	}
}

func TestOpenWithoutCreateTablesNamesMissingTable(t *testing.T) {
	pgtest.Each(t, testOpenWithoutCreateTablesNamesMissingTable)
}

func testOpenWithoutCreateTablesNamesMissingTable(t *testing.T, db pgtest.DB) {
	url := db.URL
	name := uniqueTable(t)
	_, err := Open(context.Background(), url, Config{Table: "public." + name, Logger: testLogger(t)})
	if err == nil {
		t.Fatal("Open succeeded on a missing table")
	}
	var missing *missingTableError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), `"public"."`+name+`"`) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("error %q does not name the missing table", err)
	}
	// With the tables present the same config opens.
	w := openTest(t, url, nil)
	wantDialect, wantMethod := PostgreSQL, methodCopy
	if db.Crate() {
		wantDialect, wantMethod = CrateDB, methodUnnest
	}
	if w.Dialect() != wantDialect || w.method != wantMethod {
		t.Errorf("dialect %s method %s, want %s and %s", w.Dialect(), w.method, wantDialect, wantMethod)
	}
	w2, err := Open(context.Background(), url, Config{Table: w.target.sql(), ProgressTable: w.progress.sql(), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open on existing tables: %v", err)
	}
	w2.Close()
	if _, err := w2.Write(context.Background(), makeRows("s", 1, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestWriteGivesUpAfterMaxWait(t *testing.T) {
	pgtest.Each(t, testWriteGivesUpAfterMaxWait)
}

func testWriteGivesUpAfterMaxWait(t *testing.T, db pgtest.DB) {
	url := db.URL
	w := openTest(t, url, func(c *Config) {
		c.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxWait: time.Minute}
	})
	// MaxWait bounds Open's CREATE TABLEs too, which take CrateDB seconds.
	w.retry.policy.MaxWait = 700 * time.Millisecond
	// A missing table is a configuration error: it must be retried, not
	// dead-lettered, and surface once MaxWait is spent.
	if _, err := w.pool.Exec(context.Background(), `DROP TABLE `+w.target.sql()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := w.Write(context.Background(), makeRows("shardId-000000000004", 10, 50))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Write succeeded without a target table")
	}
	if !errors.Is(err, ErrDeadline) || !strings.Contains(err.Error(), "42P01") {
		t.Errorf("error %q does not say it gave up on the missing table", err)
	}
	if len(res.DeadLettered) != 0 || count(t, w, w.deadLetter) != 0 {
		t.Errorf("rows were dead-lettered for a configuration error")
	}
	if elapsed < 500*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about MaxWait (700ms)", elapsed)
	}
}

func TestWriteStopsWhenContextEnds(t *testing.T) {
	pgtest.Each(t, testWriteStopsWhenContextEnds)
}

func testWriteStopsWhenContextEnds(t *testing.T, db pgtest.DB) {
	url := db.URL
	w := openTest(t, url, func(c *Config) { c.Retry = RetryPolicy{} })
	if _, err := w.pool.Exec(context.Background(), `DROP TABLE `+w.target.sql()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := w.Write(ctx, makeRows("shardId-000000000004", 10, 50))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
}

func TestWriteDeadLettersUpdatesOnConflict(t *testing.T) {
	pgtest.Each(t, testWriteDeadLettersUpdatesOnConflict)
}

func testWriteDeadLettersUpdatesOnConflict(t *testing.T, db pgtest.DB) {
	url := db.URL
	w := openTest(t, url, nil)
	dl := DeadLetter{Source: record.Source{ShardID: "shardId-000000000005", SequenceNumber: "42", SubSequenceNumber: 1, PartitionKey: "pk\x00", Data: []byte{0, 1, 2, 0xff}}, Stage: StageDecode, Err: "first"}
	if err := w.WriteDeadLetters(context.Background(), []DeadLetter{dl}); err != nil {
		t.Fatal(err)
	}
	dl.Stage, dl.Err = StageWrite, "second"
	// The same key twice in one call must not trip ON CONFLICT DO UPDATE.
	if err := w.WriteDeadLetters(context.Background(), []DeadLetter{dl, dl}); err != nil {
		t.Fatal(err)
	}
	var n, attempts int
	var stage, msg string
	var raw []byte
	var arrived pgtype.Timestamptz
	refresh(t, w, w.deadLetter)
	err := w.pool.QueryRow(context.Background(),
		`SELECT count(*) OVER (), attempts, stage, error, raw, arrived_at FROM `+w.deadLetter.sql()).Scan(&n, &attempts, &stage, &msg, &raw, &arrived)
	if err != nil {
		t.Fatal(err)
	}
	raw = rawOf(t, w, raw)
	if n != 1 || attempts != 2 || stage != StageWrite || msg != "second" || !bytes.Equal(raw, dl.Data) || arrived.Valid {
		t.Fatalf("got n=%d attempts=%d stage=%q err=%q raw=%x arrived=%v", n, attempts, stage, msg, raw, arrived)
	}
}

func TestUpdateProgressUpsertsOneRowPerShard(t *testing.T) {
	pgtest.Each(t, testUpdateProgressUpsertsOneRowPerShard)
}

func testUpdateProgressUpsertsOneRowPerShard(t *testing.T, db pgtest.DB) {
	url := db.URL
	w := openTest(t, url, nil)
	ctx := context.Background()
	p := Progress{ShardID: "shardId-000000000006", LastSequence: "10", LastSubSequence: 1,
		CheckpointSequence: "9", CheckpointSubSequence: 0, MillisBehindLatest: -1, RecordsWritten: 10, DeadLettered: 1}
	if err := w.UpdateProgress(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.LastSequence, p.CheckpointSequence, p.MillisBehindLatest, p.RecordsWritten = "20", "19", 1500, 20
	if err := w.UpdateProgress(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := w.UpdateProgress(ctx, Progress{ShardID: "shardId-000000000007", MillisBehindLatest: -1}); err != nil {
		t.Fatal(err)
	}
	var got Progress
	var updated time.Time
	refresh(t, w, w.progress)
	err := w.pool.QueryRow(ctx, `SELECT shard_id, last_seq, last_sub_seq, checkpoint_seq, checkpoint_sub_seq, millis_behind_latest,
		records_written, dead_lettered, updated_at FROM `+w.progress.sql()+` WHERE shard_id = $1`, p.ShardID).Scan(
		&got.ShardID, &got.LastSequence, &got.LastSubSequence, &got.CheckpointSequence, &got.CheckpointSubSequence,
		&got.MillisBehindLatest, &got.RecordsWritten, &got.DeadLettered, &updated)
	if err != nil {
		t.Fatal(err)
	}
	// The counts add up across updates (they are increments).
	want := p
	want.RecordsWritten, want.DeadLettered = 30, 2
	if got != want || time.Since(updated) > time.Minute {
		t.Fatalf("got %+v (updated %v), want %+v", got, updated, want)
	}
	if n := count(t, w, w.progress); n != 2 {
		t.Fatalf("progress has %d rows, want 2", n)
	}
}

func TestReplayDeadLettersMovesFixedRows(t *testing.T) {
	pgtest.Each(t, testReplayDeadLettersMovesFixedRows)
}

func testReplayDeadLettersMovesFixedRows(t *testing.T, db pgtest.DB) {
	url := db.URL
	w := openTest(t, url, nil)
	ctx := context.Background()
	rows := makeRows("shardId-000000000008", 30, 50)
	// Rows 3, 10, 11, 25 are truncated; row 25 is also marked so that the
	// "fixed" decoder still cannot handle it.
	for _, i := range []int{3, 10, 11, 25} {
		rows[i].Payload = []byte(fmt.Sprintf(`{"id":%d,"s":`, i))
		rows[i].Data = rows[i].Payload
	}
	rows[25].Data = []byte("hopeless")
	res, err := w.Write(ctx, rows)
	if err != nil || len(res.DeadLettered) != 4 {
		t.Fatalf("setup: %v, %d dead letters", err, len(res.DeadLettered))
	}
	other := DeadLetter{Source: record.Source{ShardID: "shardId-000000000009", SequenceNumber: "1", Data: []byte(`{"other":true}`)}, Stage: StageDecode, Err: "x"}
	if err := w.WriteDeadLetters(ctx, []DeadLetter{other}); err != nil {
		t.Fatal(err)
	}
	decode := func(d DeadLetter) (Row, error) {
		if string(d.Data) == "hopeless" {
			return Row{}, errors.New("still cannot decode")
		}
		fixed := append(bytes.Clone(d.Data), `"\u0001"}`...)
		return Row{Source: record.Source{ShardID: d.ShardID, SequenceNumber: d.SequenceNumber, SubSequenceNumber: d.SubSequenceNumber, PartitionKey: d.PartitionKey, ArrivedAt: d.ArrivedAt}, Payload: fixed}, nil
	}
	rr, err := w.ReplayDeadLetters(ctx, ReplayFilter{ShardID: "shardId-000000000008", PageSize: 2}, decode)
	if err != nil {
		t.Fatal(err)
	}
	if rr != (ReplayResult{Scanned: 4, Replayed: 3, StillFailing: 1}) {
		t.Fatalf("replay result %+v", rr)
	}
	if n := count(t, w, w.target); n != 29 {
		t.Errorf("target has %d rows, want 29", n)
	}
	var seqs []string
	refresh(t, w, w.deadLetter)
	dbRows, err := w.pool.Query(ctx, `SELECT shard_id || '/' || seq || '/' || stage || '/' || error || '/' || attempts FROM `+w.deadLetter.sql()+` ORDER BY shard_id`)
	if err != nil {
		t.Fatal(err)
	}
	for dbRows.Next() {
		var s string
		if err := dbRows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	if dbRows.Err() != nil {
		t.Fatal(dbRows.Err())
	}
	want := []string{
		"shardId-000000000008/" + rows[25].SequenceNumber + "/decode/still cannot decode/2",
		"shardId-000000000009/1/decode/x/1",
	}
	if !reflect.DeepEqual(seqs, want) {
		t.Fatalf("dead letters left %q, want %q", seqs, want)
	}
	var fixedPayload string
	q := `SELECT payload->>'s' FROM ` + w.target.sql() + ` WHERE seq = $1`
	if db.Crate() {
		q = `SELECT payload['s'] FROM ` + w.target.sql() + ` WHERE seq = $1`
	}
	if err := w.pool.QueryRow(ctx, q, rows[10].SequenceNumber).Scan(&fixedPayload); err != nil || fixedPayload != "\u0001" {
		t.Fatalf("replayed row payload %q, %v", fixedPayload, err)
	}
}

// TestConcurrentOpenCreatesTablesOnce opens many writers on the same new
// tables at once, as the daemon does when it starts one child per shard:
// PostgreSQL's CREATE TABLE IF NOT EXISTS races, and every Open must still
// succeed.
func TestConcurrentOpenCreatesTablesOnce(t *testing.T) {
	pgtest.Each(t, testConcurrentOpenCreatesTablesOnce)
}

func testConcurrentOpenCreatesTablesOnce(t *testing.T, db pgtest.DB) {
	url := db.URL
	table := "public." + uniqueTable(t)
	const n = 8
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			<-start
			w, err := Open(context.Background(), url, Config{Table: table, ProgressTable: table + "_progress", CreateTables: true, Logger: testLogger(t)})
			if err == nil {
				w.Close()
			}
			errs <- err
		}()
	}
	close(start)
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	w := openTest(t, url, func(c *Config) { c.Table = table; c.ProgressTable = table + "_progress" })
	if _, err := w.Write(context.Background(), makeRows("s", 1, 10)); err != nil {
		t.Fatal(err)
	}
}

// TestWriteIntoTablesOfOtherTypes writes into target tables created by a
// user with other column types than the sink's own: varchar and json still
// take the binary COPY, a numeric sequence number needs pgx's generic one.
// On CrateDB (no COPY) a user's table with other types, ignored objects
// included, must take the batch the same way.
func TestWriteIntoTablesOfOtherTypes(t *testing.T) {
	pgtest.Each(t, testWriteIntoTablesOfOtherTypes)
}

type otherTypes struct {
	name, seqType, payloadType string
	want                       payloadEncoding
	dead                       int // a text column takes the broken JSON
}

func testWriteIntoTablesOfOtherTypes(t *testing.T, db pgtest.DB) {
	url := db.URL
	cases := []otherTypes{
		{"sink's own", "TEXT", "JSONB", payloadJSONB, 1},
		{"varchar and json", "VARCHAR(128)", "JSON", payloadText, 1},
		{"text payload", "TEXT", "TEXT", payloadText, 0},
		{"numeric sequence", "NUMERIC(128)", "JSONB", payloadUnknown, 1},
	}
	if db.Crate() {
		cases = []otherTypes{
			{"sink's own", "TEXT", "OBJECT(DYNAMIC)", 0, 1},
			{"varchar and ignored objects", "VARCHAR(128)", "OBJECT(IGNORED)", 0, 1},
			{"strict objects", "TEXT", "OBJECT(STRICT) AS (id BIGINT, kind TEXT, nested OBJECT AS (a ARRAY(BIGINT), b BOOLEAN), pad TEXT)", 0, 1},
		}
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			w := openTest(t, url, nil)
			table := w.target.schema + "." + w.target.name + "_user"
			ddl := `CREATE TABLE ` + table + ` (shard_id VARCHAR(64) NOT NULL, seq ` + tt.seqType + ` NOT NULL, sub_seq BIGINT NOT NULL, ` +
				`partition_key TEXT, arrived_at TIMESTAMPTZ, payload ` + tt.payloadType + `, PRIMARY KEY (shard_id, seq, sub_seq))`
			if _, err := w.pool.Exec(context.Background(), ddl); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = w.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
			u := openTest(t, url, func(c *Config) {
				c.Table = table
				c.CreateTables = false
				c.DeadLetterTable = w.deadLetter.String()
				c.ProgressTable = w.progress.String()
			})
			if !db.Crate() {
				if got := describeWith(t, u, u.sql.describeTarget); got != tt.want {
					t.Fatalf("payload encoding %d, want %d", got, tt.want)
				}
			}
			rows := makeRows("shardId-000000000002", 50, 300)
			rows[3].Payload = []byte(`{"broken":`) // dead-lettered, the others written
			for range 2 {                          // the second time every row is there already
				res, err := u.Write(context.Background(), rows)
				if err != nil {
					t.Fatal(err)
				}
				if res.Written != 50-tt.dead || len(res.DeadLettered) != tt.dead || (tt.dead > 0 && res.DeadLettered[0].SequenceNumber != rows[3].SequenceNumber) {
					t.Fatalf("written %d, dead-lettered %+v", res.Written, res.DeadLettered)
				}
			}
			var n int
			var seq, payload string
			refresh(t, u, u.target)
			q := `SELECT count(*), max(seq::text), max(payload::text) FROM ` + u.target.sql()
			if err := u.pool.QueryRow(context.Background(), q).Scan(&n, &seq, &payload); err != nil {
				t.Fatal(err)
			}
			isDemo := strings.HasPrefix(payload, `{"id":`)
			if db.Crate() { // CrateDB prints an object's keys in its own order
				var obj map[string]json.RawMessage
				isDemo = json.Unmarshal([]byte(payload), &obj) == nil && obj["id"] != nil
			}
			if n != 50-tt.dead || seq != rows[49].SequenceNumber || !isDemo {
				t.Fatalf("table has %d rows, max seq %s, payload %.40s", n, seq, payload)
			}
		})
	}
}

func describeWith(t *testing.T, w *Writer, describe string) payloadEncoding {
	t.Helper()
	conn, err := w.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	enc, err := describeCopy(context.Background(), conn.Conn().PgConn(), describe)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestWriteAfterColumnTypeChange alters the payload column while the
// Writer is open: binary COPY rows carry no types, so jsonb's version byte
// must not end up in a text column.
//
// PostgreSQL only: it guards the binary COPY, which CrateDB does not have,
// and CrateDB cannot change a column's type (no ALTER COLUMN ... TYPE).
func TestWriteAfterColumnTypeChange(t *testing.T) {
	url := pgtest.DatabaseURL(t)
	w := openTest(t, url, nil)
	ctx := context.Background()
	rows := makeRows("shardId-000000000003", 20, 100)
	if _, err := w.Write(ctx, rows[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `ALTER TABLE `+w.target.sql()+` ALTER COLUMN payload TYPE TEXT`); err != nil {
		t.Fatal(err)
	}
	for _, part := range [][]Row{rows[10:15], rows[:15]} { // direct COPY, then a replay through the stage
		if res, err := w.Write(ctx, part); err != nil || res.Written != len(part) {
			t.Fatalf("written %d: %v", res.Written, err)
		}
	}
	var bad int
	q := `SELECT count(*) FROM ` + w.target.sql() + ` WHERE left(payload, 1) <> '{'`
	if err := w.pool.QueryRow(ctx, q).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if n := count(t, w, w.target); n != 15 || bad != 0 {
		t.Fatalf("%d rows, %d payloads not starting with '{'", n, bad)
	}
}
