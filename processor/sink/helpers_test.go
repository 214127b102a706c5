package sink

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/rs/zerolog"
)

// testDatabaseURL returns the PostgreSQL to test against (the benchmarks).
// Without one they skip, except under CI=true where that is a failure.
func testDatabaseURL(t testing.TB) string { return pgtest.DatabaseURL(t) }

// methodsFor lists the write methods a database takes: CrateDB has no COPY;
// its unnest falls back to the batch (insertCrateUnnest).
func methodsFor(db pgtest.DB) []writeMethod {
	if db.Crate() {
		return []writeMethod{methodUnnest, methodBatch}
	}
	return postgresMethods
}

// refresh makes the writer's recent writes to tables (default: the target
// and dead-letter tables) visible to queries (CrateDB).
func refresh(t testing.TB, ww writer, tables ...tableName) {
	w := ww.base()
	t.Helper()
	if w.Dialect() != CrateDB {
		return
	}
	if len(tables) == 0 {
		tables = []tableName{w.target, w.deadLetter}
	}
	for _, tb := range tables {
		if _, err := w.pool.Exec(context.Background(), "REFRESH TABLE "+tb.sql()); err != nil {
			t.Fatalf("refresh %s: %v", tb, err)
		}
	}
}

// rawOf is a dead letter's raw column as read back: CrateDB keeps it as
// base64 text.
func rawOf(t testing.TB, ww writer, stored []byte) []byte {
	w := ww.base()
	t.Helper()
	if w.Dialect() != CrateDB {
		return stored
	}
	b, err := base64.StdEncoding.DecodeString(string(stored))
	if err != nil {
		t.Fatalf("dead letter raw %q is not base64: %v", stored, err)
	}
	return b
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// uniqueTable is a fresh table name per test (and per run).
func uniqueTable(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "t_" + name + "_" + hex.EncodeToString(b)
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// openTest opens a Writer with fresh tables and drops them afterwards.
func openTest(t testing.TB, url string, mutate func(*Config)) *Writer {
	t.Helper()
	cfg := testConfig(t, mutate)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := Open(ctx, url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	dropAtCleanup(t, w.core)
	return w
}

// testConfig is a Config on fresh tables named after the test.
func testConfig(t testing.TB, mutate func(*Config)) Config {
	cfg := Config{
		Table:        "public." + uniqueTable(t),
		CreateTables: true,
		Logger:       testLogger(t),
		Retry:        RetryPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxWait: 30 * time.Second},
	}
	cfg.ProgressTable = cfg.Table + "_progress"
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// dropAtCleanup drops c's tables and closes it when the test ends.
func dropAtCleanup(t testing.TB, c *core, more ...func(ctx context.Context)) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, f := range more {
			f(ctx)
		}
		// The server may be gone in tests that stop it; dropping is best effort.
		for _, tb := range []tableName{c.target, c.deadLetter, c.progress} {
			_, _ = c.pool.Exec(ctx, "DROP TABLE IF EXISTS "+tb.sql())
		}
		c.Close()
	})
}

// payloadOf builds a JSON object of about size bytes.
func payloadOf(i, size int) []byte {
	head := fmt.Sprintf(`{"id":%d,"kind":"bench","nested":{"a":[1,2,3],"b":true},"pad":"`, i)
	padLen := max(size-len(head)-2, 0)
	return []byte(head + strings.Repeat("x", padLen) + `"}`)
}

func makeRows(shard string, n, size int) []Row {
	rows := make([]Row, n)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range rows {
		p := payloadOf(i, size)
		rows[i] = Row{Source: record.Source{ShardID: shard, SequenceNumber: fmt.Sprintf("4959%056d", i), PartitionKey: fmt.Sprintf("pk-%d", i%17), ArrivedAt: base.Add(time.Duration(i) * time.Millisecond), Data: p}, Payload: p}
	}
	return rows
}

// count counts the rows of a table of w (refreshed first on CrateDB).
func count(t testing.TB, ww writer, table tableName) int {
	w := ww.base()
	t.Helper()
	refresh(t, w, table)
	var n int
	if err := w.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table.sql()).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// writer is a Writer or a ChangeWriter, for helpers that need their core.
type writer interface{ base() *core }

func (c *core) base() *core { return c }
