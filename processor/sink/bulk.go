package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// statement is one row's statement: a plain row's insert, a change's
// guarded upsert, a dead letter's upsert or its delete.
type statement struct {
	sql  string
	args []any
}

// bulk sends row statements and reads every row's own result. Rows,
// changes and dead letters all travel through it.
type bulk struct {
	pool *pgxpool.Pool
}

// send queues stmts in one pgx batch (CrateDB runs a batch of one statement
// text as one bulk operation) and returns each statement's row count. A
// negative count is a row CrateDB failed inside the bulk without error text
// ("INSERT 0 -3"). Any error response fails the whole batch: CrateDB
// discards the batch's deferred rows on a bind error and PostgreSQL rolls
// the implicit transaction back.
func (b bulk) send(ctx context.Context, stmts []statement) ([]int64, error) {
	batch := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts))}
	for _, s := range stmts {
		batch.Queue(s.sql, s.args...)
	}
	br := b.pool.SendBatch(ctx, batch)
	counts := make([]int64, len(stmts))
	for i := range stmts {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close() // reports the same failure again
			return nil, err
		}
		counts[i], _ = rowCount(tag.String())
	}
	return counts, br.Close()
}

// failed lists the statements of send that failed without error text.
func (b bulk) failed(ctx context.Context, stmts []statement) ([]int, error) {
	counts, err := b.send(ctx, stmts)
	if err != nil {
		return nil, err
	}
	var failed []int
	for i, n := range counts {
		if n < 0 {
			failed = append(failed, i)
		}
	}
	return failed, nil
}

// alone runs one statement by itself, where CrateDB gives a failing row its
// error; a failure without text even then is an error naming the record.
func (b bulk) alone(ctx context.Context, s statement, what string, key record.Key) (int64, error) {
	tag, err := b.pool.Exec(ctx, s.sql, s.args...)
	if err != nil {
		return 0, err
	}
	n, _ := rowCount(tag.String())
	if n < 0 {
		return 0, fmt.Errorf("%s %s failed without error text (tag %q)", what, key, tag.String())
	}
	return n, nil
}

// sendRetryingFailed is send followed by alone for each statement the bulk
// failed without text. It returns the rows affected.
func (b bulk) sendRetryingFailed(ctx context.Context, stmts []statement, what string, key func(i int) record.Key) (int64, error) {
	counts, err := b.send(ctx, stmts)
	if err != nil {
		return 0, err
	}
	var total int64
	for i, n := range counts {
		if n < 0 {
			if n, err = b.alone(ctx, stmts[i], what, key(i)); err != nil {
				return total, fmt.Errorf("%s %s: %w", what, key(i), err)
			}
		}
		total += n
	}
	return total, nil
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
