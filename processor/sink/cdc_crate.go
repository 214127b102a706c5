package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// prepareObjectColumns protects the OBJECT columns of a Direct table on
// CrateDB (there is no aux column to move values to). A change whose value
// does not fit the column's sub-columns exactly (CrateDB would refuse it or
// convert it silently) is dead-lettered with the reason. The sub-columns
// the others need are created first, as for data (README "Type
// conflicts"), so the bulk upsert changes no mapping; a change whose value
// makes or retypes a column of undefined type (a null where there is no
// sub-column) is returned in alone, to be written by itself.
func (w *ChangeWriter) prepareObjectColumns(ctx context.Context, t *cdcTarget, changes []cdc.Change) (bulk, alone []cdc.Change, dead []DeadLetter, err error) {
	for attempt := 0; ; attempt++ {
		loaded, err := w.loadObjectTypes(ctx, t)
		if err != nil {
			return nil, nil, nil, err
		}
		claimed := map[string]*colType{}
		for name, c := range loaded {
			claimed[name] = c.clone()
		}
		bulk, alone, dead = nil, nil, nil
		for _, c := range changes {
			if c.Op == cdc.Delete {
				bulk = append(bulk, c)
				continue
			}
			misfit, undefined := "", false
			for _, i := range t.objectCols {
				raw, _ := c.Values[i].(json.RawMessage)
				if len(raw) == 0 {
					continue
				}
				name := t.spec.Columns[i].Name
				node := claimed[name]
				fits, needsNew, undef := fitRawUndefined(raw, &node, false, true)
				if fits && needsNew {
					node = node.clone()
					var undef2 bool
					if fits, _, undef2 = fitRawUndefined(raw, &node, true, true); fits {
						claimed[name] = node
					}
					undef = undef || undef2
				}
				if !fits {
					misfit = name
					break
				}
				undefined = undefined || undef
			}
			switch {
			case misfit != "":
				dead = append(dead, w.changeDeadLetter(c, fmt.Errorf("column %s: a member's type differs from the sub-column CrateDB already has "+
					"(it would be refused or converted); configure the column as TEXT to keep JSON whose member types vary", misfit)))
			case undefined || attempt >= 3:
				alone = append(alone, c)
			default:
				bulk = append(bulk, c)
			}
		}
		if attempt >= 3 {
			// Columns cannot be created: every change by itself, so that
			// CrateDB's own column creation touches no other row.
			return nil, alone, dead, nil
		}
		var ddl []string
		for _, i := range t.objectCols {
			name := t.spec.Columns[i].Name
			ddl = append(ddl, addSubColumnsDDL(t.name, name, loaded[name], claimed[name])...)
		}
		err = w.addColumns(ctx, ddl)
		if err == nil {
			return bulk, alone, dead, nil
		}
		if classify(w.db, err) == classTransient {
			return nil, nil, nil, err
		}
		w.log.Warn().Err(err).Str("table", t.name.String()).Int("attempt", attempt+1).
			Msg("cannot add an object sub-column; checking the chunk again")
	}
}

// loadObjectTypes reads the sub-column types of a Direct table's OBJECT
// columns.
func (w *ChangeWriter) loadObjectTypes(ctx context.Context, t *cdcTarget) (map[string]*colType, error) {
	names, types, err := w.subColumns(ctx, t.name, "")
	if err != nil {
		return nil, err
	}
	out := map[string]*colType{}
	for _, i := range t.objectCols {
		col := t.spec.Columns[i].Name
		out[col] = buildColumnTypes(names, types, col)
	}
	return out, nil
}

// shapeChanges moves the data attributes whose type conflicts with the
// data column's sub-columns to aux (cdc_shape.go), in copies of changes,
// and creates the sub-columns the kept attributes need. If a column cannot
// be created (another writer made it first with another type, or the
// table's column limit), it shapes again against the columns as they are
// then, and at last without creating any.
func (w *ChangeWriter) shapeChanges(ctx context.Context, t *cdcTarget, changes []cdc.Change) ([]cdc.Change, error) {
	for attempt := 0; ; attempt++ {
		loaded, err := w.loadDataTypes(ctx, t)
		if err != nil {
			return nil, err
		}
		types := loaded.clone()
		allowNew := attempt < 3
		out := slices.Clone(changes)
		moved, rows := 0, 0
		for i := range out {
			c := &out[i]
			if c.Op == cdc.Delete {
				continue
			}
			r, err := shapeData(c.Data, c.Aux, types, allowNew, t.declared)
			if err != nil {
				// Decoders always produce objects; leave such a change to
				// the database, which refuses it with a reason.
				w.log.Warn().Err(err).Str("sequence", c.Source.SequenceNumber).Msg("cannot check data against the column types")
				continue
			}
			c.Data, c.Aux = r.data, r.aux
			if len(r.moved) > 0 {
				moved += len(r.moved)
				rows++
			}
		}
		if moved > 0 {
			w.log.Debug().Str("table", t.name.String()).Int("attributes", moved).Int("rows", rows).
				Msg("attributes whose type conflicts with the data column go to aux")
		}
		ddl := addColumnsDDL(t.name, loaded, types)
		err = w.addColumns(ctx, ddl)
		if err == nil {
			return out, nil
		}
		if classify(w.db, err) == classTransient {
			return nil, err
		}
		w.log.Warn().Err(err).Str("table", t.name.String()).Int("attempt", attempt+1).
			Msg("cannot add a data sub-column; shaping the chunk again")
	}
}

// addColumns runs the ALTER TABLE statements of addColumnsDDL.
func (w *ChangeWriter) addColumns(ctx context.Context, ddl []string) error {
	for _, s := range ddl {
		if _, err := w.pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	if len(ddl) > 0 {
		w.log.Debug().Int("columns", len(ddl)).Msg("data sub-columns added")
	}
	return nil
}

// retryShaped runs the failed changes again one by one: reshaped against
// the column types as they are now, and, if CrateDB still refuses one,
// with every data attribute in aux. Only a change refused even then is
// dead-lettered.
func (w *ChangeWriter) retryShaped(ctx context.Context, t *cdcTarget, original []cdc.Change, failed []int) (dead []DeadLetter, split bool, err error) {
	retry := make([]cdc.Change, len(failed))
	for j, i := range failed {
		retry[j] = original[i]
	}
	if retry, err = w.shapeChanges(ctx, t, retry); err != nil {
		return nil, false, err
	}
	for j, c := range retry {
		refused, err := w.upsertAlone(ctx, t, c)
		if err == nil && refused != nil && c.Op != cdc.Delete {
			if c.Data, c.Aux, err = allToAux(original[failed[j]].Data, original[failed[j]].Aux); err == nil {
				first := refused
				if refused, err = w.upsertAlone(ctx, t, c); err == nil && refused == nil {
					w.log.Warn().Str("table", t.name.String()).Stringer("record", c.Source.Key()).Err(first).
						Msg("change refused with its data; written with every attribute in aux")
				}
			} else {
				refused, err = err, nil // not an object: keep the reason
			}
		}
		if err != nil {
			return nil, false, err
		}
		if refused != nil {
			dead = append(dead, w.changeDeadLetter(c, refused))
		}
	}
	return dead, false, nil
}

// loadDataTypes reads the types of the data column's sub-columns.
func (w *ChangeWriter) loadDataTypes(ctx context.Context, t *cdcTarget) (*colType, error) {
	names, types, err := w.subColumns(ctx, t.name, "data")
	if err != nil {
		return nil, err
	}
	return buildDataTypes(names, types), nil
}
