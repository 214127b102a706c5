package status

import (
	"context"
	"strings"
)

// Lease is one shard's lease in the KCL lease table (a DynamoDB table
// named after applicationName): who processes the shard and where it is
// checkpointed, as the daemon sees it.
type Lease struct {
	Key                   string // leaseKey as stored
	Owner                 string // leaseOwner: the worker; "" when nobody holds it
	Checkpoint            string // a sequence number, TRIM_HORIZON, LATEST or SHARD_END
	CheckpointSubSequence int64
	Counter               int64 // leaseCounter: goes up at every renewal
}

// ShardID is the shard the lease is for: the lease key itself, or, in
// KCL's multi-stream mode ("account:stream:epoch:shardId"), its last part,
// which is what the daemon hands the child and the progress table keeps.
func (l Lease) ShardID() string {
	return l.Key[strings.LastIndexByte(l.Key, ':')+1:]
}

// LeaseReader lists an application's leases. Status and the exporter work
// without one (the progress table alone); with one they show each shard's
// owner and the shards no process has reported on yet.
type LeaseReader interface {
	Leases(ctx context.Context) ([]Lease, error)
	// Source names where the leases come from, for people (no secrets).
	Source() string
}

// shardEnd is KCL's checkpoint of a shard read to its end.
const shardEnd = "SHARD_END"
