// Package leasetable reads a KCL application's lease table in DynamoDB:
// the table named after applicationName, one item per shard with its
// leaseKey, leaseOwner, checkpoint and leaseCounter. It is the lease
// reader of the status command and the exporter, through the product's own
// DynamoDB client (no AWS SDK), and only ever reads.
package leasetable

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
)

// Reader lists the leases of one lease table. It implements
// status.LeaseReader.
type Reader struct {
	Client *dynamodb.Client
	Table  string // the daemon's applicationName
}

// Leases scans the table (a lease table holds an item per shard of the
// stream, so a scan is small); eventually consistent reads are enough for
// people and for metrics.
func (r *Reader) Leases(ctx context.Context) ([]status.Lease, error) {
	var leases []status.Lease
	err := r.Client.ScanPages(ctx, dynamodb.ScanInput{TableName: r.Table}, func(page dynamodb.ScanOutput) error {
		for _, item := range page.Items {
			l, err := parse(item)
			if err != nil {
				return err
			}
			leases = append(leases, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lease table %s: %w", r.Table, err)
	}
	return leases, nil
}

// Source names the table, for people.
func (r *Reader) Source() string { return "DynamoDB table " + r.Table }

// attribute is the part of a DynamoDB attribute value a lease needs: a
// string or a number (others, such as a parent shard's string set, are
// left alone).
type attribute struct {
	S *string
	N *string
}

// parse reads one lease item.
func parse(item json.RawMessage) (status.Lease, error) {
	var attrs map[string]attribute
	if err := json.Unmarshal(item, &attrs); err != nil {
		return status.Lease{}, fmt.Errorf("a lease item is not DynamoDB JSON: %w", err)
	}
	key := attrs["leaseKey"].S
	if key == nil {
		return status.Lease{}, fmt.Errorf("an item without a string leaseKey: %.200s", item)
	}
	l := status.Lease{Key: *key, Owner: str(attrs["leaseOwner"]), Checkpoint: str(attrs["checkpoint"])}
	var err error
	if l.CheckpointSubSequence, err = num(attrs["checkpointSubSequenceNumber"]); err == nil {
		l.Counter, err = num(attrs["leaseCounter"])
	}
	if err != nil {
		return status.Lease{}, fmt.Errorf("lease %s: %w", l.Key, err)
	}
	return l, nil
}

func str(a attribute) string {
	if a.S == nil {
		return ""
	}
	return *a.S
}

func num(a attribute) (int64, error) {
	if a.N == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(*a.N, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", *a.N, err)
	}
	return n, nil
}
