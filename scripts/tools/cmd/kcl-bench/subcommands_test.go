package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

func TestVisiblePrefix(t *testing.T) {
	tests := []struct {
		name                string
		from, upTo, visible int
		maxProbes           int
	}{
		{name: "nothing pending", from: 5, upTo: 5, visible: 5, maxProbes: 0},
		{name: "all new visible", from: 0, upTo: 1000, visible: 1000, maxProbes: 1},
		{name: "none new visible", from: 10, upTo: 1000, visible: 10, maxProbes: 11},
		{name: "some visible", from: 0, upTo: 1000, visible: 377, maxProbes: 11},
		{name: "all but the last", from: 3, upTo: 9, visible: 8, maxProbes: 4},
		{name: "one pending, not visible", from: 4, upTo: 5, visible: 4, maxProbes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probes := 0
			got, err := visiblePrefix(tt.from, tt.upTo, func(i int) (bool, error) {
				probes++
				if i < tt.from || i >= tt.upTo {
					t.Fatalf("probed %d outside the pending range [%d, %d)", i, tt.from, tt.upTo)
				}
				return i < tt.visible, nil
			})
			if err != nil || got != tt.visible {
				t.Fatalf("visiblePrefix = %d, %v; want %d", got, err, tt.visible)
			}
			if probes > tt.maxProbes {
				t.Fatalf("%d probes, want at most %d", probes, tt.maxProbes)
			}
		})
	}
	boom := errors.New("boom")
	if got, err := visiblePrefix(2, 9, func(int) (bool, error) { return false, boom }); !errors.Is(err, boom) || got != 2 {
		t.Fatalf("on error: %d, %v; want 2, boom", got, err)
	}
}

func TestParseSubcommandFlags(t *testing.T) {
	t.Setenv("BENCH_DATABASE_URL", "")
	t.Setenv("KINESIS_ENDPOINT", "")
	t.Setenv("DYNAMODB_ENDPOINT", "")
	if _, err := parsePgxBulkFlags(nil); err == nil || !strings.Contains(err.Error(), "--database") {
		t.Fatalf("pgx-bulk without a database: %v", err)
	}
	c, err := parsePgxBulkFlags([]string{"--database", "postgres://x", "--records", "7", "--chunk", "3"})
	if err != nil || c.records != 7 || c.chunk != 3 || c.table != "bench_pgx" {
		t.Fatalf("pgx-bulk: %+v, %v", c, err)
	}
	if _, err := parsePgxBulkFlags([]string{"--database", "x", "--chunk", "0"}); err == nil {
		t.Fatal("pgx-bulk accepted --chunk 0")
	}
	base := []string{"--kinesis", "http://k", "--dynamodb", "http://d", "--database", "postgres://x"}
	if _, err := parseE2EFlags(base[:4]); err == nil {
		t.Fatal("e2e accepted a missing --database")
	}
	e, err := parseE2EFlags(append(base, "--watch", "kinesis-mock=/run/k.pid", "--property", "sink.batchMaxRecords = 10"))
	if err != nil || len(e.watch) != 1 || e.watch[0] != (watchSpec{"kinesis-mock", "/run/k.pid"}) || e.extra[0] != "sink.batchMaxRecords = 10" {
		t.Fatalf("e2e: %+v, %v", e, err)
	}
	if _, err := parseE2EFlags(append(base, "--watch", "nopidfile")); err == nil {
		t.Fatal("e2e accepted --watch without =")
	}
}

func TestProcSampling(t *testing.T) {
	me, ok := readProc(os.Getpid())
	if !ok || me.ppid != os.Getppid() {
		t.Fatalf("readProc(self) = %+v, %v; want parent %d", me, ok, os.Getppid())
	}
	// Burn a little CPU so that the sample moves.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	pidFile := filepath.Join(t.TempDir(), "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n/var/lib/pg\n1700000000\n", os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readPidFile(pidFile); got != os.Getpid() {
		t.Fatalf("readPidFile = %d, want %d", got, os.Getpid())
	}
	before := cpuSample{"me": {os.Getpid(): 0}}
	after := sampleCPU([]watchSpec{{"me", pidFile}}, -1)
	shares := cpuShares(before, after, time.Second)
	if shares["me"].Seconds <= 0 || shares["me"].Cores != shares["me"].Seconds {
		t.Fatalf("cpu of this process: %+v", shares["me"])
	}
}

// sinkTable creates a table of the sink's layout (the columns the children
// write) and drops it after the test.
func sinkTable(t *testing.T, db pgtest.DB, conn *pgx.Conn, name string) pgx.Identifier {
	t.Helper()
	ctx := context.Background()
	payload := "JSONB"
	if db.Crate() {
		payload = "OBJECT(DYNAMIC)"
	}
	_, err := conn.Exec(ctx, `CREATE TABLE `+name+` (shard_id TEXT NOT NULL, seq TEXT NOT NULL, sub_seq BIGINT NOT NULL,
		partition_key TEXT, arrived_at TIMESTAMPTZ, payload `+payload+`, written_at TIMESTAMPTZ DEFAULT CURRENT_TIMESTAMP,
		PRIMARY KEY (shard_id, seq, sub_seq))`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return pgx.Identifier{name}
}

// PostgreSQL only: pgx-bulk measures pgx CopyFrom, and CrateDB has no COPY
// sub-protocol.
func TestPgxBulkCopiesEveryRecord(t *testing.T) {
	db := pgtest.Get(t, pgtest.PostgreSQL)
	url := db.URL
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	table := fmt.Sprintf("kcl_bench_pgx_%d", time.Now().UnixNano())
	sinkTable(t, db, conn, table)
	res, err := pgxBulk(ctx, pgxBulkConfig{name: "t", url: url, table: "public." + table, records: 2500, size: 400, seed: 3, chunk: 1000, lineBatch: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinctIDs int
	var minLen int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT payload->>'id'), min(length(payload::text)) FROM `+table).Scan(&rows, &distinctIDs, &minLen); err != nil {
		t.Fatal(err)
	}
	if rows != 2500 || distinctIDs != 2500 || minLen < 300 {
		t.Fatalf("%d rows, %d distinct ids, shortest payload %d", rows, distinctIDs, minLen)
	}
	if res.Batches != 3 || res.RecordsPerSec <= 0 || res.InputBytes <= 2500*400 || res.LatencyMs.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	// A second run into the same table must refuse: the rate of a COPY
	// into a non-empty table is not the one measured.
	if _, err := pgxBulk(ctx, pgxBulkConfig{url: url, table: table, records: 10, size: 400, chunk: 10, lineBatch: 10}); err == nil ||
		!strings.Contains(err.Error(), "must be empty") {
		t.Fatalf("second run: %v", err)
	}
}

func TestTrackerSeesRowsAsTheyCommit(t *testing.T) {
	pgtest.Each(t, testTrackerSeesRowsAsTheyCommit)
}

func testTrackerSeesRowsAsTheyCommit(t *testing.T, db pgtest.DB) {
	url := db.URL
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	table := sinkTable(t, db, conn, fmt.Sprintf("kcl_bench_track_%d", time.Now().UnixNano()))
	emptyObject := `'{}'`
	if db.Crate() {
		emptyObject = `{}`
	}
	tr := newTracker()
	now := time.Now()
	for i := range 6 {
		tr.add("shard-a", fmt.Sprintf("49%03d", i), now, now)
	}
	tr.add("shard-b", "49000", now, now)
	insert := func(shard string, seqs ...string) {
		t.Helper()
		for _, s := range seqs {
			if _, err := conn.Exec(ctx, "INSERT INTO "+table.Sanitize()+" (shard_id, seq, sub_seq, payload) VALUES ($1, $2, 0, "+emptyObject+")", shard, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert("shard-a", "49000", "49001", "49002")
	pollConn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pollConn.Close(context.Background())
	pollCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.poll(pollCtx, pollConn, table, 5*time.Millisecond) }()
	if err := tr.waitVisible(ctx, 3, nil); err != nil {
		t.Fatal(err)
	}
	insert("shard-a", "49003", "49004", "49005")
	insert("shard-b", "49000")
	if err := tr.waitVisible(ctx, 7, nil); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("poll: %v", err)
	}
	_, vis := tr.phaseLatencies(0, 7)
	if vis.P50 < 0 || tr.lastVisible().Before(now) {
		t.Fatalf("latencies %+v, last visible %v", vis, tr.lastVisible())
	}
}

// Every pgx-bulk method writes every record, on PostgreSQL
// (TEST_DATABASE_URL) and CrateDB (TEST_CRATEDB_URL), into a table of the
// sink's layout; COPY is refused on CrateDB.
func TestPgxBulkMethods(t *testing.T) {
	for _, db := range []struct{ name, env string }{{"postgresql", "TEST_DATABASE_URL"}, {"cratedb", "TEST_CRATEDB_URL"}} {
		t.Run(db.name, func(t *testing.T) {
			url := os.Getenv(db.env)
			if url == "" {
				t.Skip(db.env + " not set")
			}
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			crate := db.name == "cratedb"
			payload := "JSONB"
			if crate {
				payload = "OBJECT(DYNAMIC)"
			}
			for _, m := range bulkMethods {
				t.Run(m, func(t *testing.T) {
					table := fmt.Sprintf("kcl_bench_%s_%d", strings.ReplaceAll(m, "-", "_"), time.Now().UnixNano())
					if _, err := conn.Exec(ctx, `CREATE TABLE `+table+` (shard_id TEXT NOT NULL, seq TEXT NOT NULL, sub_seq BIGINT NOT NULL,
						partition_key TEXT, arrived_at TIMESTAMPTZ, payload `+payload+`, PRIMARY KEY (shard_id, seq, sub_seq))`); err != nil {
						t.Fatal(err)
					}
					defer func() { _, _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) }()
					_, err := pgxBulk(ctx, pgxBulkConfig{url: url, table: table, method: m, records: 1500, size: 400, seed: 3,
						chunk: 600, valuesRows: 250, lineBatch: 1000})
					if crate && (m == methodCopy || m == methodCopyBinary) {
						if err == nil || !strings.Contains(err.Error(), "no COPY") {
							t.Fatalf("COPY on CrateDB: %v", err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if crate {
						if _, err := conn.Exec(ctx, "REFRESH TABLE "+table); err != nil {
							t.Fatal(err)
						}
					}
					var rows int
					if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&rows); err != nil || rows != 1500 {
						t.Fatalf("%d rows, %v", rows, err)
					}
				})
			}
		})
	}
}
