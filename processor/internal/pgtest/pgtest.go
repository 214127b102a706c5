// Package pgtest gives tests a PostgreSQL server of their own, started with
// scripts/pg.sh, that they may stop and start again without disturbing the
// shared test database (TEST_DATABASE_URL).
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/internal/testenv"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// DatabaseURL returns TEST_DATABASE_URL. Without it the test is skipped, or
// fails under CI=true, where a missing database is a broken setup.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		testenv.Missing(t, "TEST_DATABASE_URL not set: run `make test` or scripts/pg.sh start")
	}
	return url
}

// Cluster is a dedicated PostgreSQL server.
type Cluster struct {
	t    testing.TB
	dir  string
	port int
}

// Start starts a cluster on a free port; it is removed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	DatabaseURL(t) // same gate as every database test
	if os.Geteuid() != 0 {
		testenv.Missing(t, "stopping and starting PostgreSQL needs root (runuser postgres)")
	}
	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	// The postgres user must reach the data directory inside it.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, dir: filepath.Join(base, "pg"), port: freePort(t)}
	t.Cleanup(func() {
		c.script("stop")
		os.RemoveAll(base)
	})
	c.script("start")
	return c
}

// URL is the cluster's connection URL.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop shuts the server down ("fast": connections are terminated) and keeps
// its data.
func (c *Cluster) Stop() {
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"),
		"-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Restart starts the stopped server again with its data.
func (c *Cluster) Restart() { c.script("start") }

func (c *Cluster) script(arg string) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "pg.sh")
	cmd := exec.Command("bash", script, arg)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PGPORT=%d", c.port), "PG_DIR="+c.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("pg.sh %s: %v\n%s", arg, err, out)
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
