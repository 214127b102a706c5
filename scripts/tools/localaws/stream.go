package localaws

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// waitTimeout bounds every wait for a stream or table state when the caller's
// context has no deadline: the emulators settle in well under a second, real
// AWS in seconds, so a minute means something is stuck.
const waitTimeout = 2 * time.Minute

// pollInterval is short because kinesis-mock and dynalite change state after
// 50-100 ms in the stack's configuration.
const pollInterval = 50 * time.Millisecond

// CreateStream creates a provisioned stream with the given number of shards and
// waits until it is ACTIVE. A stream that already exists is not an error.
func CreateStream(ctx context.Context, c *kinesis.Client, stream string, shards int32) error {
	if shards < 1 {
		return fmt.Errorf("create stream %s: shard count %d < 1", stream, shards)
	}
	create := func(ctx context.Context) error {
		_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: &shards})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create stream %s: %w", stream, err)
		}
		return nil
	}
	if err := create(ctx); err != nil {
		return err
	}
	return poll(ctx, "stream "+stream+" to become ACTIVE", func(ctx context.Context) (bool, error) {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if isNotFound(err) {
			// "In use" came from a stream of that name still being deleted
			// (kinesis-mock hides it from Describe while it does): try again.
			return false, create(ctx)
		}
		if err != nil {
			return false, err
		}
		return out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive, nil
	})
}

// DeleteStream deletes a stream (and its consumers) and waits until it is gone.
// A missing stream is not an error.
func DeleteStream(ctx context.Context, c *kinesis.Client, stream string) error {
	_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &stream, EnforceConsumerDeletion: aws.Bool(true)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete stream %s: %w", stream, err)
	}
	return poll(ctx, "stream "+stream+" to disappear", func(ctx context.Context) (bool, error) {
		_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if isNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// WaitStreamActive waits until the stream is ACTIVE again, as it is after every
// create, split or merge.
func WaitStreamActive(ctx context.Context, c *kinesis.Client, stream string) error {
	return poll(ctx, "stream "+stream+" to become ACTIVE", func(ctx context.Context) (bool, error) {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &stream})
		if err != nil {
			return false, err
		}
		return out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive, nil
	})
}

// ListShards returns every shard of the stream, closed ones included, in the
// order Kinesis lists them.
func ListShards(ctx context.Context, c *kinesis.Client, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: &stream}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		// ListShards refuses StreamName together with NextToken.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// SplitShard splits an open shard at the midpoint of its hash-key range, waits
// until the stream is ACTIVE and returns the ids of the two child shards.
func SplitShard(ctx context.Context, c *kinesis.Client, stream, shardID string) ([]string, error) {
	shards, err := ListShards(ctx, c, stream)
	if err != nil {
		return nil, err
	}
	parent, ok := findShard(shards, shardID)
	if !ok {
		return nil, fmt.Errorf("split %s/%s: no such shard", stream, shardID)
	}
	if !ShardOpen(parent) {
		return nil, fmt.Errorf("split %s/%s: shard is closed", stream, shardID)
	}
	mid, err := splitPoint(aws.ToString(parent.HashKeyRange.StartingHashKey), aws.ToString(parent.HashKeyRange.EndingHashKey))
	if err != nil {
		return nil, fmt.Errorf("split %s/%s: %w", stream, shardID, err)
	}
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &stream, ShardToSplit: &shardID, NewStartingHashKey: &mid})
	if err != nil {
		return nil, fmt.Errorf("split %s/%s at %s: %w", stream, shardID, mid, err)
	}
	if err := WaitStreamActive(ctx, c, stream); err != nil {
		return nil, err
	}
	children, err := childShards(ctx, c, stream, func(s types.Shard) bool {
		return aws.ToString(s.ParentShardId) == shardID && s.AdjacentParentShardId == nil
	})
	if err != nil {
		return nil, err
	}
	if len(children) != 2 {
		return nil, fmt.Errorf("split %s/%s: found %d child shards, want 2", stream, shardID, len(children))
	}
	return children, nil
}

// MergeShards merges two open shards with adjacent hash-key ranges, waits until
// the stream is ACTIVE and returns the id of the new shard.
func MergeShards(ctx context.Context, c *kinesis.Client, stream, shardID, adjacentID string) (string, error) {
	_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: &stream, ShardToMerge: &shardID, AdjacentShardToMerge: &adjacentID})
	if err != nil {
		return "", fmt.Errorf("merge %s/%s with %s: %w", stream, shardID, adjacentID, err)
	}
	if err := WaitStreamActive(ctx, c, stream); err != nil {
		return "", err
	}
	children, err := childShards(ctx, c, stream, func(s types.Shard) bool {
		return aws.ToString(s.ParentShardId) == shardID && aws.ToString(s.AdjacentParentShardId) == adjacentID
	})
	if err != nil {
		return "", err
	}
	if len(children) != 1 {
		return "", fmt.Errorf("merge %s/%s with %s: found %d merged shards, want 1", stream, shardID, adjacentID, len(children))
	}
	return children[0], nil
}

// ShardOpen reports whether the shard still accepts records.
func ShardOpen(s types.Shard) bool {
	return s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil
}

func childShards(ctx context.Context, c *kinesis.Client, stream string, match func(types.Shard) bool) ([]string, error) {
	shards, err := ListShards(ctx, c, stream)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range shards {
		if match(s) {
			ids = append(ids, aws.ToString(s.ShardId))
		}
	}
	return ids, nil
}

func findShard(shards []types.Shard, id string) (types.Shard, bool) {
	for _, s := range shards {
		if aws.ToString(s.ShardId) == id {
			return s, true
		}
	}
	return types.Shard{}, false
}

// splitPoint returns the first hash key of the upper half of [start, end], so
// that both children get (nearly) half of the parent's keys. Hash keys are
// 128-bit, beyond int64, hence big.Int.
func splitPoint(start, end string) (string, error) {
	lo, ok := new(big.Int).SetString(start, 10)
	if !ok {
		return "", fmt.Errorf("bad starting hash key %q", start)
	}
	hi, ok := new(big.Int).SetString(end, 10)
	if !ok {
		return "", fmt.Errorf("bad ending hash key %q", end)
	}
	if hi.Cmp(lo) <= 0 {
		return "", fmt.Errorf("hash key range [%s, %s] holds a single key and cannot be split", start, end)
	}
	mid := new(big.Int).Add(lo, hi)
	mid.Rsh(mid, 1)
	mid.Add(mid, big.NewInt(1))
	return mid.String(), nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// poll calls done every pollInterval until it reports true, returns an error,
// or the context (bounded by waitTimeout) ends.
func poll(ctx context.Context, what string, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
