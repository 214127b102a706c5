package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// onEachDatabase runs fn on TEST_DATABASE_URL (PostgreSQL) and
// TEST_CRATEDB_URL (CrateDB), each that is set; under CI=true an unset one
// fails.
func onEachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { fn(t, db.URL) })
}

// TestHungDatabaseFailsBatchBeforeDaemonTimeout: the database stops
// answering without closing anything (a frozen proxy), so every attempt
// hangs for its full 2-minute attempt timeout. With the daemon's
// timeoutInSeconds = 8, the batch's one deadline (3/4 of it) ends the
// write: the child exits unacknowledged before the daemon would halt the
// JVM, and never checkpoints past what was stored.
func TestHungDatabaseFailsBatchBeforeDaemonTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 6 s deadline")
	}
	onEachDatabase(t, func(t *testing.T, url string) {
		const daemonTimeout = 8 * time.Second
		proxy := pgtest.StartProxy(t, url)
		child := startChild(t, map[string]string{"sink.databaseUrl": proxy.URL(url), "sink.table": uniqueTable(t),
			"sink.checkpointIntervalMillis": "0", "timeoutInSeconds": "8"}, nil)
		ctx := context.Background()
		if err := child.Initialize(ctx, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < 2; b++ {
			if err := child.ProcessRecords(ctx, batch(b*10, 10, jsonPayload), nil); err != nil {
				t.Fatal(err)
			}
		}
		first, _ := child.LastCheckpoint()
		storedBeforeFreeze := batch(10, 10, jsonPayload)[9].SequenceNumber
		proxy.Freeze()
		var err error
		var took time.Duration
		for b := 2; b < 6 && err == nil; b++ {
			callCtx, cancel := context.WithTimeout(ctx, daemonTimeout)
			start := time.Now()
			err = child.ProcessRecords(callCtx, batch(b*10, 10, jsonPayload), nil)
			took = time.Since(start)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) || took >= daemonTimeout {
				t.Fatalf("no answer within the daemon's timeoutInSeconds (%s): the daemon would halt the JVM (%v)", took, err)
			}
		}
		if err == nil {
			t.Fatal("the child kept acknowledging batches although the database hung")
		}
		t.Logf("the child gave up %s after the action was sent (daemon timeout %s): %v", took.Round(time.Millisecond), daemonTimeout, err)
		if last, _ := child.LastCheckpoint(); last != first && last.Sequence != storedBeforeFreeze {
			t.Fatalf("checkpoint moved to %+v while the database hung", last)
		}
		start := time.Now()
		exit, _ := child.Close()
		if exit.Code != 1 {
			t.Fatalf("exit code %d, want 1", exit.Code)
		}
		t.Logf("exited %s after its stdin closed", time.Since(start).Round(time.Millisecond))
	})
}

// TestLeaseLostAnswersWhileWriteIsStuck: a batch is being stored in the
// background (sink.pipeline) when leaseLost arrives, and the database hangs
// (no timeoutInSeconds: nothing else would ever end the write). The child
// answers within its bounded wait, abandons the write without a checkpoint
// and exits.
func TestLeaseLostAnswersWhileWriteIsStuck(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s bound")
	}
	onEachDatabase(t, func(t *testing.T, url string) {
		proxy := pgtest.StartProxy(t, url)
		child := startChild(t, map[string]string{"sink.databaseUrl": proxy.URL(url), "sink.table": uniqueTable(t),
			"sink.checkpointIntervalMillis": "0"}, nil)
		ctx := context.Background()
		if err := child.Initialize(ctx, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
			t.Fatal(err)
		}
		proxy.Freeze()
		if err := child.ProcessRecords(ctx, batch(0, 10, jsonPayload), nil); err != nil {
			t.Fatal(err) // acknowledged at once, stored in the background
		}
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		start := time.Now()
		if err := child.LeaseLost(callCtx); err != nil {
			t.Fatalf("leaseLost not answered after %s: %v", time.Since(start), err)
		}
		answered := time.Since(start)
		if answered > 7*time.Second {
			t.Fatalf("leaseLost answered after %s, want about 5 s", answered)
		}
		start = time.Now()
		exit, err := child.Close()
		if err != nil || exit.Code != 0 {
			t.Fatalf("exit %+v, %v", exit, err)
		}
		t.Logf("leaseLost answered after %s; the child exited %s after its stdin closed", answered.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		if n := child.CheckpointRequests(); n != 0 {
			t.Fatalf("%d checkpoint requests, want none", n)
		}
	})
}
