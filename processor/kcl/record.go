package kcl

import "time"

// Record is one Kinesis record as the daemon delivers it. Records of a KPL
// aggregate arrive de-aggregated by the daemon: they share SequenceNumber and
// differ in SubSequenceNumber.
type Record struct {
	// Data is the decoded payload. It is never nil for a delivered record
	// but may be empty. Each batch owns its own memory, so a processor may
	// keep the slice after ProcessRecords returns, until it calls
	// ProcessRecordsInput.Release.
	Data []byte
	// PartitionKey is the user record's partition key.
	PartitionKey string
	// SequenceNumber is the decimal sequence number (up to 128 digits);
	// keep it as a string, it does not fit any integer type.
	SequenceNumber string
	// SubSequenceNumber is 0 unless the record came out of a KPL aggregate.
	SubSequenceNumber int64
	// ApproximateArrivalTimestamp is when Kinesis accepted the enclosing
	// record, in UTC; the zero time when the daemon sent null.
	ApproximateArrivalTimestamp time.Time
}

// InitializeInput is the first message of a child's life.
type InitializeInput struct {
	ShardID string
	// SequenceNumber is the lease's checkpoint: digits, or a sentinel such as
	// TRIM_HORIZON, LATEST, AT_TIMESTAMP or SHARD_END; empty when the daemon
	// sent null.
	SequenceNumber    string
	SubSequenceNumber int64
}

// ProcessRecordsInput carries one batch of records.
type ProcessRecordsInput struct {
	Records []Record
	// MillisBehindLatest is how far the batch is behind the tip of the
	// shard; nil when the daemon did not know.
	MillisBehindLatest *int64
	// More is set on every part of a batch but its last, when the batch
	// was larger than Process.PartBytes: the rest of the batch follows in
	// the next calls, and only the last part is acknowledged to the daemon.
	// The daemon cannot answer a checkpoint before it has sent the whole
	// batch, so during a part with More the Checkpointer refuses
	// (ErrCheckpointNotAllowed); MillisBehindLatest is only known in the
	// last part.
	More         bool
	Checkpointer *Checkpointer

	release func()
}

// Release gives the memory of the batch (the Records slice and every
// Record.Data) back to the loop, which decodes a later batch into it instead
// of allocating tens of megabytes afresh for the garbage collector to chase.
// Call it, from any goroutine, once the batch is no longer read; its strings
// may be kept. Calling it is optional and only the first call counts.
func (in ProcessRecordsInput) Release() {
	if in.release != nil {
		in.release()
	}
}

// LeaseLostInput tells the processor that another worker owns the shard now.
// Checkpointing is impossible, so it carries no checkpointer.
type LeaseLostInput struct{}

// ShardEndedInput tells the processor that the shard is closed (split or
// merge) and every record was delivered. The shard must be checkpointed at
// SHARD_END (Checkpointer.Checkpoint) or its children are never processed.
type ShardEndedInput struct {
	Checkpointer *Checkpointer
}

// ShutdownRequestedInput tells the processor that the worker is shutting down
// or handing the lease to another worker. It should flush and checkpoint; a
// leaseLost normally follows.
type ShutdownRequestedInput struct {
	Checkpointer *Checkpointer
}
