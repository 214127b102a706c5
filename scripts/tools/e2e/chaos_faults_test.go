package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// TestChaosDatabaseOutage takes the database away in the middle of a stream
// for CHAOS_DB_OUTAGE and brings it back, in each way a database goes away
// (dbFaults). During the fault no checkpoint may pass the last record stored
// before it; the daemon keeps running; records published during the fault
// are stored after it; in the end every record is there exactly once.
func TestChaosDatabaseOutage(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		for _, f := range dbFaults {
			t.Run(f.name, func(t *testing.T) { testChaosDatabaseOutage(t, s, db, f) })
		}
	})
}

// dbFault is one way of taking a database server away and back.
type dbFault struct {
	name string // subtest name
	what string // for the result row: "database <what> for 30s mid-stream"
	down func(*pgtest.Server) error
	up   func(*pgtest.Server) error
}

var dbFaults = []dbFault{
	// PostgreSQL: pg_ctl stop -m fast; CrateDB: SIGTERM.
	{"stop", "stopped", stopServer, restartServer},
	// A crash: the server's connections are reset, it restarts through
	// crash recovery.
	{"kill", "killed -9 and down", (*pgtest.Server).Kill, restartServer},
	// A hung node: connections open but nothing answers.
	{"freeze", "frozen (SIGSTOP)", (*pgtest.Server).Freeze, (*pgtest.Server).Thaw},
}

func stopServer(s *pgtest.Server) error    { s.Stop(); return nil }
func restartServer(s *pgtest.Server) error { s.Restart(); return nil }

func testChaosDatabaseOutage(t *testing.T, s *stack, db pgtest.DB, fault dbFault) {
	logs := keepLogs(t)
	outage := envDuration(t, "CHAOS_DB_OUTAGE", 10*time.Second)
	res := newResult(t, fmt.Sprintf("database %s for %s mid-stream", fault.what, outage))
	// Durable: a killed PostgreSQL must not lose what it acknowledged.
	pg := pgtest.StartServer(t, db.Name, pgtest.Durable)
	a := s.newSinkApp(t, 2, pg.DB())
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	d := logs.start(t, s, a.props)

	// The shards run before the feed starts (a daemon on a busy machine
	// may take half a minute to start), and the feed goes on during most of
	// the outage, so that records wait.
	const rate, warm = 60, 100
	publish(t, s, a.stream, 0, warm)
	waitIDs(t, a, warm, 3*time.Minute)
	total := int64(warm + rate*(outage.Seconds()*0.7+3))
	f := startFeed(s, a.stream, warm, total-warm, rate)
	res.records = total
	waitIDs(t, a, warm+rate, time.Minute)
	if err := fault.down(pg); err != nil {
		res.cannot(t, err)
	}
	stopped := time.Now()
	highest, samples := watchCheckpoints(t, s, a, outage)
	select {
	case err := <-d.done:
		t.Fatalf("daemon exited during the outage: %v", err)
	default:
	}
	if err := fault.up(pg); err != nil {
		t.Fatalf("database back after %s: %v", fault.name, err)
	}
	restarted := time.Now()
	t.Logf("database down for %s", restarted.Sub(stopped).Round(time.Millisecond))
	f.wait(t)
	waitIDs(t, a, int(total), 3*time.Minute)
	res.recovery = append(res.recovery, time.Since(restarted))
	res.trials++

	if n := writtenAfter(t, a, restarted); n == 0 {
		t.Error("no record was stored after the database came back: the outage did not hold anything up")
	} else {
		res.notef("%d records waited for the database", n)
	}
	stored := storedBefore(t, a, stopped)
	for shard, cp := range highest {
		if stored[shard] == "" || seqLess(stored[shard], cp) {
			t.Errorf("shard %s checkpointed %s while the database was down, but the last record stored before the fault is %q", shard, cp, stored[shard])
		}
	}
	res.notef("%d lease samples during the outage, no checkpoint past the stored records; recovery from the end of the fault", samples)
	d.stop()
	au := auditIDs(t, a, 0, total)
	res.audit = &au
	au.check(t, 0)
}

// watchCheckpoints samples the leases every second for the given time and
// returns the highest checkpoint seen per shard, and the number of samples.
func watchCheckpoints(t *testing.T, s *stack, a sinkApp, d time.Duration) (map[string]string, int) {
	t.Helper()
	highest := map[string]string{}
	samples := 0
	for start := time.Now(); time.Since(start) < d; samples++ {
		for shard, l := range leasesByShard(t, s, a.app) {
			if isSequence(l.Checkpoint) && (highest[shard] == "" || seqLess(highest[shard], l.Checkpoint)) {
				highest[shard] = l.Checkpoint
			}
		}
		time.Sleep(time.Second)
	}
	return highest, samples
}

// writtenAfter counts the target rows written by transactions that started
// after the given moment.
func writtenAfter(t *testing.T, a sinkApp, after time.Time) int {
	t.Helper()
	return a.queryInt(t, `SELECT count(*) FROM `+a.table+` WHERE written_at >= $1`, after)
}

func isSequence(checkpoint string) bool {
	return checkpoint != "" && strings.Trim(checkpoint, "0123456789") == ""
}

// storedBefore returns, per shard, the highest sequence number written to
// the target or dead-letter table by transactions that started before the
// given moment.
func storedBefore(t *testing.T, a sinkApp, before time.Time) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	// The maximum is taken here: sequence numbers exceed CrateDB's NUMERIC.
	rows, err := conn.Query(ctx, `SELECT shard_id, seq FROM `+a.table+` WHERE written_at < $1
		UNION ALL SELECT shard_id, seq FROM `+a.table+`_deadletter WHERE failed_at < $1`, before)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var shard, seq string
		if err := rows.Scan(&shard, &seq); err != nil {
			t.Fatal(err)
		}
		if out[shard] == "" || seqLess(out[shard], seq) {
			out[shard] = seq
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestChaosReshard splits a shard, merges its two children back and then
// merges the result with the other shard, all while a publisher runs: KCL
// finishes each parent (SHARD_END) before its children start, and every
// record arrives exactly once.
func TestChaosReshard(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testChaosReshard(t, s, db) })
}

func testChaosReshard(t *testing.T, s *stack, db pgtest.DB) {
	logs := keepLogs(t)
	res := newResult(t, "split and merge while records flow")
	a := s.newSinkApp(t, 2, db)
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	d := logs.start(t, s, a.props)

	// The feed runs while the stream is resharded; the last records are
	// published only after the last merge, so that the last shard gets
	// some even when a loaded machine makes the daemon start late and the
	// timed feed ends before the reshards do.
	const total, rate, tail = 2400, 80, 200
	f := startFeed(s, a.stream, 0, total-tail, rate)
	res.records = total
	waitIDs(t, a, 200, 3*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shards, err := localaws.ListShards(ctx, s.kc, a.stream)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sh := range shards {
		ids = append(ids, aws.ToString(sh.ShardId))
	}
	sort.Strings(ids)
	kids, err := localaws.SplitShard(ctx, s.kc, a.stream, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split %s into %v", ids[0], kids)
	time.Sleep(4 * time.Second)
	merged, err := localaws.MergeShards(ctx, s.kc, a.stream, kids[0], kids[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("merged %v into %s", kids, merged)
	time.Sleep(4 * time.Second)
	last, err := localaws.MergeShards(ctx, s.kc, a.stream, merged, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("merged %s and %s into %s", merged, ids[1], last)
	resharded := time.Now()
	after := startFeed(s, a.stream, total-tail, tail, rate)
	f.wait(t)
	after.wait(t)
	waitIDs(t, a, total, 4*time.Minute)
	res.recovery = append(res.recovery, time.Since(resharded))
	res.trials = 3

	waitShardEnd(t, s, a.app, append(append([]string{ids[0], ids[1]}, kids...), merged))
	perShard := rowsPerShard(t, a)
	if perShard[last] == 0 {
		t.Errorf("no record stored from the last shard %s: %v", last, perShard)
	}
	res.notef("1 split + 2 merges (2 → 3 → 2 → 1 open shards, 6 in all); rows per shard %s; recovery from the last merge", formatCounts(perShard))
	d.stop()
	au := auditIDs(t, a, 0, total)
	res.audit = &au
	au.check(t, 0)
}

func rowsPerShard(t *testing.T, a sinkApp) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT shard_id, count(*) FROM `+a.table+` GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var shard string
		var n int
		if err := rows.Scan(&shard, &n); err != nil {
			t.Fatal(err)
		}
		out[shard] = n
	}
	return out
}

func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "shardId-0000000000"), m[k]))
	}
	return strings.Join(parts, " ")
}
