package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// pgxBulkConfig is the "pgx-bulk" subcommand: the database's own limit for
// the rows a child writes, measured without the protocol, decoding or
// idempotency.
type pgxBulkConfig struct {
	name      string
	url       string
	table     string
	records   int
	size      int
	seed      int64
	chunk     int
	lineBatch int
	jsonOut   string
}

func parsePgxBulkFlags(args []string) (pgxBulkConfig, error) {
	var c pgxBulkConfig
	fs := flag.NewFlagSet("kcl-bench pgx-bulk", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kcl-bench pgx-bulk --database URL [flags]\n\n"+
			"COPYs the generated records (the same ones a kcl-bench run sends) straight into an\n"+
			"existing, empty table of the sink's layout with pgx CopyFrom, one COPY per chunk on\n"+
			"one connection, and reports rows/s like a child run.")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.name, "name", "pgx-bulk", "label of this run in the result")
	fs.StringVar(&c.url, "database", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL URL (default $BENCH_DATABASE_URL)")
	fs.StringVar(&c.table, "table", "bench_pgx", "[schema.]table with the sink's columns; it must exist and be empty")
	fs.IntVar(&c.records, "records", 200000, "records to insert")
	fs.IntVar(&c.size, "size", 1024, "JSON payload bytes per record")
	fs.Int64Var(&c.seed, "seed", 1, "record generator seed")
	fs.IntVar(&c.chunk, "chunk", 5000, "rows per COPY (the sink's batchMaxRecords default)")
	fs.IntVar(&c.lineBatch, "batch", 10000, "records per processRecords line, only to report the equivalent protocol MB/s")
	fs.StringVar(&c.jsonOut, "json", "", "also write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.url == "":
		return c, errors.New("--database (or BENCH_DATABASE_URL) is required")
	case c.records <= 0 || c.chunk <= 0 || c.size <= 0 || c.lineBatch <= 0:
		return c, errors.New("--records, --chunk, --batch and --size must be positive")
	}
	return c, nil
}

// pgxBulk generates the records, builds every row before the clock starts,
// then COPYs them chunk by chunk. The "batch latency" it reports is the
// round trip of one COPY.
func pgxBulk(ctx context.Context, c pgxBulkConfig) (*Result, error) {
	records, err := daemonsim.Generator{Seed: c.seed, Size: c.size}.Records(c.records)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: c.name, Child: []string{"pgx CopyFrom", c.table}, Records: c.records, RecordSize: c.size,
		BatchSize: c.chunk, StartedAt: time.Now().UTC()}
	zero := int64(0)
	for _, b := range daemonsim.Batches(records, c.lineBatch, &zero) {
		res.InputBytes += int64(len(b.Line))
	}
	rows := make([][]any, len(records))
	for i, r := range records {
		rows[i] = []any{daemonsim.DefaultShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey,
			pgtype.Timestamptz{Time: time.UnixMilli(*r.ApproximateArrivalTimestamp).UTC(), Valid: true}, r.Data}
	}
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier(strings.Split(c.table, "."))
	if err := expectEmpty(ctx, conn, ident); err != nil {
		return nil, err
	}
	cols := []string{"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"}
	cpu0 := selfCPU()
	lat := make([]time.Duration, 0, len(rows)/c.chunk+1)
	start := time.Now()
	for lo := 0; lo < len(rows); lo += c.chunk {
		part := rows[lo:min(lo+c.chunk, len(rows))]
		t0 := time.Now()
		n, err := conn.CopyFrom(ctx, ident, cols, pgx.CopyFromRows(part))
		if err != nil {
			return res, fmt.Errorf("copy rows %d..%d: %w", lo, lo+len(part)-1, err)
		}
		if int(n) != len(part) {
			return res, fmt.Errorf("copy rows %d..%d: %d copied", lo, lo+len(part)-1, n)
		}
		lat = append(lat, time.Since(t0))
	}
	wall := time.Since(start)
	res.Batches = len(lat)
	res.WallSeconds = wall.Seconds()
	res.RecordsPerSec = float64(c.records) / wall.Seconds()
	res.MBPerSec = float64(res.InputBytes) / 1e6 / wall.Seconds()
	res.LatencyMs = latencies(lat)
	res.CPUSeconds = (selfCPU() - cpu0).Seconds()
	res.CheckpointAtEnd = true // nothing to checkpoint: every row is committed
	return res, nil
}

func expectEmpty(ctx context.Context, conn *pgx.Conn, table pgx.Identifier) error {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table.Sanitize()).Scan(&n); err != nil {
		return fmt.Errorf("table %s (create it with the sink's layout, e.g. kinesis-cratedb check): %w", table.Sanitize(), err)
	}
	if n != 0 {
		return fmt.Errorf("table %s holds %d rows; it must be empty", table.Sanitize(), n)
	}
	return nil
}

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
