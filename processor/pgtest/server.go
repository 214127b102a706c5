package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// Server is a database server of the test's own, which it may stop, kill,
// freeze and start again; it is removed when the test ends.
type Server struct {
	t    testing.TB
	db   string
	dir  string
	port int      // psql port
	http int      // CrateDB only
	tr   int      // CrateDB only
	env  []string // extra environment of the start script (cluster nodes)
	// durable: PostgreSQL keeps every acknowledged commit through a crash.
	durable bool
	// frozen are the processes Freeze stopped, for Thaw.
	frozen []int
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
func StartServer(t testing.TB, name string, opts ...ServerOption) *Server {
	t.Helper()
	s := newServer(t, name)
	for _, o := range opts {
		o(s)
	}
	s.script("start")
	return s
}

// ServerOption changes how StartServer starts a server.
type ServerOption func(*Server)

// Durable starts PostgreSQL with its own durability defaults (scripts/pg.sh
// PG_DURABLE=1): by default the test servers run with synchronous_commit
// off, and a kill -9 then loses the commits of the last few hundred
// milliseconds, which Kill refuses. CrateDB is always durable (its
// translog is synced before a write is acknowledged).
func Durable(s *Server) {
	s.durable = true
	s.env = append(s.env, "PG_DURABLE=1")
}

// newServer gates the test as StartServer does and makes a server that is
// not started yet, with its directory, ports and cleanup.
func newServer(t testing.TB, name string) *Server {
	t.Helper()
	Get(t, name) // same gate as every database test
	if name == CrateDB && os.Getenv("CRATEDB_HOME") == "" {
		missing(t, "CRATEDB_HOME is not set")
	}
	if name == PostgreSQL && os.Geteuid() != 0 {
		testenv.Missing(t, "stopping and starting PostgreSQL needs root (runuser postgres)")
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
		_ = s.Thaw() // a frozen server would not stop
		s.script("stop")
		os.RemoveAll(base)
	})
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

// Restart starts the stopped (or killed) server again with its data; it
// returns once the server takes connections.
func (s *Server) Restart() { s.script("start") }

func (s *Server) command(arg string) *exec.Cmd {
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "..", "..", "scripts")
	var cmd *exec.Cmd
	if s.db == CrateDB {
		cmd = exec.Command("bash", filepath.Join(scripts, "cratedb.sh"), arg)
		cmd.Env = append(os.Environ(), "CRATE_DIR="+s.dir, fmt.Sprintf("CRATE_PSQL_PORT=%d", s.port),
			fmt.Sprintf("CRATE_HTTP_PORT=%d", s.http), fmt.Sprintf("CRATE_TRANSPORT_PORT=%d", s.tr))
	} else {
		cmd = exec.Command("bash", filepath.Join(scripts, "pg.sh"), arg)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PGPORT=%d", s.port), "PG_DIR="+s.dir)
	}
	cmd.Env = append(cmd.Env, s.env...)
	return cmd
}

func (s *Server) script(arg string) {
	cmd := s.command(arg)
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
