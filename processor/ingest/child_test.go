package ingest_test

// These tests run the real bin/kinesis-cratedb binary under daemonsim, which
// speaks the daemon's side of the protocol byte for byte and strictly, so
// that each one can script exactly the batches, checkpoint replies and
// database states it needs. The Java daemon itself runs in scripts/tools/e2e.

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

var childBinary string

func TestMain(m *testing.M) { testenv.RunWithProgram(m, "../cmd/kinesis-cratedb", &childBinary) }

// startChild writes a properties file with the given sink settings and
// starts the child under daemonsim.
func startChild(t *testing.T, settings map[string]string, cp daemonsim.CheckpointFunc) *daemonsim.Child {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	settings["sink.logFile"] = filepath.Join(dir, "record_processor.log")
	for k, v := range settings {
		lines = append(lines, k+" = "+v)
	}
	props := filepath.Join(dir, "child.properties")
	if err := os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	child, err := daemonsim.Daemon{Checkpoint: cp, ExitTimeout: 20 * time.Second}.Start(ctx, []string{childBinary, "--properties", props}, os.Environ(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(settings["sink.logFile"])
			t.Logf("child log:\n%s", b)
		}
	})
	return child
}

func uniqueTable(*testing.T) string {
	return fmt.Sprintf("public.ingest_%d", time.Now().UnixNano())
}

// batch builds n demo records after sequence number base; payload returns
// the data of record i.
func batch(base, n int, payload func(i int) string) []daemonsim.Record {
	recs := make([]daemonsim.Record, n)
	arrival := time.Now().UnixMilli()
	for i := range recs {
		recs[i] = daemonsim.Record{
			Data:                        []byte(payload(base + i)),
			PartitionKey:                fmt.Sprintf("pk-%d", i%7),
			SequenceNumber:              fmt.Sprintf("4959000000000000000000000000000000000000000000%010d", base+i),
			ApproximateArrivalTimestamp: &arrival,
		}
	}
	return recs
}

func jsonPayload(i int) string { return fmt.Sprintf(`{"id":%d,"big":18446744073709551617}`, i) }

// count runs a query that returns one integer, after refreshing the tables
// on CrateDB (reads there are not real-time).
func count(t *testing.T, db pgtest.DB, tables []string, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	db.Refresh(t, conn, tables...)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func TestChildStoresDeadLettersAndCheckpoints(t *testing.T) {
	pgtest.Each(t, testChildStoresDeadLettersAndCheckpoints)
}

func testChildStoresDeadLettersAndCheckpoints(t *testing.T, db pgtest.DB) {
	url := db.URL
	table := uniqueTable(t)
	child := startChild(t, map[string]string{"sink.databaseUrl": url, "sink.table": table, "sink.checkpointIntervalMillis": "0"}, nil)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000003", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	recs := batch(0, 100, func(i int) string {
		switch i {
		case 10:
			return "not json"
		case 20:
			return ""
		case 30:
			return "{\"bad\":\"\xff\"}"
		}
		return jsonPayload(i)
	})
	if err := child.ProcessRecords(ctx, recs, ptr(int64(1234))); err != nil {
		t.Fatal(err)
	}
	// The batch is stored in the background (sink.pipeline); the next
	// action waits for it and checkpoints it.
	if err := child.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, []string{table}, `SELECT count(*) FROM `+table); n != 97 {
		t.Fatalf("%d rows, want 97", n)
	}
	if n := count(t, db, []string{table + "_deadletter"}, `SELECT count(*) FROM `+table+`_deadletter WHERE stage = 'decode'`); n != 3 {
		t.Fatalf("%d dead letters, want 3", n)
	}
	big := `payload->>'big'`
	if db.Crate() { // beyond 64 bits: kept as its JSON text in payload_aux (README)
		big = `payload_aux['big']`
	}
	if n := count(t, db, nil, `SELECT count(*) FROM `+table+` WHERE `+big+` = '18446744073709551617'`); n != 97 {
		t.Fatalf("big integers lost their digits in %d rows", 97-n)
	}
	last, ok := child.LastCheckpoint()
	if !ok || last.Sequence != recs[99].SequenceNumber {
		t.Fatalf("checkpoint %+v, want the last record %s", last, recs[99].SequenceNumber)
	}
	if err := child.LeaseLost(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := child.Close()
	if err != nil || exit.Code != 0 || len(child.Violations()) != 0 {
		t.Fatalf("exit %+v, %v, violations %v", exit, err, child.Violations())
	}
	if n := count(t, db, []string{"public.kinesis_progress"}, `SELECT count(*) FROM public.kinesis_progress WHERE target_table = $1 AND shard_id = 'shardId-000000000003' AND records_written = 97 AND dead_lettered = 3 AND millis_behind_latest = 1234`, table); n != 1 {
		t.Fatalf("progress row missing or wrong (%d)", n)
	}
}

// TestCheckpointNeverAheadOfData looks into the database at every checkpoint
// request: every record up to the requested position must already be stored.
func TestCheckpointNeverAheadOfData(t *testing.T) {
	pgtest.Each(t, testCheckpointNeverAheadOfData)
}

func testCheckpointNeverAheadOfData(t *testing.T, db pgtest.DB) {
	url := db.URL
	table := uniqueTable(t)
	var violations []string
	checked := 0
	cp := func(seq *string, _ *int64) string {
		if seq == nil {
			return ""
		}
		checked++
		stored := count(t, db, []string{table, table + "_deadletter"}, `SELECT count(*) FROM (SELECT seq FROM `+table+` UNION ALL SELECT seq FROM `+table+`_deadletter) s`)
		want, _ := new(big.Int).SetString((*seq)[len(*seq)-10:], 10)
		if int64(stored) < want.Int64()+1 {
			violations = append(violations, fmt.Sprintf("checkpoint at record %s with %d stored", want, stored))
		}
		return ""
	}
	child := startChild(t, map[string]string{"sink.databaseUrl": url, "sink.table": table, "sink.checkpointIntervalMillis": "0", "sink.batchMaxRecords": "7"}, cp)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000001", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 5; b++ {
		recs := batch(b*50, 50, func(i int) string {
			if i%13 == 0 {
				return "\x00garbage"
			}
			return jsonPayload(i)
		})
		if err := child.ProcessRecords(ctx, recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := child.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	if checked < 5 || len(violations) > 0 {
		t.Fatalf("%d checkpoints checked; violations: %v", checked, violations)
	}
}

// TestBatchNotAcknowledgedWhileDatabaseIsDown: with the database gone past
// sink.retryMaxWaitMillis, the child exits without a status and without a
// checkpoint, so the daemon redelivers the batch after its restart.
func TestBatchNotAcknowledgedWhileDatabaseIsDown(t *testing.T) {
	pgtest.Each(t, testBatchNotAcknowledgedWhileDatabaseIsDown)
}

func testBatchNotAcknowledgedWhileDatabaseIsDown(t *testing.T, db pgtest.DB) {
	pg := pgtest.StartServer(t, db.Name)
	table := uniqueTable(t)
	child := startChild(t, map[string]string{"sink.databaseUrl": pg.URL(), "sink.table": table, "sink.checkpointIntervalMillis": "0",
		// The deadline bounds Open's CREATE TABLEs too, which take a busy
		// CrateDB a few seconds.
		"sink.retryMaxWaitMillis": "8000", "sink.retryMaxBackoffMillis": "500"}, nil)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	if err := child.ProcessRecords(ctx, batch(0, 10, jsonPayload), nil); err != nil {
		t.Fatal(err)
	}
	if err := child.ProcessRecords(ctx, batch(10, 10, jsonPayload), nil); err != nil {
		t.Fatal(err) // checkpoints the first batch, stores the second in the background
	}
	first, _ := child.LastCheckpoint()
	if first.Sequence != batch(0, 10, jsonPayload)[9].SequenceNumber {
		t.Fatalf("checkpoint %+v, want the end of the first batch", first)
	}
	storedBeforeStop := batch(10, 10, jsonPayload)[9].SequenceNumber
	pg.Stop()
	// The second batch may still have been stored before the stop; the
	// third cannot be. So the child answers at most one more batch, then
	// stops answering, and never checkpoints past what was stored.
	var err error
	for b := 2; b < 4 && err == nil; b++ {
		err = child.ProcessRecords(ctx, batch(b*10, 10, jsonPayload), nil)
	}
	if err == nil {
		t.Fatal("the child kept acknowledging batches although the database was down")
	}
	last, _ := child.LastCheckpoint()
	if last != first && last.Sequence != storedBeforeStop {
		t.Fatalf("checkpoint moved to %+v while the database was down", last)
	}
	exit, _ := child.Close()
	if exit.Code != 1 {
		t.Fatalf("exit code %d, want 1", exit.Code)
	}
	// No restart: the server is removed when the test ends.
}

// TestLostLeaseStopsCheckpointing: after a ShutdownException the child keeps
// storing records but sends no more checkpoints for a lease it does not own.
func TestLostLeaseStopsCheckpointing(t *testing.T) {
	pgtest.Each(t, testLostLeaseStopsCheckpointing)
}

func testLostLeaseStopsCheckpointing(t *testing.T, db pgtest.DB) {
	url := db.URL
	table := uniqueTable(t)
	child := startChild(t, map[string]string{"sink.databaseUrl": url, "sink.table": table, "sink.checkpointIntervalMillis": "0"},
		func(*string, *int64) string { return daemonsim.ErrShutdown })
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 3; b++ {
		if err := child.ProcessRecords(ctx, batch(b*10, 10, jsonPayload), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := child.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	if n := child.CheckpointRequests(); n != 1 {
		t.Fatalf("%d checkpoint requests after ShutdownException, want 1", n)
	}
	if n := count(t, db, []string{table}, `SELECT count(*) FROM `+table); n != 30 {
		t.Fatalf("%d rows, want 30", n)
	}
}

func TestDiscardModeNeedsNoDatabase(t *testing.T) {
	child := startChild(t, map[string]string{"sink.mode": "discard", "sink.checkpointIntervalMillis": "0"}, nil)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	recs := batch(0, 1000, jsonPayload)
	if err := child.ProcessRecords(ctx, recs, nil); err != nil {
		t.Fatal(err)
	}
	if err := child.ShardEnded(ctx); err != nil {
		t.Fatal(err)
	}
	last, _ := child.LastCheckpoint()
	if last.Sequence != daemonsim.SentinelShardEnd {
		t.Fatalf("checkpoint %+v, want SHARD_END", last)
	}
	if exit, err := child.Close(); err != nil || exit.Code != 0 {
		t.Fatalf("exit %+v %v", exit, err)
	}
}

// TestReplayChangeDeadLetters runs the operator's path for change events:
// a DMS record with a column nobody configured is dead-lettered while the
// others are applied; after the column is added to the table and to the
// configuration, `kinesis-cratedb replay` applies it and clears the
// dead-letter table.
func TestReplayChangeDeadLetters(t *testing.T) {
	pgtest.Each(t, testReplayChangeDeadLetters)
}

func testReplayChangeDeadLetters(t *testing.T, db pgtest.DB) {
	url := db.URL
	base := uniqueTable(t)
	target := base + "_orders"
	settings := func(types string) map[string]string {
		return map[string]string{"sink.databaseUrl": url, "sink.table": base, "sink.format": "dms",
			"sink.dms.tables": "public.orders:id", "sink.dms.mapping": "direct", "sink.dms.columnTypes": types,
			"sink.dms.tableMapping": "public.orders=" + target}
	}
	child := startChild(t, settings("public.orders.id:BIGINT, public.orders.total:DOUBLE"), nil)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000005", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	recs := batch(0, 3, func(i int) string {
		note := ""
		if i == 1 {
			note = `,"note":"gift wrap"`
		}
		return fmt.Sprintf(`{"data":{"id":%d,"total":%d.5%s},"metadata":{"timestamp":"2024-07-21T15:04:05.%06dZ",`+
			`"record-type":"data","operation":"insert","partition-key-type":"primary-key","schema-name":"public","table-name":"orders"}}`, i, i, note, i)
	})
	if err := child.ProcessRecords(ctx, recs, nil); err != nil {
		t.Fatal(err)
	}
	if err := child.LeaseLost(ctx); err != nil {
		t.Fatal(err)
	}
	if exit, err := child.Close(); err != nil || exit.Code != 0 {
		t.Fatalf("exit %+v, %v", exit, err)
	}
	if n := count(t, db, []string{target}, `SELECT count(*) FROM `+target); n != 2 {
		t.Fatalf("%d rows before the replay, want 2", n)
	}
	if n := count(t, db, []string{base + "_deadletter"}, `SELECT count(*) FROM `+base+`_deadletter WHERE error LIKE '%note%'`); n != 1 {
		t.Fatalf("%d dead letters naming the column, want 1", n)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `ALTER TABLE `+target+` ADD COLUMN note TEXT`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fixed := settings("public.orders.id:BIGINT, public.orders.total:DOUBLE, public.orders.note:TEXT")
	fixed["sink.logFile"] = filepath.Join(dir, "record_processor.log")
	var lines []string
	for k, v := range fixed {
		lines = append(lines, k+" = "+v)
	}
	props := filepath.Join(dir, "fixed.properties")
	if err := os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(childBinary, "replay", "--properties", props).CombinedOutput()
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Replayed:1") {
		t.Errorf("replay reported %s", out)
	}
	if n := count(t, db, []string{target}, `SELECT count(*) FROM `+target+` WHERE id = 1 AND note = 'gift wrap' AND total = 1.5`); n != 1 {
		t.Fatalf("replayed row missing")
	}
	if n := count(t, db, []string{base + "_deadletter"}, `SELECT count(*) FROM `+base+`_deadletter`); n != 0 {
		t.Fatalf("%d dead letters left", n)
	}
}

// TestChildStoresLargeBatchesInParts gives the child batches far larger than
// sink.batchMaxBytes: it stores each in parts as it reads it, checkpoints only
// at a batch's end and never ahead of what is stored, and answers each batch
// with one status.
func TestChildStoresLargeBatchesInParts(t *testing.T) {
	pgtest.Each(t, testChildStoresLargeBatchesInParts)
}

func testChildStoresLargeBatchesInParts(t *testing.T, db pgtest.DB) {
	table := uniqueTable(t)
	var at []string
	var ahead []string
	cp := func(seq *string, _ *int64) string {
		if seq == nil {
			return ""
		}
		at = append(at, *seq)
		stored := count(t, db, []string{table}, `SELECT count(*) FROM `+table)
		if want, _ := strconv.Atoi((*seq)[len(*seq)-10:]); stored < want+1 {
			ahead = append(ahead, fmt.Sprintf("checkpoint at record %d with %d stored", want, stored))
		}
		return ""
	}
	child := startChild(t, map[string]string{"sink.databaseUrl": db.URL, "sink.table": table,
		"sink.checkpointIntervalMillis": "0", "sink.batchMaxBytes": "1024"}, cp)
	ctx := context.Background()
	if err := child.Initialize(ctx, "shardId-000000000005", ptr("TRIM_HORIZON"), ptr(int64(0))); err != nil {
		t.Fatal(err)
	}
	const batches, size = 3, 300 // ~12 KB of payload per batch: a dozen parts each
	var ends []string
	for b := range batches {
		recs := batch(b*size, size, jsonPayload)
		if err := child.ProcessRecords(ctx, recs, ptr(int64(7))); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, recs[size-1].SequenceNumber)
	}
	if err := child.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, []string{table}, `SELECT count(DISTINCT seq) FROM `+table); n != batches*size {
		t.Fatalf("%d distinct records stored, want %d", n, batches*size)
	}
	if len(ahead) > 0 {
		t.Fatalf("checkpoints ahead of the data: %v", ahead)
	}
	// One checkpoint per batch at most (at its last part, covering what is
	// stored by then: with sink.pipeline that is the part before), and the
	// shutdown's at the very end.
	if len(at) == 0 || len(at) > batches+1 || at[len(at)-1] != ends[len(ends)-1] {
		t.Fatalf("checkpoints %v, want at most %d, the last at %s", at, batches+1, ends[len(ends)-1])
	}
	if err := child.LeaseLost(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := child.Close()
	if err != nil || exit.Code != 0 || len(child.Violations()) != 0 {
		t.Fatalf("exit %+v, %v, violations %v", exit, err, child.Violations())
	}
}
