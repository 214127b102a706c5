package cdc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Version orders the changes of one row: first by the source's change time
// in microseconds (DynamoDB's ApproximateCreationDateTime; 0 for DMS, which
// is ordered by the stream alone), then by the Kinesis sequence number, then
// by the sub-sequence number.
type Version struct {
	Micros int64
	Seq    string // Kinesis sequence number, decimal without leading zeros
	Sub    int64
}

// Compare returns -1, 0 or +1.
func (v Version) Compare(w Version) int {
	switch {
	case v.Micros != w.Micros:
		return cmp(v.Micros < w.Micros)
	case len(v.Seq) != len(w.Seq):
		return cmp(len(v.Seq) < len(w.Seq))
	case v.Seq != w.Seq:
		return cmp(v.Seq < w.Seq)
	case v.Sub != w.Sub:
		return cmp(v.Sub < w.Sub)
	}
	return 0
}

func cmp(less bool) int {
	if less {
		return -1
	}
	return 1
}

const (
	microsWidth = 20 // covers every non-negative int64
	seqLenWidth = 3  // Kinesis sequence numbers have at most 129 digits
	subWidth    = 20
)

// String encodes v so that byte-wise string order equals Compare order: the
// database compares these strings (collation "C" on PostgreSQL) in the
// guarded upsert. Digits only: zero-padded micros, the sequence number's
// length then its digits, the zero-padded sub-sequence number.
func (v Version) String() string {
	var b strings.Builder
	b.Grow(microsWidth + seqLenWidth + len(v.Seq) + subWidth)
	pad(&b, strconv.FormatInt(max(v.Micros, 0), 10), microsWidth)
	pad(&b, strconv.Itoa(len(v.Seq)), seqLenWidth)
	b.WriteString(v.Seq)
	pad(&b, strconv.FormatInt(max(v.Sub, 0), 10), subWidth)
	return b.String()
}

func pad(b *strings.Builder, s string, width int) {
	for range width - len(s) {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

// versionOf builds the version of a record; micros is the source's change
// time (0 when the stream order alone decides).
func versionOf(micros int64, rec record.Source) (Version, error) {
	seq := strings.TrimLeft(rec.SequenceNumber, "0")
	if rec.SequenceNumber == "" || len(seq) > 999 || strings.TrimLeft(seq, "0123456789") != "" {
		return Version{}, fmt.Errorf("record has no usable sequence number %q", rec.SequenceNumber)
	}
	if micros < 0 || rec.SubSequenceNumber < 0 {
		return Version{}, fmt.Errorf("negative change time or sub-sequence number")
	}
	return Version{Micros: micros, Seq: seq, Sub: rec.SubSequenceNumber}, nil
}
