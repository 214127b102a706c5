package sink

import (
	"encoding/binary"
	"io"
	"time"
)

// PostgreSQL's binary COPY format (COPY … FROM STDIN (FORMAT binary)),
// written by hand for the one row shape the sink stores. pgx's CopyFrom
// describes the table on every call, boxes every value in an interface and
// hands the encoded rows to the connection through an io.Pipe; copyRows
// instead encodes the few fixed fields of a row into a small reused buffer
// and copies each payload once, straight into the buffer pgconn sends.

// payloadEncoding is how the payload column travels in binary COPY.
type payloadEncoding uint8

const (
	// payloadUnknown: the target's column types are not the ones copyRows
	// writes; pgx's generic CopyFrom is used instead.
	payloadUnknown payloadEncoding = iota
	// payloadText: text, varchar and json take the bare UTF-8 bytes.
	payloadText
	// payloadJSONB: jsonb's binary form is a version byte (1), then the text.
	payloadJSONB
)

// PostgreSQL type OIDs of the columns copyRows can write.
const (
	oidInt8        = 20
	oidText        = 25
	oidJSON        = 114
	oidVarchar     = 1043
	oidTimestamptz = 1184
	oidJSONB       = 3802
)

// binaryCopyLayout tells from the type OIDs of the target's columns, in the
// order of copyColumns, whether copyRows can write them and how the
// payload goes.
func binaryCopyLayout(oids []uint32) payloadEncoding {
	if len(oids) != len(copyColumns) {
		return payloadUnknown
	}
	textual := func(oid uint32) bool { return oid == oidText || oid == oidVarchar }
	if !textual(oids[0]) || !textual(oids[1]) || oids[2] != oidInt8 || !textual(oids[3]) || oids[4] != oidTimestamptz {
		return payloadUnknown
	}
	switch {
	case oids[5] == oidJSONB:
		return payloadJSONB
	case oids[5] == oidJSON || textual(oids[5]):
		return payloadText
	}
	return payloadUnknown
}

// copyHeader is the signature, flags and header-extension length.
var copyHeader = []byte("PGCOPY\n\377\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyTrailer is the field count -1 that ends the data.
var copyTrailer = []byte{0xff, 0xff}

// pgEpoch is where timestamptz counts microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// copyRows is an io.Reader of rows in binary COPY format. Its zero value
// plus rows and payload is ready; it is read once.
type copyRows struct {
	rows    []Row
	payload payloadEncoding

	next    int    // index of the next row to encode
	started bool   // header sent
	ended   bool   // trailer sent
	buf     []byte // reused for each row's fixed fields
	head    []byte // unread encoded bytes before the current payload
	rest    []byte // unread rest of the current payload
}

func (c *copyRows) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case len(c.head) > 0:
			k := copy(p[n:], c.head)
			c.head = c.head[k:]
			n += k
		case len(c.rest) > 0:
			k := copy(p[n:], c.rest)
			c.rest = c.rest[k:]
			n += k
		case !c.encodeNext():
			return n, io.EOF
		}
	}
	return n, nil
}

// encodeNext queues the header, the next row or the trailer; false when
// everything has been queued.
func (c *copyRows) encodeNext() bool {
	switch {
	case !c.started:
		c.started = true
		c.head = copyHeader
	case c.next < len(c.rows):
		c.encodeRow(&c.rows[c.next])
		c.next++
	case !c.ended:
		c.ended = true
		c.head = copyTrailer
	default:
		return false
	}
	return true
}

// encodeRow queues r's fields; the payload is left in r's own memory.
func (c *copyRows) encodeRow(r *Row) {
	b := binary.BigEndian.AppendUint16(c.buf[:0], uint16(len(copyColumns)))
	b = appendTextField(b, r.ShardID)
	b = appendTextField(b, r.SequenceNumber)
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.SubSequenceNumber))
	b = appendTextField(b, r.PartitionKey)
	if r.ArrivedAt.IsZero() {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff) // NULL
	} else {
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(microsSincePGEpoch(r.ArrivedAt)))
	}
	// A nil payload is sent as an empty value, not NULL, so that the
	// database refuses it like any other invalid JSON (see payloadBytes).
	size := len(r.Payload)
	if c.payload == payloadJSONB {
		b = binary.BigEndian.AppendUint32(b, uint32(size+1))
		b = append(b, 1)
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(size))
	}
	c.buf = b
	c.head = b
	c.rest = r.Payload
}

func appendTextField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// microsSincePGEpoch truncates to the microsecond, timestamptz's precision.
func microsSincePGEpoch(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - pgEpoch.Unix()*1_000_000
}
