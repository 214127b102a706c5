package sink

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// changeValues appends the values of c's cdcColumns to args: objects as
// json.RawMessage, a tombstone's data as nil.
func changeValues(args []any, t *cdcTarget, c *cdc.Change) []any {
	live := c.Op != cdc.Delete
	if t.spec.Layout == cdc.Document {
		args = append(args, c.KeyObject(), jsonArg(c.Data, live), jsonArg(c.Aux, live))
	} else {
		args = append(args, c.Key...)
		for i := range t.spec.Columns {
			var v any
			if live && i < len(c.Values) {
				v = c.Values[i]
			}
			args = append(args, v)
		}
	}
	return append(args, c.Version.String(), !live, nullTime(c.EventTime))
}

// changeArgs are the parameters of cdcStatements.upsertRow: changeValues,
// objects as JSON text for pgx.
func changeArgs(t *cdcTarget, c *cdc.Change) []any {
	args := changeValues(make([]any, 0, len(c.Key)+len(t.spec.Columns)+6), t, c)
	for i, v := range args {
		if raw, ok := v.(json.RawMessage); ok {
			args[i] = string(raw)
		}
	}
	return args
}

// jsonArg is a JSON object column's value, nil for tombstones.
func jsonArg(v json.RawMessage, live bool) any {
	if !live {
		return nil
	}
	if v == nil {
		return json.RawMessage("{}")
	}
	return v
}

// upsertBatch queues one guarded upsert per change (CrateDB runs them as
// one bulk) and returns the indexes of changes whose tag reports a failure.
func (w *ChangeWriter) upsertBatch(ctx context.Context, t *cdcTarget, changes []cdc.Change) (failed []int, err error) {
	stmts := make([]statement, len(changes))
	for i := range changes {
		stmts[i] = statement{t.sql.upsertRow, changeArgs(t, &changes[i])}
	}
	return w.bulk.failed(ctx, stmts)
}

// upsertOne runs the single-row guarded upsert for c.
func (w *ChangeWriter) upsertOne(ctx context.Context, t *cdcTarget, c cdc.Change) error {
	_, err := w.bulk.alone(ctx, statement{t.sql.upsertRow, changeArgs(t, &c)}, "change", c.Source.Key())
	return err
}

// upsertUnnest sends the chunk as column arrays in one statement
// (PostgreSQL), encoded by hand (pgarray.go).
func (w *ChangeWriter) upsertUnnest(ctx context.Context, t *cdcTarget, changes []cdc.Change) error {
	cols := cdcColumns(t.spec)
	as := w.takeArrays(len(cols))
	defer w.returnArrays(as)
	for i, c := range cols {
		as[i].reset(arrayElement(c.name))
	}
	var args []any
	for r := range changes {
		args = changeValues(args[:0], t, &changes[r])
		for i, v := range args {
			if err := as[i].add(v); err != nil {
				return fmt.Errorf("column %s: %w", cols[i].name, err)
			}
		}
	}
	values, oids, formats := make([][]byte, len(as)), make([]uint32, len(as)), make([]int16, len(as))
	for i := range as {
		values[i], oids[i], formats[i] = as[i].bytes(), as[i].oid(), pgtype.BinaryFormatCode
	}
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return conn.Conn().PgConn().ExecParams(ctx, t.sql.upsertUnnest, values, oids, formats, nil).Read().Err
}

// arrayElement is the element type upsertUnnest sends a column as: text,
// cast by the statement, but for the two columns of fixed type.
func arrayElement(column string) uint32 {
	switch column {
	case colDeleted:
		return oidBool
	case colEventTime:
		return oidTimestamptz
	}
	return oidText
}

// upsertAlone writes c by itself; refused is the database's refusal of its
// data, err anything else.
func (w *ChangeWriter) upsertAlone(ctx context.Context, t *cdcTarget, c cdc.Change) (refused, err error) {
	err = w.upsertOne(ctx, t, c)
	if err != nil && classify(w.db, err) == classRow {
		return err, nil
	}
	return nil, err
}

func (w *ChangeWriter) changeDeadLetter(c cdc.Change, err error) DeadLetter {
	return w.deadLetterFor(c.Source, err)
}
