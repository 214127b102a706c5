package localaws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// SeedLeases writes one unowned lease per shard of a never-resharded stream into
// the lease table, with its checkpoint at position (TRIM_HORIZON or LATEST, the
// daemon's initialPositionInStream). It returns how many leases it wrote.
//
// Why: while the lease table is empty, KCL's Scheduler sleeps a random 1-30 s
// (polling every 3 s, not configurable) before it creates the leases itself, so
// that a fleet of workers starting together does not stampede. A single local
// worker gains nothing from that. With leases present KCL skips the wait and
// assigns them on its first pass.
//
// Leases that exist already are left alone. A stream with closed shards is
// refused: KCL's own shard sync knows how to order parent and child leases, and
// it should do that job.
func SeedLeases(ctx context.Context, dc *dynamodb.Client, kc *kinesis.Client, table, stream, position string) (int, error) {
	position = strings.ToUpper(position)
	if position != "TRIM_HORIZON" && position != "LATEST" {
		return 0, fmt.Errorf("seed leases: initial position %q is not TRIM_HORIZON or LATEST", position)
	}
	shards, err := ListShards(ctx, kc, stream)
	if err != nil {
		return 0, err
	}
	for _, s := range shards {
		if !ShardOpen(s) || s.ParentShardId != nil {
			return 0, fmt.Errorf("seed leases: stream %s has been resharded (shard %s); start the daemon without seeded leases",
				stream, aws.ToString(s.ShardId))
		}
	}
	n := 0
	for _, s := range shards {
		item := map[string]ddbtypes.AttributeValue{
			"leaseKey":                     &ddbtypes.AttributeValueMemberS{Value: aws.ToString(s.ShardId)},
			"leaseCounter":                 &ddbtypes.AttributeValueMemberN{Value: "0"},
			"ownerSwitchesSinceCheckpoint": &ddbtypes.AttributeValueMemberN{Value: "0"},
			"checkpoint":                   &ddbtypes.AttributeValueMemberS{Value: position},
			"checkpointSubSequenceNumber":  &ddbtypes.AttributeValueMemberN{Value: "0"},
			"startingHashKey":              &ddbtypes.AttributeValueMemberS{Value: aws.ToString(s.HashKeyRange.StartingHashKey)},
			"endingHashKey":                &ddbtypes.AttributeValueMemberS{Value: aws.ToString(s.HashKeyRange.EndingHashKey)},
		}
		_, err := dc.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           &table,
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
		})
		var exists *ddbtypes.ConditionalCheckFailedException
		if errors.As(err, &exists) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("seed lease %s in %s: %w", aws.ToString(s.ShardId), table, err)
		}
		n++
	}
	return n, nil
}
