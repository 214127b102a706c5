package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestServerRestartKeepsData stops and restarts a server of each kind: the
// rows written before the stop are there afterwards.
func TestServerRestartKeepsData(t *testing.T) {
	Each(t, func(t *testing.T, shared DB) {
		s := StartServer(t, shared.Name)
		db := s.DB()
		ctx := context.Background()
		exec := func(sql string) {
			t.Helper()
			conn, err := pgx.Connect(ctx, db.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		exec(`CREATE TABLE kept (id INT PRIMARY KEY)`)
		exec(`INSERT INTO kept (id) VALUES (1), (2)`)
		s.Stop()
		if conn, err := pgx.Connect(ctx, db.URL); err == nil {
			conn.Close(ctx)
			t.Fatal("connected to a stopped server")
		}
		s.Restart()
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		db.Refresh(t, conn, "kept")
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d rows after the restart (%v), want 2", n, err)
		}
	})
}
