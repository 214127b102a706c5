package kcl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backoff"
)

// Java exception names the daemon reports in a checkpoint reply.
const (
	ThrottlingException                 = "ThrottlingException"
	ShutdownException                   = "ShutdownException"
	InvalidStateException               = "InvalidStateException"
	KinesisClientLibDependencyException = "KinesisClientLibDependencyException"
	IllegalArgumentException            = "IllegalArgumentException"
)

// CheckpointError is a checkpoint the daemon refused. Name is the simple
// class name of the Java exception, e.g. ThrottlingException.
type CheckpointError struct {
	Name              string
	SequenceNumber    *string
	SubSequenceNumber *int64
}

func (e *CheckpointError) Error() string {
	at := "latest"
	if e.SequenceNumber != nil {
		at = *e.SequenceNumber
		if e.SubSequenceNumber != nil {
			at = fmt.Sprintf("%s/%d", at, *e.SubSequenceNumber)
		}
	}
	return fmt.Sprintf("kcl: checkpoint at %s failed: %s", at, e.Name)
}

// Retryable reports whether trying the same checkpoint again can succeed:
// throttling and DynamoDB dependency failures are transient, a lost lease
// (ShutdownException) or a bad sequence number is not.
func (e *CheckpointError) Retryable() bool {
	return e.Name == ThrottlingException || e.Name == KinesisClientLibDependencyException
}

// IsCheckpointError reports whether err is a checkpoint refusal with the
// given Java exception name.
func IsCheckpointError(err error, name string) bool {
	var ce *CheckpointError
	return errors.As(err, &ce) && ce.Name == name
}

// ErrCheckpointNotAllowed is returned when a checkpointer is used outside the
// action it was handed to: the daemon only reads checkpoints while it waits
// for a status, so such a request would corrupt the conversation.
var ErrCheckpointNotAllowed = errors.New("kcl: checkpoint outside processRecords, shardEnded or shutdownRequested")

// Checkpointer asks the daemon to record progress in the lease table. It is
// valid only during the action whose input carried it and is safe for
// concurrent use within that action.
type Checkpointer struct {
	mu      sync.Mutex
	conn    *conn
	active  bool
	atEnd   bool // set once SHARD_END (latest during shardEnded) was stored
	inShard bool // the action is shardEnded
}

// Checkpoint records everything delivered to this child so far; during
// ShardEnded it records SHARD_END.
func (c *Checkpointer) Checkpoint(ctx context.Context) error {
	return c.checkpoint(ctx, nil, nil)
}

// CheckpointAt records progress up to and including the given record. The
// daemon rejects values below the last checkpoint or above the largest
// delivered record with IllegalArgumentException.
func (c *Checkpointer) CheckpointAt(ctx context.Context, sequenceNumber string, subSequenceNumber int64) error {
	return c.checkpoint(ctx, &sequenceNumber, &subSequenceNumber)
}

func (c *Checkpointer) checkpoint(ctx context.Context, seq *string, sub *int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return ErrCheckpointNotAllowed
	}
	reply, err := c.conn.roundTrip(ctx, appendCheckpoint(nil, seq, sub))
	if err != nil {
		return err
	}
	if reply.Action != ActionCheckpoint {
		return &CheckpointError{Name: InvalidStateException, SequenceNumber: seq, SubSequenceNumber: sub}
	}
	if reply.Error != nil {
		return &CheckpointError{Name: *reply.Error, SequenceNumber: seq, SubSequenceNumber: sub}
	}
	if c.inShard && seq == nil {
		c.atEnd = true
	}
	return nil
}

func (c *Checkpointer) setActive(active bool) {
	c.mu.Lock()
	c.active = active
	c.mu.Unlock()
}

func (c *Checkpointer) checkpointedShardEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.atEnd
}

// Retry retries checkpoints that fail with a transient error, like the
// kclpy sample (5 attempts, 5 s apart). The zero value uses those defaults.
type Retry struct {
	Attempts int           // total attempts; 0 means 5
	Backoff  time.Duration // wait between attempts; 0 means 5 s
	// OnRetry, if set, is told about each failed attempt before the wait.
	OnRetry func(attempt int, err error)
}

// Do runs checkpoint until it succeeds, fails with an error that is not
// retryable (ShutdownException stops at once), runs out of attempts, or ctx
// ends. It returns the last error.
func (r Retry) Do(ctx context.Context, checkpoint func(context.Context) error) error {
	attempts, wait := r.Attempts, r.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if wait <= 0 {
		wait = 5 * time.Second
	}
	var err error
	for attempt := 1; ; attempt++ {
		if err = checkpoint(ctx); err == nil {
			return nil
		}
		var ce *CheckpointError
		if !errors.As(err, &ce) || !ce.Retryable() || attempt >= attempts {
			return err
		}
		if r.OnRetry != nil {
			r.OnRetry(attempt, err)
		}
		if sleepErr := backoff.Sleep(ctx, wait); sleepErr != nil {
			return errors.Join(err, sleepErr)
		}
	}
}
