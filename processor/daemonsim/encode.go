package daemonsim

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// Record is one Kinesis record as the daemon hands it to the child, after
// KPL de-aggregation.
type Record struct {
	Data           []byte
	PartitionKey   string
	SequenceNumber string
	// ApproximateArrivalTimestamp is epoch milliseconds; nil is sent as null.
	ApproximateArrivalTimestamp *int64
	SubSequenceNumber           int64
}

const hexDigits = "0123456789ABCDEF"

// appendString writes s as Jackson's default generator does: only '"', '\\'
// and control characters below 0x20 are escaped, everything else (including
// '/', '<', DEL, U+2028 and all non-ASCII) is written as raw UTF-8. Go's
// encoding/json escapes more, so it cannot produce the daemon's bytes.
// Invalid UTF-8 becomes '?', which is what Java's encoder writes for a
// character it cannot encode.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, '?')
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				dst = append(dst, c)
			}
		}
		i++
	}
	return append(dst, '"')
}

func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendString(dst, *s)
}

func appendNullableInt(dst []byte, n *int64) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, *n, 10)
}

// appendRecord writes a JsonFriendlyRecord in Jackson's property order.
func appendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, `{"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Data)
	dst = append(dst, `","partitionKey":`...)
	dst = appendString(dst, r.PartitionKey)
	dst = append(dst, `,"sequenceNumber":`...)
	dst = appendString(dst, r.SequenceNumber)
	dst = append(dst, `,"approximateArrivalTimestamp":`...)
	dst = appendNullableInt(dst, r.ApproximateArrivalTimestamp)
	dst = append(dst, `,"subSequenceNumber":`...)
	dst = strconv.AppendInt(dst, r.SubSequenceNumber, 10)
	return append(dst, `,"action":"record"}`...)
}

// AppendInitialize appends the initialize line, newline included.
func AppendInitialize(dst []byte, shardID string, seq *string, subSeq *int64) []byte {
	dst = append(dst, `{"action":"initialize","shardId":`...)
	dst = appendString(dst, shardID)
	dst = append(dst, `,"sequenceNumber":`...)
	dst = appendNullableString(dst, seq)
	dst = append(dst, `,"subSequenceNumber":`...)
	dst = appendNullableInt(dst, subSeq)
	return append(dst, "}\n"...)
}

// AppendProcessRecords appends the processRecords line, newline included.
func AppendProcessRecords(dst []byte, records []Record, millisBehindLatest *int64) []byte {
	dst = append(dst, `{"action":"processRecords","records":[`...)
	for i := range records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendRecord(dst, &records[i])
	}
	dst = append(dst, `],"millisBehindLatest":`...)
	dst = appendNullableInt(dst, millisBehindLatest)
	return append(dst, "}\n"...)
}

// appendBare appends a message that has no field but its action
// (leaseLost, shardEnded, shutdownRequested).
func appendBare(dst []byte, action string) []byte {
	dst = append(dst, `{"action":`...)
	dst = appendString(dst, action)
	return append(dst, "}\n"...)
}

// appendCheckpointReply appends the daemon's answer to a checkpoint request:
// an echo of the request plus the simple Java exception name or null.
func appendCheckpointReply(dst []byte, seq *string, subSeq *int64, errName string) []byte {
	dst = append(dst, `{"action":"checkpoint","sequenceNumber":`...)
	dst = appendNullableString(dst, seq)
	dst = append(dst, `,"subSequenceNumber":`...)
	dst = appendNullableInt(dst, subSeq)
	dst = append(dst, `,"error":`...)
	if errName == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, errName)
	}
	return append(dst, "}\n"...)
}

// PeekAction returns the action of a daemon message without decoding it,
// relying on Jackson writing "action" first. It lets a minimal peer answer
// statuses at pipe speed; "" means the line does not start that way.
func PeekAction(line []byte) string {
	const prefix = `{"action":"`
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return ""
	}
	rest := line[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}
