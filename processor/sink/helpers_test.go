package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/internal/pgtest"
	"github.com/rs/zerolog"
)

// testDatabaseURL returns the PostgreSQL to test against. Without one the
// integration tests skip, except under CI=true where that is a failure.
func testDatabaseURL(t testing.TB) string { return pgtest.DatabaseURL(t) }

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
	cfg := Config{
		Table:         "public." + uniqueTable(t),
		CreateTables:  true,
		Logger:        testLogger(t),
		Retry:         RetryPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxWait: 30 * time.Second},
		ProgressTable: "",
	}
	cfg.ProgressTable = cfg.Table + "_progress"
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := Open(ctx, url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The server may be gone in tests that stop it; dropping is best effort.
		for _, tb := range []tableName{w.target, w.deadLetter, w.progress} {
			_, _ = w.pool.Exec(ctx, "DROP TABLE IF EXISTS "+tb.sql())
		}
		w.Close()
	})
	return w
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
		rows[i] = Row{
			ShardID:        shard,
			SequenceNumber: fmt.Sprintf("4959%056d", i),
			PartitionKey:   fmt.Sprintf("pk-%d", i%17),
			ArrivedAt:      base.Add(time.Duration(i) * time.Millisecond),
			Payload:        p,
			Raw:            p,
		}
	}
	return rows
}

func count(t testing.TB, conn interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, table tableName) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table.sql()).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
