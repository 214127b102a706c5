package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
		refused, err := w.upsertAlone(ctx, t, c)
		if err != nil {
			return nil, false, err
		}
		if refused != nil {
			dead = append(dead, w.changeDeadLetter(c, refused))
		}
	}
	return dead, false, nil
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
