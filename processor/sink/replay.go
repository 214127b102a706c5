package sink

import (
	"context"
	"fmt"
	"math"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// ReplayFilter selects dead letters to replay.
type ReplayFilter struct {
	ShardID  string // only this shard; "" = all
	PageSize int    // rows read per round trip; default 1000
	Limit    int    // stop after this many rows; 0 = no limit
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Scanned      int // dead letters read
	Replayed     int // written to the target and removed from the dead-letter table by this replay
	StillFailing int // left in the dead-letter table with a fresh error
	// AlreadyGone were written to the target, but their dead letter was
	// removed meanwhile by someone else (another replay running at the
	// same time, or a person), so this replay does not count them.
	AlreadyGone int
}

const defaultReplayPageSize = 1000

// ReplayDeadLetters decodes dead letters again with decode, writes the rows
// that now succeed to the target table and deletes them from the dead-letter
// table. Rows that still fail stay, with their error text updated.
func (w *Writer) ReplayDeadLetters(ctx context.Context, filter ReplayFilter, decode func(DeadLetter) (Row, error)) (ReplayResult, error) {
	return w.replayPages(ctx, filter, func(ctx context.Context, page []DeadLetter, res *ReplayResult) error {
		return w.replayPage(ctx, page, decode, res)
	})
}

// ReplayChanges is ReplayDeadLetters for a change-data-capture writer: it
// decodes dead letters into change events again and applies them. The
// version guard makes a late change harmless, so each one is applied on its
// own merits; a change of a row that a newer change already passed leaves
// the row as it is and counts as replayed. Table control records (DMS
// create and drop) are not replayed: a drop run late would remove newer
// rows. They stay, with a note to apply them by hand.
func (w *ChangeWriter) ReplayChanges(ctx context.Context, filter ReplayFilter, decode func(DeadLetter) (cdc.Event, error)) (ReplayResult, error) {
	return w.replayPages(ctx, filter, func(ctx context.Context, page []DeadLetter, res *ReplayResult) error {
		return w.replayChangePage(ctx, page, decode, res)
	})
}

// replayPages reads the dead-letter table page by page, in key order, and
// hands each page to replay.
func (w *core) replayPages(ctx context.Context, filter ReplayFilter,
	replay func(context.Context, []DeadLetter, *ReplayResult) error) (ReplayResult, error) {
	var res ReplayResult
	pageSize := filter.PageSize
	if pageSize <= 0 {
		pageSize = defaultReplayPageSize
	}
	if w.sql.refreshDeadLetters != "" {
		// Reads are not real-time in CrateDB: make recent dead letters visible.
		if _, err := w.retry.do(ctx, "refresh dead letters", func(ctx context.Context) error {
			_, err := w.pool.Exec(ctx, w.sql.refreshDeadLetters)
			return err
		}); err != nil {
			return res, fmt.Errorf("sink: replay: %w", err)
		}
	}
	after := record.Key{SubSequenceNumber: math.MinInt64}
	for filter.Limit <= 0 || res.Scanned < filter.Limit {
		n := pageSize
		if filter.Limit > 0 {
			n = min(n, filter.Limit-res.Scanned)
		}
		var page []DeadLetter
		if _, err := w.retry.do(ctx, "read dead letters", func(ctx context.Context) error {
			var err error
			page, err = w.readDeadLetters(ctx, filter.ShardID, after, n)
			return err
		}); err != nil {
			return res, fmt.Errorf("sink: replay: %w", err)
		}
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1]
		after = last.Key()
		res.Scanned += len(page)
		if err := replay(ctx, page, &res); err != nil {
			return res, fmt.Errorf("sink: replay: %w", err)
		}
		if len(page) < n {
			break
		}
	}
	return res, nil
}

// controlNotReplayed is the error a table control record keeps in the
// dead-letter table.
const controlNotReplayed = "table control records are not replayed (a late drop would remove newer rows): " +
	"create or drop the table by hand, then delete this dead letter"

func (w *ChangeWriter) replayChangePage(ctx context.Context, page []DeadLetter, decode func(DeadLetter) (cdc.Event, error), res *ReplayResult) error {
	var changes []cdc.Change
	var failing []DeadLetter
	var done []record.Key
	for _, dl := range page {
		ev, err := decode(dl)
		switch {
		case err != nil:
			dl.Stage, dl.Err = StageDecode, cleanText(err.Error(), maxErrorText)
			failing = append(failing, dl)
		case ev.Change != nil:
			// Apply dead-letters a refused change under its source's key:
			// the dead letter's own.
			c := *ev.Change
			c.Source = dl.Source
			changes = append(changes, c)
		case ev.Control != nil:
			dl.Stage, dl.Err = StageDecode, controlNotReplayed
			failing = append(failing, dl)
		default: // the decoder skips it now, as the live processor would
			w.log.Info().Str("shard_id", dl.ShardID).Str("seq", dl.SequenceNumber).Int64("sub_seq", dl.SubSequenceNumber).
				Str("reason", ev.Skipped).Msg("dead letter skipped by the decoder now; removed without a change")
			done = append(done, dl.Key())
		}
	}
	if err := w.WriteDeadLetters(ctx, failing); err != nil {
		return err
	}
	for _, round := range cdc.Rounds(changes) {
		ar, err := w.Apply(ctx, round)
		if err != nil {
			return err
		}
		refused := keySet(ar.DeadLettered)
		for _, c := range round {
			if k := c.Source.Key(); !refused[k] {
				done = append(done, k)
			}
		}
	}
	return w.finishReplay(ctx, page, done, res)
}

// finishReplay deletes the dead letters that are now stored and counts
// only the rows it really removed: a dead letter another replay or a person
// removed first is not counted twice. A retry deletes only the keys the
// failed attempt left unsettled, so its count stays exact too.
func (w *core) finishReplay(ctx context.Context, page []DeadLetter, done []record.Key, res *ReplayResult) error {
	left, removed := done, 0
	_, err := w.retry.do(ctx, "delete replayed dead letters", func(ctx context.Context) error {
		n, rest, err := w.deleteDeadLetters(ctx, left)
		removed, left = removed+n, rest
		return err
	})
	res.Replayed += removed
	if err != nil {
		return err
	}
	res.AlreadyGone += len(done) - removed
	res.StillFailing += len(page) - len(done)
	return nil
}

func (w *Writer) replayPage(ctx context.Context, page []DeadLetter, decode func(DeadLetter) (Row, error), res *ReplayResult) error {
	var rows []Row
	var origin []record.Key // dead-letter key of rows[i]
	var undecodable []DeadLetter
	for _, dl := range page {
		row, err := decode(dl)
		if err != nil {
			dl.Stage, dl.Err = StageDecode, cleanText(err.Error(), maxErrorText)
			undecodable = append(undecodable, dl)
			continue
		}
		if row.Data == nil {
			row.Data = dl.Data
		}
		rows = append(rows, row)
		origin = append(origin, dl.Key())
	}
	if err := w.WriteDeadLetters(ctx, undecodable); err != nil {
		return err
	}
	wr, err := w.Write(ctx, rows)
	if err != nil {
		return err
	}
	refused := keySet(wr.DeadLettered)
	var done []record.Key
	for i, r := range rows {
		if !refused[r.Key()] {
			done = append(done, origin[i])
		}
	}
	return w.finishReplay(ctx, page, done, res)
}
