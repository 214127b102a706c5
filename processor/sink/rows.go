package sink

import (
	"context"
	"slices"
)

// rowArgs are the parameters of statements.insertRow.
func rowArgs(r *Row, f fitted) []any {
	main, aux, full := fitArgs(f)
	return []any{r.ShardID, r.SequenceNumber, r.SubSequenceNumber, r.PartitionKey,
		nullTime(r.ArrivedAt), main, aux, full}
}

// insert is the single-row statement and its parameters for r, fitted as f.
func (w *Writer) insert(r *Row, f fitted) (statement, error) {
	args := rowArgs(r, f)
	if !w.noAux {
		return statement{w.sql.insertRow, args}, nil
	}
	if f.aux != nil || f.full != nil {
		return statement{}, errNoAuxColumns
	}
	return statement{w.sql.insertRowNoAux, args[:6]}, nil
}

// insertBatch queues one insert per row, each payload fitted to the table,
// and returns the indexes of rows whose tag reports a bulk failure
// (CrateDB), or that could not be fitted. Any error response fails the
// whole batch: CrateDB discards the batch's deferred rows on a bind error
// and PostgreSQL rolls the implicit transaction back.
func (w *Writer) insertBatch(ctx context.Context, rows []Row) (failed []int, err error) {
	stmts := make([]statement, 0, len(rows))
	queued := make([]int, 0, len(rows)) // row index of each statement
	for i := range rows {
		s, err := w.fittedInsert(&rows[i], w.firstFit())
		if err != nil {
			failed = append(failed, i)
			continue
		}
		stmts = append(stmts, s)
		queued = append(queued, i)
	}
	if len(queued) == 0 {
		return failed, nil
	}
	bulkFailed, err := w.bulk.failed(ctx, stmts)
	if err != nil {
		return nil, err
	}
	for _, j := range bulkFailed {
		failed = append(failed, queued[j])
	}
	slices.Sort(failed)
	return failed, nil
}

// fittedInsert fits r's payload at level and makes its insert.
func (w *Writer) fittedInsert(r *Row, level fitLevel) (statement, error) {
	f, err := w.fit(r, level)
	if err != nil {
		return statement{}, err
	}
	return w.insert(r, f)
}

// insertOne runs statements.insertRow for a single row.
func (w *Writer) insertOne(ctx context.Context, r *Row, f fitted) error {
	s, err := w.insert(r, f)
	if err != nil {
		return err
	}
	_, err = w.bulk.alone(ctx, s, "row", r.Key())
	return err
}
