package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// TestE2EBackfill is the scenario of issue 14: a DynamoDB table of 3,000
// items of mixed types; its change stream (inserts, modifies and removes of
// the same items, published as DynamoDB's Kinesis destination does)
// consumed by the real daemon and our child from before the backfill to
// after it; `kinesis-cratedb backfill` run meanwhile, killed with SIGKILL
// in the middle of its scan and run again. In the end the target table
// equals the DynamoDB table, key by key, with exact values.
func TestE2EBackfill(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testE2EBackfill(t, s, db) })
}

func testE2EBackfill(t *testing.T, s *stack, db pgtest.DB) {
	const items = 3000
	ddb := dynamotest.Client(t)
	a := s.newSinkApp(t, 2, db, "sink.format = dynamodb-cdc", "sink.dynamodb.keys = id:S,rev:N")
	source := a.app + "-source"
	dynamotest.CreateTable(t, ddb, source, dynamotest.Key{Name: "id", Type: "S"}, dynamotest.Key{Name: "rev", Type: "N"})
	model := dynamotest.Model{}
	r := rand.New(rand.NewPCG(14, uint64(len(db.Name))))
	model.Load(t, ddb, source, r, items)
	d := s.startDaemon(t, a.props)

	// One change to a random item, existing or new, published with the
	// item's key as partition key (as the destination does), so that an
	// item's changes keep their order in one shard.
	changes := 0
	change := func() {
		i := r.IntN(items + 200)
		id, rev := fmt.Sprintf("item-%05d", i), int64(i%3)
		putRaw(t, s.kc, a.stream, fmt.Sprintf("%s/%d", id, rev), model.Change(t, ddb, source, r, id, rev))
		changes++
	}
	for range 100 { // the stream before the backfill
		change()
	}

	first := startBackfill(t, s, a, source)
	killed := make(chan int, 1)
	go killAfterPages(a, first, 40, killed)
	for !first.exited() {
		change()
	}
	pages := <-killed
	if first.ok() {
		t.Fatalf("the backfill finished before it could be killed (%d pages); make it slower", pages)
	}
	if done := backfillSegmentsDone(t, a); done == 4 {
		t.Fatalf("killed after %d pages, but every segment is done", pages)
	}
	second := startBackfill(t, s, a, source)
	for !second.exited() {
		change()
	}
	if !second.ok() || !strings.Contains(second.stderr(), "resuming scan") {
		t.Fatalf("second backfill: %v\n%s", second.err, second.stderr())
	}
	for range 100 { // the stream after the backfill
		change()
	}
	t.Logf("%d items, %d changes; the backfill killed after %d pages and resumed:\n%s", items, changes, pages, second.stderr())
	waitForState(t, a.db, a.table+"_deadletter", map[string][]json.RawMessage{a.table + "_live": model.Want()}, 0, true)
	d.stop()
}

// backfillRun is one `kinesis-cratedb backfill` process.
type backfillRun struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	err  error
}

func startBackfill(t *testing.T, s *stack, a sinkApp, source string) *backfillRun {
	t.Helper()
	// Small pages, so that the scan takes long enough to be killed in the
	// middle.
	cmd := exec.Command(filepath.Join(s.repo, "bin/kinesis-cratedb"), "backfill", "--properties", a.props,
		"--dynamodb-table", source, "--segments", "4", "--page-size", "10")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIALOCALSTACK0000000", "AWS_SECRET_ACCESS_KEY=local")
	b := &backfillRun{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = b.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-b.done })
	return b
}

func (b *backfillRun) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *backfillRun) ok() bool { <-b.done; return b.err == nil }

func (b *backfillRun) stderr() string { <-b.done; return b.out.String() }

// killAfterPages kills the backfill with SIGKILL once its segments have
// stored n pages together, and sends how many they had.
func killAfterPages(a sinkApp, b *backfillRun, n int, killed chan<- int) {
	pages := 0
	defer func() { killed <- pages }()
	for !b.exited() {
		if p, _, err := backfillProgress(a); err == nil && p >= n {
			pages = p
			_ = b.cmd.Process.Signal(syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backfillSegmentsDone(t *testing.T, a sinkApp) int {
	t.Helper()
	_, done, err := backfillProgress(a)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// backfillProgress reads the stored pages and finished segments of the
// app's backfill.
func backfillProgress(a sinkApp) (pages, done int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, a.dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	progress := strings.SplitN(a.table, ".", 2)[0] + ".kinesis_backfill"
	if a.db.Crate() {
		if _, err := conn.Exec(ctx, "REFRESH TABLE "+progress); err != nil {
			return 0, 0, err
		}
	}
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pages), 0), count(*) FILTER (WHERE done) FROM `+progress+
		` WHERE target_table = $1`, a.table).Scan(&pages, &done)
	return pages, done, err // an error before the backfill made its table
}
