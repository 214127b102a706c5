package dynamodb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
)

// TestDynaliteParallelScan proves the client against a real DynamoDB
// implementation: a parallel scan in small pages returns every item exactly
// once, COUNT agrees, and DescribeTable tells the key.
func TestDynaliteParallelScan(t *testing.T) {
	c := dynamotest.Client(t)
	table := fmt.Sprintf("scan_%d", time.Now().UnixNano())
	dynamotest.CreateTable(t, c, table, dynamotest.Key{Name: "id", Type: "S"}, dynamotest.Key{Name: "rev", Type: "N"})
	const n = 700
	var items []json.RawMessage
	for i := range n {
		items = append(items, json.RawMessage(fmt.Sprintf(`{"id":{"S":"item-%04d"},"rev":{"N":"%d"},"v":{"L":[{"N":"%d"},{"S":"x"}]}}`, i, i%3, i)))
	}
	dynamotest.PutItems(t, c, table, items)
	ctx := context.Background()

	tbl, err := c.DescribeTable(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.Key(); !slices.Equal(got, []dynamodb.AttributeDefinition{{"id", "S"}, {"rev", "N"}}) {
		t.Errorf("key %v", got)
	}
	if tbl.ServerDate.IsZero() || time.Since(tbl.ServerDate).Abs() > time.Minute {
		t.Errorf("server date %v", tbl.ServerDate)
	}

	const segments = 4
	var mu sync.Mutex
	seen := map[string]int{}
	pages, counted := 0, int64(0)
	var wg sync.WaitGroup
	errs := make(chan error, 2*segments)
	for s := range segments {
		wg.Go(func() {
			errs <- c.ScanPages(ctx, dynamodb.ScanInput{TableName: table, Segment: s, TotalSegments: segments, Limit: 37, ConsistentRead: true},
				func(out dynamodb.ScanOutput) error {
					mu.Lock()
					defer mu.Unlock()
					pages++
					if len(out.Items) > 37 || int64(len(out.Items)) != out.Count {
						return fmt.Errorf("page of %d items, Count %d", len(out.Items), out.Count)
					}
					for _, it := range out.Items {
						seen[string(it)]++
					}
					return nil
				})
			errs <- c.ScanPages(ctx, dynamodb.ScanInput{TableName: table, Segment: s, TotalSegments: segments, Select: "COUNT"},
				func(out dynamodb.ScanOutput) error {
					mu.Lock()
					defer mu.Unlock()
					if len(out.Items) != 0 {
						return fmt.Errorf("COUNT returned items")
					}
					counted += out.Count
					return nil
				})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != n || counted != n {
		t.Fatalf("%d distinct items, COUNT %d; want %d", len(seen), counted, n)
	}
	scanned := map[string]bool{}
	for s, k := range seen {
		if k != 1 {
			t.Errorf("%s scanned %d times", s, k)
		}
		scanned[canonical(t, []byte(s))] = true
	}
	for _, it := range items {
		if !scanned[canonical(t, it)] {
			t.Fatalf("item %s not scanned", it)
		}
	}
	if pages < n/37 {
		t.Errorf("%d pages for %d items in pages of 37", pages, n)
	}

	_, err = c.Scan(ctx, dynamodb.ScanInput{TableName: table + "_missing"})
	var apiErr *dynamodb.Error
	if !errors.As(err, &apiErr) || apiErr.Type != "ResourceNotFoundException" {
		t.Errorf("scan of a missing table: %v", err)
	}
}

// canonical re-encodes JSON with sorted keys, so that equal items compare
// equal whatever order DynamoDB writes their attributes in.
func canonical(t *testing.T, b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
