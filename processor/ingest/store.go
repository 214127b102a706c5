package ingest

import (
	"context"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// Store keeps one batch of records: each one decoded and written, or kept
// in the dead-letter table. Rows (plain JSON) and Changes (change data
// capture) are the two; the command chooses one from the settings at
// start-up, and both the live processor and replay use that one.
type Store interface {
	// Store returns how many of batch went to the dead-letter table. The
	// logger in ctx (zerolog.Ctx) names the shard.
	Store(ctx context.Context, batch []record.Source) (deadLettered int, err error)
	// Replay decodes the dead letters filter selects again and stores the
	// ones that now succeed.
	Replay(ctx context.Context, filter sink.ReplayFilter) (sink.ReplayResult, error)
}

// DeadLetterSink keeps records that cannot be stored; *sink.Writer,
// *sink.ChangeWriter and Discard are the ones.
type DeadLetterSink interface {
	WriteDeadLetters(ctx context.Context, dls []sink.DeadLetter) error
}

// ProgressSink records per-shard progress; *sink.Writer,
// *sink.ChangeWriter and Discard are the ones.
type ProgressSink interface {
	UpdateProgress(ctx context.Context, p sink.Progress) error
	// ProgressHistograms returns the histograms stored for the shard ("":
	// none).
	ProgressHistograms(ctx context.Context, shardID string) (writeLatency, freshness string, err error)
}

// sources gives the records of a batch their shard: from here on each one
// travels as the record.Source it came from.
func sources(dst []record.Source, shard string, records []kcl.Record) []record.Source {
	for i := range records {
		r := &records[i]
		dst = append(dst, record.Source{ShardID: shard, SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber,
			PartitionKey: r.PartitionKey, ArrivedAt: r.ApproximateArrivalTimestamp, Data: r.Data})
	}
	return dst
}

// keepUndecodable writes the dead letters of records that could not be
// decoded; what names them in the log.
func keepUndecodable(ctx context.Context, dst DeadLetterSink, undecodable []sink.DeadLetter, what string) error {
	if len(undecodable) == 0 {
		return nil
	}
	if err := dst.WriteDeadLetters(ctx, undecodable); err != nil {
		return err
	}
	logDeadLettered(ctx, undecodable, "undecodable "+what+" sent to the dead-letter table")
	return nil
}

// logDeadLettered reports dead letters by their count and first one.
func logDeadLettered(ctx context.Context, dls []sink.DeadLetter, msg string) {
	if len(dls) == 0 {
		return
	}
	zerolog.Ctx(ctx).Warn().Int("records", len(dls)).Str("first_error", dls[0].Err).
		Stringer("first_record", dls[0].Key()).Msg(msg)
}

// undecodable is the dead letter of a record its decoder refused.
func undecodable(src record.Source, err error) sink.DeadLetter {
	return sink.DeadLetter{Source: src, Stage: sink.StageDecode, Err: err.Error()}
}
