// Package record names a Kinesis record wherever it travels after the
// protocol: a row, a change and a dead letter each carry the Source they
// came from, so that every one of them can be traced back to its place in
// the stream and stored under the same key.
package record

import (
	"strconv"
	"time"
)

// Source is one Kinesis (sub-)record and where it came from.
type Source struct {
	ShardID           string
	SequenceNumber    string // decimal string up to 128 digits; never parsed
	SubSequenceNumber int64
	PartitionKey      string
	ArrivedAt         time.Time // approximate arrival; zero when unknown
	Data              []byte    // the record's bytes as Kinesis delivered them
}

// Key is what identifies a record in a stream: its shard and position.
// Every table the sink writes plain records or dead letters to is keyed by
// it.
type Key struct {
	ShardID           string
	SequenceNumber    string
	SubSequenceNumber int64
}

// Key returns s's identity.
func (s *Source) Key() Key {
	return Key{ShardID: s.ShardID, SequenceNumber: s.SequenceNumber, SubSequenceNumber: s.SubSequenceNumber}
}

// String is the key as shard/sequence/sub-sequence, the way logs and
// errors name a record.
func (k Key) String() string {
	return k.ShardID + "/" + k.SequenceNumber + "/" + strconv.FormatInt(k.SubSequenceNumber, 10)
}
