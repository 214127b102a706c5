package dynamodb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ScanInput is a Scan request. Segment and TotalSegments split the table
// for a parallel scan; TotalSegments 0 scans it whole.
type ScanInput struct {
	TableName         string
	Segment           int
	TotalSegments     int
	Limit             int             // items per page, at most (a page also ends at 1 MB)
	ExclusiveStartKey json.RawMessage // where the previous page ended; nil for the start
	ConsistentRead    bool
	Select            string // "" (all attributes) or "COUNT"
}

// MarshalJSON writes the request: Segment only with TotalSegments (0 is a
// segment), and no empty fields.
func (in ScanInput) MarshalJSON() ([]byte, error) {
	type wire struct {
		TableName         string
		Segment           *int            `json:",omitempty"`
		TotalSegments     int             `json:",omitempty"`
		Limit             int             `json:",omitempty"`
		ExclusiveStartKey json.RawMessage `json:",omitempty"`
		ConsistentRead    bool            `json:",omitempty"`
		Select            string          `json:",omitempty"`
	}
	w := wire{TableName: in.TableName, TotalSegments: in.TotalSegments, Limit: in.Limit,
		ExclusiveStartKey: in.ExclusiveStartKey, ConsistentRead: in.ConsistentRead, Select: in.Select}
	if in.TotalSegments > 0 {
		w.Segment = &in.Segment
	}
	return json.Marshal(w)
}

// ScanOutput is one page.
type ScanOutput struct {
	// Items are in DynamoDB's attribute-value JSON ({"id": {"S": "a"}}),
	// as a change record's NewImage.
	Items            []json.RawMessage
	Count            int64
	ScannedCount     int64
	LastEvaluatedKey json.RawMessage // nil on the last page
}

// Scan reads one page.
func (c *Client) Scan(ctx context.Context, in ScanInput) (ScanOutput, error) {
	var out ScanOutput
	if err := c.Call(ctx, "Scan", in, &out); err != nil {
		return ScanOutput{}, err
	}
	if string(out.LastEvaluatedKey) == "null" {
		out.LastEvaluatedKey = nil
	}
	return out, nil
}

// ScanPages reads pages from in.ExclusiveStartKey to the end, handing each
// to fn; an error from fn stops it.
func (c *Client) ScanPages(ctx context.Context, in ScanInput, fn func(ScanOutput) error) error {
	for {
		out, err := c.Scan(ctx, in)
		if err != nil {
			return err
		}
		if err := fn(out); err != nil {
			return err
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Table is what DescribeTable tells about a table.
type Table struct {
	TableName            string
	TableStatus          string
	ItemCount            int64 // DynamoDB's estimate, updated about every six hours
	TableSizeBytes       int64
	KeySchema            []KeyElement
	AttributeDefinitions []AttributeDefinition
	// ServerDate is the Date of the answer: DynamoDB's clock, truncated to
	// the second.
	ServerDate time.Time `json:"-"`
}

// KeyElement is one key attribute: KeyType HASH (partition) or RANGE (sort).
type KeyElement struct{ AttributeName, KeyType string }

// AttributeDefinition gives a key attribute's type: S, N or B.
type AttributeDefinition struct{ AttributeName, AttributeType string }

// Key lists the key attributes, partition key first, with their types.
func (t Table) Key() []AttributeDefinition {
	var out []AttributeDefinition
	for _, kind := range []string{"HASH", "RANGE"} {
		for _, k := range t.KeySchema {
			if k.KeyType != kind {
				continue
			}
			def := AttributeDefinition{AttributeName: k.AttributeName}
			for _, d := range t.AttributeDefinitions {
				if d.AttributeName == k.AttributeName {
					def.AttributeType = d.AttributeType
				}
			}
			out = append(out, def)
		}
	}
	return out
}

// DescribeTable describes one table.
func (c *Client) DescribeTable(ctx context.Context, name string) (Table, error) {
	var out struct{ Table Table }
	date, err := c.call(ctx, "DescribeTable", map[string]string{"TableName": name}, &out)
	if err != nil {
		return Table{}, err
	}
	if out.Table.TableName == "" {
		return Table{}, fmt.Errorf("dynamodb DescribeTable %s: the answer holds no table", name)
	}
	out.Table.ServerDate = date
	return out.Table, nil
}

// Destination is one Kinesis streaming destination of a table.
type Destination struct {
	StreamArn                            string
	DestinationStatus                    string // ENABLING, ACTIVE, DISABLING, DISABLED, ENABLE_FAILED, UPDATING
	ApproximateCreationDateTimePrecision string // MILLISECOND (default) or MICROSECOND
}

// KinesisDestinations lists the table's Kinesis streaming destinations.
func (c *Client) KinesisDestinations(ctx context.Context, table string) ([]Destination, error) {
	var out struct{ KinesisDataStreamDestinations []Destination }
	err := c.Call(ctx, "DescribeKinesisStreamingDestination", map[string]string{"TableName": table}, &out)
	return out.KinesisDataStreamDestinations, err
}
