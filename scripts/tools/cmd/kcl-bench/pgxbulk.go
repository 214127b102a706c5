package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// pgxBulkConfig is the "pgx-bulk" subcommand: the database's own limit for
// the rows a child writes, measured without the protocol, decoding or
// fitting.
type pgxBulkConfig struct {
	name       string
	url        string
	table      string
	method     string
	records    int
	size       int
	seed       int64
	chunk      int
	valuesRows int
	aux        bool
	lineBatch  int
	jsonOut    string
}

// The write methods of pgx-bulk. Each sends one chunk per round trip (one
// Sync) on one connection, as the child does.
const (
	// methodCopyBinary: COPY … FROM STDIN (FORMAT binary), rows encoded by
	// hand like processor/sink/copy.go (PostgreSQL).
	methodCopyBinary = "copy-binary"
	// methodCopy: pgx's generic CopyFrom (PostgreSQL).
	methodCopy = "copy"
	// methodBatch: a pgx.Batch of single-row INSERT … ON CONFLICT DO
	// NOTHING, sent with one Sync; CrateDB runs it as one bulk operation.
	methodBatch = "batch"
	// methodUnnest: one INSERT … SELECT … FROM UNNEST(arrays) per chunk.
	methodUnnest = "unnest"
	// methodValues: multi-row INSERT … VALUES of --values-rows rows each,
	// all of a chunk's statements in one pgx.Batch.
	methodValues = "values"
)

var bulkMethods = []string{methodCopyBinary, methodCopy, methodBatch, methodUnnest, methodValues}

func parsePgxBulkFlags(args []string) (pgxBulkConfig, error) {
	var c pgxBulkConfig
	fs := flag.NewFlagSet("kcl-bench pgx-bulk", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kcl-bench pgx-bulk --database URL [flags]\n\n"+
			"Writes the generated records (the same ones a kcl-bench run sends) straight into an\n"+
			"existing, empty table of the sink's layout (kinesis-cratedb check makes one), one chunk\n"+
			"per round trip on one connection, and reports rows/s like a child run. PostgreSQL or\n"+
			"CrateDB (detected); CrateDB has no COPY.")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.name, "name", "pgx-bulk", "label of this run in the result")
	fs.StringVar(&c.url, "database", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL or CrateDB URL (default $BENCH_DATABASE_URL)")
	fs.StringVar(&c.table, "table", "bench_pgx", "[schema.]table with the sink's columns; it must exist and be empty")
	fs.StringVar(&c.method, "method", "", "one of "+strings.Join(bulkMethods, ", ")+" (default: copy-binary on PostgreSQL, batch on CrateDB)")
	fs.IntVar(&c.records, "records", 200000, "records to insert")
	fs.IntVar(&c.size, "size", 1024, "JSON payload bytes per record")
	fs.Int64Var(&c.seed, "seed", 1, "record generator seed")
	fs.IntVar(&c.chunk, "chunk", 10000, "rows per round trip (the child's: sink.batchMaxRecords and the daemon's batch)")
	fs.IntVar(&c.valuesRows, "values-rows", 1000, "rows per multi-row VALUES statement (method values)")
	fs.BoolVar(&c.aux, "aux", false, "method batch: the sink's exact statement, with payload_aux and payload_text (NULL)")
	fs.IntVar(&c.lineBatch, "batch", 10000, "records per processRecords line, only to report the equivalent protocol MB/s")
	fs.StringVar(&c.jsonOut, "json", "", "also write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.url == "":
		return c, errors.New("--database (or BENCH_DATABASE_URL) is required")
	case c.records <= 0 || c.chunk <= 0 || c.size <= 0 || c.lineBatch <= 0 || c.valuesRows <= 0:
		return c, errors.New("--records, --chunk, --batch, --values-rows and --size must be positive")
	case c.method != "" && !slices.Contains(bulkMethods, c.method):
		return c, fmt.Errorf("--method %q: must be one of %s", c.method, strings.Join(bulkMethods, ", "))
	}
	return c, nil
}

// bulkRow is one generated record as the columns the child writes.
type bulkRow struct {
	shard, seq, pkey string
	subSeq           int64
	arrived          time.Time
	payload          []byte
}

// pgxBulk generates the records, builds every row before the clock starts,
// then writes them chunk by chunk. The "batch latency" it reports is the
// round trip of one chunk.
func pgxBulk(ctx context.Context, c pgxBulkConfig) (*Result, error) {
	records, err := daemonsim.Generator{Seed: c.seed, Size: c.size}.Records(c.records)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: c.name, Records: c.records, RecordSize: c.size, BatchSize: c.chunk, StartedAt: time.Now().UTC()}
	zero := int64(0)
	for _, b := range daemonsim.Batches(records, c.lineBatch, &zero) {
		res.InputBytes += int64(len(b.Line))
	}
	rows := make([]bulkRow, len(records))
	for i, r := range records {
		rows[i] = bulkRow{shard: daemonsim.DefaultShardID, seq: r.SequenceNumber, subSeq: r.SubSequenceNumber,
			pkey: r.PartitionKey, arrived: time.UnixMilli(*r.ApproximateArrivalTimestamp).UTC(), payload: r.Data}
	}
	records = nil
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	crate := conn.PgConn().ParameterStatus("crate_version") != ""
	if c.method == "" {
		c.method = methodCopyBinary
		if crate {
			c.method = methodBatch
		}
	}
	if crate && (c.method == methodCopy || c.method == methodCopyBinary) {
		return nil, fmt.Errorf("--method %s: CrateDB has no COPY FROM STDIN", c.method)
	}
	ident := pgx.Identifier(strings.Split(c.table, "."))
	if err := expectEmpty(ctx, conn, ident, crate); err != nil {
		return nil, err
	}
	dbName := "PostgreSQL"
	if crate {
		dbName = "CrateDB"
	}
	what := c.method
	if c.method == methodValues {
		what += fmt.Sprintf(" (%d rows per statement)", c.valuesRows)
	}
	res.Child = []string{"pgx " + what, dbName + " " + c.table}
	w := bulkWriter{conn: conn, table: ident, crate: crate, valuesRows: c.valuesRows, aux: c.aux}
	if c.aux {
		res.Child[0] += " (with payload_aux, payload_text)"
	}
	write := map[string]func(context.Context, []bulkRow) error{
		methodCopyBinary: w.copyBinary, methodCopy: w.copyFrom, methodBatch: w.batch,
		methodUnnest: w.unnest, methodValues: w.values,
	}[c.method]
	cpu0 := selfCPU()
	lat := make([]time.Duration, 0, len(rows)/c.chunk+1)
	start := time.Now()
	for lo := 0; lo < len(rows); lo += c.chunk {
		part := rows[lo:min(lo+c.chunk, len(rows))]
		t0 := time.Now()
		if err := write(ctx, part); err != nil {
			return res, fmt.Errorf("%s rows %d..%d: %w", c.method, lo, lo+len(part)-1, err)
		}
		lat = append(lat, time.Since(t0))
	}
	wall := time.Since(start)
	res.Batches = len(lat)
	res.WallSeconds = wall.Seconds()
	res.StreamSeconds = wall.Seconds()
	res.RecordsPerSec = float64(c.records) / wall.Seconds()
	res.MBPerSec = float64(res.InputBytes) / 1e6 / wall.Seconds()
	res.LatencyMs = latencies(lat)
	res.CPUSeconds = (selfCPU() - cpu0).Seconds()
	res.CheckpointAtEnd = true // nothing to checkpoint: every row is committed
	return res, nil
}

// bulkWriter writes chunks of rows by one method.
type bulkWriter struct {
	conn       *pgx.Conn
	table      pgx.Identifier
	crate      bool
	valuesRows int
	aux        bool
	buf        []byte // copyBinary's reused encoding buffer
}

var bulkColumns = []string{"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"}

const bulkColumnList = `"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"`

// payloadCast is the payload parameter's type: CrateDB's object or jsonb.
func (w *bulkWriter) payloadCast() string {
	if w.crate {
		return "OBJECT"
	}
	return "JSONB"
}

func (w *bulkWriter) copyFrom(ctx context.Context, rows []bulkRow) error {
	n, err := w.conn.CopyFrom(ctx, w.table, bulkColumns, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		return []any{r.shard, r.seq, r.subSeq, r.pkey, pgtype.Timestamptz{Time: r.arrived, Valid: true}, r.payload}, nil
	}))
	if err == nil && int(n) != len(rows) {
		err = fmt.Errorf("%d of %d rows copied", n, len(rows))
	}
	return err
}

var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// copyBinary encodes the chunk in binary COPY format (jsonb: version byte 1
// and the text) into one reused buffer and sends it.
func (w *bulkWriter) copyBinary(ctx context.Context, rows []bulkRow) error {
	b := append(w.buf[:0], "PGCOPY\n\377\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"...)
	field := func(b, v []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	for i := range rows {
		r := &rows[i]
		b = binary.BigEndian.AppendUint16(b, 6)
		b = field(b, []byte(r.shard))
		b = field(b, []byte(r.seq))
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(r.subSeq))
		b = field(b, []byte(r.pkey))
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(r.arrived.Sub(pgEpoch).Microseconds()))
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.payload)+1))
		b = append(b, 1)
		b = append(b, r.payload...)
	}
	b = append(b, 0xff, 0xff)
	w.buf = b
	tag, err := w.conn.PgConn().CopyFrom(ctx, bytes.NewReader(b),
		"COPY "+w.table.Sanitize()+" ("+bulkColumnList+") FROM STDIN (FORMAT binary)")
	if err == nil && int(tag.RowsAffected()) != len(rows) {
		err = fmt.Errorf("%d of %d rows copied", tag.RowsAffected(), len(rows))
	}
	return err
}

// checkTag fails on CrateDB's per-row bulk failure (a negative count).
func checkTag(tag string) error {
	if strings.Contains(tag, " -") {
		return fmt.Errorf("row failed in bulk (tag %q)", tag)
	}
	return nil
}

func (w *bulkWriter) batch(ctx context.Context, rows []bulkRow) error {
	sql := `INSERT INTO ` + w.table.Sanitize() + ` (` + bulkColumnList + `) VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::` +
		w.payloadCast() + `) ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`
	if w.aux {
		sql = `INSERT INTO ` + w.table.Sanitize() + ` (` + bulkColumnList + `, "payload_aux", "payload_text") VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::` +
			w.payloadCast() + `, $7::` + w.payloadCast() + `, $8::TEXT) ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(rows))}
	for i := range rows {
		r := &rows[i]
		if w.aux {
			b.Queue(sql, r.shard, r.seq, r.subSeq, r.pkey, r.arrived, string(r.payload), nil, nil)
			continue
		}
		b.Queue(sql, r.shard, r.seq, r.subSeq, r.pkey, r.arrived, string(r.payload))
	}
	return w.sendBatch(ctx, b, len(rows))
}

// sendBatch sends b with one Sync and checks that it wrote want rows.
func (w *bulkWriter) sendBatch(ctx context.Context, b *pgx.Batch, want int) error {
	br := w.conn.SendBatch(ctx, b)
	var n int64
	for range b.QueuedQueries {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return err
		}
		if err := checkTag(tag.String()); err != nil {
			_ = br.Close()
			return err
		}
		n += tag.RowsAffected()
	}
	if err := br.Close(); err != nil {
		return err
	}
	if int(n) != want {
		return fmt.Errorf("%d of %d rows written", n, want)
	}
	return nil
}

func (w *bulkWriter) unnest(ctx context.Context, rows []bulkRow) error {
	shard, seq, pkey, payload := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	subSeq, arrived := make([]int64, len(rows)), make([]time.Time, len(rows))
	for i := range rows {
		r := &rows[i]
		shard[i], seq[i], subSeq[i], pkey[i], arrived[i], payload[i] = r.shard, r.seq, r.subSeq, r.pkey, r.arrived, string(r.payload)
	}
	var sql string
	if w.crate {
		sql = `INSERT INTO ` + w.table.Sanitize() + ` (` + bulkColumnList + `) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::ARRAY(OBJECT)) ` +
			`ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`
	} else {
		sql = `INSERT INTO ` + w.table.Sanitize() + ` (` + bulkColumnList + `) SELECT u.s, u.q, u.ss, u.pk, u.a, u.p::JSONB ` +
			`FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::TEXT[]) AS u(s, q, ss, pk, a, p) ` +
			`ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`
	}
	tag, err := w.conn.Exec(ctx, sql, shard, seq, subSeq, pkey, arrived, payload)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(rows) {
		return fmt.Errorf("%d of %d rows written", tag.RowsAffected(), len(rows))
	}
	return nil
}

// values sends the chunk as multi-row INSERT … VALUES statements of
// valuesRows rows, all in one pgx.Batch (one Sync).
func (w *bulkWriter) values(ctx context.Context, rows []bulkRow) error {
	b := &pgx.Batch{}
	stmt := map[int]string{}
	for lo := 0; lo < len(rows); lo += w.valuesRows {
		part := rows[lo:min(lo+w.valuesRows, len(rows))]
		sql, ok := stmt[len(part)]
		if !ok {
			sql = w.valuesSQL(len(part))
			stmt[len(part)] = sql
		}
		args := make([]any, 0, 6*len(part))
		for i := range part {
			r := &part[i]
			args = append(args, r.shard, r.seq, r.subSeq, r.pkey, r.arrived, string(r.payload))
		}
		b.Queue(sql, args...)
	}
	return w.sendBatch(ctx, b, len(rows))
}

func (w *bulkWriter) valuesSQL(n int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO ` + w.table.Sanitize() + ` (` + bulkColumnList + `) VALUES `)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		p := 6*i + 1
		sb.WriteString("($" + strconv.Itoa(p) + "::TEXT, $" + strconv.Itoa(p+1) + "::TEXT, $" + strconv.Itoa(p+2) + "::BIGINT, $" +
			strconv.Itoa(p+3) + "::TEXT, $" + strconv.Itoa(p+4) + "::TIMESTAMPTZ, $" + strconv.Itoa(p+5) + "::" + w.payloadCast() + ")")
	}
	sb.WriteString(` ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`)
	return sb.String()
}

func expectEmpty(ctx context.Context, conn *pgx.Conn, table pgx.Identifier, crate bool) error {
	if crate {
		if _, err := conn.Exec(ctx, "REFRESH TABLE "+table.Sanitize()); err != nil {
			return fmt.Errorf("table %s (create it with the sink's layout, e.g. kinesis-cratedb check): %w", table.Sanitize(), err)
		}
	}
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
