// Package pgtest gives tests the databases to run against: the shared
// PostgreSQL (TEST_DATABASE_URL) and CrateDB (TEST_CRATEDB_URL) that
// scripts/test.sh starts, and servers of their own (scripts/pg.sh,
// scripts/cratedb.sh) that a test may stop and start again without
// disturbing the shared ones.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

const pgBin = "/usr/lib/postgresql/15/bin"

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
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (run scripts/test.sh)")
	}
	t.Skip(why + ": run `make test` (scripts/test.sh), or start the database yourself")
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

// Server is a database server of the test's own, which it may stop and
// start again; it is removed when the test ends.
type Server struct {
	t    testing.TB
	db   string
	dir  string
	port int // psql port
	http int // CrateDB only
	tr   int // CrateDB only
}

// Start starts a PostgreSQL server of the test's own on a free port.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartServer(t, PostgreSQL)
}

// StartServer starts a server of the test's own of the kind named (PostgreSQL
// or CrateDB, the CrateDB from CRATEDB_HOME) on free ports. Without the shared
// database of that kind, or CRATEDB_HOME, the test is skipped (fails under
// CI=true).
func StartServer(t testing.TB, name string) *Server {
	t.Helper()
	Get(t, name) // same gate as every database test
	if name == CrateDB && os.Getenv("CRATEDB_HOME") == "" {
		missing(t, "CRATEDB_HOME is not set")
	}
	if name == PostgreSQL && os.Geteuid() != 0 {
		t.Skip("stopping and starting PostgreSQL needs root (runuser postgres)")
	}
	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	// The postgres (crate) user must reach the data directory inside it.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, db: name, dir: filepath.Join(base, "db"), port: freePort(t)}
	if name == CrateDB {
		s.http, s.tr = freePort(t), freePort(t)
	}
	t.Cleanup(func() {
		s.script("stop")
		os.RemoveAll(base)
	})
	s.script("start")
	return s
}

// DB is the server as a DB.
func (s *Server) DB() DB { return DB{Name: s.db, URL: s.URL()} }

// URL is the server's connection URL.
func (s *Server) URL() string {
	if s.db == CrateDB {
		return fmt.Sprintf("postgres://crate@127.0.0.1:%d/doc?sslmode=disable", s.port)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Stop shuts the server down and keeps its data. PostgreSQL stops "fast"
// (connections are terminated); CrateDB gets SIGTERM (SIGKILL after 10 s).
func (s *Server) Stop() {
	if s.db == CrateDB {
		s.script("halt")
		return
	}
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"),
		"-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Restart starts the stopped server again with its data; it returns once
// the server takes connections.
func (s *Server) Restart() { s.script("start") }

func (s *Server) script(arg string) {
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts")
	var cmd *exec.Cmd
	if s.db == CrateDB {
		cmd = exec.Command("bash", filepath.Join(scripts, "cratedb.sh"), arg)
		cmd.Env = append(os.Environ(), "CRATE_DIR="+s.dir, fmt.Sprintf("CRATE_PSQL_PORT=%d", s.port),
			fmt.Sprintf("CRATE_HTTP_PORT=%d", s.http), fmt.Sprintf("CRATE_TRANSPORT_PORT=%d", s.tr))
	} else {
		cmd = exec.Command("bash", filepath.Join(scripts, "pg.sh"), arg)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PGPORT=%d", s.port), "PG_DIR="+s.dir)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Errorf("%s %s: %v\n%s", filepath.Base(cmd.Args[1]), arg, err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
