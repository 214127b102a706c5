package dynamotest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
)

// PutItem writes one item (attribute-value JSON) and returns when DynamoDB
// has acknowledged it.
func PutItem(t testing.TB, c *dynamodb.Client, table string, item json.RawMessage) {
	t.Helper()
	if err := c.Call(context.Background(), "PutItem", map[string]any{"TableName": table, "Item": item}, nil); err != nil {
		t.Fatalf("put item into %s: %v", table, err)
	}
}

// DeleteItem removes the item with key (attribute-value JSON).
func DeleteItem(t testing.TB, c *dynamodb.Client, table string, key json.RawMessage) {
	t.Helper()
	if err := c.Call(context.Background(), "DeleteItem", map[string]any{"TableName": table, "Key": key}, nil); err != nil {
		t.Fatalf("delete item from %s: %v", table, err)
	}
}

// ChangeRecord is the record DynamoDB's Kinesis destination publishes for
// a change made at `at`: eventName INSERT, MODIFY or REMOVE, the key, and
// for the first two the new image. The time is in milliseconds, the
// destination's default precision (cut, as AWS does).
func ChangeRecord(table, eventName string, keys, newImage json.RawMessage, at time.Time) []byte {
	image := ""
	if newImage != nil {
		image = `,"NewImage":` + string(newImage)
	}
	return fmt.Appendf(nil, `{"awsRegion":"us-east-1","eventID":"%s-%d","eventName":%q,"userIdentity":null,`+
		`"recordFormat":"application/json","tableName":%q,"eventSource":"aws:dynamodb",`+
		`"dynamodb":{"ApproximateCreationDateTime":%d,"ApproximateCreationDateTimePrecision":"MILLISECOND",`+
		`"Keys":%s%s,"SizeBytes":%d}}`, eventName, at.UnixNano(), eventName, table, at.UnixMilli(), keys, image, len(newImage))
}
