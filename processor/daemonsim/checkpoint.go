package daemonsim

import (
	"strings"
)

// Checkpoint error names the daemon can send back (the simple Java class
// name of what KCL's checkpointer threw).
const (
	ErrThrottling      = "ThrottlingException"
	ErrShutdown        = "ShutdownException"
	ErrInvalidState    = "InvalidStateException"
	ErrDependency      = "KinesisClientLibDependencyException"
	ErrIllegalArgument = "IllegalArgumentException"
)

// Sentinel sequence numbers KCL uses for lease positions.
const (
	SentinelShardEnd    = "SHARD_END"
	SentinelTrimHorizon = "TRIM_HORIZON"
	SentinelLatest      = "LATEST"
	SentinelAtTimestamp = "AT_TIMESTAMP"
)

// CheckpointFunc lets a test inject a checkpointer failure. It sees the
// child's request as sent and returns the Java exception name to reply
// with, or "" to let the default KCL-like validation decide.
type CheckpointFunc func(seq *string, subSeq *int64) (errName string)

// Position is an extended sequence number: a Kinesis sequence number (or
// sentinel) plus a sub-sequence number.
type Position struct {
	Sequence    string
	SubSequence int64
}

// rank orders sentinels around real sequence numbers the way KCL's
// ExtendedSequenceNumber does: start positions below every sequence number,
// SHARD_END above all.
func (p Position) rank() int {
	switch p.Sequence {
	case SentinelAtTimestamp:
		return -3
	case SentinelTrimHorizon:
		return -2
	case SentinelLatest:
		return -1
	case SentinelShardEnd:
		return 1
	}
	return 0
}

// Compare orders positions by big-integer sequence number, then by
// sub-sequence number. Sequence numbers are compared as decimal strings
// (length after leading zeros, then digits), which is the big-integer order
// without allocating.
func (p Position) Compare(q Position) int {
	if rp, rq := p.rank(), q.rank(); rp != rq || rp != 0 {
		switch {
		case rp < rq:
			return -1
		case rp > rq:
			return 1
		}
		return 0 // same sentinel
	}
	a := strings.TrimLeft(p.Sequence, "0")
	b := strings.TrimLeft(q.Sequence, "0")
	if c := len(a) - len(b); c != 0 {
		if c < 0 {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a, b); c != 0 {
		return c
	}
	switch {
	case p.SubSequence < q.SubSequence:
		return -1
	case p.SubSequence > q.SubSequence:
		return 1
	}
	return 0
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkpointer mirrors KCL's ShardRecordProcessorCheckpointer for one shard:
// a request must land in [last checkpoint, largest permitted].
type checkpointer struct {
	last    Position
	largest Position // largest delivered, or SHARD_END during shardEnded
	// shardEndAt is the last delivered position once the shard ended: KCL
	// stores an explicit checkpoint there as SHARD_END.
	shardEndAt    *Position
	hasCheckpoint bool // a checkpoint succeeded in this child's lifetime
}

// checkpoint applies a request and returns the error name ("" on success).
func (c *checkpointer) checkpoint(seq *string, subSeq *int64) string {
	target := c.largest
	if seq != nil {
		if !isDigits(*seq) {
			return ErrIllegalArgument
		}
		target = Position{Sequence: *seq}
		if subSeq != nil {
			if *subSeq < 0 {
				return ErrIllegalArgument
			}
			target.SubSequence = *subSeq
		}
		if c.last.Compare(target) > 0 || target.Compare(c.largest) > 0 {
			return ErrIllegalArgument
		}
		if c.shardEndAt != nil && target.Compare(*c.shardEndAt) == 0 {
			target = Position{Sequence: SentinelShardEnd}
		}
	}
	// A request equal to the last checkpoint is a no-op success in KCL.
	c.last = target
	c.hasCheckpoint = true
	return ""
}

// endShard makes SHARD_END the largest permitted checkpoint, as KCL's
// ShutdownTask does before it calls shardEnded.
func (c *checkpointer) endShard() {
	at := c.largest
	c.shardEndAt = &at
	c.largest = Position{Sequence: SentinelShardEnd}
}

// deliver raises the largest permitted checkpoint after records are handed
// to the child; it only grows.
func (c *checkpointer) deliver(p Position) {
	if p.Compare(c.largest) > 0 {
		c.largest = p
	}
}
