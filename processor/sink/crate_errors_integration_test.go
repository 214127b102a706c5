package sink

// Failures provoked on a real CrateDB while a Writer writes: the writer must
// end with every row in the target exactly once, nothing dead-lettered, and
// every retry logged (at error level when only an operator can help). The
// texts the node sends are recorded verbatim in errors_test.go
// (crateObserved).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// crateErrorsURL returns TEST_CRATEDB_URL. Without it the test is skipped,
// or fails under CI=true, where a missing database is a broken setup.
func crateErrorsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TEST_CRATEDB_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_CRATEDB_URL is not set (run scripts/test.sh)")
		}
		t.Skip("TEST_CRATEDB_URL not set: start a node with scripts/cratedb.sh")
	}
	return u
}

// retryLog is one "database error, retrying" line of the writer's log.
type retryLog struct {
	Level, Class, Error string
}

// logRecorder keeps the writer's log lines for assertions.
type logRecorder struct {
	mu    sync.Mutex
	lines [][]byte
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, bytes.Clone(p))
	return len(p), nil
}

func (r *logRecorder) retries(t *testing.T) []retryLog {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []retryLog
	for _, line := range r.lines {
		var e struct {
			Level, Class, Error, Message string
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e.Message == "database error, retrying" {
			out = append(out, retryLog{e.Level, e.Class, e.Error})
		}
	}
	return out
}

// openCrate opens a Writer on fresh doc tables whose log is recorded.
func openCrate(t *testing.T, dbURL string, mutate func(*Config)) (*Writer, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	w := openTest(t, dbURL, func(cfg *Config) {
		cfg.Table = "doc." + uniqueTable(t)
		cfg.ProgressTable = cfg.Table + "_progress"
		cfg.Logger = zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), rec)).Level(zerolog.InfoLevel)
		cfg.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxWait: 3 * time.Minute}
		if mutate != nil {
			mutate(cfg)
		}
	})
	return w, rec
}

// adminExec runs sql on a connection of its own (simple protocol).
func adminExec(t *testing.T, dbURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// crateCount refreshes table and counts its rows.
func crateCount(t *testing.T, dbURL string, table tableName) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "REFRESH TABLE "+table.sql()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table.sql()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// assertCrateOutcome checks that exactly want rows are in the target (the
// primary key rules out doubles) and none in the dead-letter table.
func assertCrateOutcome(t *testing.T, dbURL string, w *Writer, res Result, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(res.DeadLettered) != 0 {
		t.Fatalf("dead-lettered %d rows, first: %+v", len(res.DeadLettered), res.DeadLettered[0])
	}
	if got := crateCount(t, dbURL, w.target); got != want {
		t.Fatalf("target has %d rows, want %d", got, want)
	}
	if got := crateCount(t, dbURL, w.deadLetter); got != 0 {
		t.Fatalf("dead-letter table has %d rows, want 0", got)
	}
}

type writeOutcome struct {
	res Result
	err error
}

func writeAsync(w *Writer, rows []Row) <-chan writeOutcome {
	done := make(chan writeOutcome, 1)
	go func() {
		res, err := w.Write(context.Background(), rows)
		done <- writeOutcome{res, err}
	}()
	return done
}

// waitForRetries waits until the writer has logged at least n retries.
func waitForRetries(t *testing.T, rec *logRecorder, n int) []retryLog {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if r := rec.retries(t); len(r) >= n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d retries logged within a minute: %+v", n, rec.retries(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A table dropped and created again under an open Writer: CrateDB fails the
// statements pgx prepared before with "Relation not found for oid"; one
// pool reset and one retry later the rows are written, nothing is
// dead-lettered.
func TestCrateWriteSurvivesRecreatedTable(t *testing.T) {
	dbURL := crateErrorsURL(t)
	w, rec := openCrate(t, dbURL, nil)
	rows := makeRows("shardId-000000000020", 400, 200)
	// Prepare the insert on several pooled connections.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if _, err := w.Write(context.Background(), rows[i*50:(i+1)*50]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	adminExec(t, dbURL, "DROP TABLE "+w.target.sql())
	adminExec(t, dbURL, w.sql.createTarget)

	res, err := w.Write(context.Background(), rows[200:])
	assertCrateOutcome(t, dbURL, w, res, err, 200)
	retries := rec.retries(t)
	if res.Retries != 1 || len(retries) != 1 {
		t.Fatalf("retries %d, logged %+v; want exactly one (the pool is reset after the first)", res.Retries, retries)
	}
	if r := retries[0]; r.Level != "warn" || r.Class != "transient" || !strings.Contains(r.Error, "Relation not found for oid=") {
		t.Fatalf("retry logged as %+v, want a transient warning about the stale statement", r)
	}
}

// A table dropped and not created again is a configuration error: every
// retry is logged at error level and no row is dead-lettered; once the
// table is back the write completes.
func TestCrateWriteWaitsForDroppedTable(t *testing.T) {
	dbURL := crateErrorsURL(t)
	w, rec := openCrate(t, dbURL, nil)
	rows := makeRows("shardId-000000000021", 300, 200)
	if _, err := w.Write(context.Background(), rows[:100]); err != nil {
		t.Fatal(err)
	}
	adminExec(t, dbURL, "DROP TABLE "+w.target.sql())
	done := writeAsync(w, rows[100:])
	seen := waitForRetries(t, rec, 4)
	adminExec(t, dbURL, w.sql.createTarget)
	out := <-done
	assertCrateOutcome(t, dbURL, w, out.res, out.err, 200)
	for i, r := range seen {
		if i == 0 && strings.Contains(r.Error, "Relation not found for oid=") {
			continue // the statement prepared before the drop
		}
		if r.Level != "error" || r.Class != "config" || !strings.Contains(r.Error, "unknown") {
			t.Errorf("retry %d logged as %+v, want a config error about the unknown relation", i, r)
		}
	}
}

// Table blocks only an operator lifts: a configuration error at Parse ("…
// doesn't support or allow INSERT operations") or, for a statement prepared
// before, per row ("blocked by: [RELATION_…]"). Before they were classified
// as data errors and every row was dead-lettered.
func TestCrateWriteWaitsForBlockedTable(t *testing.T) {
	dbURL := crateErrorsURL(t)
	blocks := []struct{ name, set, unset string }{
		{"blocks.write", `SET ("blocks.write" = true)`, `SET ("blocks.write" = false)`},
		{"blocks.read_only", `SET ("blocks.read_only" = true)`, `SET ("blocks.read_only" = false)`},
		{"read_only_allow_delete", `SET ("blocks.read_only_allow_delete" = true)`, `RESET ("blocks.read_only_allow_delete")`},
		{"closed", `CLOSE`, `OPEN`},
	}
	for i, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			w, rec := openCrate(t, dbURL, nil)
			rows := makeRows(fmt.Sprintf("shardId-00000000003%d", i), 200, 200)
			if _, err := w.Write(context.Background(), rows[:100]); err != nil {
				t.Fatal(err)
			}
			adminExec(t, dbURL, "ALTER TABLE "+w.target.sql()+" "+b.set)
			done := writeAsync(w, rows[100:])
			seen := waitForRetries(t, rec, 3)
			adminExec(t, dbURL, "ALTER TABLE "+w.target.sql()+" "+b.unset)
			out := <-done
			assertCrateOutcome(t, dbURL, w, out.res, out.err, 200)
			for i, r := range seen {
				if r.Level != "error" || r.Class != "config" ||
					!(strings.Contains(r.Error, "doesn't support or allow INSERT operations") || strings.Contains(r.Error, "blocked by: [RELATION_")) {
					t.Errorf("retry %d logged as %+v, want a config error about the block", i, r)
				}
			}
		})
	}
}

// cutProxy forwards a local port to the database and can cut every
// connection it carries, as a network failure would.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	return n
}

// viaProxy is dbURL with its host:port replaced by the proxy's.
func (p *cutProxy) viaProxy(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func TestCrateWriteSurvivesConnectionCuts(t *testing.T) {
	dbURL := crateErrorsURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := startCutProxy(t, u.Host)
	w, rec := openCrate(t, p.viaProxy(t, dbURL), func(cfg *Config) { cfg.ChunkSize = 2000 })
	rows := makeRows("shardId-000000000040", 20000, 300)
	done := writeAsync(w, rows)
	cuts := 0
	for i := 0; i < 5; i++ {
		time.Sleep(400 * time.Millisecond)
		cuts += p.cut()
	}
	out := <-done
	assertCrateOutcome(t, dbURL, w, out.res, out.err, len(rows))
	retries := rec.retries(t)
	if cuts == 0 || out.res.Retries == 0 || len(retries) == 0 {
		t.Fatalf("%d connections cut, %d retries, logged %+v: the cuts missed the write", cuts, out.res.Retries, retries)
	}
	for i, r := range retries {
		if r.Level != "warn" || r.Class != "transient" {
			t.Errorf("retry %d logged as %+v, want a transient warning", i, r)
		}
	}
	t.Logf("%d connections cut, %d retries", cuts, out.res.Retries)
}

// crateNode is a CrateDB of the test's own (scripts/cratedb.sh), for
// failures that would disturb other tests on the shared node.
type crateNode struct {
	t   *testing.T
	env []string
	url string
}

func startCrateNode(t *testing.T) *crateNode {
	t.Helper()
	crateErrorsURL(t) // same gate as every CrateDB test
	if os.Getenv("CRATEDB_HOME") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CRATEDB_HOME is not set: tests that restart CrateDB start a node of their own")
		}
		t.Skip("CRATEDB_HOME not set: tests that restart CrateDB start a node of their own")
	}
	base, err := os.MkdirTemp("", "cratetest-")
	if err != nil {
		t.Fatal(err)
	}
	// The node runs as the user crate when we are root and must reach its
	// directory inside base.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	n := &crateNode{t: t, env: append(os.Environ(), "CRATE_DIR="+base+"/crate",
		"CRATE_PSQL_PORT="+strconv.Itoa(ports[0]), "CRATE_HTTP_PORT="+strconv.Itoa(ports[1]),
		"CRATE_TRANSPORT_PORT="+strconv.Itoa(ports[2]))}
	t.Cleanup(func() {
		n.script("stop")
		os.RemoveAll(base)
	})
	n.script("start")
	n.url = strings.TrimSpace(n.script("url"))
	return n
}

func (n *crateNode) script(verb string) string {
	cmd := exec.Command("bash", "../../scripts/cratedb.sh", verb)
	cmd.Env = n.env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		n.t.Fatalf("cratedb.sh %s: %v\n%s%s", verb, err, out, stderr)
	}
	return string(out)
}

func (n *crateNode) signal(sig syscall.Signal) {
	pid, err := strconv.Atoi(strings.TrimSpace(n.script("pid")))
	if err != nil {
		n.t.Fatalf("node pid: %v", err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		n.t.Fatalf("kill -%d %d: %v", sig, pid, err)
	}
}

func freePorts(t *testing.T, k int) []int {
	t.Helper()
	var ports []int
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// waitForCrateRows polls until table shows more than n rows.
func waitForCrateRows(t *testing.T, dbURL string, table tableName, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var got int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table.sql()).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got > n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Failures that touch the whole node: a frozen process, a tiny circuit
// breaker, kill -9 and a restart in the middle of a write.
func TestCrateWriteSurvivesNodeFailures(t *testing.T) {
	node := startCrateNode(t)

	t.Run("SIGSTOP", func(t *testing.T) {
		w, rec := openCrate(t, node.url, func(cfg *Config) { cfg.ChunkSize = 200 })
		// Only the writes: a fresh node on a busy machine may take
		// seconds to create the tables.
		w.attemptTimeout = 5 * time.Second
		rows := makeRows("shardId-000000000050", 1000, 200)
		node.signal(syscall.SIGSTOP)
		done := writeAsync(w, rows)
		waitForRetries(t, rec, 1)
		time.Sleep(2 * time.Second)
		node.signal(syscall.SIGCONT)
		out := <-done
		assertCrateOutcome(t, node.url, w, out.res, out.err, len(rows))
		for i, r := range rec.retries(t) {
			if r.Level != "warn" || r.Class != "transient" || !strings.Contains(r.Error, "deadline exceeded") {
				t.Errorf("retry %d logged as %+v, want a transient timeout", i, r)
			}
		}
	})

	t.Run("circuit breaker", func(t *testing.T) {
		w, rec := openCrate(t, node.url, nil)
		rows := makeRows("shardId-000000000051", 500, 200)
		if _, err := w.Write(context.Background(), rows[:100]); err != nil {
			t.Fatal(err)
		}
		adminExec(t, node.url, `SET GLOBAL TRANSIENT "indices.breaker.query.limit" = '1kb'`)
		done := writeAsync(w, rows[100:])
		seen := waitForRetries(t, rec, 3)
		adminExec(t, node.url, `RESET GLOBAL "indices.breaker.query.limit"`)
		out := <-done
		assertCrateOutcome(t, node.url, w, out.res, out.err, len(rows))
		for i, r := range seen {
			// One row alone is over the 1kb limit: it can never fit.
			if r.Level != "error" || r.Class != "config" || !strings.Contains(r.Error, "breaker would use") {
				t.Errorf("retry %d logged as %+v, want a config error about the breaker", i, r)
			}
		}
	})

	// KILL ALL during a bulk INSERT gives no error: the killed rows come
	// back as INSERT 0 -3 and are written when run alone.
	t.Run("KILL ALL", func(t *testing.T) {
		w, rec := openCrate(t, node.url, func(cfg *Config) { cfg.ChunkSize = 2000 })
		rows := makeRows("shardId-000000000053", 6000, 300)
		conn, err := pgx.Connect(context.Background(), node.url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		done := writeAsync(w, rows)
		kills := 0
		var out writeOutcome
	killing:
		for stop := time.After(3 * time.Second); ; {
			select {
			case out = <-done:
				break killing
			case <-stop:
				out = <-done
				break killing
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Exec(context.Background(), "KILL ALL"); err != nil {
					t.Fatal(err)
				}
				kills++
			}
		}
		assertCrateOutcome(t, node.url, w, out.res, out.err, len(rows))
		for i, r := range rec.retries(t) {
			// A row run alone and killed: "Job killed".
			if r.Class != "transient" || !strings.Contains(r.Error, "Job killed") {
				t.Errorf("retry %d logged as %+v, want a transient Job killed", i, r)
			}
		}
		t.Logf("KILL ALL sent %d times, %d retries", kills, out.res.Retries)
	})

	t.Run("kill -9 and restart", func(t *testing.T) {
		w, rec := openCrate(t, node.url, func(cfg *Config) { cfg.ChunkSize = 1000 })
		rows := makeRows("shardId-000000000052", 20000, 300)
		done := writeAsync(w, rows)
		waitForCrateRows(t, node.url, w.target, 0)
		node.signal(syscall.SIGKILL)
		time.Sleep(time.Second)
		node.script("start") // same data: scripts/cratedb.sh starts it again
		out := <-done
		assertCrateOutcome(t, node.url, w, out.res, out.err, len(rows))
		retries := rec.retries(t)
		if out.res.Retries == 0 || len(retries) == 0 {
			t.Fatalf("no retries (%+v): the kill missed the write", out.res)
		}
		for i, r := range retries {
			// While the restarted node recovers its tables it calls them
			// unknown (config); everything else is the outage.
			if r.Class == "row" || (r.Class == "config" && !strings.Contains(r.Error, "unknown")) {
				t.Errorf("retry %d logged as %+v", i, r)
			}
		}
		t.Logf("%d retries across the restart", out.res.Retries)
	})
}
