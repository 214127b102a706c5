package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// writeMethod is how a chunk of rows travels to the database.
type writeMethod int

const (
	// methodBatch pipelines one single-row INSERT per row in a pgx.Batch.
	// CrateDB runs it as one bulk operation and reports each row's outcome
	// in its own command tag. On PostgreSQL it works too (one transaction).
	methodBatch writeMethod = iota
	// methodUnnest sends all rows as column arrays in one INSERT … SELECT
	// FROM unnest; on CrateDB it falls back to methodBatch to learn what
	// each row did (insertCrateUnnest).
	methodUnnest
	// methodCopy COPYs the rows into a temporary table and inserts from
	// there (PostgreSQL).
	methodCopy
)

func (m writeMethod) String() string {
	switch m {
	case methodBatch:
		return "batch"
	case methodUnnest:
		return "unnest"
	case methodCopy:
		return "copy"
	default:
		return fmt.Sprintf("method(%d)", int(m))
	}
}

// Write stores rows idempotently. Rows the database refuses for their data
// go to the dead-letter table and are listed in Result.DeadLettered; the
// other rows are written. Transient errors are retried according to
// Config.Retry, all under one deadline (RetryPolicy.MaxWait). When Write
// returns nil every row is durably in the target or the dead-letter table.
func (w *Writer) Write(ctx context.Context, rows []Row) (Result, error) {
	ctx, cancel := w.retry.policy.withMaxWait(ctx)
	defer cancel()
	var res Result
	for start, end := 0, 0; start < len(rows); start = end {
		end = w.chunkEnd(rows, start)
		chunk := rows[start:end]
		if err := w.writeChunk(ctx, chunk, &res); err != nil {
			return res, fmt.Errorf("sink: write %d rows to %s: %w", len(chunk), w.target, err)
		}
	}
	return res, nil
}

// chunkEnd is where the chunk starting at rows[start] ends: after chunkSize
// rows, or, on CrateDB, once its payloads pass chunkBytes (a chunk travels
// as one statement whose parameters pgx encodes into one buffer, so large
// records take fewer rows per statement).
func (w *Writer) chunkEnd(rows []Row, start int) int {
	end := min(start+w.chunkSize, len(rows))
	if w.chunkBytes <= 0 {
		return end
	}
	size := 0
	for i := start; i < end; i++ {
		if size += len(rows[i].Payload); size > w.chunkBytes && i > start {
			return i
		}
	}
	return end
}

func (w *Writer) writeChunk(ctx context.Context, rows []Row, res *Result) error {
	return writeBisecting(ctx, w, "write", rows, res, w.tryPart)
}

// writeBisecting stores items with try until each one is written or
// dead-lettered. A part that fails for one item's data is split in two until
// the bad items stand alone (bisection); items a part reports as failed
// without a reason (runAlone) are run again one by one. Transient and
// configuration errors are retried, resending only the parts not yet done:
// progress survives a retry, so a part of many lone runs that outlasts one
// attempt timeout still finishes. Plain rows and change events share it.
func writeBisecting[T any](ctx context.Context, w *Writer, op string, items []T, res *Result,
	try func(context.Context, []T) (dead []DeadLetter, split bool, err error)) error {
	queue := [][]T{items}
	var dead []DeadLetter
	retries, err := w.retry.do(ctx, op, func(ctx context.Context) error {
		for len(queue) > 0 {
			part := queue[0]
			d, split, err := try(ctx, part)
			var alone runAlone
			if errors.As(err, &alone) && len(part) > 1 {
				// The part's other items are stored. The listed ones go
				// again as one part (a bulk killed or overloaded midway
				// fails rows that pass the next time); when every item
				// failed, each becomes a part of its own, to get its
				// error. Either goes before the rest, in order.
				var next [][]T
				if len(alone) < len(part) {
					again := make([]T, len(alone))
					for j, i := range alone {
						again[j] = part[i]
					}
					next = [][]T{again}
				} else {
					for _, i := range alone {
						next = append(next, part[i:i+1])
					}
				}
				queue = append(next, queue[1:]...)
				dead = append(dead, d...)
				continue
			}
			if err != nil {
				return err
			}
			queue = queue[1:]
			dead = append(dead, d...)
			if split {
				h := len(part) / 2
				queue = append([][]T{part[:h], part[h:]}, queue...)
			}
		}
		return nil
	})
	res.Retries += retries
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		retries, err := w.retry.do(ctx, "write dead letters", func(ctx context.Context) error {
			return w.insertDeadLetters(ctx, dead)
		})
		res.Retries += retries
		if err != nil {
			return err
		}
		res.DeadLettered = append(res.DeadLettered, dead...)
	}
	res.Written += len(items) - len(dead)
	return nil
}

// runAlone is how a try function of writeBisecting reports items of its part
// (by index) that failed without a reason: CrateDB tags a row that failed in
// a bulk "INSERT 0 -3", with no error text. writeBisecting then sends them
// again as one part, and once every item of a part failed, each alone,
// which gives the real error (or writes the row, if the failure was
// passing). The part's other items are stored.
type runAlone []int

func (r runAlone) Error() string {
	return fmt.Sprintf("%d items failed in a bulk without error text", len(r))
}

// tryPart makes one attempt at rows. A part the database refuses as a
// whole is split in two, whatever the error, unless it is an outage
// (retried as is): CrateDB checks values at Bind time, where one bad row
// fails every row of the batch, and may break pgx's pipeline doing so. A
// single row the database refuses is fitted harder until it is stored or,
// at the last level, dead-lettered.
func (w *Writer) tryPart(ctx context.Context, rows []Row) (dead []DeadLetter, split bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	var failed []int
	switch {
	case w.method == methodUnnest && w.dialect == CrateDB:
		failed, err = w.insertCrateUnnest(ctx, rows)
	case w.method == methodUnnest:
		err = w.insertUnnest(ctx, rows)
	case w.method == methodCopy:
		err = w.insertCopy(ctx, rows)
	default:
		failed, err = w.insertBatch(ctx, rows)
	}
	if err != nil {
		class := classify(w.dialect, err)
		switch {
		case class == classTransient:
			return nil, false, err
		case len(rows) > 1:
			return nil, true, nil
		case class != classRow:
			return nil, false, err
		}
		return w.fitHarder(ctx, &rows[0], err)
	}
	// CrateDB bulk failures carry no error text: writeBisecting runs each
	// failed row alone, where it gets its error (or is written, if the
	// failure was passing); a row alone is fitted harder.
	if len(failed) > 0 {
		if len(rows) == 1 {
			return w.fitHarder(ctx, &rows[0], nil)
		}
		return nil, false, runAlone(failed)
	}
	return nil, false, nil
}

// fitHarder is tryPart's answer for a single row the database refused.
func (w *Writer) fitHarder(ctx context.Context, r *Row, refusal error) ([]DeadLetter, bool, error) {
	dl, err := w.insertRefused(ctx, r, refusal)
	if err != nil || dl == nil {
		return nil, false, err
	}
	return []DeadLetter{*dl}, false, nil
}

// insertRefused writes a row the database refused in its first attempt
// (with refusal, or nil for a bulk failure, which has no text), climbing
// the fit levels. It returns the row's dead letter when the last level is
// refused too, and an error for anything but a refusal.
func (w *Writer) insertRefused(ctx context.Context, r *Row, refusal error) (*DeadLetter, error) {
	first := "bulk: failed without error text"
	if refusal != nil {
		first = errorText(refusal)
	}
	refusals := []string{w.firstFit().String() + ": " + first}
	for level := w.firstFit() + 1; level < fitLevels; level++ {
		if w.dialect == PostgreSQL && (level == fitReloaded || level == fitKnownOnly) {
			continue // jsonb makes no sub-columns
		}
		if level == fitReloaded || level == fitKnownOnly {
			// Read the truth: the refused attempt recorded sub-columns
			// the database did not make.
			if err := w.reloadColumns(ctx); err != nil {
				return nil, err
			}
		}
		f, err := w.fit(r, level)
		if err != nil {
			refusals = append(refusals, err.Error())
			break // not a JSON object: no level helps
		}
		if err = w.insertOne(ctx, r, f); errors.Is(err, errNoAuxColumns) {
			refusals = append(refusals, level.String()+": "+err.Error())
			continue
		}
		if err == nil {
			w.log.Info().Str("shard_id", r.ShardID).Str("seq", r.SequenceNumber).Int64("sub_seq", r.SubSequenceNumber).
				Str("fit", level.String()).Strs("refused", refusals).Msg("row stored after fitting it harder to the table")
			return nil, nil
		}
		if classify(w.dialect, err) != classRow {
			return nil, err
		}
		if strings.Contains(err.Error(), "Limit of total columns") && w.columnsFull.CompareAndSwap(false, true) {
			w.log.Warn().Str("table", w.target.String()).Err(err).
				Msg("the table is at its column limit: new keys go to payload_aux until the child restarts (raise mapping.total_fields.limit to index them)")
		}
		refusals = append(refusals, level.String()+": "+errorText(err))
	}
	dl := w.deadLetterFor(*r, errors.New(strings.Join(refusals, "; ")))
	return &dl, nil
}

func (w *Writer) deadLetterFor(r Row, err error) DeadLetter {
	dl := DeadLetter{
		ShardID:           r.ShardID,
		SequenceNumber:    r.SequenceNumber,
		SubSequenceNumber: r.SubSequenceNumber,
		PartitionKey:      r.PartitionKey,
		ArrivedAt:         r.ArrivedAt,
		Raw:               r.Raw,
		Stage:             StageWrite,
		Err:               errorText(err),
	}
	w.log.Warn().Str("shard_id", dl.ShardID).Str("seq", dl.SequenceNumber).
		Int64("sub_seq", dl.SubSequenceNumber).Str("error", dl.Err).Msg("row refused by database, dead-lettering")
	return dl
}

// rowArgs are the parameters of statements.insertRow.
func rowArgs(r *Row, f fitted) []any {
	main, aux, full := fitArgs(f)
	return []any{r.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey,
		nullTime(r.ArrivedAt), main, aux, full}
}

// insert is the single-row statement and its parameters for r, fitted as f.
func (w *Writer) insert(r *Row, f fitted) (string, []any, error) {
	args := rowArgs(r, f)
	if !w.noAux {
		return w.sql.insertRow, args, nil
	}
	if f.aux != nil || f.full != nil {
		return "", nil, errNoAuxColumns
	}
	return w.sql.insertRowNoAux, args[:6], nil
}

// payloadBytes never returns nil: a nil slice would be stored as SQL NULL,
// while a missing payload must be refused (and dead-lettered) like any other
// invalid JSON, whichever write method runs.
func payloadBytes(r *Row) []byte {
	if r.Payload == nil {
		return []byte{}
	}
	return r.Payload
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// insertBatch queues one insert per row, each payload fitted to the table,
// and returns the indexes of rows whose tag reports a bulk failure
// (CrateDB), or that could not be fitted. Any error response fails the
// whole batch: CrateDB discards the batch's deferred rows on a bind error
// and PostgreSQL rolls the implicit transaction back.
func (w *Writer) insertBatch(ctx context.Context, rows []Row) (failed []int, err error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(rows))}
	queued := make([]int, 0, len(rows)) // row index of each queued query
	for i := range rows {
		f, err := w.fit(&rows[i], w.firstFit())
		var sql string
		var args []any
		if err == nil {
			sql, args, err = w.insert(&rows[i], f)
		}
		if err != nil {
			failed = append(failed, i)
			continue
		}
		b.Queue(sql, args...)
		queued = append(queued, i)
	}
	if len(queued) == 0 {
		return failed, nil
	}
	br := w.pool.SendBatch(ctx, b)
	for _, i := range queued {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close() // reports the same failure again
			return nil, err
		}
		if rowFailed(tag.String()) {
			failed = append(failed, i)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	slices.Sort(failed)
	return failed, nil
}

// insertOne runs statements.insertRow for a single row.
func (w *Writer) insertOne(ctx context.Context, r *Row, f fitted) error {
	sql, args, err := w.insert(r, f)
	if err != nil {
		return err
	}
	tag, err := w.pool.Exec(ctx, sql, args...)
	if err != nil {
		return err
	}
	if rowFailed(tag.String()) {
		return fmt.Errorf("row %s/%s/%d failed without error text (tag %q)",
			r.ShardID, r.SequenceNumber, r.SubSequenceNumber, tag.String())
	}
	return nil
}

// columns holds rows as column arrays for unnest.
type columns struct {
	shard, seq, pkey []string
	payload          [][]byte // sent as text[] without copying
	subSeq           []int64
	arrived          []pgtype.Timestamptz
}

func toColumns(rows []Row) columns {
	c := columns{
		shard:   make([]string, len(rows)),
		seq:     make([]string, len(rows)),
		pkey:    make([]string, len(rows)),
		payload: make([][]byte, len(rows)),
		subSeq:  make([]int64, len(rows)),
		arrived: make([]pgtype.Timestamptz, len(rows)),
	}
	for i := range rows {
		r := &rows[i]
		c.shard[i], c.seq[i], c.pkey[i], c.subSeq[i] = r.ShardID, r.SequenceNumber, r.PartitionKey, r.SubSequenceNumber
		c.payload[i] = payloadBytes(r)
		c.arrived[i] = pgtype.Timestamptz{Time: r.ArrivedAt, Valid: !r.ArrivedAt.IsZero()}
	}
	return c
}

func (w *Writer) insertUnnest(ctx context.Context, rows []Row) error {
	c := toColumns(rows)
	_, err := w.pool.Exec(ctx, w.sql.insertUnnest, c.shard, c.seq, c.subSeq, c.pkey, c.arrived, c.payload)
	return err
}

const rollbackTimeout = 5 * time.Second

// afterConflict is how many chunks skip the direct COPY after one met rows
// that were already there: a replay usually covers several chunks.
const afterConflict = 16

// insertCopy COPYs rows straight into the target, the fastest way into
// PostgreSQL. A COPY is all or nothing, so when it meets a row that is
// already there (a replay) or a row the server refuses, nothing was written
// and the staged, idempotent path takes over: ON CONFLICT DO NOTHING for the
// replay, bisection for the bad row.
func (w *Writer) insertCopy(ctx context.Context, rows []Row) error {
	if w.skipDirectCopy.Load() > 0 {
		w.skipDirectCopy.Add(-1)
		return w.insertViaStage(ctx, rows)
	}
	err := w.copyIntoTarget(ctx, rows)
	if err == nil || classify(w.dialect, err) != classRow {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		w.skipDirectCopy.Store(afterConflict)
	}
	return w.insertViaStage(ctx, rows)
}

// copyIntoTarget COPYs rows into the target on a connection of its own.
func (w *Writer) copyIntoTarget(ctx context.Context, rows []Row) error {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return w.copyInto(ctx, conn.Conn(), false, rows)
}

// copyInto COPYs rows into the target or the stage, which has the target's
// column types: in binary COPY format (copy.go), or through pgx's generic
// CopyFrom when those types are not the ones the sink creates. The types
// are described on the same connection before every COPY, as pgx does:
// binary rows carry no types, and a column altered while the sink runs
// (jsonb to text, say) would otherwise take them silently mangled.
func (w *Writer) copyInto(ctx context.Context, conn *pgx.Conn, stage bool, rows []Row) error {
	describe, sql := w.sql.describeTarget, w.sql.copyTarget
	if stage {
		describe, sql = w.sql.describeStage, w.sql.copyStage
	}
	payload, err := describeCopy(ctx, conn.PgConn(), describe)
	if err != nil {
		return err
	}
	if payload != payloadUnknown {
		return copyBinary(ctx, conn.PgConn(), sql, rows, payload)
	}
	if w.genericCopyLogged.CompareAndSwap(false, true) {
		w.log.Info().Str("table", w.target.String()).
			Msg("target column types differ from the ones the sink creates; using pgx's generic COPY")
	}
	table := pgx.Identifier{w.target.schema, w.target.name}
	if stage {
		table = pgx.Identifier{stageTableName}
	}
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		return []any{r.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey,
			pgtype.Timestamptz{Time: r.ArrivedAt, Valid: !r.ArrivedAt.IsZero()}, payloadBytes(r)}, nil
	})
	_, err = conn.CopyFrom(ctx, table, copyColumns, src)
	return err
}

// copyBinary runs one COPY of rows and checks that the server took them all.
func copyBinary(ctx context.Context, conn *pgconn.PgConn, sql string, rows []Row, payload payloadEncoding) error {
	tag, err := conn.CopyFrom(ctx, &copyRows{rows: rows, payload: payload}, sql)
	if err != nil {
		return err
	}
	if n := tag.RowsAffected(); n != int64(len(rows)) {
		return fmt.Errorf("COPY took %d of %d rows", n, len(rows))
	}
	return nil
}

// describeCopy tells from a describe statement's column types whether
// copyRows can write them and how the payload goes.
func describeCopy(ctx context.Context, conn *pgconn.PgConn, describe string) (payloadEncoding, error) {
	sd, err := conn.Prepare(ctx, "", describe, nil)
	if err != nil {
		return payloadUnknown, err
	}
	oids := make([]uint32, len(sd.Fields))
	for i, f := range sd.Fields {
		oids[i] = f.DataTypeOID
	}
	return binaryCopyLayout(oids), nil
}

// insertViaStage COPYs rows into a temporary table and moves them to the
// target with ON CONFLICT DO NOTHING, all in one transaction.
func (w *Writer) insertViaStage(ctx context.Context, rows []Row) (err error) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, w.sql.stageBegin); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A failed ROLLBACK leaves the connection mid-transaction;
			// pgxpool then closes it on Release.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			_, _ = conn.Exec(rctx, w.sql.rollback)
		}
	}()
	if err := w.copyInto(ctx, conn.Conn(), true, rows); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, w.sql.stageCommit)
	return err
}
