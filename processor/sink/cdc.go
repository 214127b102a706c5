package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// cdcTarget is one configured change-data-capture table.
type cdcTarget struct {
	spec *cdc.Table
	name tableName
	view tableName
	sql  cdcStatements
	// declared names the data attributes with a configured scalar type
	// (Document layout); the type-conflict check leaves them alone.
	declared map[string]bool
	// objectCols indexes the OBJECT columns of a Direct table.
	objectCols []int
}

// ChangeWriter applies change events (cdc.Change) to their tables as
// version-guarded upserts. It is safe for concurrent use.
type ChangeWriter struct {
	*core
	*cdcState
}

// cdcState holds the tables of a ChangeWriter.
type cdcState struct {
	targets map[*cdc.Table]*cdcTarget
	order   []*cdcTarget

	mu      sync.Mutex
	dropped map[*cdc.Table]bool // dropped by a control event; re-created before the next write
}

// OpenChanges is Open for change events: it creates or checks the tables
// of specs (with their live views) besides the dead-letter and progress
// tables; cfg.Table only names those two tables' defaults and the progress
// rows.
func OpenChanges(ctx context.Context, databaseURL string, cfg Config, specs []*cdc.Table) (*ChangeWriter, error) {
	if len(specs) == 0 {
		return nil, errors.New("sink: OpenChanges needs at least one table")
	}
	c, err := openCore(ctx, databaseURL, cfg)
	if err != nil {
		return nil, err
	}
	state, err := newCDCState(c.db, specs)
	if err != nil {
		err = fmt.Errorf("sink: %w", err)
	} else {
		err = c.prepareTables(ctx, cfg.CreateTables, state.ddl(), state.tableNames())
	}
	if err != nil {
		c.pool.Close()
		return nil, err
	}
	w := &ChangeWriter{core: c, cdcState: state}
	w.ready("changes")
	return w, nil
}

func newCDCState(d dialect, specs []*cdc.Table) (*cdcState, error) {
	s := &cdcState{targets: map[*cdc.Table]*cdcTarget{}, dropped: map[*cdc.Table]bool{}}
	seen := map[tableName]bool{}
	for _, spec := range specs {
		name, err := parseTableName(spec.Name, d.defaultSchema())
		if err != nil {
			return nil, fmt.Errorf("CDC %w", err)
		}
		if seen[name] {
			return nil, fmt.Errorf("CDC table %s configured twice", name)
		}
		seen[name] = true
		view := name.withSuffix(liveViewSuffix)
		t := &cdcTarget{spec: spec, name: name, view: view, sql: buildCDCStatements(d, name, view, spec), declared: map[string]bool{}}
		for i, c := range spec.Columns {
			// An OBJECT's members are checked like any other value.
			t.declared[c.Name] = c.Type != cdc.Object
			if c.Type == cdc.Object && spec.Layout == cdc.Direct {
				t.objectCols = append(t.objectCols, i)
			}
		}
		s.targets[spec] = t
		s.order = append(s.order, t)
	}
	return s, nil
}

// ddl lists the statements that create every CDC table and its view.
func (s *cdcState) ddl() []string {
	var out []string
	for _, t := range s.order {
		out = append(out, t.sql.createTable, t.sql.createView)
	}
	return out
}

func (s *cdcState) tableNames() []tableName {
	var out []tableName
	for _, t := range s.order {
		out = append(out, t.name, t.view)
	}
	return out
}

func (s *cdcState) tableFor(spec *cdc.Table) (*cdcTarget, error) {
	if t := s.targets[spec]; t != nil {
		return t, nil
	}
	name := "<nil>"
	if spec != nil {
		name = spec.Name
	}
	return nil, fmt.Errorf("sink: change for table %s, which the writer was not opened with", name)
}

// Apply writes a batch of changes (compacted: at most one per row) to their
// tables. Every change is a guarded upsert, so applying a change that is
// older than the stored row, or applying a batch twice, changes nothing.
// Changes the database refuses go to the dead-letter table and are listed
// in Result.DeadLettered. Transient errors are retried like in Write. When
// Apply returns nil every change is durably applied or dead-lettered.
func (w *ChangeWriter) Apply(ctx context.Context, changes []cdc.Change) (Result, error) {
	ctx, cancel := w.retry.policy.withMaxWait(ctx)
	defer cancel()
	var res Result
	for _, group := range groupByTable(changes) {
		t, err := w.tableFor(group[0].Table)
		if err != nil {
			return res, err
		}
		if err := w.recreateIfDropped(ctx, t); err != nil {
			return res, err
		}
		// One table per round trip: a CrateDB batch then holds a single
		// statement text, and PostgreSQL one statement.
		for start := 0; start < len(group); start += w.chunkSize {
			chunk := group[start:min(start+w.chunkSize, len(group))]
			if err := w.applyChunk(ctx, t, chunk, &res); err != nil {
				return res, fmt.Errorf("sink: apply %d changes to %s: %w", len(chunk), t.name, err)
			}
		}
	}
	return res, nil
}

// groupByTable splits changes by table, tables in order of first
// appearance, changes in their order.
func groupByTable(changes []cdc.Change) [][]cdc.Change {
	index := map[*cdc.Table]int{}
	var groups [][]cdc.Change
	for _, c := range changes {
		i, ok := index[c.Table]
		if !ok {
			i = len(groups)
			index[c.Table] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

func (w *ChangeWriter) applyChunk(ctx context.Context, t *cdcTarget, changes []cdc.Change, res *Result) error {
	return writeBisecting(ctx, w.core, "apply changes", changes, res, func(ctx context.Context, part []cdc.Change) ([]DeadLetter, bool, error) {
		return w.tryChanges(ctx, t, part)
	})
}

// tryChanges makes one attempt at changes, like tryPart for rows.
func (w *ChangeWriter) tryChanges(ctx context.Context, t *cdcTarget, changes []cdc.Change) (dead []DeadLetter, split bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	original := changes
	shaping := w.db.typedSubColumns() && t.spec.Layout == cdc.Document
	if shaping {
		if changes, err = w.shapeChanges(ctx, t, changes); err != nil {
			return nil, false, err
		}
	}
	var alone []cdc.Change // written one by one after the bulk
	if w.db.typedSubColumns() && len(t.objectCols) > 0 {
		if changes, alone, dead, err = w.prepareObjectColumns(ctx, t, changes); err != nil {
			return nil, false, err
		}
	}
	var failed []int
	switch {
	case len(changes) == 0:
	case t.sql.upsertUnnest != "" && w.method != methodBatch:
		err = w.upsertUnnest(ctx, t, changes)
	default:
		failed, err = w.upsertBatch(ctx, t, changes)
	}
	if err != nil {
		if split, refused, err := w.partFailed(err, len(changes)+len(alone)); !refused {
			return nil, split, err
		}
		if shaping {
			return w.retryShaped(ctx, t, original, []int{0})
		}
		return append(dead, w.changeDeadLetter(changes[0], err)), false, nil
	}
	switch {
	case len(failed) == 0:
	case len(changes) != len(original):
		// Some changes were set aside (alone, dead): the indexes no longer
		// match the part writeBisecting knows, so run the failed ones here.
		for _, i := range failed {
			alone = append(alone, changes[i])
		}
	case len(changes) > 1:
		return nil, false, runAlone(failed)
	case shaping:
		return w.retryShaped(ctx, t, original, failed)
	default:
		return nil, false, fmt.Errorf("change %s failed alone without error text", changes[0].Source.Key())
	}
	for _, c := range alone {
		err := w.upsertOne(ctx, t, c)
		if err == nil {
			continue
		}
		if classify(w.db, err) != classRow {
			return nil, false, err
		}
		dead = append(dead, w.changeDeadLetter(c, err))
	}
	return dead, false, nil
}

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
		err := w.upsertOne(ctx, t, c)
		if err == nil {
			continue
		}
		if classify(w.db, err) != classRow {
			return nil, false, err
		}
		if c.Op != cdc.Delete {
			refused := err
			if c.Data, c.Aux, err = allToAux(original[failed[j]].Data, original[failed[j]].Aux); err == nil {
				err = w.upsertOne(ctx, t, c)
				if err == nil {
					w.log.Warn().Str("table", t.name.String()).Str("sequence", c.Source.SequenceNumber).Err(refused).
						Msg("change refused with its data; written with every attribute in aux")
					continue
				}
				if classify(w.db, err) != classRow {
					return nil, false, err
				}
			}
		}
		dead = append(dead, w.changeDeadLetter(c, err))
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

func (w *ChangeWriter) changeDeadLetter(c cdc.Change, err error) DeadLetter {
	return w.deadLetterFor(c.Source, err)
}

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

// ApplyControl creates or drops a CDC table (DMS control records, when
// sink.dms.control = apply). A dropped table is created again before the
// next change for it is written.
func (w *ChangeWriter) ApplyControl(ctx context.Context, ctl cdc.Control) error {
	t, err := w.tableFor(ctl.Table)
	if err != nil {
		return err
	}
	var ddl []string
	switch ctl.Kind {
	case cdc.CreateTable:
		ddl = []string{t.sql.createTable, t.sql.createView}
	case cdc.DropTable:
		ddl = []string{t.sql.dropView, t.sql.dropTable}
	default:
		return fmt.Errorf("sink: unknown control %s", ctl.Kind)
	}
	if err := w.runDDL(ctx, ctl.Kind.String(), ddl); err != nil {
		return fmt.Errorf("sink: %s %s: %w", ctl.Kind, t.name, err)
	}
	w.mu.Lock()
	w.dropped[t.spec] = ctl.Kind == cdc.DropTable
	w.mu.Unlock()
	w.log.Info().Str("table", t.name.String()).Str("control", ctl.Kind.String()).Msg("applied DMS control record")
	return nil
}

func (w *ChangeWriter) recreateIfDropped(ctx context.Context, t *cdcTarget) error {
	w.mu.Lock()
	dropped := w.dropped[t.spec]
	w.mu.Unlock()
	if !dropped {
		return nil
	}
	return w.ApplyControl(ctx, cdc.Control{Kind: cdc.CreateTable, Table: t.spec})
}

// runDDL runs statements with the retry policy. Afterwards the pool is
// reset: prepared statements cached on pooled connections may still refer
// to a dropped table (CrateDB keeps the analysis made at Parse time).
func (w *ChangeWriter) runDDL(ctx context.Context, op string, ddl []string) error {
	_, err := w.retry.do(ctx, op, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
		defer cancel()
		for _, s := range ddl {
			if _, err := w.pool.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", ddlHead(s), err)
			}
		}
		return nil
	})
	w.pool.Reset()
	return err
}
