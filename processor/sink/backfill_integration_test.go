package sink

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// TestBackfillBelowTheStream: items loaded with a backfill version (the
// scan's time minus the margin, a short sequence number) never replace a
// change of the stream made after it, a tombstone included, whichever is
// applied first, in bulk with other rows; and they do replace a change
// older than the scan.
func TestBackfillBelowTheStream(t *testing.T) {
	const t0 = 1_764_460_000_000_000 // the backfill's version time
	streamSeq := "49658979582474734118419438946014426612399025234436718594"
	backfill := func(spec *cdc.Table, id string, sub int64, data string) cdc.Change {
		c := change(spec, cdc.Upsert, []any{id, int64(1)}, t0, 1, data)
		c.Version = cdc.Version{Micros: t0, Seq: "3", Sub: sub} // segment 2, item sub
		return c
	}
	stream := func(spec *cdc.Table, op cdc.Op, id string, micros int64, data string) cdc.Change {
		c := change(spec, op, []any{id, int64(1)}, micros, 1, data)
		c.Version.Seq = streamSeq
		return c
	}
	bothPaths(t, func(t *testing.T, db pgtest.DB, batch bool) {
		w := openCDCTest(t, db.URL, docSpec())
		useBatch(w, batch)
		spec, tg := w.order[0].spec, w.order[0]
		// The stream first: a remove and a modify made after the scan began,
		// at the same millisecond as the version time (the margin's edge),
		// and a modify made well before it.
		apply(t, w,
			stream(spec, cdc.Delete, "removed-after", t0+1000, ""),
			stream(spec, cdc.Upsert, "modified-after", t0, `{"v":"stream"}`),
			stream(spec, cdc.Upsert, "modified-before", t0-60_000_000, `{"v":"old"}`))
		// Then the backfill, in one chunk with new items.
		var items []cdc.Change
		for i, id := range []string{"removed-after", "modified-after", "modified-before", "new-1", "new-2"} {
			items = append(items, backfill(spec, id, int64(i), `{"v":"scanned"}`))
		}
		if res := apply(t, w, items...); res.Written != len(items) || len(res.DeadLettered) != 0 {
			t.Fatalf("backfill: %+v", res)
		}
		// Then the stream again, after the backfill: a remove of a backfilled item.
		apply(t, w, stream(spec, cdc.Delete, "new-2", t0+5_000_000, ""))
		// A resumed backfill writes the same items again: nothing changes.
		apply(t, w, items...)
		want := []string{
			`{"pk": {"n": 1, "id": "modified-after"}, "aux": {}, "data": {"v": "stream"}}`,
			`{"pk": {"n": 1, "id": "modified-before"}, "aux": {}, "data": {"v": "scanned"}}`,
			`{"pk": {"n": 1, "id": "new-1"}, "aux": {}, "data": {"v": "scanned"}}`,
		}
		if got := liveRows(t, w, tg); !slices.Equal(got, want) {
			t.Fatalf("live rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		refresh(t, w.core, tg.name)
		var tombstones []string
		rows, err := w.pool.Query(context.Background(), `SELECT pk['id'] FROM `+tg.name.sql()+` WHERE cdc_deleted ORDER BY 1`)
		if !db.Crate() {
			rows, err = w.pool.Query(context.Background(), `SELECT pk->>'id' FROM `+tg.name.sql()+` WHERE cdc_deleted ORDER BY 1`)
		}
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			tombstones = append(tombstones, id)
		}
		if rows.Err() != nil || !slices.Equal(tombstones, []string{"new-2", "removed-after"}) {
			t.Fatalf("tombstones %v (%v)", tombstones, rows.Err())
		}
	})
}

func TestBackfillProgress(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		w := openCDCTest(t, db.URL, docSpec())
		ctx := context.Background()
		t.Cleanup(func() {
			_, _ = w.pool.Exec(context.Background(), `DELETE FROM `+w.backfillTable().sql()+` WHERE "target_table" = $1`,
				w.target.schema+"."+w.target.name)
		})
		source := "orders"
		if segs, err := w.LatestBackfill(ctx, source); err != nil || len(segs) != 0 {
			t.Fatalf("before any scan: %v %v", segs, err)
		}
		scan := func(id string, n int) []BackfillSegment {
			var segs []BackfillSegment
			for i := range n {
				segs = append(segs, BackfillSegment{Source: source, ScanID: id, Segment: i, Segments: n, VersionMicros: 42})
			}
			return segs
		}
		first := scan("2026-11-30T01:00:00.000000Z", 3)
		if err := w.StartBackfill(ctx, first); err != nil {
			t.Fatal(err)
		}
		key := json.RawMessage(`{"id":{"S":"k-17"},"n":{"N":"3"}}`)
		done := first[1]
		done.LastKey, done.Items, done.Pages, done.DeadLettered, done.Done = key, 1700, 2, 1, true
		if err := w.SaveBackfill(ctx, done); err != nil {
			t.Fatal(err)
		}
		// Starting the same scan again (a resume) keeps what is stored.
		if err := w.StartBackfill(ctx, first); err != nil {
			t.Fatal(err)
		}
		got, err := w.LatestBackfill(ctx, source)
		if err != nil || len(got) != 3 {
			t.Fatalf("%v %v", got, err)
		}
		if g := got[1]; string(g.LastKey) != string(key) || g.Items != 1700 || g.Pages != 2 || g.DeadLettered != 1 || !g.Done ||
			g.UpdatedAt.IsZero() || g.VersionMicros != 42 || g.Segments != 3 {
			t.Errorf("segment 1: %+v", g)
		}
		if got[0].LastKey != nil || got[0].Done {
			t.Errorf("segment 0: %+v", got[0])
		}
		// A later scan is the latest; another source's scans are not.
		if err := w.StartBackfill(ctx, scan("2026-11-30T02:00:00.000000Z", 2)); err != nil {
			t.Fatal(err)
		}
		other := scan("2026-11-30T03:00:00.000000Z", 1)
		other[0].Source = "other"
		if err := w.StartBackfill(ctx, other); err != nil {
			t.Fatal(err)
		}
		got, err = w.LatestBackfill(ctx, source)
		if err != nil || len(got) != 2 || got[0].ScanID != "2026-11-30T02:00:00.000000Z" {
			t.Fatalf("latest: %+v %v", got, err)
		}
	})
}

func TestDDLForBackfill(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		spec := docSpec()
		spec.Name = "shop.orders"
		d, ddl, err := DDL(context.Background(), db.URL, Config{Table: "shop.orders"}, []*cdc.Table{spec})
		if err != nil {
			t.Fatal(err)
		}
		if (d == CrateDB) != db.Crate() || len(ddl) != 5 {
			t.Fatalf("%s: %d statements", d, len(ddl))
		}
		text := strings.Join(ddl, ";\n")
		for _, want := range []string{`CREATE TABLE IF NOT EXISTS "shop"."orders" (`, `VIEW "shop"."orders_live"`,
			`"shop"."orders_deadletter"`, `"shop"."kinesis_progress"`, `"shop"."kinesis_backfill"`} {
			if !strings.Contains(text, want) {
				t.Errorf("no %s in\n%s", want, text)
			}
		}
	})
}
