package leasetable

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, item string
		want       status.Lease
		err        string
	}{
		{"a held lease as KCL 3 writes it",
			`{"leaseKey":{"S":"shardId-000000000001"},"leaseOwner":{"S":"worker-a"},"leaseCounter":{"N":"42"},` +
				`"checkpoint":{"S":"49680693884921087397153878955241989883711045910610837522"},"checkpointSubSequenceNumber":{"N":"3"},` +
				`"ownerSwitchesSinceCheckpoint":{"N":"0"},"parentShardId":{"SS":["shardId-000000000000"]},"throughputKBps":{"N":"1.5"}}`,
			status.Lease{Key: "shardId-000000000001", Owner: "worker-a", Counter: 42,
				Checkpoint: "49680693884921087397153878955241989883711045910610837522", CheckpointSubSequence: 3}, ""},
		{"nobody holds it", `{"leaseKey":{"S":"shardId-000000000002"},"checkpoint":{"S":"TRIM_HORIZON"}}`,
			status.Lease{Key: "shardId-000000000002", Checkpoint: "TRIM_HORIZON"}, ""},
		{"no lease key", `{"leaseOwner":{"S":"w"}}`, status.Lease{}, "without a string leaseKey"},
		{"a counter that is no integer", `{"leaseKey":{"S":"s"},"leaseCounter":{"N":"x"}}`, status.Lease{}, `lease s: number "x"`},
		{"not JSON", `{"leaseKey":`, status.Lease{}, "not DynamoDB JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(json.RawMessage(tt.item))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parse = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// Against dynalite: a lease table of several pages, as KCL keeps it.
func TestLeasesFromDynamoDB(t *testing.T) {
	c := dynamotest.Client(t)
	table := fmt.Sprintf("leases-%d", time.Now().UnixNano())
	dynamotest.CreateTable(t, c, table, dynamotest.Key{Name: "leaseKey", Type: "S"})
	var items []json.RawMessage
	for i := range 30 {
		owner := `,"leaseOwner":{"S":"worker-` + fmt.Sprint(i%3) + `"}`
		if i == 7 {
			owner = ""
		}
		items = append(items, json.RawMessage(fmt.Sprintf(`{"leaseKey":{"S":"shardId-%012d"},"leaseCounter":{"N":"%d"},"checkpoint":{"S":"TRIM_HORIZON"},"checkpointSubSequenceNumber":{"N":"0"}%s}`, i, i, owner)))
	}
	dynamotest.PutItems(t, c, table, items)
	r := &Reader{Client: c, Table: table}
	leases, err := r.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].Key < leases[j].Key })
	if len(leases) != 30 || leases[7].Owner != "" || leases[8].Owner != "worker-2" || leases[29].Counter != 29 || leases[3].ShardID() != "shardId-000000000003" {
		t.Fatalf("leases %+v", leases)
	}
	if _, err := (&Reader{Client: c, Table: table + "-missing"}).Leases(context.Background()); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("a missing table: %v", err)
	}
	if r.Source() != "DynamoDB table "+table {
		t.Fatalf("Source() = %q", r.Source())
	}
}
