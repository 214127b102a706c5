package dynamotest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// Model is what a test's table holds, by "id/rev".
type Model map[string]Item

// Load fills the table with n generated items item-00000… (rev = i mod 3).
func (m Model) Load(t testing.TB, c *dynamodb.Client, table string, r *rand.Rand, n int) {
	t.Helper()
	items := make([]json.RawMessage, 0, n)
	for i := range n {
		it := GenItem(r, fmt.Sprintf("item-%05d", i), int64(i%3))
		m[modelKey(it.ID, it.Rev)] = it
		items = append(items, it.Attrs)
	}
	PutItems(t, c, table, items)
}

// Change makes a change to item (id, rev) in the table and in m, as a user
// would: a third of existing items are removed, the others replaced, a
// missing one inserted. It returns the record DynamoDB's Kinesis
// destination publishes for it, stamped after DynamoDB acknowledged the
// write (the destination stamps the change's own time, which is earlier).
func (m Model) Change(t testing.TB, c *dynamodb.Client, table string, r *rand.Rand, id string, rev int64) []byte {
	t.Helper()
	key := modelKey(id, rev)
	old, exists := m[key]
	if exists && r.IntN(3) == 0 {
		DeleteItem(t, c, table, old.Key())
		delete(m, key)
		return ChangeRecord(table, "REMOVE", old.Key(), nil, time.Now())
	}
	it := GenItem(r, id, rev)
	PutItem(t, c, table, it.Attrs)
	m[key] = it
	event := "MODIFY"
	if !exists {
		event = "INSERT"
	}
	return ChangeRecord(table, event, it.Key(), it.Attrs, time.Now())
}

// Want lists the rows the sink must hold for the table (see Item.Want).
func (m Model) Want() []json.RawMessage {
	out := make([]json.RawMessage, 0, len(m))
	for _, it := range m {
		out = append(out, it.Want)
	}
	return out
}

func modelKey(id string, rev int64) string { return fmt.Sprintf("%s/%d", id, rev) }
