package sink

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgtype"
)

// insertCrateUnnest writes rows with one INSERT … SELECT FROM UNNEST, the
// fastest way into CrateDB (scripts/bench: about 1.5× a batch of single-row
// INSERTs, at a third of the client's CPU). CrateDB drops a row that fails
// there without a word and only reports fewer rows, and counts a row that
// was already there (a redelivery) the same way; so a short count, or an
// error that is not an outage, sends the rows again as a batch
// (insertBatch), which reports each row, writes what is missing and skips
// what is there. A short count usually means a replay that spans chunks, so
// the next chunks go straight to the batch.
func (w *Writer) insertCrateUnnest(ctx context.Context, rows []Row) (failed []int, err error) {
	if w.skipUnnest.Load() > 0 {
		w.skipUnnest.Add(-1)
		return w.insertBatch(ctx, rows)
	}
	cols, ok := w.crateColumns(rows)
	if !ok {
		return w.insertBatch(ctx, rows)
	}
	sql, args := w.sql.insertUnnest, cols.args()
	if w.noAux {
		sql, args = w.sql.insertUnnestNoAux, args[:6]
	}
	tag, err := w.pool.Exec(ctx, sql, args...)
	if err != nil {
		if classify(w.db, err) == classTransient {
			return nil, err
		}
		return w.insertBatch(ctx, rows)
	}
	if n := tag.RowsAffected(); int(n) < len(rows) {
		w.skipUnnest.Store(afterConflict)
		w.log.Debug().Int64("written", n).Int("rows", len(rows)).Msg("unnest wrote fewer rows than sent; sending them again as a batch, which reports each row")
		return w.insertBatch(ctx, rows)
	}
	return nil, nil
}

// crateColumns fits every row as insertBatch would and lays the rows out
// as column arrays. It reports false when a row cannot go this way (it
// cannot be fitted, or it needs payload_aux on a table without it): the
// batch then reports that row on its own.
func (w *Writer) crateColumns(rows []Row) (crateColumnArrays, bool) {
	c := crateColumnArrays{
		shard:   make([]string, len(rows)),
		seq:     make([]string, len(rows)),
		subSeq:  make([]int64, len(rows)),
		pkey:    make([]string, len(rows)),
		arrived: make([]pgtype.Timestamptz, len(rows)),
		main:    make([]json.RawMessage, len(rows)),
		aux:     make([]json.RawMessage, len(rows)),
		full:    make([]pgtype.Text, len(rows)),
	}
	for i := range rows {
		r := &rows[i]
		f, err := w.fit(r, w.firstFit())
		if err != nil || (w.noAux && (f.aux != nil || f.full != nil)) {
			return c, false
		}
		c.shard[i], c.seq[i], c.subSeq[i], c.pkey[i] = r.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey
		c.arrived[i] = pgtype.Timestamptz{Time: r.ArrivedAt, Valid: !r.ArrivedAt.IsZero()}
		c.main[i], c.aux[i] = f.main, f.aux
		c.full[i] = pgtype.Text{String: string(f.full), Valid: f.full != nil}
	}
	return c, true
}

// crateColumnArrays are the parameters of statements.insertUnnest on
// CrateDB; a nil aux element is SQL NULL.
type crateColumnArrays struct {
	shard, seq, pkey []string
	subSeq           []int64
	arrived          []pgtype.Timestamptz
	main, aux        []json.RawMessage
	full             []pgtype.Text
}

func (c crateColumnArrays) args() []any {
	return []any{c.shard, c.seq, c.subSeq, c.pkey, c.arrived, c.main, c.aux, c.full}
}
