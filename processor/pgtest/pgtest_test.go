package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServerFaultsKeepData takes a server of each kind down in every way the
// chaos tests do, one after the other, and brings it back: while it is down
// (or frozen) no query is answered, and afterwards every row written before
// is there.
func TestServerFaultsKeepData(t *testing.T) {
	faults := []struct {
		name     string
		down, up func(*Server) error
	}{
		{"stop", func(s *Server) error { s.Stop(); return nil }, func(s *Server) error { s.Restart(); return nil }},
		{"kill", (*Server).Kill, func(s *Server) error { s.Restart(); return nil }},
		{"freeze", (*Server).Freeze, (*Server).Thaw},
	}
	Each(t, func(t *testing.T, shared DB) {
		s := StartServer(t, shared.Name, Durable)
		db := s.DB()
		execSQL(t, db, `CREATE TABLE kept (id INT PRIMARY KEY)`)
		for i, f := range faults {
			execSQL(t, db, `INSERT INTO kept (id) VALUES ($1)`, i)
			if err := f.down(s); err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if conn, err := pgx.Connect(ctx, db.URL); err == nil {
				conn.Close(ctx)
				t.Fatalf("%s: connected to the server while it was down", f.name)
			}
			cancel()
			if err := f.up(s); err != nil {
				t.Fatalf("%s: back up: %v", f.name, err)
			}
			if n := countKept(t, db); n != i+1 {
				t.Fatalf("%s: %d rows after the server came back, want %d", f.name, n, i+1)
			}
		}
	})
}

func execSQL(t *testing.T, db DB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func countKept(t *testing.T, db DB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	db.Refresh(t, conn, "kept")
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
