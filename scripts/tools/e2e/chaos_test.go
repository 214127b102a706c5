package e2e

// The fault-injection suite (issue #5): every TestChaos… scenario runs the
// real daemon, the local stack and PostgreSQL, publishes a known set of
// records, injects a fault and ends by comparing the table with what was
// published (0 lost, 0 duplicated). `make test` runs the short version;
// scripts/chaos.sh runs the full one and renders scripts/chaos/RESULTS.md.
//
// Knobs (environment):
//
//	CHAOS_CHILD_KILLS   kill -9 of a child, trials (default 3; chaos.sh: 20)
//	CHAOS_DAEMON_KILLS  kill -9 of the daemon, trials (default 1; chaos.sh: 5)
//	CHAOS_TWO_DAEMON_KILLS  two daemons, one killed: 1 = the non-leader, 2 = then the leader too (default 1; chaos.sh: 2)
//	CHAOS_DB_OUTAGE     database outage (default 10s; chaos.sh: 30s)
//	CHAOS_SEED          seed of the random kill points (default: the clock)
//	CHAOS_RESULTS       file each scenario appends its Markdown result row to
//	CHAOS_LOG_DIR       directory the daemon and child logs are copied to

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s = %q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s = %q: want a positive duration such as 30s", name, v)
	}
	return d
}

// chaosRand is the seeded source of kill points; the seed is logged so a
// failing run can be repeated with CHAOS_SEED.
func chaosRand(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED = %q: %v", v, err)
		}
	}
	t.Logf("CHAOS_SEED=%d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// feed publishes demo records in the background.
type feed struct {
	first, count int64
	done         chan struct{}
	res          localaws.PublishResult
	err          error
}

func startFeed(s *stack, stream string, first, count int64, rate float64) *feed {
	f := &feed{first: first, count: count, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		f.res, f.err = localaws.Publish(ctx, s.kc, localaws.PublishOptions{
			Stream: stream, FirstID: first, Count: count, Size: 300, PartitionKeys: 8,
			Rate: rate, Batch: 25, Seed: first + 11,
		})
	}()
	return f
}

func (f *feed) wait(t *testing.T) {
	t.Helper()
	<-f.done
	if f.err != nil {
		t.Fatalf("publish ids %d..%d: %v", f.first, f.first+f.count-1, f.err)
	}
}

// waitIDs waits until the target holds n distinct demo record ids.
func waitIDs(t *testing.T, a sinkApp, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d distinct ids in %s", n, a.table), func() (bool, string) {
		rows, ids, dead := a.counts(t)
		return ids >= n, fmt.Sprintf("%d rows, %d distinct ids, %d dead letters", rows, ids, dead)
	})
}

// audit is the end-of-scenario comparison of the tables with what was
// published.
type audit struct {
	published  int64
	lost       []int64 // ids with no row
	duplicated []int64 // ids with more than one row
	foreign    int     // rows whose id was never published
	dead       int     // dead-letter rows
	both       int     // records stored in the target and the dead-letter table
}

// auditIDs counts the rows per demo id in [first, first+count).
func auditIDs(t *testing.T, a sinkApp, first, count int64) audit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	q := `SELECT (payload->>'id')::bigint, count(*) FROM ` + a.table + `
		WHERE jsonb_typeof(payload->'id') = 'number' AND payload ? 'device' GROUP BY 1`
	if a.db.Crate() { // the sub-columns of the demo records: id BIGINT, device TEXT
		q = `SELECT payload['id'], count(*) FROM ` + a.table + `
		WHERE payload['id'] IS NOT NULL AND payload['device'] IS NOT NULL GROUP BY 1`
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	perID := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		perID[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	res := audit{published: count}
	for id := first; id < first+count; id++ {
		switch n := perID[id]; {
		case n == 0:
			res.lost = append(res.lost, id)
		case n > 1:
			res.duplicated = append(res.duplicated, id)
		}
		delete(perID, id)
	}
	res.foreign = len(perID)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+a.table+`_deadletter`).Scan(&res.dead); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+a.table+` t JOIN `+a.table+`_deadletter d
		ON t.shard_id = d.shard_id AND t.seq = d.seq AND t.sub_seq = d.sub_seq`).Scan(&res.both); err != nil {
		t.Fatal(err)
	}
	return res
}

// check fails the test unless every published id is there exactly once,
// nothing else is, and wantDead records were dead-lettered.
func (r audit) check(t *testing.T, wantDead int) {
	t.Helper()
	if len(r.lost) > 0 || len(r.duplicated) > 0 || r.foreign > 0 || r.both > 0 || r.dead != wantDead {
		t.Errorf("of %d published records: %d lost %v, %d duplicated %v, %d rows with unknown ids, %d in both tables, %d dead letters (want %d)",
			r.published, len(r.lost), head(r.lost), len(r.duplicated), head(r.duplicated), r.foreign, r.both, r.dead, wantDead)
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 10)] }

// chaosResult is one row of scripts/chaos/RESULTS.md. Scenarios register
// it with newResult at their start, so a failed run reports too.
type chaosResult struct {
	scenario string
	trials   int
	audit    *audit // nil until the final comparison ran
	// records is the number of records published.
	records  int64
	recovery []time.Duration // from the end of each fault to all records stored
	notes    []string
	notRun   bool // the fault could not be set up (see cannot)
}

// newResult starts the result row of the scenario t runs. The row names
// the database: pgtest.Each's subtest (postgresql, cratedb) or, for a
// scenario on one database only, db.
func newResult(t *testing.T, scenario string, db ...string) *chaosResult {
	for _, part := range strings.Split(t.Name(), "/")[1:] {
		if part == pgtest.PostgreSQL || part == pgtest.CrateDB {
			db = append(db, part)
		}
	}
	if len(db) > 0 {
		scenario += " (" + strings.Join(db, ", ") + ")"
	}
	r := &chaosResult{scenario: scenario}
	t.Cleanup(func() { r.report(t) })
	return r
}

// cannot ends a scenario whose fault could not be set up on this database
// or machine: its row says why, and the rest of the run goes on (a skip,
// not a failure: the scenario proved nothing either way).
func (r *chaosResult) cannot(t *testing.T, why error) {
	t.Helper()
	r.notRun = true
	r.notef("fault not set up: %v", why)
	t.Skipf("fault not set up: %v", why)
}

func (r *chaosResult) notef(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// report logs the result and appends it to $CHAOS_RESULTS as a Markdown row.
func (r *chaosResult) report(t *testing.T) {
	lost, dup, dead := "–", "–", "–"
	if r.audit != nil {
		lost = strconv.Itoa(len(r.audit.lost))
		dup = strconv.Itoa(len(r.audit.duplicated) + r.audit.both)
		dead = strconv.Itoa(r.audit.dead)
	}
	scenario := r.scenario
	switch {
	case t.Failed():
		scenario += " **FAILED**"
	case r.notRun:
		scenario += " **NOT RUN**"
	}
	row := fmt.Sprintf("| %s | %d | %d | %s | %s | %s | %s | %s | %s |",
		scenario, r.trials, r.records, lost, dup, dead,
		seconds(median(r.recovery)), seconds(slices.Max(append([]time.Duration{0}, r.recovery...))),
		strings.ReplaceAll(strings.Join(r.notes, "; "), "|", "/"))
	t.Log("result: " + row)
	path := os.Getenv("CHAOS_RESULTS")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("results file: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, row); err != nil {
		t.Errorf("results file: %v", err)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// childLog is where newSinkApp's children log.
func (a sinkApp) childLog() string {
	return filepath.Join(filepath.Dir(a.props), "record_processor.log")
}

// childrenOf returns the app's kinesis-cratedb processes whose parent is
// the given daemon.
func (a sinkApp) childrenOf(d *daemon) []int {
	var mine []int
	for _, pid := range a.childPIDs() {
		if ppid(pid) == d.cmd.Process.Pid {
			mine = append(mine, pid)
		}
	}
	return mine
}

func ppid(pid int) int {
	_, parent := pgtest.ProcStat(pid)
	return parent
}

// dropOnSuccess drops the app's target and dead-letter tables when the test
// passes; a failed test leaves them for a post-mortem.
func (a sinkApp) dropOnSuccess(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, a.dbURL)
		if err != nil {
			return // a private cluster that is already gone
		}
		defer conn.Close(ctx)
		for _, table := range []string{a.table, a.table + "_deadletter"} { // one at a time: CrateDB
			if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
				t.Logf("drop %s: %v", table, err)
			}
		}
	})
}

// killJVM sends SIGKILL to the daemon's JVM alone, not to its process
// group: the children must notice the end of stdin and exit by themselves.
// It returns the moment of the kill.
func (d *daemon) killJVM() time.Time {
	d.t.Helper()
	at := time.Now()
	if err := syscall.Kill(d.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		d.t.Fatalf("kill -9 daemon: %v", err)
	}
	if err := d.waitExit(30 * time.Second); err == nil {
		d.t.Fatal("daemon killed with SIGKILL reported success")
	}
	return at
}

// waitNoChildren fails unless every child of the app exits within the
// timeout.
func (a sinkApp) waitNoChildren(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "no kinesis-cratedb child of "+a.app+" left", func() (bool, string) {
		pids := a.childPIDs()
		return len(pids) == 0, fmt.Sprintf("children still running: %v", pids)
	})
}

// waitChild waits for a child of the daemon and returns its pids.
func (a sinkApp) waitChild(t *testing.T, d *daemon) []int {
	t.Helper()
	var pids []int
	eventually(t, 2*time.Minute, "a kinesis-cratedb child", func() (bool, string) {
		pids = a.childrenOf(d)
		return len(pids) > 0, "no child yet"
	})
	return pids
}

// logLine is the part of a child log line the chaos tests read.
type logLine struct {
	PID     int    `json:"pid"`
	Shard   string `json:"shard"`
	Message string `json:"message"`
	Last    string `json:"last"`
}

// logTail reads the lines appended to a child log since it was opened.
type logTail struct {
	f   *os.File
	buf *bufio.Reader
}

func openLogTail(t *testing.T, path string) *logTail {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	return &logTail{f: f, buf: bufio.NewReaderSize(f, 1<<20)}
}

// next returns the next complete line, or false when none is there yet.
// A partial line stays buffered until its end arrives.
func (l *logTail) next(partial *[]byte) (logLine, bool) {
	for {
		chunk, err := l.buf.ReadBytes('\n')
		*partial = append(*partial, chunk...)
		if err != nil {
			return logLine{}, false
		}
		var line logLine
		jerr := json.Unmarshal(*partial, &line)
		*partial = (*partial)[:0]
		if jerr == nil {
			return line, true
		}
	}
}

// lastLogLine is the last line the process wrote to the child log.
func lastLogLine(path string, pid int) logLine {
	var last logLine
	for _, raw := range readLines(path) {
		var l logLine
		if json.Unmarshal([]byte(raw), &l) == nil && l.PID == pid {
			last = l
		}
	}
	return last
}

var ssPID = regexp.MustCompile(`pid=(\d+)`)

// pidOfClientPort finds the local process owning the TCP connection that
// starts at the given local port (a PostgreSQL client).
func pidOfClientPort(port int) int {
	out, err := exec.Command("ss", "-Htnp", "state", "established", fmt.Sprintf("( sport = :%d )", port)).Output()
	if err != nil {
		return 0
	}
	m := ssPID.FindSubmatch(out)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

// logKeeper copies the logs of a scenario to $CHAOS_LOG_DIR/<test>/ when the
// test ends, after its daemons were stopped (it is registered first, so its
// cleanup runs last).
type logKeeper struct {
	paths []string
}

func keepLogs(t *testing.T) *logKeeper {
	k := &logKeeper{}
	dir := os.Getenv("CHAOS_LOG_DIR")
	if dir == "" {
		return k
	}
	// The test's temporary directories (where the logs are) are removed by
	// a cleanup that the first TempDir call registers: make it run after ours.
	t.TempDir()
	t.Cleanup(func() {
		dst := filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Logf("keep logs: %v", err)
			return
		}
		for i, p := range k.paths {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			name := fmt.Sprintf("%02d-%s", i, filepath.Base(p))
			if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
				t.Logf("keep logs: %v", err)
			}
		}
	})
	return k
}

func (k *logKeeper) add(paths ...string) { k.paths = append(k.paths, paths...) }

// start starts a daemon and keeps its log.
func (k *logKeeper) start(t *testing.T, s *stack, props string) *daemon {
	t.Helper()
	d := s.startDaemon(t, props)
	k.add(d.log)
	return d
}
