package sink

import (
	"context"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// TestLiveViewSQLOnEachDatabase runs the _live view's SQL on the real
// database: tombstones are hidden, live rows and rows of an adopted table
// without a cdc_deleted value yet are shown. The view's condition must parse
// on every CrateDB (IS NOT TRUE only exists from 6.3 on).
func TestLiveViewSQLOnEachDatabase(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, url string) {
		w := openTest(t, url, nil)
		ctx := context.Background()
		spec := &cdc.Table{Name: "adopted", Layout: cdc.Direct,
			Key:     []cdc.Column{{Name: "id", Type: cdc.BigInt}},
			Columns: []cdc.Column{{Name: "note", Type: cdc.Text}}}
		table := w.target.withSuffix("_adopted")
		view := table.withSuffix(liveViewSuffix)
		// An adopted table: the bookkeeping columns were added later and
		// may be NULL.
		mustExec(t, w, `CREATE TABLE `+table.sql()+` ("id" BIGINT PRIMARY KEY, "note" TEXT, "cdc_version" TEXT, "cdc_deleted" BOOLEAN, "cdc_event_time" TIMESTAMP WITH TIME ZONE)`)
		t.Cleanup(func() {
			_, _ = w.pool.Exec(context.Background(), `DROP VIEW IF EXISTS `+view.sql())
			_, _ = w.pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+table.sql())
		})
		mustExec(t, w, createLiveView(table, view, spec))
		mustExec(t, w, `INSERT INTO `+table.sql()+` ("id", "note", "cdc_deleted") VALUES (1, 'live', FALSE), (2, 'tombstone', TRUE), (3, 'adopted', NULL)`)
		if w.Dialect() == CrateDB {
			mustExec(t, w, `REFRESH TABLE `+table.sql())
		}
		rows, err := w.pool.Query(ctx, `SELECT "id", "note" FROM `+view.sql()+` ORDER BY "id"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id int64
			var note string
			if err := rows.Scan(&id, &note); err != nil {
				t.Fatal(err)
			}
			got = append(got, note)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] != "live" || got[1] != "adopted" {
			t.Fatalf("view shows %v, want [live adopted]", got)
		}
	})
}

func mustExec(t *testing.T, ww writer, sql string) {
	t.Helper()
	w := ww.base()
	if _, err := w.pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
