package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// chunkEnd is where the chunk starting at rows[start] ends (core.chunkEnd):
// on CrateDB a chunk travels as one statement, so its payloads count.
func (w *Writer) chunkEnd(rows []Row, start int) int {
	return w.core.chunkEnd(len(rows), start, w.chunkBytes, func(i int) int { return len(rows[i].Payload) })
}

func (w *Writer) writeChunk(ctx context.Context, rows []Row, res *Result) error {
	return writeBisecting(ctx, w.core, "write", rows, res, w.tryPart)
}

// tryPart makes one attempt at rows (see partFailed for a refused part). A
// single row the database refuses is fitted harder until it is stored or,
// at the last level, dead-lettered.
func (w *Writer) tryPart(ctx context.Context, rows []Row) (dead []DeadLetter, split bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	var failed []int
	switch {
	case w.method == methodUnnest && w.db.typedSubColumns():
		failed, err = w.insertCrateUnnest(ctx, rows)
	case w.method == methodUnnest:
		err = w.insertUnnest(ctx, rows)
	case w.method == methodCopy:
		err = w.insertCopy(ctx, rows)
	default:
		failed, err = w.insertBatch(ctx, rows)
	}
	if err != nil {
		if split, refused, err := w.partFailed(err, len(rows)); !refused {
			return nil, split, err
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
		if !w.db.typedSubColumns() && (level == fitReloaded || level == fitKnownOnly) {
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
		if classify(w.db, err) != classRow {
			return nil, err
		}
		if strings.Contains(err.Error(), "Limit of total columns") && w.columnsFull.CompareAndSwap(false, true) {
			w.log.Warn().Str("table", w.target.String()).Err(err).
				Msg("the table is at its column limit: new keys go to payload_aux until the child restarts (raise mapping.total_fields.limit to index them)")
		}
		refusals = append(refusals, level.String()+": "+errorText(err))
	}
	dl := w.deadLetterFor(r.Source, errors.New(strings.Join(refusals, "; ")))
	return &dl, nil
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
