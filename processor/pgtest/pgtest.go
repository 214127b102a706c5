// Package pgtest is a test harness in the spirit of net/http/httptest. It
// gives tests the databases to run against: the shared PostgreSQL
// (TEST_DATABASE_URL) and CrateDB (TEST_CRATEDB_URL) that scripts/test.sh
// starts, and servers of their own (scripts/pg.sh, scripts/cratedb.sh) that
// a test may stop, kill, freeze and start again without disturbing the
// shared ones.
package pgtest

import (
	"context"
	"encoding/base64"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// Database names, as DB.Name and subtest names.
const (
	PostgreSQL = "postgresql"
	CrateDB    = "cratedb"
)

// DB is one database to test against.
type DB struct {
	Name string // PostgreSQL or CrateDB
	URL  string
}

// Crate reports whether db is a CrateDB.
func (db DB) Crate() bool { return db.Name == CrateDB }

var envOf = map[string]string{PostgreSQL: "TEST_DATABASE_URL", CrateDB: "TEST_CRATEDB_URL"}

// Get returns the shared database called name. Without its URL the test is
// skipped, or fails under CI=true, where a missing database is a broken
// setup.
func Get(t testing.TB, name string) DB {
	t.Helper()
	env := envOf[name]
	if env == "" {
		t.Fatalf("pgtest: unknown database %q", name)
	}
	url := os.Getenv(env)
	if url == "" {
		missing(t, env+" is not set")
	}
	return DB{Name: name, URL: url}
}

func missing(t testing.TB, why string) {
	t.Helper()
	testenv.Missing(t, why+": run `make test` (scripts/test.sh), or start the database yourself")
}

// DatabaseURL returns TEST_DATABASE_URL, the shared PostgreSQL, with the
// same skip-or-fail rule as Get.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return Get(t, PostgreSQL).URL
}

// Each runs fn once per database, PostgreSQL then CrateDB, as subtests named
// after the database. A database without its URL skips its subtest (fails
// under CI=true).
func Each(t *testing.T, fn func(t *testing.T, db DB)) {
	t.Helper()
	for _, name := range []string{PostgreSQL, CrateDB} {
		t.Run(name, func(t *testing.T) { fn(t, Get(t, name)) })
	}
}

// Execer is a *pgx.Conn, *pgxpool.Pool or *pgxpool.Conn.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Refresh makes recent writes to the tables visible to queries: reads in
// CrateDB are not real-time (except lookups by the full primary key), so a
// test refreshes before it counts. It does nothing on PostgreSQL.
func (db DB) Refresh(t testing.TB, conn Execer, tables ...string) {
	t.Helper()
	if !db.Crate() {
		return
	}
	for _, table := range tables {
		if _, err := conn.Exec(context.Background(), "REFRESH TABLE "+table); err != nil {
			t.Fatalf("REFRESH TABLE %s: %v", table, err)
		}
	}
}

// DeadLetterRaw is a dead letter's raw column as read back: the sink stores
// the record's bytes as BYTEA in PostgreSQL and, CrateDB having no binary
// type, as base64 text there.
func (db DB) DeadLetterRaw(t testing.TB, stored []byte) []byte {
	t.Helper()
	if !db.Crate() {
		return stored
	}
	b, err := base64.StdEncoding.DecodeString(string(stored))
	if err != nil {
		t.Fatalf("dead letter raw %q is not base64: %v", stored, err)
	}
	return b
}
