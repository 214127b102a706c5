package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

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
	if err == nil || classify(w.db, err) != classRow {
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
