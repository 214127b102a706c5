// Package dynamotest gives tests a DynamoDB to run against: the dynalite
// that scripts/stack.sh starts (DYNAMODB_ENDPOINT, always on 127.0.0.1),
// and helpers to make and fill tables through the product's own client.
package dynamotest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// Credentials are dummies: dynalite does not check signatures.
var Credentials = creds.Static{AccessKeyID: "AKIALOCALSTACK0000000", SecretAccessKey: "local", Source: "dynamotest"}

// Endpoint returns DYNAMODB_ENDPOINT; without it the test is skipped
// (fails under CI=true). Anything but 127.0.0.1 is refused: tests never
// reach AWS.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	if ep == "" {
		testenv.Missing(t, "DYNAMODB_ENDPOINT is not set: run scripts/test.sh, or `sh scripts/stack.sh start` and eval its env")
	}
	if !strings.HasPrefix(ep, "http://127.0.0.1:") {
		t.Fatalf("DYNAMODB_ENDPOINT=%s: tests only talk to 127.0.0.1", ep)
	}
	return ep
}

// Client is a product client of the local DynamoDB.
func Client(t testing.TB) *dynamodb.Client {
	return &dynamodb.Client{Endpoint: Endpoint(t), Region: "us-east-1", Credentials: Credentials}
}

// Key is one key attribute of a table to create: Type S, N or B.
type Key struct{ Name, Type string }

// CreateTable makes an on-demand table with the key (partition key
// first), waits until it is ACTIVE, and deletes it when the test ends.
func CreateTable(t testing.TB, c *dynamodb.Client, name string, key ...Key) {
	t.Helper()
	ctx := context.Background()
	var schema, defs []map[string]string
	for i, k := range key {
		kind := "HASH"
		if i > 0 {
			kind = "RANGE"
		}
		schema = append(schema, map[string]string{"AttributeName": k.Name, "KeyType": kind})
		defs = append(defs, map[string]string{"AttributeName": k.Name, "AttributeType": k.Type})
	}
	in := map[string]any{"TableName": name, "BillingMode": "PAY_PER_REQUEST", "KeySchema": schema, "AttributeDefinitions": defs}
	if err := c.Call(ctx, "CreateTable", in, nil); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Call(context.Background(), "DeleteTable", map[string]string{"TableName": name}, nil) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		tbl, err := c.DescribeTable(ctx, name)
		if err == nil && tbl.TableStatus == "ACTIVE" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("table %s not ACTIVE: %v %+v", name, err, tbl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PutItems writes items (attribute-value JSON) with BatchWriteItem, 25 at
// a time, until none is left unprocessed.
func PutItems(t testing.TB, c *dynamodb.Client, table string, items []json.RawMessage) {
	t.Helper()
	for start := 0; start < len(items); start += 25 {
		var reqs []map[string]any
		for _, it := range items[start:min(start+25, len(items))] {
			reqs = append(reqs, map[string]any{"PutRequest": map[string]json.RawMessage{"Item": it}})
		}
		if err := batchWrite(c, map[string]any{table: reqs}); err != nil {
			t.Fatalf("put items into %s: %v", table, err)
		}
	}
}

func batchWrite(c *dynamodb.Client, requests map[string]any) error {
	for range 100 {
		var out struct{ UnprocessedItems map[string]json.RawMessage }
		if err := c.Call(context.Background(), "BatchWriteItem", map[string]any{"RequestItems": requests}, &out); err != nil {
			return err
		}
		if len(out.UnprocessedItems) == 0 {
			return nil
		}
		requests = map[string]any{}
		for k, v := range out.UnprocessedItems {
			requests[k] = v
		}
	}
	return fmt.Errorf("items still unprocessed after 100 rounds")
}
