package sink

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a dedicated PostgreSQL started with scripts/pg.sh, so a test
// can stop and restart it without disturbing TEST_DATABASE_URL.
type pgCluster struct {
	t    *testing.T
	dir  string
	port int
}

const pgBin = "/usr/lib/postgresql/15/bin"

func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	testDatabaseURL(t) // same gate as every integration test
	if os.Geteuid() != 0 {
		t.Skip("stopping and starting PostgreSQL needs root (runuser postgres)")
	}
	base, err := os.MkdirTemp("", "sink-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// The postgres user must reach PG_DIR inside it.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, dir: filepath.Join(base, "pg"), port: freePort(t)}
	t.Cleanup(func() {
		c.script("stop")
		_ = os.RemoveAll(base)
	})
	c.script("start")
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *pgCluster) script(arg string) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pg.sh")
	cmd := exec.Command(script, arg)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PGPORT=%d", c.port), "PG_DIR="+c.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("pg.sh %s: %v\n%s", arg, err, out)
	}
}

// stop shuts the server down ("fast": connections are terminated) but keeps
// its data.
func (c *pgCluster) stop() {
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"),
		"-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
}

// restartAfter starts the server again after d, in the background.
func (c *pgCluster) restartAfter(d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		c.script("start")
	}()
	return done
}

func assertExactly(t *testing.T, w *Writer, n int) {
	t.Helper()
	var total, distinct int
	err := w.pool.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT (shard_id, seq, sub_seq)) FROM `+w.target.sql()).Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if total != n || distinct != n {
		t.Fatalf("target has %d rows (%d distinct), want exactly %d", total, distinct, n)
	}
}

func TestWriteSurvivesServerRestart(t *testing.T) {
	c := startCluster(t)
	for _, m := range postgresMethods {
		t.Run(m.String(), func(t *testing.T) {
			w := openTest(t, c.url(), func(cfg *Config) {
				cfg.ChunkSize = 1000
				cfg.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxWait: time.Minute}
			})
			w.method = m
			ctx := context.Background()
			rows := makeRows("shardId-000000000010", 61000, 300)
			if _, err := w.Write(ctx, rows[:1000]); err != nil {
				t.Fatal(err)
			}

			// Server down before the write starts.
			c.stop()
			restarted := c.restartAfter(2 * time.Second)
			res, err := w.Write(ctx, rows[1000:6000])
			<-restarted
			if err != nil {
				t.Fatalf("write while server was down: %v", err)
			}
			if res.Retries == 0 || res.Written != 5000 {
				t.Fatalf("result %+v, want retries and 5000 written", res)
			}
			assertExactly(t, w, 6000)

			// Server stopped while a multi-chunk write is in flight: stop as
			// soon as the first new chunk is visible.
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := w.Write(ctx, rows[6000:])
				done <- outcome{res, err}
			}()
			waitForRows(t, c.url(), w.target, 6000)
			c.stop()
			restarted = c.restartAfter(2 * time.Second)
			out := <-done
			<-restarted
			if out.err != nil {
				t.Fatalf("write interrupted by restart: %v", out.err)
			}
			if out.res.Retries == 0 || out.res.Written != 55000 {
				t.Fatalf("result %+v, want retries and 55000 written", out.res)
			}
			assertExactly(t, w, 61000)
			t.Logf("%s: retries %d (down before write), %d (down mid-write)", m, res.Retries, out.res.Retries)
		})
	}
}

func TestWriteGivesUpWhenServerStaysDown(t *testing.T) {
	c := startCluster(t)
	w := openTest(t, c.url(), func(cfg *Config) {
		cfg.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxWait: time.Second}
	})
	c.stop()
	start := time.Now()
	_, err := w.Write(context.Background(), makeRows("shardId-000000000011", 10, 50))
	if err == nil {
		t.Fatal("Write succeeded with the server down")
	}
	if !strings.Contains(err.Error(), "giving up") || time.Since(start) > 10*time.Second {
		t.Fatalf("error %q after %s, want giving up after about 1s", err, time.Since(start))
	}
	c.script("start") // so cleanup can drop the tables
}

// waitForRows polls over its own connection until table has more than n rows.
func waitForRows(t *testing.T, url string, table tableName, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var got int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table.sql()).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got > n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
