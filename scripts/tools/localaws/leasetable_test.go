package localaws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestCreateLeaseTable(t *testing.T) {
	_, dc := testClients(t)
	name := newLeaseTable(t, dc)
	out, err := dc.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatal(err)
	}
	tbl := out.Table
	if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
	}
	if got := keySchema(tbl.KeySchema); got != "leaseKey:HASH" {
		t.Errorf("key schema %s", got)
	}
	if len(tbl.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("%d GSIs, want 1", len(tbl.GlobalSecondaryIndexes))
	}
	gsi := tbl.GlobalSecondaryIndexes[0]
	if aws.ToString(gsi.IndexName) != LeaseOwnerIndex || keySchema(gsi.KeySchema) != "leaseOwner:HASH leaseKey:RANGE" ||
		gsi.Projection.ProjectionType != types.ProjectionTypeKeysOnly || gsi.IndexStatus != types.IndexStatusActive {
		t.Errorf("GSI %s %s %s %s", aws.ToString(gsi.IndexName), keySchema(gsi.KeySchema), gsi.Projection.ProjectionType, gsi.IndexStatus)
	}
	if err := CreateLeaseTable(t.Context(), dc, name); err != nil {
		t.Fatalf("second create: %v", err)
	}
}

func TestCreateLeaseTableRefusesTableWithoutIndex(t *testing.T) {
	_, dc := testClients(t)
	name := uniqueName(t)
	if err := createHashTable(t.Context(), dc, name, "leaseKey"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteTable(context.Background(), dc, name) })
	err := CreateLeaseTable(t.Context(), dc, name)
	if err == nil || !strings.Contains(err.Error(), "without index") {
		t.Fatalf("got %v, want error about the missing index", err)
	}
}

func TestCreateCoordinatorTables(t *testing.T) {
	_, dc := testClients(t)
	app := newLeaseTable(t, dc)
	for range 2 { // idempotent
		if err := CreateCoordinatorTables(t.Context(), dc, app); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string]string{app + "-CoordinatorState": "key:HASH", app + "-WorkerMetricStats": "wid:HASH"} {
		out, err := dc.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if got := keySchema(out.Table.KeySchema); got != want || out.Table.TableStatus != types.TableStatusActive {
			t.Errorf("%s: key schema %s status %s, want %s ACTIVE", table, got, out.Table.TableStatus, want)
		}
	}
	// DeleteLeaseTables (in cleanup) removes the side tables too.
	if err := DeleteLeaseTables(t.Context(), dc, app); err != nil {
		t.Fatal(err)
	}
	list, err := dc.ListTables(t.Context(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list.TableNames {
		if strings.HasPrefix(n, app) {
			t.Errorf("table %s left after DeleteLeaseTables", n)
		}
	}
}

func TestLeasesDecodesKCLItems(t *testing.T) {
	_, dc := testClients(t)
	table := newLeaseTable(t, dc)
	// Items shaped like the ones KCL 3.1 writes (seen in a real daemon run).
	items := []map[string]types.AttributeValue{
		{
			"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000002"},
			"leaseOwner":                   &types.AttributeValueMemberS{Value: "worker-a"},
			"leaseCounter":                 &types.AttributeValueMemberN{Value: "12"},
			"checkpoint":                   &types.AttributeValueMemberS{Value: "49680637294572372351043125616615854660263016119977115682"},
			"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "3"},
			"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "1"},
			"parentShardId":                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000000"}},
			"throughputKBps":               &types.AttributeValueMemberN{Value: "0.025106"},
		},
		{
			"leaseKey":     &types.AttributeValueMemberS{Value: "shardId-000000000000"},
			"leaseCounter": &types.AttributeValueMemberN{Value: "4"},
			"checkpoint":   &types.AttributeValueMemberS{Value: "SHARD_END"},
		},
	}
	for _, item := range items {
		if _, err := dc.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Leases(t.Context(), dc, table)
	if err != nil {
		t.Fatal(err)
	}
	want := []Lease{
		{LeaseKey: "shardId-000000000000", LeaseCounter: 4, Checkpoint: "SHARD_END"},
		{LeaseKey: "shardId-000000000002", LeaseOwner: "worker-a", LeaseCounter: 12,
			Checkpoint: "49680637294572372351043125616615854660263016119977115682", CheckpointSubSequenceNumber: 3,
			OwnerSwitchesSinceCheckpoint: 1, ParentShardIDs: []string{"shardId-000000000000"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d leases, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !leaseEqual(got[i], want[i]) {
			t.Errorf("lease %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLeasesOfMissingTable(t *testing.T) {
	_, dc := testClients(t)
	if _, err := Leases(t.Context(), dc, uniqueName(t)); err == nil {
		t.Fatal("no error for a missing table")
	}
}

func leaseEqual(a, b Lease) bool {
	return a.LeaseKey == b.LeaseKey && a.LeaseOwner == b.LeaseOwner && a.LeaseCounter == b.LeaseCounter &&
		a.Checkpoint == b.Checkpoint && a.CheckpointSubSequenceNumber == b.CheckpointSubSequenceNumber &&
		a.OwnerSwitchesSinceCheckpoint == b.OwnerSwitchesSinceCheckpoint &&
		strings.Join(a.ParentShardIDs, ",") == strings.Join(b.ParentShardIDs, ",")
}

func keySchema(ks []types.KeySchemaElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = aws.ToString(k.AttributeName) + ":" + string(k.KeyType)
	}
	return strings.Join(parts, " ")
}
