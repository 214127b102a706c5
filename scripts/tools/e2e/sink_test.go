package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// sinkApp is a stream, a lease table and a properties file that runs
// bin/kinesis-cratedb into a fresh table.
type sinkApp struct {
	app, stream, table, props, dbURL string
	db                               pgtest.DB
}

func (s *stack) newSinkApp(t *testing.T, shards int32, db pgtest.DB, extra ...string) sinkApp {
	dbURL := db.URL
	t.Helper()
	app, stream := s.newApp(t, shards)
	dir := t.TempDir()
	table := "public." + strings.ReplaceAll(app, "-", "_")
	props := filepath.Join(dir, app+".properties")
	childLog := filepath.Join(dir, "record_processor.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child log tail (%s):\n%s", childLog, tail(childLog, 40))
		}
	})
	lines := append([]string{
		"sink.databaseUrl = " + dbURL,
		"sink.table = " + table,
		"sink.checkpointIntervalMillis = 1000",
		"sink.progressIntervalMillis = 1000",
		"sink.logFile = " + childLog,
		"sink.logFormat = json", // the tests read the child log as JSON lines
		"sink.retryMaxBackoffMillis = 1000",
	}, extra...)
	s.writeProperties(t, dir, app, stream, filepath.Join(s.repo, "bin/kinesis-cratedb")+" --properties "+props, lines...)
	return sinkApp{app: app, stream: stream, table: table, props: props, dbURL: dbURL, db: db}
}

// counts returns the rows in the target, the distinct demo record ids among
// them, and the dead-letter rows; errors (database down) give -1.
func (a sinkApp) counts(t *testing.T) (rows, ids, dead int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := a.open(ctx)
	if err != nil {
		return -1, -1, -1
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT `+a.idExpr()+`) FROM `+a.table).Scan(&rows, &ids); err != nil {
		return -1, -1, -1
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+a.table+`_deadletter`).Scan(&dead); err != nil {
		return rows, ids, -1
	}
	return rows, ids, dead
}

func (a sinkApp) waitRows(t *testing.T, want int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d rows in %s", want, a.table), func() (bool, string) {
		rows, ids, dead := a.counts(t)
		return rows >= want, fmt.Sprintf("%d rows, %d distinct ids, %d dead letters", rows, ids, dead)
	})
}

// childPIDs finds the kinesis-cratedb processes of this app.
func (a sinkApp) childPIDs() []int {
	out, _ := exec.Command("pgrep", "-f", "kinesis-cratedb --properties "+a.props).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func putRaw(t *testing.T, kc *kinesis.Client, stream, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &stream, PartitionKey: &key, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// TestE2ESinkExactlyOnce publishes JSON records and bad payloads through the
// real daemon into PostgreSQL and CrateDB, kills a child with SIGKILL in the middle of the
// stream (the daemon then exits, as in production), restarts the daemon, and
// checks that every record is in the table or the dead-letter table exactly
// once.
func TestE2ESinkExactlyOnce(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testE2ESinkExactlyOnce(t, s, db) })
}

func testE2ESinkExactlyOnce(t *testing.T, s *stack, db pgtest.DB) {
	a := s.newSinkApp(t, 2, db)
	d := s.startDaemon(t, a.props)

	publish(t, s, a.stream, 0, 1000)
	putRaw(t, s.kc, a.stream, "bad-1", []byte("not json at all"))
	putRaw(t, s.kc, a.stream, "bad-2", []byte{0xff, 0xfe, '{', '}'})
	putRaw(t, s.kc, a.stream, "bad-3", []byte(`{"truncated":`))
	a.waitRows(t, 1000, 3*time.Minute)
	eventually(t, time.Minute, "3 dead letters", func() (bool, string) {
		_, _, dead := a.counts(t)
		return dead == 3, fmt.Sprintf("%d dead letters", dead)
	})

	// Publish more in the background and kill a child while it works.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		localaws.Publish(ctx, s.kc, localaws.PublishOptions{Stream: a.stream, FirstID: 1000, Count: 1500, Size: 300, PartitionKeys: 8, Rate: 300, Batch: 50, Seed: 7})
	}()
	eventually(t, time.Minute, "the second wave to start arriving", func() (bool, string) {
		rows, _, _ := a.counts(t)
		return rows > 1200, fmt.Sprintf("%d rows", rows)
	})
	pids := a.childPIDs()
	if len(pids) == 0 {
		t.Fatal("no kinesis-cratedb child found")
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	if err := d.waitExit(time.Minute); err == nil {
		t.Fatal("daemon exited cleanly after its child was killed; expected exit 1")
	}
	<-done
	d = s.startDaemon(t, a.props)
	a.waitRows(t, 2500, 3*time.Minute)
	rows, ids, dead := a.counts(t)
	if rows != 2500 || ids != 2500 || dead != 3 {
		t.Fatalf("table has %d rows with %d distinct ids and %d dead letters; want exactly 2500, 2500, 3", rows, ids, dead)
	}
	checkDeadLetters(t, a)
	d.stop() // a graceful stop reports the last counts
	checkProgress(t, a, 2)
}

func checkDeadLetters(t *testing.T, a sinkApp) {
	t.Helper()
	ctx := context.Background()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT partition_key, stage, error, raw FROM `+a.table+`_deadletter ORDER BY partition_key`)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, err, raw string }{
		{"bad-1", "not JSON", "not json at all"},
		{"bad-2", "UTF-8", "\xff\xfe{}"},
		{"bad-3", "not JSON", `{"truncated":`},
	}
	i := 0
	for rows.Next() {
		var key, stage, msg string
		var raw []byte
		if err := rows.Scan(&key, &stage, &msg, &raw); err != nil {
			t.Fatal(err)
		}
		raw = a.db.DeadLetterRaw(t, raw)
		if i >= len(want) || key != want[i].key || stage != "decode" || !strings.Contains(msg, want[i].err) || string(raw) != want[i].raw {
			t.Fatalf("dead letter %d: %q %q %q %q", i, key, stage, msg, raw)
		}
		i++
	}
	if err := rows.Err(); err != nil || i != len(want) {
		t.Fatalf("%d dead letters, %v", i, err)
	}
}

func checkProgress(t *testing.T, a sinkApp, shards int) {
	t.Helper()
	ctx := context.Background()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	var n, checkpointed int
	var written int64
	a.db.Refresh(t, conn, "public.kinesis_progress")
	if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN checkpoint_seq <> '' THEN 1 ELSE 0 END), 0), coalesce(sum(records_written), 0)
		FROM public.kinesis_progress WHERE target_table = $1`, a.table).Scan(&n, &checkpointed, &written); err != nil {
		t.Fatal(err)
	}
	// The counts are what each process reported: a process killed with
	// SIGKILL takes its unreported counts along, so only a lower bound
	// holds: the restarted daemon wrote most of the second wave (the kill
	// comes about a second into it) and reported it when it stopped.
	if n != shards || checkpointed != shards || written < 1000 {
		t.Fatalf("progress table: %d shards, %d checkpointed, %d records written", n, checkpointed, written)
	}
}

// TestE2ESinkSurvivesDatabaseOutage stops the database for a while in the
// middle of a stream: the children wait and retry, the checkpoints never pass
// what is stored, and once the database is back every record is there once.
func TestE2ESinkSurvivesDatabaseOutage(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testE2ESinkSurvivesDatabaseOutage(t, s, db) })
}

func testE2ESinkSurvivesDatabaseOutage(t *testing.T, s *stack, db pgtest.DB) {
	pg := pgtest.StartServer(t, db.Name)
	a := s.newSinkApp(t, 2, pg.DB())
	d := s.startDaemon(t, a.props)

	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		localaws.Publish(ctx, s.kc, localaws.PublishOptions{Stream: a.stream, Count: 1500, Size: 300, PartitionKeys: 8, Rate: 150, Batch: 25, Seed: 3})
	}()
	a.waitRows(t, 200, 2*time.Minute)
	pg.Stop()
	outage := time.Now()
	// While the database is down, the checkpoints must not move past what
	// was stored before the outage.
	before := leasesByShard(t, s, a.app)
	time.Sleep(8 * time.Second)
	during := leasesByShard(t, s, a.app)
	for shard, l := range during {
		if l.Checkpoint != before[shard].Checkpoint {
			t.Errorf("shard %s checkpoint moved from %s to %s while the database was down", shard, before[shard].Checkpoint, l.Checkpoint)
		}
	}
	pg.Restart()
	t.Logf("database down for %s", time.Since(outage).Round(time.Second))
	<-done
	a.waitRows(t, 1500, 3*time.Minute)
	rows, ids, dead := a.counts(t)
	if rows != 1500 || ids != 1500 || dead != 0 {
		t.Fatalf("table has %d rows with %d distinct ids and %d dead letters; want 1500, 1500, 0", rows, ids, dead)
	}
	select {
	case err := <-d.done:
		t.Fatalf("daemon exited during the outage: %v", err)
	default:
	}
	d.stop()
}

// TestE2EBadSettingFailsClearly starts the daemon with an invalid sink
// setting: the child refuses to start with one line naming the key, which
// the daemon's log shows, and the daemon stops.
//
// PostgreSQL only: the child refuses its settings before it connects to any
// database, so the database plays no part.
func TestE2EBadSettingFailsClearly(t *testing.T) {
	s := requireStack(t)
	a := s.newSinkApp(t, 1, pgtest.Get(t, pgtest.PostgreSQL), "sink.format = xml")
	d := s.startDaemon(t, a.props)
	if err := d.waitExit(2 * time.Minute); err == nil {
		t.Fatal("daemon exited cleanly despite a child that cannot start")
	}
	log, _ := os.ReadFile(d.log)
	if !strings.Contains(string(log), `invalid setting sink.format = "xml": must be one of json, raw`) {
		t.Fatalf("daemon log does not show the setting error:\n%s", tail(d.log, 40))
	}
}

// connect opens a connection to the app's database (see open); the caller
// closes it.
func (a sinkApp) connect(ctx context.Context, t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := a.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// open connects to the app's database. On CrateDB, whose reads are not
// real-time, it first refreshes the target and dead-letter tables, so that
// the queries on the new connection see every write made before it (a
// table not made yet is no error here).
func (a sinkApp) open(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, a.dbURL)
	if err != nil || !a.db.Crate() {
		return conn, err
	}
	for _, table := range []string{a.table, a.table + "_deadletter"} {
		_, _ = conn.Exec(ctx, "REFRESH TABLE "+table)
	}
	return conn, nil
}

// idExpr is the demo record's id in the payload, as SQL.
func (a sinkApp) idExpr() string {
	if a.db.Crate() {
		return `payload['id']`
	}
	return `payload->>'id'`
}

// queryInt runs a query that returns one integer.
func (a sinkApp) queryInt(t *testing.T, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
