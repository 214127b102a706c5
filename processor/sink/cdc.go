package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// ChangeWriter applies change events (cdc.Change) to their tables as
// version-guarded upserts. It is safe for concurrent use.
type ChangeWriter struct {
	*core
	*cdcState
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
		for start, end := 0, 0; start < len(group); start = end {
			end = w.chunkEnd(len(group), start, changeChunkBytes, func(i int) int { return len(group[i].Source.Data) })
			chunk := group[start:end]
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
	if len(changes) > 0 && oneTable(changes) {
		return [][]cdc.Change{changes}
	}
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

func oneTable(changes []cdc.Change) bool {
	for i := range changes {
		if changes[i].Table != changes[0].Table {
			return false
		}
	}
	return true
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
