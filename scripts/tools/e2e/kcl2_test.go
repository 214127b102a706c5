package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// The KCL 2.x daemon, which many kclpy 2.x users still run: make jars-kcl2
// fetches it into jars/lib-2.5.4, and scripts/test.sh names it in
// KCL2_JARS_DIR. It reads SDK v1 credential provider names, as kclpy 2.x
// files have them.

// requireKCL2 is the stack with the KCL 2.x daemon.
func requireKCL2(t *testing.T, s *stack) *stack {
	t.Helper()
	dir := os.Getenv("KCL2_JARS_DIR")
	jars, _ := filepath.Glob(filepath.Join(dir, "amazon-kinesis-client-multilang-2.*.jar"))
	if dir == "" || len(jars) != 1 {
		testenv.Missing(t, `no KCL 2.x multilang jar in KCL2_JARS_DIR="`+dir+`": run "make jars-kcl2" (scripts/test.sh sets it)`)
	}
	name := "KCL " + strings.TrimSuffix(strings.TrimPrefix(filepath.Base(jars[0]), "amazon-kinesis-client-multilang-"), ".jar")
	return s.withKCL(kclLine{name: name, jars: dir, credentials: "AWSCredentialsProvider = DefaultAWSCredentialsProviderChain"})
}

// TestE2EKCL2 is the main scenario with the KCL 2.x daemon and a kclpy
// 2.x credentials line: every record is delivered once and lands in the
// table once, a restart resumes from the checkpoint, and a split and then a
// merge of the split's children keep every record.
//
// PostgreSQL only: the daemon is what differs from the KCL 3 tests, which
// run the same child on both databases.
func TestE2EKCL2(t *testing.T) {
	s := requireKCL2(t, requireStack(t))
	a := s.newSinkApp(t, 2, pgtest.Get(t, pgtest.PostgreSQL), "sink.logLevel = debug")
	t.Logf("daemon: %s", s.kcl.name)

	before := s.runAndStop(t, a, 1000)

	// A restart resumes after the checkpoints: each child starts at its
	// shard's checkpoint, and nothing is delivered twice.
	d := s.startDaemon(t, a.props)
	publish(t, s, a.stream, 1000, 300)
	a.waitStoredOnce(t, 1300)
	checkResumedAt(t, a, before)

	// Split a shard, then merge its two children: each parent ends with
	// SHARD_END, and the children's and the merged shard's records arrive.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	parent := sortedKeys(before)[0]
	kids, err := localaws.SplitShard(ctx, s.kc, a.stream, parent)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s, a.stream, 1300, 300)
	a.waitStoredOnce(t, 1600)
	merged, err := localaws.MergeShards(ctx, s.kc, a.stream, kids[0], kids[1])
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s, a.stream, 1600, 300)
	a.waitStoredOnce(t, 1900)
	waitShardEnd(t, s, a.app, append([]string{parent}, kids...))
	perShard := rowsPerShard(t, a)
	for _, shard := range append(kids, merged) {
		if perShard[shard] == 0 {
			t.Errorf("no record stored from shard %s: %s", shard, formatCounts(perShard))
		}
	}
	d.stop()
	a.checkStoredOnce(t, 1900)
	auditIDs(t, a, 0, 1900).check(t, 0)
}

// TestE2EKCL2To3Migration moves an application from the KCL 2.x daemon to
// KCL 3 with clientVersionConfig = CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X,
// as a fleet is moved: the 2.x daemon processes the stream and stops, records
// arrive meanwhile, and a KCL 3 daemon (another worker, as on a new host)
// starts with that setting on the same application and lease table. It
// takes over the 2.x leases, resumes at their checkpoints, delivers nothing
// twice and loses nothing, and records that the fleet runs compatible with
// 2.x (CLIENT_VERSION_UPGRADE_FROM_2X in the <app>-CoordinatorState table,
// which it creates, as <app>-WorkerMetricStats).
//
// The lease table has KCL 3's GSI from the start: KCL 3 adds it to a table
// KCL 2.x made (UpdateTable), which dynalite refuses for on-demand tables.
// KCL 3 switches to its own lease assignment only once every lease owner
// has reported worker metrics for 10 minutes, too long for this test; the
// README says what that looks like.
func TestE2EKCL2To3Migration(t *testing.T) {
	s3 := requireStack(t)
	s2 := requireKCL2(t, s3)
	a := s2.newSinkApp(t, 2, pgtest.Get(t, pgtest.PostgreSQL), "sink.logLevel = debug")

	last2x := s2.runAndStop(t, a, 600)
	publish(t, s2, a.stream, 600, 400) // while no daemon runs

	worker3 := a.app + "-worker-kcl3"
	s3.writeSinkProperties(t, a, "sink.logLevel = debug", "workerId = "+worker3,
		"clientVersionConfig = CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X")
	d := s3.startDaemon(t, a.props)
	a.waitStoredOnce(t, 1000)
	checkResumedAt(t, a, last2x)
	publish(t, s3, a.stream, 1000, 200) // while the 3.x daemon runs
	a.waitStoredOnce(t, 1200)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	state, err := localaws.MigrationState(ctx, s3.dc, a.app)
	if err != nil || state != "CLIENT_VERSION_UPGRADE_FROM_2X" {
		t.Errorf("migration state %q (%v); want CLIENT_VERSION_UPGRADE_FROM_2X", state, err)
	}
	for shard, l := range leasesByShard(t, s3, a.app) {
		if l.LeaseOwner != worker3 {
			t.Errorf("lease %s is owned by %q, want the KCL 3 worker %s", shard, l.LeaseOwner, worker3)
		}
	}
	d.stop()
	a.checkStoredOnce(t, 1200)
	auditIDs(t, a, 0, 1200).check(t, 0)
}

// runAndStop starts the daemon on a fresh two-shard app, publishes the
// demo ids 0..n-1, waits until each is stored once, stops the daemon
// gracefully and returns the checkpoints, a sequence number on each shard.
func (s *stack) runAndStop(t *testing.T, a sinkApp, n int64) map[string]string {
	t.Helper()
	d := s.startDaemon(t, a.props)
	publish(t, s, a.stream, 0, n)
	a.waitStoredOnce(t, int(n))
	d.stop()
	a.checkStoredOnce(t, int(n))
	cps := checkpoints(t, s, a.app)
	if len(cps) != 2 {
		t.Fatalf("after the %s daemon's graceful stop, checkpoints %v; want a sequence number on both shards", s.kcl.name, cps)
	}
	return cps
}

// waitStoredOnce waits until the table holds the demo ids 0..n-1 and checks
// that the children have not stored more than n records in all
// (sink.logLevel = debug logs each stored batch): the table's key would hide
// a record delivered twice, the children's count does not. A batch stored
// in the background (sink.pipeline) is logged at the action after it, so
// the count is exact only once the daemon has stopped: checkStoredOnce.
func (a sinkApp) waitStoredOnce(t *testing.T, n int) {
	t.Helper()
	waitIDs(t, a, n, 3*time.Minute)
	if stored := storedRecords(t, a.childLog()); stored > n {
		t.Fatalf("the children stored %d records for %d published: a record was delivered twice", stored, n)
	}
}

// checkStoredOnce checks, after a graceful stop, that the children stored
// exactly n records in all.
func (a sinkApp) checkStoredOnce(t *testing.T, n int) {
	t.Helper()
	if stored := storedRecords(t, a.childLog()); stored != n {
		t.Fatalf("the children stored %d records for %d published: want each delivered once", stored, n)
	}
}

// childLogLine is what the tests read of a kinesis-cratedb log line (JSON).
type childLogLine struct {
	Message    string `json:"message"`
	Shard      string `json:"shard"`
	Records    int    `json:"records"`
	Checkpoint string `json:"checkpoint"`
	PID        int    `json:"pid"`
}

func childLogLines(t *testing.T, path string) []childLogLine {
	t.Helper()
	var out []childLogLine
	for _, line := range readLines(path) {
		var l childLogLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("child log line is not JSON: %q", line)
		}
		out = append(out, l)
	}
	return out
}

// storedRecords sums the records of every "batch stored" line.
func storedRecords(t *testing.T, path string) int {
	n := 0
	for _, l := range childLogLines(t, path) {
		if l.Message == "batch stored" {
			n += l.Records
		}
	}
	return n
}

// checkpoints returns each shard's checkpoint that is a sequence number.
func checkpoints(t *testing.T, s *stack, app string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for shard, l := range leasesByShard(t, s, app) {
		if isSequence(l.Checkpoint) {
			out[shard] = l.Checkpoint
		}
	}
	return out
}

// checkResumedAt checks that the last child started for each shard was
// initialized at the checkpoint the shard had when the previous daemon
// stopped.
func checkResumedAt(t *testing.T, a sinkApp, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, l := range childLogLines(t, a.childLog()) {
		if l.Message == "shard initialized" {
			got[l.Shard] = l.Checkpoint
		}
	}
	for shard, cp := range want {
		if got[shard] != cp {
			t.Errorf("shard %s: the new child started at %q, want the checkpoint %s", shard, got[shard], cp)
		}
	}
}
