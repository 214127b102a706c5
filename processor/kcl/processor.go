package kcl

import "context"

// RecordProcessor handles the actions of one shard. The methods are called
// one at a time, in the order the daemon sends them; the daemon waits for each
// to return before it sends the next action. A returned error is logged to
// stderr and the action is still acknowledged, as amazon-kclpy does: the
// daemon cannot redeliver a batch, so a processor that must not lose records
// has to keep them safe (or exit) itself.
type RecordProcessor interface {
	Initialize(ctx context.Context, in InitializeInput) error
	ProcessRecords(ctx context.Context, in ProcessRecordsInput) error
	LeaseLost(ctx context.Context, in LeaseLostInput) error
	ShardEnded(ctx context.Context, in ShardEndedInput) error
	ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error
}
