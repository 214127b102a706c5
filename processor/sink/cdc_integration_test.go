package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// openCDCTest opens a CDC writer on fresh tables named after the test and
// drops them afterwards.
func openCDCTest(t testing.TB, url string, specs ...*cdc.Table) *ChangeWriter {
	t.Helper()
	base := uniqueTable(t)
	for _, s := range specs {
		s.Name = "public." + base + "_" + strings.ReplaceAll(s.Name, ".", "_")
	}
	cfg := testConfig(t, func(c *Config) { c.Table = "public." + base })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := OpenChanges(ctx, url, cfg, specs)
	if err != nil {
		t.Fatalf("OpenChanges: %v", err)
	}
	dropAtCleanup(t, w.core, func(ctx context.Context) {
		for _, tg := range w.order {
			_, _ = w.pool.Exec(ctx, tg.sql.dropView)
			_, _ = w.pool.Exec(ctx, tg.sql.dropTable)
		}
	})
	return w
}

// bothPaths runs fn on each database: on PostgreSQL with its unnest
// statement and with the single-row CASE-guarded upsert that CrateDB uses,
// sent as one batch; on CrateDB with the batch, its only path.
func bothPaths(t *testing.T, fn func(t *testing.T, db pgtest.DB, batch bool)) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		for _, batch := range []bool{false, true} {
			if db.Crate() && !batch {
				continue
			}
			name := "unnest"
			if batch {
				name = "case-guarded-batch"
			}
			t.Run(name, func(t *testing.T) { fn(t, db, batch) })
		}
	})
}

func useBatch(w *ChangeWriter, batch bool) {
	if batch {
		w.method = methodBatch
	}
}

func docSpec() *cdc.Table {
	return &cdc.Table{Name: "doc", Layout: cdc.Document,
		Key: []cdc.Column{{Name: "id", Type: cdc.Text}, {Name: "n", Type: cdc.BigInt}}}
}

func directSpec() *cdc.Table {
	return &cdc.Table{Name: "direct", Layout: cdc.Direct,
		Key: []cdc.Column{{Name: "id", Type: cdc.BigInt}},
		Columns: []cdc.Column{{Name: "total", Type: cdc.Double}, {Name: "note", Type: cdc.Text}, {Name: "meta", Type: cdc.Object},
			{Name: "placed", Type: cdc.Timestamp}, {Name: "paid", Type: cdc.Boolean}, {Name: "qty", Type: cdc.Integer}}}
}

func change(spec *cdc.Table, op cdc.Op, key []any, micros int64, seq int, data string, values ...any) cdc.Change {
	c := cdc.Change{Table: spec, Op: op, Key: key,
		Version:   cdc.Version{Micros: micros, Seq: fmt.Sprint(seq)},
		EventTime: time.UnixMicro(micros).UTC(),
		Source:    record.Source{ShardID: "shardId-000000000001", SequenceNumber: fmt.Sprint(seq), Data: []byte(fmt.Sprintf(`{"seq":%d}`, seq))}}
	if op == cdc.Upsert {
		if spec.Layout == cdc.Document {
			c.Data, c.Aux = json.RawMessage(data), json.RawMessage(`{}`)
		} else {
			c.Values = values
		}
	}
	return c
}

// liveRows returns the live view as jsonb text per row, sorted (see
// pgtest.LiveRows; the table is refreshed first on CrateDB).
func liveRows(t testing.TB, w *ChangeWriter, tg *cdcTarget) []string {
	t.Helper()
	refresh(t, w.core, tg.name)
	db := pgtest.DB{Name: pgtest.PostgreSQL}
	if w.Dialect() == CrateDB {
		db.Name = pgtest.CrateDB
	}
	out, err := pgtest.LiveRows(context.Background(), w.pool, db, tg.view.sql())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func apply(t testing.TB, w *ChangeWriter, changes ...cdc.Change) Result {
	t.Helper()
	res, err := w.Apply(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCDCApplyVersionGuard(t *testing.T) {
	bothPaths(t, func(t *testing.T, db pgtest.DB, batch bool) {
		w := openCDCTest(t, db.URL, docSpec())
		useBatch(w, batch)
		spec, tg := w.order[0].spec, w.order[0]
		a := []any{"a", int64(1)}
		steps := []struct {
			name string
			c    cdc.Change
			want []string
		}{
			{"modify of a missing row inserts it", change(spec, cdc.Upsert, a, 200, 2, `{"v":2}`),
				[]string{`{"pk": {"n": 1, "id": "a"}, "aux": {}, "data": {"v": 2}}`}},
			{"older insert is ignored", change(spec, cdc.Upsert, a, 100, 1, `{"v":1}`),
				[]string{`{"pk": {"n": 1, "id": "a"}, "aux": {}, "data": {"v": 2}}`}},
			{"same version again is ignored", change(spec, cdc.Upsert, a, 200, 2, `{"v":"changed?"}`),
				[]string{`{"pk": {"n": 1, "id": "a"}, "aux": {}, "data": {"v": 2}}`}},
			{"same time, later sequence wins", change(spec, cdc.Upsert, a, 200, 3, `{"v":3}`),
				[]string{`{"pk": {"n": 1, "id": "a"}, "aux": {}, "data": {"v": 3}}`}},
			{"remove leaves a tombstone", change(spec, cdc.Delete, a, 300, 4, ""), nil},
			{"replayed insert does not resurrect", change(spec, cdc.Upsert, a, 200, 3, `{"v":3}`), nil},
			{"remove of a missing row", change(spec, cdc.Delete, []any{"b", int64(1)}, 300, 5, ""), nil},
			{"a newer insert re-creates the item", change(spec, cdc.Upsert, a, 400, 6, `{"v":4}`),
				[]string{`{"pk": {"n": 1, "id": "a"}, "aux": {}, "data": {"v": 4}}`}},
		}
		for _, s := range steps {
			res := apply(t, w, s.c)
			if res.Written != 1 || len(res.DeadLettered) != 0 {
				t.Fatalf("%s: %+v", s.name, res)
			}
			if got := liveRows(t, w, tg); strings.Join(got, "\n") != strings.Join(s.want, "\n") {
				t.Fatalf("%s: live rows\n%s\nwant\n%s", s.name, strings.Join(got, "\n"), strings.Join(s.want, "\n"))
			}
		}
		var rows, tombstones int
		var version string
		refresh(t, w.core, tg.name)
		if err := w.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE cdc_deleted), max(cdc_version) FROM `+tg.name.sql()).
			Scan(&rows, &tombstones, &version); err != nil {
			t.Fatal(err)
		}
		if rows != 2 || tombstones != 1 || version != (cdc.Version{Micros: 400, Seq: "6"}).String() {
			t.Errorf("table: %d rows, %d tombstones, max version %s", rows, tombstones, version)
		}
	})
}

func TestCDCApplyDirectLayout(t *testing.T) {
	bothPaths(t, func(t *testing.T, db pgtest.DB, batch bool) {
		w := openCDCTest(t, db.URL, directSpec())
		useBatch(w, batch)
		spec, tg := w.order[0].spec, w.order[0]
		placed := time.Date(2024, 7, 21, 10, 0, 0, 500000000, time.UTC)
		res := apply(t, w,
			change(spec, cdc.Upsert, []any{int64(1)}, 0, 10, "", 12.5, "it's", json.RawMessage(`{"a":[1,2]}`), placed, true, int64(3)),
			change(spec, cdc.Upsert, []any{int64(2)}, 0, 11, "", nil, nil, nil, nil, nil, nil),
			change(spec, cdc.Delete, []any{int64(3)}, 0, 12, ""),
		)
		if res.Written != 3 {
			t.Fatalf("%+v", res)
		}
		apply(t, w, change(spec, cdc.Upsert, []any{int64(1)}, 0, 9, "", 0.5, "stale", nil, nil, false, int64(0)))
		if !db.Crate() { // CrateDB's session time zone is always UTC
			if _, err := w.pool.Exec(context.Background(), "SET TIME ZONE 'UTC'"); err != nil {
				t.Fatal(err)
			}
		}
		got := strings.Join(liveRows(t, w, tg), "\n")
		want := `{"id": 1, "qty": 3, "meta": {"a": [1, 2]}, "note": "it's", "paid": true, "total": 12.5, "placed": "2024-07-21T10:00:00.5+00:00"}` + "\n" +
			`{"id": 2, "qty": null, "meta": null, "note": null, "paid": null, "total": null, "placed": null}`
		if got != want {
			t.Errorf("live rows\n%s\nwant\n%s", got, want)
		}
	})
}

// A change the database refuses (jsonb cannot hold \u0000; CrateDB refuses
// BIGINT's extreme 2^63-1, here in the key, where the type-conflict rule
// cannot move it to aux) is dead-lettered with the database's reason; the
// others in its batch are written.
func TestCDCApplyDeadLettersRefusedChange(t *testing.T) {
	bothPaths(t, func(t *testing.T, db pgtest.DB, batch bool) {
		w := openCDCTest(t, db.URL, docSpec())
		useBatch(w, batch)
		spec, tg := w.order[0].spec, w.order[0]
		var changes []cdc.Change
		for i := range 10 {
			data, key := fmt.Sprintf(`{"i":%d}`, i), int64(i)
			if i == 6 {
				if db.Crate() {
					key = math.MaxInt64
				} else {
					data = `{"bad":"nul \u0000 inside"}`
				}
			}
			changes = append(changes, change(spec, cdc.Upsert, []any{"k", key}, 1, 100+i, data))
		}
		res := apply(t, w, changes...)
		if res.Written != 9 || len(res.DeadLettered) != 1 {
			t.Fatalf("%+v", res)
		}
		if n := len(liveRows(t, w, tg)); n != 9 {
			t.Fatalf("%d live rows", n)
		}
		var seq, stage, msg string
		var raw []byte
		refresh(t, w.core, w.deadLetter)
		if err := w.pool.QueryRow(context.Background(), `SELECT seq, stage, error, raw FROM `+w.deadLetter.sql()).Scan(&seq, &stage, &msg, &raw); err != nil {
			t.Fatal(err)
		}
		raw = rawOf(t, w.core, raw)
		reason := "Unicode"
		if db.Crate() {
			reason = "exceeds allowed range"
		}
		if seq != "106" || stage != StageWrite || !strings.Contains(msg, reason) || string(raw) != `{"seq":106}` {
			t.Errorf("dead letter %s %s %q %s", seq, stage, msg, raw)
		}
	})
}

func TestCDCApplyControl(t *testing.T) {
	pgtest.Each(t, testCDCApplyControl)
}

func testCDCApplyControl(t *testing.T, db pgtest.DB) {
	w := openCDCTest(t, db.URL, docSpec())
	spec, tg := w.order[0].spec, w.order[0]
	ctx := context.Background()
	apply(t, w, change(spec, cdc.Upsert, []any{"a", int64(1)}, 1, 1, `{}`))
	if err := w.ApplyControl(ctx, cdc.Control{Kind: cdc.DropTable, Table: spec}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, w, w.deadLetter); n != 0 {
		t.Fatal(n)
	}
	var exists bool
	q, args := `SELECT to_regclass($1) IS NOT NULL`, []any{tg.name.sql()}
	if db.Crate() {
		q, args = `SELECT count(*) > 0 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, []any{tg.name.schema, tg.name.name}
	}
	if err := w.pool.QueryRow(ctx, q, args...).Scan(&exists); err != nil || exists {
		t.Fatalf("table still there after drop-table: %v %v", exists, err)
	}
	// The next change re-creates the table.
	apply(t, w, change(spec, cdc.Upsert, []any{"b", int64(1)}, 2, 2, `{"v":1}`))
	if got := liveRows(t, w, tg); len(got) != 1 || !strings.Contains(got[0], `"b"`) {
		t.Fatalf("after re-create: %v", got)
	}
	if err := w.ApplyControl(ctx, cdc.Control{Kind: cdc.CreateTable, Table: spec}); err != nil {
		t.Fatal(err)
	}
	if got := liveRows(t, w, tg); len(got) != 1 {
		t.Fatalf("create-table on an existing table changed it: %v", got)
	}
	if _, err := w.Apply(ctx, []cdc.Change{change(&cdc.Table{Name: "other"}, cdc.Upsert, nil, 1, 1, `{}`)}); err == nil {
		t.Fatal("a change for an unknown table was accepted")
	}
}

// A chunk larger than ChunkSize travels in several statements.
func TestCDCApplyChunks(t *testing.T) {
	pgtest.Each(t, testCDCApplyChunks)
}

func testCDCApplyChunks(t *testing.T, db pgtest.DB) {
	w := openCDCTest(t, db.URL, docSpec(), directSpec())
	w.chunkSize = 7
	doc, direct := w.order[0], w.order[1]
	var batch []cdc.Change
	for i := range 50 {
		batch = append(batch, change(doc.spec, cdc.Upsert, []any{"k", int64(i)}, 1, i, `{}`))
		batch = append(batch, change(direct.spec, cdc.Upsert, []any{int64(i)}, 0, i, "", float64(i), nil, nil, nil, nil, nil))
	}
	if res := apply(t, w, batch...); res.Written != 100 {
		t.Fatalf("%+v", res)
	}
	if a, b := len(liveRows(t, w, doc)), len(liveRows(t, w, direct)); a != 50 || b != 50 {
		t.Fatalf("%d, %d rows", a, b)
	}
}

// TestReplayChanges replays change dead letters: decodable changes are
// applied (two of one row included, newest wins) and removed, a skipped
// record is removed, an undecodable one and a table control record stay.
func TestReplayChanges(t *testing.T) {
	bothPaths(t, func(t *testing.T, db pgtest.DB, batch bool) {
		spec := docSpec()
		w := openCDCTest(t, db.URL, spec)
		useBatch(w, batch)
		ctx := context.Background()
		apply(t, w, change(spec, cdc.Upsert, []any{"b", int64(2)}, 100, 10, `{"v":"b1"}`))

		events := map[int]cdc.Event{}
		for seq, c := range map[int]cdc.Change{
			1: change(spec, cdc.Upsert, []any{"a", int64(1)}, 200, 1, `{"v":"a-new"}`),
			2: change(spec, cdc.Upsert, []any{"a", int64(1)}, 150, 2, `{"v":"a-old"}`), // older, same row
			6: change(spec, cdc.Delete, []any{"b", int64(2)}, 300, 6, ""),
		} {
			events[seq] = cdc.Event{Change: &c}
		}
		events[4] = cdc.Event{Control: &cdc.Control{Kind: cdc.DropTable, Table: spec}}
		events[5] = cdc.Event{Skipped: "another source table"}
		var dls []DeadLetter
		for seq := 1; seq <= 6; seq++ {
			dls = append(dls, DeadLetter{Source: record.Source{ShardID: "shardId-000000000001", SequenceNumber: fmt.Sprint(seq), Data: []byte(fmt.Sprintf(`{"seq":%d}`, seq))}, Stage: StageWrite, Err: "refused before"})
		}
		if err := w.WriteDeadLetters(ctx, dls); err != nil {
			t.Fatal(err)
		}
		res, err := w.ReplayChanges(ctx, ReplayFilter{PageSize: 4}, func(dl DeadLetter) (cdc.Event, error) {
			var raw struct{ Seq int }
			if err := json.Unmarshal(dl.Data, &raw); err != nil {
				return cdc.Event{}, err
			}
			if ev, ok := events[raw.Seq]; ok {
				return ev, nil
			}
			return cdc.Event{}, fmt.Errorf("still broken: record %d", raw.Seq)
		})
		if err != nil {
			t.Fatal(err)
		}
		if res != (ReplayResult{Scanned: 6, Replayed: 4, StillFailing: 2}) {
			t.Fatalf("result %+v", res)
		}
		rows := liveRows(t, w, w.order[0])
		if len(rows) != 1 || !strings.Contains(rows[0], `"a-new"`) {
			t.Fatalf("live rows %v", rows)
		}
		refresh(t, w, w.deadLetter)
		left, err := w.readDeadLetters(ctx, "", record.Key{SubSequenceNumber: math.MinInt64}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || left[0].SequenceNumber != "3" || !strings.Contains(left[0].Err, "still broken") ||
			left[1].SequenceNumber != "4" || left[1].Err != controlNotReplayed {
			t.Fatalf("dead letters left: %+v", left)
		}
	})
}
