package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// TestChaosCrateCluster streams into a three-node CrateDB cluster on
// loopback through a URL that lists all three nodes, as a user of a
// cluster would write it (pgx connects to the first that answers), and
// kills one node with kill -9 mid-stream, keeps it down for
// CHAOS_DB_OUTAGE and starts it again, twice: first a node the children
// are not connected to, then the first node of the URL, which all of them
// are. Shards fail over to their replicas and recover while records flow;
// the table must end exact, and the daemon must never exit.
func TestChaosCrateCluster(t *testing.T) {
	s := requireStack(t)
	logs := keepLogs(t)
	down := envDuration(t, "CHAOS_DB_OUTAGE", 10*time.Second)
	res := newResult(t, fmt.Sprintf("3-node cluster, a node killed -9 and down for %s mid-stream", down), pgtest.CrateDB)
	c := pgtest.StartCluster(t, 3)
	a := s.newSinkApp(t, 2, c.DB())
	logs.add(a.childLog())
	a.dropOnSuccess(t)
	d := logs.start(t, s, a.props)

	const warm, rate = 100, 60
	publish(t, s, a.stream, 0, warm)
	waitIDs(t, a, warm, 3*time.Minute)
	res.notef("replicas: %s", checkReplicas(t, a))
	res.records = warm
	for _, victim := range []int{2, 0} {
		perTrial := int64(rate * (down.Seconds() + 10))
		f := startFeed(s, a.stream, res.records, perTrial, rate)
		res.records += perTrial
		time.Sleep(3 * time.Second) // mid-stream
		node := c.Nodes[victim]
		if err := node.Kill(); err != nil {
			res.cannot(t, err)
		}
		killed := time.Now()
		t.Logf("killed node %d at %s", victim+1, killed.UTC().Format(time.RFC3339Nano))
		time.Sleep(down)
		node.Restart()
		restarted := time.Now()
		t.Logf("restarted node %d at %s", victim+1, restarted.UTC().Format(time.RFC3339Nano))
		c.WaitNodes(t, 3, 2*time.Minute)
		f.wait(t)
		waitIDs(t, a, int(res.records), 4*time.Minute)
		res.recovery = append(res.recovery, time.Since(restarted))
		res.trials++
		res.notef("node %d of the URL killed: %s; all stored %s after its restart",
			victim+1, whileDown(t, a, killed, restarted), seconds(res.recovery[len(res.recovery)-1]))
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited after node %d was killed: %v", victim+1, err)
		default:
		}
	}
	d.stop()
	au := auditIDs(t, a, 0, res.records)
	res.audit = &au
	au.check(t, 0)
}

// checkReplicas asserts that the sink's tables got CrateDB's default
// number_of_replicas '0-1', which on three nodes is one replica of each
// shard, and waits until every replica of the target is started. It
// describes what it found.
func checkReplicas(t *testing.T, a sinkApp) string {
	t.Helper()
	schema, name, _ := strings.Cut(a.table, ".")
	var parts []string
	for _, tb := range []struct{ label, table string }{{"target", name}, {"dead-letter table", name + "_deadletter"}} {
		table := tb.table
		var replicas string
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		conn := a.connect(ctx, t)
		err := conn.QueryRow(ctx, `SELECT number_of_replicas FROM information_schema.tables
			WHERE table_schema = $1 AND table_name = $2`, schema, table).Scan(&replicas)
		conn.Close(ctx)
		cancel()
		if err != nil {
			t.Fatalf("number_of_replicas of %s.%s: %v", schema, table, err)
		}
		if replicas != "0-1" {
			t.Errorf("%s.%s has number_of_replicas %q, want the default 0-1", schema, table, replicas)
		}
		parts = append(parts, fmt.Sprintf("%s number_of_replicas %s", tb.label, replicas))
	}
	var primaries, started int
	eventually(t, 2*time.Minute, "every replica of "+a.table+" started", func() (bool, string) {
		primaries = a.queryInt(t, `SELECT count(*) FROM sys.shards WHERE schema_name = $1 AND table_name = $2 AND "primary"`, schema, name)
		started = a.queryInt(t, `SELECT count(*) FROM sys.shards WHERE schema_name = $1 AND table_name = $2
			AND NOT "primary" AND state = 'STARTED'`, schema, name)
		return primaries > 0 && started == primaries, fmt.Sprintf("%d primaries, %d replicas started", primaries, started)
	})
	return fmt.Sprintf("%s; %d shards, each with 1 started replica", strings.Join(parts, ", "), primaries)
}

// whileDown describes the writes between a node's kill and its restart:
// how many rows, and when the first came after the kill (how long the
// cluster held writes up). Asked once the cluster is whole again: while a
// shard has no active copy, counting may fail.
func whileDown(t *testing.T, a sinkApp, killed, restarted time.Time) string {
	t.Helper()
	n := a.queryInt(t, `SELECT count(*) FROM `+a.table+` WHERE written_at >= $1 AND written_at < $2`, killed, restarted)
	if n == 0 {
		return "no record stored while it was down"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := a.connect(ctx, t)
	defer conn.Close(ctx)
	var first time.Time
	if err := conn.QueryRow(ctx, `SELECT min(written_at) FROM `+a.table+` WHERE written_at >= $1`, killed).Scan(&first); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d records stored while it was down, the first %s after the kill", n, seconds(first.Sub(killed)))
}
