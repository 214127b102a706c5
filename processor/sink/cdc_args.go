package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// changeArgs are the parameters of cdcStatements.upsertRow, in cdcColumns
// order.
func changeArgs(t *cdcTarget, c *cdc.Change) []any {
	args := make([]any, 0, len(c.Key)+len(c.Values)+6)
	live := c.Op != cdc.Delete
	if t.spec.Layout == cdc.Document {
		args = append(args, string(c.KeyObject()), jsonArg(c.Data, live), jsonArg(c.Aux, live))
	} else {
		for _, k := range c.Key {
			args = append(args, paramValue(k))
		}
		for i := range t.spec.Columns {
			var v any
			if live && i < len(c.Values) {
				v = paramValue(c.Values[i])
			}
			args = append(args, v)
		}
	}
	return append(args, c.Version.String(), !live, nullTime(c.EventTime))
}

// jsonArg is the text of a JSON object column, NULL for tombstones.
func jsonArg(v json.RawMessage, live bool) any {
	if !live {
		return nil
	}
	if v == nil {
		return "{}"
	}
	return string(v)
}

// paramValue adapts a change value for pgx: objects travel as JSON text.
func paramValue(v any) any {
	if raw, ok := v.(json.RawMessage); ok {
		return string(raw)
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
// (PostgreSQL).
func (w *ChangeWriter) upsertUnnest(ctx context.Context, t *cdcTarget, changes []cdc.Change) error {
	cols := cdcColumns(t.spec)
	n := len(changes)
	text := make([][]pgtype.Text, len(cols)-2)
	for i := range text {
		text[i] = make([]pgtype.Text, n)
	}
	deleted, at := make([]bool, n), make([]pgtype.Timestamptz, n)
	for r := range changes {
		args := changeArgs(t, &changes[r])
		for i := range text {
			text[i][r] = textValue(args[i])
		}
		deleted[r] = args[len(args)-2].(bool)
		at[r] = pgtype.Timestamptz{Time: changes[r].EventTime, Valid: !changes[r].EventTime.IsZero()}
	}
	params := make([]any, 0, len(cols))
	for _, col := range text {
		params = append(params, col)
	}
	params = append(params, deleted, at)
	_, err := w.pool.Exec(ctx, t.sql.upsertUnnest, params...)
	return err
}

// textValue is the text PostgreSQL casts back to the column's type.
func textValue(v any) pgtype.Text {
	switch x := v.(type) {
	case nil:
		return pgtype.Text{}
	case string:
		return pgtype.Text{String: x, Valid: true}
	case int64:
		return pgtype.Text{String: strconv.FormatInt(x, 10), Valid: true}
	case float64:
		return pgtype.Text{String: strconv.FormatFloat(x, 'g', -1, 64), Valid: true}
	case bool:
		return pgtype.Text{String: strconv.FormatBool(x), Valid: true}
	case time.Time:
		return pgtype.Text{String: x.UTC().Format(time.RFC3339Nano), Valid: true}
	default:
		return pgtype.Text{String: fmt.Sprint(x), Valid: true}
	}
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
