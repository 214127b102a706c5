package ingest

import (
	"context"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// ChangeSink applies change events durably; *sink.Writer opened with CDC
// tables is the real one, Discard the dry-run one.
type ChangeSink interface {
	Apply(ctx context.Context, changes []cdc.Change) (sink.Result, error)
	ApplyControl(ctx context.Context, ctl cdc.Control) error
}

// storeChanges is store for change events: decode every record, dead-letter
// the undecodable ones, then apply the changes compacted to the newest per
// row. A control record (DMS create/drop table) splits the batch: changes
// before it are applied first, then the control, then the rest. It returns
// how many records went to the dead-letter table.
func (p *Processor) storeChanges(ctx context.Context, records []kcl.Record) (int, error) {
	var undecodable []sink.DeadLetter
	type step struct {
		changes []cdc.Change
		control *cdc.Control
	}
	steps := []step{{}}
	for _, r := range records {
		rec := cdc.Record{ShardID: p.shard, SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber,
			PartitionKey: r.PartitionKey, ArrivedAt: r.ApproximateArrivalTimestamp, Data: r.Data}
		ev, err := p.Changes.Decode(rec)
		switch {
		case err != nil:
			undecodable = append(undecodable, sink.DeadLetter{
				ShardID: p.shard, SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber,
				PartitionKey: r.PartitionKey, ArrivedAt: r.ApproximateArrivalTimestamp, Raw: r.Data,
				Stage: sink.StageDecode, Err: err.Error(),
			})
		case ev.Change != nil:
			steps[len(steps)-1].changes = append(steps[len(steps)-1].changes, *ev.Change)
		case ev.Control != nil:
			steps[len(steps)-1].control = ev.Control
			steps = append(steps, step{})
		default:
			p.Log.Info().Str("sequence", r.SequenceNumber).Str("reason", ev.Skipped).Msg("change record skipped")
		}
	}
	if len(undecodable) > 0 {
		if err := p.Sink.WriteDeadLetters(ctx, undecodable); err != nil {
			return 0, err
		}
		p.Log.Warn().Int("records", len(undecodable)).Str("first_error", undecodable[0].Err).
			Str("first_sequence", undecodable[0].SequenceNumber).Msg("undecodable change records sent to the dead-letter table")
	}
	dead := len(undecodable)
	for _, s := range steps {
		if len(s.changes) > 0 {
			compacted := cdc.Compact(s.changes)
			res, err := p.ChangeSink.Apply(ctx, compacted)
			if err != nil {
				return 0, err
			}
			dead += len(res.DeadLettered)
			if n := len(res.DeadLettered); n > 0 {
				p.Log.Warn().Int("records", n).Str("first_error", res.DeadLettered[0].Err).
					Str("first_sequence", res.DeadLettered[0].SequenceNumber).Msg("changes refused by the database sent to the dead-letter table")
			}
			p.Log.Debug().Int("changes", len(s.changes)).Int("rows", len(compacted)).Msg("changes applied")
		}
		if s.control != nil {
			if err := p.ChangeSink.ApplyControl(ctx, *s.control); err != nil {
				return 0, err
			}
		}
	}
	return dead, nil
}
