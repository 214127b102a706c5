package ingest

import (
	"context"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// ChangeSink applies change events durably; *sink.ChangeWriter is the real
// one, Discard the dry-run one.
type ChangeSink interface {
	DeadLetterSink
	Apply(ctx context.Context, changes []cdc.Change) (sink.Result, error)
	ApplyControl(ctx context.Context, ctl cdc.Control) error
	ReplayChanges(ctx context.Context, filter sink.ReplayFilter, decode func(sink.DeadLetter) (cdc.Event, error)) (sink.ReplayResult, error)
}

// Changes stores records as change events (sink.format dynamodb-cdc or
// dms): decoded by Decoder, compacted to the newest change per row, and
// applied by Sink.
type Changes struct {
	Decoder cdc.Decoder
	Sink    ChangeSink
}

// step is a run of changes up to a table control record, which splits a
// batch: changes before it are applied first, then the control, then the
// rest.
type step struct {
	changes []cdc.Change
	control *cdc.Control
}

// changePartBytes is how many bytes of records Store decodes and applies
// at a time. A decoded change holds a copy of its data, so a whole batch of
// changes beside the batch itself would keep the child above its soft
// memory limit (cmd/kinesis-cratedb/main.go), where the collector runs
// without pause: three times the CPU per change in scripts/bench. The
// version guard makes parts applied in order the same as one apply.
const changePartBytes = 4 << 20

// Store implements Store.
func (s *Changes) Store(ctx context.Context, batch []record.Source) (int, error) {
	dead := 0
	for start := 0; start < len(batch); {
		end, size := start+1, len(batch[start].Data)
		for end < len(batch) && size+len(batch[end].Data) <= changePartBytes {
			size += len(batch[end].Data)
			end++
		}
		n, err := s.storePart(ctx, batch[start:end])
		start = end
		if err != nil {
			return 0, err
		}
		dead += n
	}
	return dead, nil
}

// storePart decodes, compacts and applies records in order; it returns how
// many were dead-lettered.
func (s *Changes) storePart(ctx context.Context, batch []record.Source) (int, error) {
	var bad []sink.DeadLetter
	steps := []step{{changes: make([]cdc.Change, 0, len(batch))}}
	for _, src := range batch {
		ev, err := s.Decoder.Decode(src)
		last := &steps[len(steps)-1]
		switch {
		case err != nil:
			bad = append(bad, undecodable(src, err))
		case ev.Change != nil:
			last.changes = append(last.changes, *ev.Change)
		case ev.Control != nil:
			last.control = ev.Control
			steps = append(steps, step{})
		default:
			zerolog.Ctx(ctx).Info().Stringer("record", src.Key()).Str("reason", ev.Skipped).Msg("change record skipped")
		}
	}
	if err := keepUndecodable(ctx, s.Sink, bad, "change records"); err != nil {
		return 0, err
	}
	dead := len(bad)
	for _, st := range steps {
		n, err := s.apply(ctx, st)
		if err != nil {
			return 0, err
		}
		dead += n
	}
	return dead, nil
}

// apply applies one step; it returns how many changes were dead-lettered.
func (s *Changes) apply(ctx context.Context, st step) (int, error) {
	dead := 0
	if len(st.changes) > 0 {
		compacted := cdc.Compact(st.changes)
		res, err := s.Sink.Apply(ctx, compacted)
		if err != nil {
			return 0, err
		}
		dead = len(res.DeadLettered)
		logDeadLettered(ctx, res.DeadLettered, "changes refused by the database sent to the dead-letter table")
		zerolog.Ctx(ctx).Debug().Int("changes", len(st.changes)).Int("rows", len(compacted)).Msg("changes applied")
	}
	if st.control != nil {
		if err := s.Sink.ApplyControl(ctx, *st.control); err != nil {
			return 0, err
		}
	}
	return dead, nil
}

// Replay implements Store.
func (s *Changes) Replay(ctx context.Context, filter sink.ReplayFilter) (sink.ReplayResult, error) {
	return s.Sink.ReplayChanges(ctx, filter, func(dl sink.DeadLetter) (cdc.Event, error) {
		return s.Decoder.Decode(dl.Source)
	})
}
