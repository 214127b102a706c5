package status_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// With the daemon's lease table (dynalite here), status and the exporter
// show each lease's owner, a shard no process has reported on, and a row
// whose lease is gone; with the lease table unreachable, the progress
// table alone decides.
func TestLeaseOwners(t *testing.T) {
	c := dynamotest.Client(t)
	app := fmt.Sprintf("status-app-%d", time.Now().UnixNano())
	dynamotest.CreateTable(t, c, app, dynamotest.Key{Name: "leaseKey", Type: "S"})
	const shard2 = "shardId-000000000002"
	dynamotest.PutItems(t, c, app, []json.RawMessage{
		json.RawMessage(`{"leaseKey":{"S":"` + shard0 + `"},"leaseOwner":{"S":"worker-a"},"leaseCounter":{"N":"7"},"checkpoint":{"S":"TRIM_HORIZON"}}`),
		json.RawMessage(`{"leaseKey":{"S":"` + shard2 + `"},"leaseCounter":{"N":"1"},"checkpoint":{"S":"TRIM_HORIZON"}}`),
	})
	// The leases are the same whatever the database.
	d := newDeployment(t, pgtest.Get(t, pgtest.PostgreSQL))
	d.set(t, "applicationName", app, "regionName", "us-east-1", "dynamoDBEndpoint", dynamotest.Endpoint(t))
	d.shard(t, shard0, "shutdown", records(0, 10, time.Second))
	d.shard(t, shard1, "shutdown", records(10, 10, time.Second))
	env := []string{"AWS_ACCESS_KEY_ID=" + dynamotest.Credentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + dynamotest.Credentials.SecretAccessKey}

	code, out, errOut := d.run(t, env, "status")
	if code != 0 || !strings.Contains(out, "leases: DynamoDB table "+app) || !regexpLine(out, shard0+`\s+worker-a\s.*\sok$`) ||
		!regexpLine(out, shard1+`\s+\(none\)\s.*\sno lease$`) || !regexpLine(out, shard2+`\s+\(none\)\s+-\s.*\sno progress$`) {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	url := d.exporter(t, env, "--stale", "1h")
	m := scrape(t, url+"/metrics")
	for _, line := range []string{
		"kinesis_cratedb_lease_table_up 1",
		`kinesis_cratedb_shard_info{table="` + d.table + `",shard="` + shard0 + `",owner="worker-a",state="ok"} 1`,
		`kinesis_cratedb_shard_info{table="` + d.table + `",shard="` + shard2 + `",owner="",state="no progress"} 1`,
	} {
		if !strings.Contains(m.body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if m.code != http.StatusOK || t.Failed() {
		t.Fatalf("/metrics: %+v", m)
	}

	d.set(t, "dynamoDBEndpoint", "http://127.0.0.1:1")
	start := time.Now()
	code, out, errOut = d.run(t, env, "status")
	if code != 0 || !strings.Contains(out, "leases: unreadable (DynamoDB table "+app+": lease table "+app+":") || !regexpLine(out, shard0+`\s+-\s.*\sok$`) {
		t.Fatalf("status without the lease table: exit %d\n%s%s", code, out, errOut)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("status waited %v for an unreachable lease table", took)
	}
}
