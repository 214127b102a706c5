package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// TestChaosChildKill kills one kinesis-cratedb child with SIGKILL, again and
// again, while records flow: at a random moment, in the middle of a
// database write (the target table is locked, so the child's INSERT waits),
// or right after a batch was stored, while it checkpoints. The daemon exits
// 1 each time, as it does in production, and is started again. In the end
// every published record is in the table exactly once.
//
// A kill point that cannot be set up on the database (on CrateDB there is
// no mid-write kill: it has no table locks to hold a write in flight) is
// dropped, the result row says why, and its trials kill at random instead.
func TestChaosChildKill(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testChaosChildKill(t, s, db) })
}

func testChaosChildKill(t *testing.T, s *stack, db pgtest.DB) {
	logs := keepLogs(t)
	trials := envInt(t, "CHAOS_CHILD_KILLS", 3)
	rng, seed := chaosRand(t)
	res := newResult(t, "kill -9 child (random / mid-write / mid-checkpoint)")
	res.notef("seed %d", seed)
	modes := []string{"random", "write", "checkpoint"}
	a := s.newSinkApp(t, 2, db, append([]string{
		"maxRecords = 100", // small batches: many writes and checkpoints to hit
		"sink.batchMaxRecords = 50",
		"sink.checkpointIntervalMillis = 0", // a checkpoint after every batch
		"sink.logLevel = debug",             // a "batch stored" line per batch
	}, restartedWorker...)...)
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	const warmup, perTrial, rate = 100, 300, 150
	d := logs.start(t, s, a.props)
	publish(t, s, a.stream, 0, warmup)
	waitIDs(t, a, warmup, 3*time.Minute)
	res.records = warmup

	phases := map[string]int{}
	var exits []time.Duration
	for i := range trials {
		f := startFeed(s, a.stream, res.records, perTrial, rate)
		res.records += perTrial
		mode := modes[i%len(modes)]
		k, err := killChild(t, a, d, mode, rng)
		if err != nil {
			res.notef("no %s kill on %s: %v; its trials killed at random instead", mode, db.Name, err)
			modes = slices.DeleteFunc(modes, func(m string) bool { return m == mode })
			k, _ = killChild(t, a, d, "random", rng)
		}
		if err := d.waitExit(2 * time.Minute); err == nil {
			t.Fatal("daemon exited 0 after its child was killed; want exit 1")
		}
		exits = append(exits, time.Since(k.at))
		a.waitNoChildren(t, 15*time.Second)
		phase := k.phase(t, s, a)
		phases[phase]++
		d = logs.start(t, s, a.props)
		f.wait(t)
		waitIDs(t, a, int(res.records), 3*time.Minute)
		res.recovery = append(res.recovery, time.Since(k.at))
		res.trials++
		t.Logf("trial %d: killed child %d (%s) %s into the trial; daemon exited %s later; all %d records stored %s after the kill",
			i+1, k.pid, phase, k.after.Round(time.Millisecond), exits[i].Round(time.Millisecond), res.records, res.recovery[i].Round(time.Millisecond))
	}
	d.stop()
	res.notef("kill points: %s; daemon exit after the kill: median %s", phaseSummary(phases), seconds(median(exits)))
	au := auditIDs(t, a, 0, res.records)
	res.audit = &au
	au.check(t, 0)
}

// restartedWorker makes a restarted daemon the same KCL worker as the one
// that died, as a supervisor restarting it on the same host with a stable
// workerId does: it renews its own leases at once. A new random workerId
// would wait for KCL 3's leader lock (2 minutes, fixed in
// DynamoDBLockBasedLeaderDecider) before any lease is assigned; see
// TestChaosDaemonKill. The daemon's exit after a child's death always lasts
// shutdownGraceMillis (the thread calling System.exit is the one the
// graceful shutdown waits for); 10 s instead of the harness's 30 s keeps
// the trials short.
var restartedWorker = []string{"workerId = chaos-worker", "shutdownGraceMillis = 10000"}

// kill is one SIGKILL of a child.
type kill struct {
	mode  string
	pid   int
	at    time.Time
	after time.Duration // since the trial started
	last  logLine       // the child's last log line before the kill
}

// killChild kills one child of d at a point chosen by mode:
//
//	random      after a random delay while records flow
//	write       while its INSERT waits for a lock the test holds on the table
//	checkpoint  as soon as it logs "batch stored": it is checkpointing
//
// An error says the kill point could not be set up; no child was killed.
func killChild(t *testing.T, a sinkApp, d *daemon, mode string, rng *rand.Rand) (kill, error) {
	t.Helper()
	start := time.Now()
	k := kill{mode: mode}
	switch mode {
	case "random":
		time.Sleep(time.Duration(200+rng.IntN(1800)) * time.Millisecond)
		pids := a.waitChild(t, d)
		k.pid = pids[rng.IntN(len(pids))]
		sigkill(t, k.pid)
	case "write":
		var err error
		if k.pid, err = killDuringWrite(t, a, d); err != nil {
			return k, err
		}
	case "checkpoint":
		k.pid, k.last = killAfterBatchStored(t, a, d)
	default:
		t.Fatalf("unknown kill mode %q", mode)
	}
	k.at = time.Now()
	k.after = k.at.Sub(start)
	if k.last.Message == "" {
		k.last = lastLogLine(a.childLog(), k.pid)
	}
	return k, nil
}

func sigkill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// phase names the point the child was killed at, once the daemon is gone.
func (k kill) phase(t *testing.T, s *stack, a sinkApp) string {
	t.Helper()
	switch {
	case k.mode == "write":
		return "mid-write"
	case k.last.Message == "batch stored":
		// Stored, then killed before its status went back: while asking
		// for the checkpoint or waiting for its answer. The daemon may
		// still complete a checkpoint the child asked for.
		if leasesByShard(t, s, a.app)[k.last.Shard].Checkpoint == seqOf(k.last.Last) {
			return "mid-checkpoint (the daemon completed it)"
		}
		return "mid-checkpoint (not recorded)"
	default:
		return "mid-read/decode/write"
	}
}

// seqOf strips the "/sub" from a position logged as "seq/sub".
func seqOf(pos string) string {
	seq, _, _ := strings.Cut(pos, "/")
	return seq
}

func phaseSummary(phases map[string]int) string {
	var parts []string
	for _, p := range sortedKeys(phases) {
		parts = append(parts, fmt.Sprintf("%d %s", phases[p], p))
	}
	return strings.Join(parts, ", ")
}

// killDuringWrite locks the target table so that the next write waits,
// kills the child whose INSERT waits, then releases the lock. The dead
// child's transaction may then still commit (its COMMIT was sent with the
// INSERT): the redelivered records must not be stored twice. An error says
// the table could not be locked, and nothing was killed.
func killDuringWrite(t *testing.T, a sinkApp, d *daemon) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	locker := a.connect(ctx, t)
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("BEGIN: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `LOCK TABLE `+a.table+` IN EXCLUSIVE MODE`); err != nil {
		// CrateDB's parser lists every statement it expected instead.
		msg, _, _ := strings.Cut(err.Error(), " expecting ")
		return 0, fmt.Errorf("cannot hold a write in flight: LOCK TABLE refused (%s)", msg)
	}
	watcher := a.connect(ctx, t)
	defer watcher.Close(context.Background())
	name := a.table[strings.IndexByte(a.table, '.')+1:]
	var pid int
	eventually(t, time.Minute, "a child's write waiting for the lock", func() (bool, string) {
		var ports []int32
		// The write is a COPY straight into the table, or an INSERT from
		// the stage after a replay met rows already there (processor/sink/write.go).
		rows, err := watcher.Query(ctx, `SELECT client_port FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND client_port IS NOT NULL
			AND (query LIKE '%INSERT INTO %'||$1::text||'" (%' OR query LIKE 'COPY %'||$1::text||'" (%')`, name)
		if err != nil {
			return false, err.Error()
		}
		for rows.Next() {
			var p int32
			if rows.Scan(&p) == nil {
				ports = append(ports, p)
			}
		}
		children := a.childrenOf(d)
		for _, p := range ports {
			if owner := pidOfClientPort(int(p)); slices.Contains(children, owner) {
				pid = owner
				return true, ""
			}
		}
		return false, fmt.Sprintf("waiting INSERTs from ports %v, children %v", ports, children)
	})
	sigkill(t, pid)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	return pid, nil
}

// killAfterBatchStored kills the first child of d that logs "batch stored"
// from now on: right after its write, while it asks for a checkpoint.
func killAfterBatchStored(t *testing.T, a sinkApp, d *daemon) (int, logLine) {
	t.Helper()
	tail := openLogTail(t, a.childLog())
	var partial []byte
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		line, ok := tail.next(&partial)
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		if line.Message == "batch stored" && ppid(line.PID) == d.cmd.Process.Pid {
			sigkill(t, line.PID)
			return line.PID, line
		}
	}
	t.Fatal("no child logged \"batch stored\" within a minute")
	return 0, logLine{}
}

// TestChaosDaemonKill kills the daemon's JVM with SIGKILL (not its process
// group) while records flow: its children must see the end of stdin and
// exit by themselves, and the restarted daemon must deliver what was not
// checkpointed. It restarts with the same workerId, so it renews its own
// leases at once; with two trials or more the last restart uses a new
// workerId, which must wait for the dead worker's leader lock (KCL 3) before
// any lease is assigned.
func TestChaosDaemonKill(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testChaosDaemonKill(t, s, db) })
}

func testChaosDaemonKill(t *testing.T, s *stack, db pgtest.DB) {
	logs := keepLogs(t)
	trials := envInt(t, "CHAOS_DAEMON_KILLS", 1)
	rng, seed := chaosRand(t)
	res := newResult(t, "kill -9 daemon")
	res.notef("seed %d", seed)
	a := s.newSinkApp(t, 2, db, restartedWorker...)
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	const warmup, perTrial, rate = 100, 300, 150
	d := logs.start(t, s, a.props)
	publish(t, s, a.stream, 0, warmup)
	waitIDs(t, a, warmup, 3*time.Minute)
	res.records = warmup

	var orphans []time.Duration
	for i := range trials {
		f := startFeed(s, a.stream, res.records, perTrial, rate)
		res.records += perTrial
		time.Sleep(time.Duration(300+rng.IntN(1700)) * time.Millisecond)
		children := a.waitChild(t, d)
		killed := d.killJVM()
		a.waitNoChildren(t, 10*time.Second)
		orphans = append(orphans, time.Since(killed))
		props, how := a.props, "same workerId"
		if trials > 1 && i == trials-1 {
			props, how = withWorkerID(t, a, "chaos-worker-new"), "new workerId"
		}
		d = logs.start(t, s, props)
		f.wait(t)
		waitIDs(t, a, int(res.records), 5*time.Minute)
		recovered := time.Since(killed)
		res.trials++
		t.Logf("trial %d: daemon killed with children %v; they exited %s later; restarted with the %s; all %d records stored %s after the kill",
			i+1, children, orphans[i].Round(time.Millisecond), how, res.records, recovered.Round(time.Millisecond))
		if how == "new workerId" {
			res.notef("recovery columns: restarts with the same workerId; the restart with a new workerId had all records stored %s after the kill", seconds(recovered))
		} else {
			res.recovery = append(res.recovery, recovered)
		}
	}
	d.stop()
	res.notef("children exited on stdin EOF within %s of the kill (max)", seconds(slices.Max(orphans)))
	au := auditIDs(t, a, 0, res.records)
	res.audit = &au
	au.check(t, 0)
}

// TestChaosTwoDaemons runs two daemons with the same application name and
// different workerIds: they share the shards; when one is killed (SIGKILL)
// the other takes over every lease and every record arrives exactly once.
// The first trial kills the worker that is not KCL's leader; the second
// (CHAOS_TWO_DAEMON_KILLS=2) restarts it and then kills the leader, whose
// lock (2 minutes in KCL 3) the survivor must wait for before it may
// assign the orphaned leases.
func TestChaosTwoDaemons(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testChaosTwoDaemons(t, s, db) })
}

func testChaosTwoDaemons(t *testing.T, s *stack, db pgtest.DB) {
	logs := keepLogs(t)
	trials := envInt(t, "CHAOS_TWO_DAEMON_KILLS", 1)
	res := newResult(t, "two daemons share the shards, one is killed")
	const shards, perTrial, rate = 4, 900, 150
	// KCL 3's leader counts a worker as alive, and may give it leases, until
	// two reporter periods after its last WorkerMetricStats report (60 s by
	// default, measured: a takeover then took up to 58 s, with leases handed
	// to the dead worker meanwhile); 5 s periods make that 10 s.
	a := s.newSinkApp(t, shards, db, "workerMetricsReporterFreqInMillis = 5000")
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	workers := map[string]*daemon{}
	for _, w := range []string{"worker-a", "worker-b"} {
		workers[w] = logs.start(t, s, withWorkerID(t, a, w))
	}
	for i := range trials {
		started := time.Now()
		shareLeases(t, s, a, shards, res)
		owners := leaseOwners(t, s, a)
		leader := leaderOf(t, s, a.app)
		if leader == "" {
			t.Fatal("no worker holds the leader lock")
		}
		victim, survivor, role := "worker-a", "worker-b", "non-leader"
		if killLeader := i%2 == 1; (leader == victim) != killLeader {
			victim, survivor = survivor, victim
		}
		if victim == leader {
			role = "leader"
		}
		f := startFeed(s, a.stream, res.records, perTrial, rate)
		res.records += perTrial
		eventually(t, 2*time.Minute, "records arriving through both workers", func() (bool, string) {
			_, ids, _ := a.counts(t)
			return ids >= int(res.records)-perTrial+200 && len(a.childrenOf(workers[victim])) > 0, fmt.Sprintf("%d ids", ids)
		})
		children := a.childrenOf(workers[victim])
		killed := workers[victim].killJVM()
		waitPIDsGone(t, children, 10*time.Second)
		orphan := time.Since(killed)
		// The leader lock expires 2 minutes after the leader's last heartbeat.
		limit := time.Minute
		if role == "leader" {
			limit += 2 * time.Minute
		}
		eventually(t, limit, survivor+" owning every lease after the "+role+" was killed", func() (bool, string) {
			owners := leaseOwners(t, s, a)
			return owners[survivor] == shards, fmt.Sprint(owners)
		})
		takeover := time.Since(killed)
		f.wait(t)
		waitIDs(t, a, int(res.records), 3*time.Minute)
		res.recovery = append(res.recovery, time.Since(killed))
		res.trials++
		res.notef("trial %d: leases %d/%d %s after start, killed the %s %s; its children exited in %s; %s owned all %d leases %s after the kill",
			i+1, owners["worker-a"], owners["worker-b"], seconds(killed.Sub(started)), role, victim, seconds(orphan), survivor, shards, seconds(takeover))
		t.Log(res.notes[len(res.notes)-1])
		if i+1 < trials {
			workers[victim] = logs.start(t, s, withWorkerID(t, a, victim))
		}
	}
	for _, d := range workers {
		d.stop()
	}
	au := auditIDs(t, a, 0, res.records)
	res.audit = &au
	au.check(t, 0)
}

// shareLeases publishes records until the leases are shared between
// worker-a and worker-b. KCL 3 first gives every lease to the worker that
// reports first; without worker metrics (disableWorkerMetrics, which spares
// probing the EC2 metadata address) its leader then balances by shard
// throughput, so records must flow for the second worker to get leases.
func shareLeases(t *testing.T, s *stack, a sinkApp, shards int, res *chaosResult) {
	t.Helper()
	const batch, rate = 300, 100
	deadline := time.Now().Add(4 * time.Minute)
	for {
		owners := leaseOwners(t, s, a)
		if owners["worker-a"] > 0 && owners["worker-b"] > 0 && owners["worker-a"]+owners["worker-b"] == shards {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases not shared between worker-a and worker-b after 4 minutes of traffic: %v", owners)
		}
		f := startFeed(s, a.stream, res.records, batch, rate)
		res.records += batch
		f.wait(t)
	}
}

// leaderOf is the worker holding KCL 3's leader lock (the "Leader" item of
// the CoordinatorState table), which runs the lease assignment.
func leaderOf(t *testing.T, s *stack, app string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	table := app + "-CoordinatorState"
	out, err := s.dc.Scan(ctx, &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range out.Items {
		if key, ok := item["key"].(*types.AttributeValueMemberS); ok && key.Value == "Leader" {
			if owner, ok := item["ownerName"].(*types.AttributeValueMemberS); ok {
				return owner.Value
			}
		}
	}
	return ""
}

// withWorkerID writes a copy of the app's daemon properties with a workerId.
// The children keep reading the app's file for their sink settings.
func withWorkerID(t *testing.T, a sinkApp, worker string) string {
	t.Helper()
	b, err := os.ReadFile(a.props)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSuffix(a.props, ".properties") + "." + worker + ".properties"
	if err := os.WriteFile(path, append(b, []byte("workerId = "+worker+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// leaseOwners counts the open shards' leases per owner.
func leaseOwners(t *testing.T, s *stack, a sinkApp) map[string]int {
	t.Helper()
	owners := map[string]int{}
	for _, l := range leasesByShard(t, s, a.app) {
		if l.Checkpoint != "SHARD_END" {
			owners[l.LeaseOwner]++
		}
	}
	return owners
}

// waitPIDsGone waits until none of the processes exists any more.
func waitPIDsGone(t *testing.T, pids []int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("processes %v to exit", pids), func() (bool, string) {
		var alive []int
		for _, pid := range pids {
			if pgtest.Alive(pid) {
				alive = append(alive, pid)
			}
		}
		return len(alive) == 0, fmt.Sprintf("still running: %v", alive)
	})
}
