package localaws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// LeaseOwnerIndex is the global secondary index KCL 3 queries to find a worker's
// leases. KCL adds it with UpdateTable, which dynalite rejects for on-demand
// tables, so the lease table must be created with it up front.
const LeaseOwnerIndex = "LeaseOwnerToLeaseKeyIndex"

// KCL 3.x (before 3.5) keeps worker metrics and coordinator state (leader lock,
// migration state) in two tables named after the application.
const (
	workerMetricsSuffix    = "-WorkerMetricStats"
	coordinatorStateSuffix = "-CoordinatorState"
)

// CreateLeaseTable creates the KCL 3 lease table (named after the KCL
// applicationName, unless the daemon sets tableName) exactly as KCL would, GSI
// included, and waits until table and index are ACTIVE. An existing table with
// the index is fine; one without it is an error, because KCL would then try to
// add the index itself and fail on dynalite.
func CreateLeaseTable(ctx context.Context, c *dynamodb.Client, table string) error {
	_, err := c.CreateTable(ctx, leaseTableInput(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create lease table %s: %w", table, err)
	}
	return poll(ctx, "lease table "+table+" and index to become ACTIVE", func(ctx context.Context) (bool, error) {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if err != nil {
			return false, err
		}
		if out.Table.TableStatus != types.TableStatusActive {
			return false, nil
		}
		for _, gsi := range out.Table.GlobalSecondaryIndexes {
			if aws.ToString(gsi.IndexName) == LeaseOwnerIndex {
				return gsi.IndexStatus == types.IndexStatusActive, nil
			}
		}
		return false, fmt.Errorf("table %s exists without index %s; delete it (kinesis-local delete-lease-table) and create it again", table, LeaseOwnerIndex)
	})
}

func leaseTableInput(table string) *dynamodb.CreateTableInput {
	str := types.ScalarAttributeTypeS
	return &dynamodb.CreateTableInput{
		TableName:   &table,
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("leaseKey"), AttributeType: str},
			{AttributeName: aws.String("leaseOwner"), AttributeType: str},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(LeaseOwnerIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	}
}

// CreateCoordinatorTables creates the two side tables KCL 3.0-3.4 keeps next to
// the lease table, <app>-CoordinatorState and <app>-WorkerMetricStats, and
// waits until they are ACTIVE. KCL creates them itself when missing, but then
// waits for them with the SDK's table waiter, which sleeps 20 s per table before
// it looks again. Do not use this with KCL 3.5 or later: it keeps that state in
// the lease table and treats existing side tables as a legacy layout to migrate.
func CreateCoordinatorTables(ctx context.Context, c *dynamodb.Client, app string) error {
	for _, t := range []struct{ name, key string }{
		{app + coordinatorStateSuffix, "key"},
		{app + workerMetricsSuffix, "wid"},
	} {
		if err := createHashTable(ctx, c, t.name, t.key); err != nil {
			return err
		}
	}
	return nil
}

func createHashTable(ctx context.Context, c *dynamodb.Client, table, key string) error {
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: &key, KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &key, AttributeType: types.ScalarAttributeTypeS}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	return poll(ctx, "table "+table+" to become ACTIVE", func(ctx context.Context) (bool, error) {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if err != nil {
			return false, err
		}
		return out.Table.TableStatus == types.TableStatusActive, nil
	})
}

// DeleteLeaseTables deletes the lease table and the two side tables KCL 3
// creates for the application, and waits until they are gone. Missing tables are
// skipped, so a fresh run of the same application can start from scratch.
func DeleteLeaseTables(ctx context.Context, c *dynamodb.Client, table string) error {
	for _, name := range []string{table, table + workerMetricsSuffix, table + coordinatorStateSuffix} {
		if err := deleteTable(ctx, c, name); err != nil {
			return err
		}
	}
	return nil
}

func deleteTable(ctx context.Context, c *dynamodb.Client, table string) error {
	_, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete table %s: %w", table, err)
	}
	return poll(ctx, "table "+table+" to disappear", func(ctx context.Context) (bool, error) {
		_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
		if errors.As(err, &nf) {
			return true, nil
		}
		return false, err
	})
}

// Lease is the part of a KCL lease item that tells who processes a shard and how
// far it got.
type Lease struct {
	LeaseKey                     string   `json:"leaseKey"`
	LeaseOwner                   string   `json:"leaseOwner"`
	LeaseCounter                 int64    `json:"leaseCounter"`
	Checkpoint                   string   `json:"checkpoint"`
	CheckpointSubSequenceNumber  int64    `json:"checkpointSubSequenceNumber"`
	OwnerSwitchesSinceCheckpoint int64    `json:"ownerSwitchesSinceCheckpoint"`
	ParentShardIDs               []string `json:"parentShardIds,omitempty"`
}

// Leases scans the lease table and returns its leases sorted by key.
func Leases(ctx context.Context, c *dynamodb.Client, table string) ([]Lease, error) {
	var leases []Lease
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan lease table %s: %w", table, err)
		}
		for _, item := range page.Items {
			l, err := leaseFromItem(item)
			if err != nil {
				return nil, fmt.Errorf("lease table %s: %w", table, err)
			}
			leases = append(leases, l)
		}
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].LeaseKey < leases[j].LeaseKey })
	return leases, nil
}

func leaseFromItem(item map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	var err error
	l.LeaseKey = stringAttr(item, "leaseKey")
	l.LeaseOwner = stringAttr(item, "leaseOwner")
	l.Checkpoint = stringAttr(item, "checkpoint")
	if l.LeaseCounter, err = numberAttr(item, "leaseCounter"); err != nil {
		return l, err
	}
	if l.CheckpointSubSequenceNumber, err = numberAttr(item, "checkpointSubSequenceNumber"); err != nil {
		return l, err
	}
	if l.OwnerSwitchesSinceCheckpoint, err = numberAttr(item, "ownerSwitchesSinceCheckpoint"); err != nil {
		return l, err
	}
	if ss, ok := item["parentShardId"].(*types.AttributeValueMemberSS); ok {
		l.ParentShardIDs = append([]string(nil), ss.Value...)
		sort.Strings(l.ParentShardIDs)
	}
	return l, nil
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func numberAttr(item map[string]types.AttributeValue, name string) (int64, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s of lease %s: %w", name, stringAttr(item, "leaseKey"), err)
	}
	return v, nil
}
