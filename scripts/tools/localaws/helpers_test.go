package localaws

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// testEndpoints returns the emulators to test against: KINESIS_ENDPOINT and
// DYNAMODB_ENDPOINT, as printed by "sh scripts/stack.sh env". Without them the
// test is skipped, except under CI=true, where that would hide missing coverage.
func testEndpoints(t *testing.T) Endpoints {
	t.Helper()
	e := Endpoints{Kinesis: os.Getenv("KINESIS_ENDPOINT"), DynamoDB: os.Getenv("DYNAMODB_ENDPOINT")}
	if e.Kinesis == "" || e.DynamoDB == "" {
		msg := "KINESIS_ENDPOINT and DYNAMODB_ENDPOINT unset; run: sh scripts/stack.sh start && eval \"$(sh scripts/stack.sh env)\""
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return e
}

func testClients(t *testing.T) (*kinesis.Client, *dynamodb.Client) {
	t.Helper()
	e := testEndpoints(t)
	kc, err := e.KinesisClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dc, err := e.DynamoDBClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return kc, dc
}

var nameSeq atomic.Int64

// uniqueName makes a stream or table name no other test (or earlier run against
// the same emulator) uses.
func uniqueName(t *testing.T) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("%.80s-%d-%d", clean, time.Now().UnixNano()%1e9, nameSeq.Add(1))
}

// newStream creates a stream that is deleted when the test ends.
func newStream(t *testing.T, kc *kinesis.Client, shards int32) string {
	t.Helper()
	name := uniqueName(t)
	if err := CreateStream(t.Context(), kc, name, shards); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteStream(ctx, kc, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// newLeaseTable creates a lease table that is deleted when the test ends.
func newLeaseTable(t *testing.T, dc *dynamodb.Client) string {
	t.Helper()
	name := uniqueName(t)
	if err := CreateLeaseTable(t.Context(), dc, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteLeaseTables(ctx, dc, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// readAll reads every record of every shard from TRIM_HORIZON until each shard
// is drained (closed shard ended, or an open shard returned nothing while
// caught up).
func readAll(t *testing.T, kc *kinesis.Client, stream string) map[string][]types.Record {
	t.Helper()
	ctx := t.Context()
	shards, err := ListShards(ctx, kc, stream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]types.Record{}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: &stream, ShardId: &id, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				t.Fatal(err)
			}
			out[id] = append(out[id], res.Records...)
			if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return out
}
