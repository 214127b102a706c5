// Package ingest is the record processor behind bin/kinesis-cratedb: it
// decodes each batch the daemon delivers, writes it to the sink, and only
// then checkpoints. Data flows one way: records → decode → sink →
// checkpoint → status.
package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/histogram"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// Processor implements kcl.RecordProcessor for one shard.
type Processor struct {
	Store    Store        // Rows or Changes
	Progress ProgressSink // the progress table
	Log      zerolog.Logger
	// CheckpointInterval spaces checkpoints (each is a DynamoDB write);
	// 0 checkpoints after every batch. Shutdown and shard end always
	// checkpoint.
	CheckpointInterval time.Duration
	// ProgressInterval spaces the progress log line and progress table row.
	ProgressInterval time.Duration
	CheckpointRetry  kcl.Retry
	// Pipeline stores each batch in the background and acknowledges it at
	// once, so reading and decoding the next batch overlap with the
	// database write. The checkpoint still only covers stored batches.
	Pipeline bool
	// BatchTimeout is one deadline for storing a batch, counted from its
	// arrival: every database call, attempt and retry for it must end
	// within it, or the batch fails (and is never acknowledged past what
	// is stored). Each action is bounded the same way from its arrival.
	// Set below the daemon's timeoutInSeconds, it answers every action in
	// time: a pipelined batch started before the action that waits for it
	// was sent. 0 = no deadline.
	BatchTimeout time.Duration
	// LeaseLostWait bounds how long LeaseLost waits for a batch still being
	// stored before it abandons it; default 5s (or BatchTimeout if lower).
	LeaseLostWait time.Duration

	pending *inflight       // batch being stored in the background
	sources []record.Source // reused by every batch: one is stored at a time
	bg      context.Context
	stopBG  context.CancelFunc

	shard        string
	written      position // last record durably stored (target or dead-letter table)
	checkpointed position
	lastCP       time.Time // last checkpoint attempt
	cpAt         time.Time // last checkpoint made by this process
	leaseGone    bool      // the daemon said ShutdownException: another worker owns the shard
	stats        stats
}

type position struct {
	seq string
	sub int64
}

func (p position) String() string {
	if p.seq == "" {
		return "none"
	}
	return p.seq + "/" + itoa(p.sub)
}

// Initialize remembers the shard and where the lease says it starts.
func (p *Processor) Initialize(ctx context.Context, in kcl.InitializeInput) error {
	p.shard = in.ShardID
	p.Log = p.Log.With().Str("shard", in.ShardID).Logger()
	p.lastCP = time.Now()
	p.stats.reset(time.Now())
	p.carryOnHistograms(ctx)
	p.Log.Info().Str("checkpoint", in.SequenceNumber).Int64("sub_sequence", in.SubSequenceNumber).Msg("shard initialized")
	return nil
}

// carryOnHistograms starts the shard's histograms from those a previous
// process stored, so that they stay cumulative across processes, as the
// counts do. Without them (the database is slow to answer, say) they
// start from zero, which a metrics system reads as a counter reset.
func (p *Processor) carryOnHistograms(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, histogramsWait)
	defer cancel()
	lat, fresh, err := p.Progress.ProgressHistograms(ctx, p.shard)
	if err == nil {
		err = p.stats.carryOn(lat, fresh)
	}
	if err != nil {
		p.Log.Warn().Err(err).Msg("progress histograms start from zero")
	}
}

// histogramsWait bounds carryOnHistograms: Initialize must answer the
// daemon.
const histogramsWait = 5 * time.Second

// ProcessRecords hands the batch to the writer and checkpoints what is
// stored when the interval is due. With Pipeline the batch is stored in the
// background while the daemon fetches and sends the next one; the next
// action waits for it. A batch that cannot be stored is never acknowledged
// beyond the checkpoint: the child exits (kcl.Fatal), and the daemon
// redelivers from the last checkpoint after its restart.
func (p *Processor) ProcessRecords(ctx context.Context, in kcl.ProcessRecordsInput) error {
	ctx, cancel := p.deadline(ctx, time.Now())
	defer cancel()
	if in.MillisBehindLatest != nil {
		p.stats.behind = *in.MillisBehindLatest
	}
	if err := p.settle(ctx); err != nil {
		return kcl.Fatal(err)
	}
	if len(in.Records) > 0 {
		b := newInflight(in)
		if p.Pipeline {
			p.pending = b
			go p.storeBatch(p.background(ctx), b)
		} else {
			p.storeBatch(ctx, b)
			if err := p.finish(b); err != nil {
				return kcl.Fatal(err)
			}
		}
	}
	// A part of a batch larger than the protocol's PartBytes (More) is
	// stored like a batch, but only its last part can be checkpointed.
	if !in.More && time.Since(p.lastCP) >= p.CheckpointInterval {
		p.checkpoint(ctx, in.Checkpointer)
	}
	p.reportIfDue(ctx, false)
	return nil
}

// inflight is one batch on its way to the database. What the processor
// needs of it afterwards is copied out, because its records' memory goes
// back to the protocol loop (kcl.ProcessRecordsInput.Release) once stored.
type inflight struct {
	in      kcl.ProcessRecordsInput
	last    position
	count   int
	bytes   int
	started time.Time
	done    chan struct{}
	dead    int
	err     error
	took    time.Duration        // from arrival to stored
	fresh   *histogram.Histogram // the records' ages when stored
}

func newInflight(in kcl.ProcessRecordsInput) *inflight {
	b := &inflight{in: in, count: len(in.Records), started: time.Now(), done: make(chan struct{})}
	last := in.Records[len(in.Records)-1]
	b.last = position{last.SequenceNumber, last.SubSequenceNumber}
	for _, r := range in.Records {
		b.bytes += len(r.Data)
	}
	return b
}

func (p *Processor) storeBatch(ctx context.Context, b *inflight) {
	defer close(b.done)
	ctx, cancel := p.deadline(ctx, b.started)
	defer cancel()
	b.dead, b.err = p.store(ctx, b.in.Records)
	b.measure(time.Now())
	b.in.Release()
}

// measure records how long the batch took and how old each record was
// when stored: its arrival in Kinesis to now (a record without an arrival
// time is left out).
func (b *inflight) measure(now time.Time) {
	b.took = now.Sub(b.started)
	b.fresh = histogram.New(&histogram.Freshness)
	for i := range b.in.Records {
		if at := b.in.Records[i].ApproximateArrivalTimestamp; !at.IsZero() {
			b.fresh.Observe(now.Sub(at).Seconds())
		}
	}
}

// settle waits for the batch stored in the background, if any, and counts
// it as written.
func (p *Processor) settle(ctx context.Context) error {
	b := p.pending
	if b == nil {
		return nil
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	p.pending = nil
	return p.finish(b)
}

// finish records a stored batch: only from here on may it be checkpointed.
func (p *Processor) finish(b *inflight) error {
	if b.err != nil {
		return b.err
	}
	p.written = b.last
	p.stats.add(b.count, b.bytes, b.dead, b.took, b.fresh)
	p.Log.Debug().Int("records", b.count).Int("dead_lettered", b.dead).
		Str("last", p.written.String()).Dur("took", time.Since(b.started)).Msg("batch stored")
	return nil
}

// deadline bounds ctx by BatchTimeout from start.
func (p *Processor) deadline(ctx context.Context, start time.Time) (context.Context, context.CancelFunc) {
	if p.BatchTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, start.Add(p.BatchTimeout))
}

// background is the context of a batch stored after its action returned: it
// outlives the action and ends with Close.
func (p *Processor) background(ctx context.Context) context.Context {
	if p.bg == nil {
		p.bg, p.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	}
	return p.bg
}

// Close abandons a batch still being stored (it was not checkpointed, so
// the daemon delivers it again) and waits a moment for its goroutine to
// end: a cancelled write returns at once unless it is stuck, and a stuck
// one must not keep the process alive (the daemon waits for its exit).
func (p *Processor) Close() {
	if p.stopBG != nil {
		p.stopBG()
	}
	if p.pending != nil {
		select {
		case <-p.pending.done:
		case <-time.After(closeWait):
			p.Log.Warn().Dur("waited", closeWait).Msg("abandoned batch still being stored at exit; it was never checkpointed")
		}
	}
}

// closeWait bounds Close's wait for an abandoned batch.
const closeWait = 5 * time.Second

// defaultLeaseLostWait is LeaseLostWait's default.
const defaultLeaseLostWait = 5 * time.Second

// store hands one batch to the Store; it returns how many records went to
// the dead-letter table.
func (p *Processor) store(ctx context.Context, records []kcl.Record) (int, error) {
	batch := sources(p.sources[:0], p.shard, records)
	defer func() { p.sources = batch[:0] }()
	return p.Store.Store(p.Log.WithContext(ctx), batch)
}

// checkpoint records the last stored record with the daemon. Failures are
// logged, not fatal: the records are stored, and the next checkpoint covers
// them.
func (p *Processor) checkpoint(ctx context.Context, cp *kcl.Checkpointer) {
	if p.leaseGone || p.written == p.checkpointed || p.written.seq == "" {
		p.lastCP = time.Now()
		return
	}
	at := p.written
	err := p.CheckpointRetry.Do(ctx, func(ctx context.Context) error { return cp.CheckpointAt(ctx, at.seq, at.sub) })
	p.lastCP = time.Now()
	switch {
	case err == nil:
		p.checkpointed, p.cpAt = at, p.lastCP
		p.Log.Debug().Str("at", at.String()).Msg("checkpointed")
	case kcl.IsCheckpointError(err, kcl.ShutdownException):
		p.leaseGone = true
		p.Log.Warn().Err(err).Msg("lease taken by another worker; no more checkpoints from this process")
	default:
		p.Log.Error().Err(err).Str("at", at.String()).Msg("checkpoint failed; records are stored and the next checkpoint will cover them")
	}
}

// ShutdownRequested checkpoints what is stored: the worker is stopping or
// handing the lease over.
func (p *Processor) ShutdownRequested(ctx context.Context, in kcl.ShutdownRequestedInput) error {
	ctx, cancel := p.deadline(ctx, time.Now())
	defer cancel()
	if err := p.settle(ctx); err != nil {
		return kcl.Fatal(err)
	}
	p.checkpoint(ctx, in.Checkpointer)
	p.reportIfDue(ctx, true)
	p.Log.Info().Str("checkpoint", p.checkpointed.String()).Msg("shutdown requested")
	return nil
}

// ShardEnded checkpoints SHARD_END; every record of the shard was stored
// before its batch was acknowledged.
func (p *Processor) ShardEnded(ctx context.Context, in kcl.ShardEndedInput) error {
	ctx, cancel := p.deadline(ctx, time.Now())
	defer cancel()
	if err := p.settle(ctx); err != nil {
		return kcl.Fatal(err) // SHARD_END must not be recorded past unstored records
	}
	err := p.CheckpointRetry.Do(ctx, in.Checkpointer.Checkpoint)
	if err != nil {
		p.Log.Error().Err(err).Msg("checkpoint at SHARD_END failed")
		return err
	}
	p.checkpointed, p.cpAt = position{seq: "SHARD_END"}, time.Now()
	p.reportIfDue(ctx, true)
	p.Log.Info().Msg("shard ended, checkpointed SHARD_END")
	return nil
}

// LeaseLost only reports: checkpointing is impossible now. A batch still
// being stored gets LeaseLostWait to finish; after that it is abandoned
// (cancelled, and never checkpointed) so that the daemon gets its answer
// in time even when the write is stuck.
func (p *Processor) LeaseLost(ctx context.Context, _ kcl.LeaseLostInput) error {
	wait := p.LeaseLostWait
	if wait <= 0 {
		wait = defaultLeaseLostWait
		if p.BatchTimeout > 0 {
			wait = min(wait, p.BatchTimeout)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := p.settle(ctx); err != nil {
		// The new owner starts from the last checkpoint, which this batch
		// never reached: nothing is lost.
		if p.stopBG != nil {
			p.stopBG()
		}
		p.Log.Error().Err(err).Dur("waited", wait).Msg("last batch not stored before the lease was lost; abandoned, not checkpointed")
	} else {
		p.reportIfDue(ctx, true)
	}
	p.Log.Info().Str("checkpoint", p.checkpointed.String()).Msg("lease lost")
	return nil
}

// reportIfDue writes the progress log line and the progress table row.
func (p *Processor) reportIfDue(ctx context.Context, force bool) {
	now := time.Now()
	if !force && now.Sub(p.stats.since) < p.ProgressInterval {
		return
	}
	p.stats.log(p.Log, now, p.checkpointed)
	if p.shard == "" {
		return
	}
	written, dead, bytes := p.stats.unreported()
	err := p.Progress.UpdateProgress(ctx, sink.Progress{
		ShardID: p.shard, LastSequence: p.written.seq, LastSubSequence: p.written.sub,
		CheckpointSequence: p.checkpointed.seq, CheckpointSubSequence: p.checkpointed.sub,
		MillisBehindLatest: p.stats.behind, RecordsWritten: written, DeadLettered: dead, BytesWritten: bytes,
		Window: now.Sub(p.stats.since), WindowRecords: p.stats.records, WindowBytes: p.stats.bytes,
		CheckpointedAt: p.cpAt, WriteLatency: p.stats.latency.String(), Freshness: p.stats.fresh.String(),
	})
	switch {
	case err == nil:
		p.stats.reported(written, dead, bytes)
	case !errors.Is(err, context.Canceled):
		p.Log.Warn().Err(err).Msg("progress table not updated")
	}
	p.stats.reset(now)
}
