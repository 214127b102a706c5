// Command record-processor is the library's example, the Go twin of the
// kclpy sample record_processor.py: it logs every record it receives to
// record_processor.log and checkpoints the largest record it has seen every
// minute, on shutdown request and at shard end.
//
//	executableName = bin/record-processor --log record_processor.log
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logfile"
	"github.com/rs/zerolog"
)

// recordLogger logs each record and checkpoints periodically.
type recordLogger struct {
	log      zerolog.Logger
	every    time.Duration
	retry    kcl.Retry
	lastTime time.Time
	largest  *kcl.Record
}

func (p *recordLogger) Initialize(_ context.Context, in kcl.InitializeInput) error {
	p.log = p.log.With().Str("shard", in.ShardID).Logger()
	p.lastTime = time.Now()
	p.log.Info().Str("checkpoint", in.SequenceNumber).Int64("sub_sequence", in.SubSequenceNumber).Msg("initialize")
	return nil
}

func (p *recordLogger) ProcessRecords(ctx context.Context, in kcl.ProcessRecordsInput) error {
	for i := range in.Records {
		r := &in.Records[i]
		p.log.Info().Str("sequence", r.SequenceNumber).Int64("sub_sequence", r.SubSequenceNumber).
			Str("partition_key", r.PartitionKey).Time("arrival", r.ApproximateArrivalTimestamp).
			Bytes("data", r.Data).Msg("record")
		p.largest = r
	}
	// A part of a large batch (More) cannot be checkpointed: the daemon
	// answers only once it has sent the whole batch.
	if !in.More && p.largest != nil && time.Since(p.lastTime) >= p.every {
		p.checkpoint(ctx, in.Checkpointer)
	}
	return nil
}

func (p *recordLogger) checkpoint(ctx context.Context, cp *kcl.Checkpointer) {
	at := p.largest
	err := p.retry.Do(ctx, func(ctx context.Context) error {
		if at == nil {
			return cp.Checkpoint(ctx)
		}
		return cp.CheckpointAt(ctx, at.SequenceNumber, at.SubSequenceNumber)
	})
	p.lastTime = time.Now()
	if err != nil {
		p.log.Error().Err(err).Msg("checkpoint failed")
		return
	}
	ev := p.log.Info()
	if at != nil {
		ev = ev.Str("sequence", at.SequenceNumber).Int64("sub_sequence", at.SubSequenceNumber)
	}
	ev.Msg("checkpoint")
}

func (p *recordLogger) LeaseLost(context.Context, kcl.LeaseLostInput) error {
	p.log.Info().Msg("lease lost")
	return nil
}

func (p *recordLogger) ShardEnded(ctx context.Context, in kcl.ShardEndedInput) error {
	p.largest = nil
	p.checkpoint(ctx, in.Checkpointer)
	p.log.Info().Msg("shard ended")
	return nil
}

func (p *recordLogger) ShutdownRequested(ctx context.Context, in kcl.ShutdownRequestedInput) error {
	p.checkpoint(ctx, in.Checkpointer)
	p.log.Info().Msg("shutdown requested")
	return nil
}

func main() {
	logPath := flag.String("log", "record_processor.log", "log file shared by all shard processes")
	every := flag.Duration("checkpoint-interval", time.Minute, "time between checkpoints")
	flag.Parse()
	file := &logfile.File{Path: *logPath}
	defer file.Close()
	p := &recordLogger{
		log:   zerolog.New(file).With().Timestamp().Int("pid", os.Getpid()).Logger(),
		every: *every,
	}
	if err := kcl.Run(context.Background(), p); err != nil {
		fmt.Fprintf(os.Stderr, "record-processor: %v\n", err)
		os.Exit(1)
	}
}
