package sink

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// PostgreSQL arrays in binary format, built by hand for the whole-chunk
// upsert (upsertUnnest). pgx encodes a []pgtype.Text by appending every
// element to a buffer that grows by copying, then copies it again into the
// Bind message: for a chunk of 1 KB payloads that was about 20 KB allocated
// per change (scripts/bench, ours-pg-typed). A pgArray writes each value
// once into a buffer the writer keeps between chunks.

// Element OIDs and the OIDs of their array types.
const (
	oidBool             = 16
	oidBoolArray        = 1000
	oidTextArray        = 1009
	oidTimestamptzArray = 1185
)

// arrayHeaderSize: dimensions, has-nulls flag, element type, length, lower
// bound (one dimension).
const arrayHeaderSize = 20

// pgArray is one array parameter in binary format. Reset it for each
// chunk; its buffer is kept.
type pgArray struct {
	elem  uint32 // oidText, oidBool or oidTimestamptz
	buf   []byte
	n     int
	nulls bool
}

// reset starts an empty array of elem, keeping the buffer.
func (a *pgArray) reset(elem uint32) {
	a.elem, a.n, a.nulls = elem, 0, false
	a.buf = append(a.buf[:0], make([]byte, arrayHeaderSize)...)
}

// add appends v: nil is NULL; anything else goes as the element type's
// binary form (text arrays take the value's text, which the statement
// casts to the column's type).
func (a *pgArray) add(v any) error {
	a.n++
	if v == nil {
		a.nulls = true
		a.buf = binary.BigEndian.AppendUint32(a.buf, math.MaxUint32) // -1: NULL
		return nil
	}
	switch a.elem {
	case oidBool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("boolean array element is %T", v)
		}
		a.buf = append(binary.BigEndian.AppendUint32(a.buf, 1), boolByte(b))
	case oidTimestamptz:
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("timestamptz array element is %T", v)
		}
		a.buf = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(a.buf, 8), uint64(microsSincePGEpoch(t)))
	default:
		at := len(a.buf)
		a.buf = cdc.AppendText(append(a.buf, 0, 0, 0, 0), v)
		binary.BigEndian.PutUint32(a.buf[at:], uint32(len(a.buf)-at-4))
	}
	return nil
}

// bytes completes the header and returns the encoded array; it is valid
// until the next reset.
func (a *pgArray) bytes() []byte {
	h := a.buf[:arrayHeaderSize]
	binary.BigEndian.PutUint32(h[0:], 1)
	binary.BigEndian.PutUint32(h[4:], boolWord(a.nulls))
	binary.BigEndian.PutUint32(h[8:], a.elem)
	binary.BigEndian.PutUint32(h[12:], uint32(a.n))
	binary.BigEndian.PutUint32(h[16:], 1)
	return a.buf
}

// oid is the array type's OID.
func (a *pgArray) oid() uint32 {
	switch a.elem {
	case oidBool:
		return oidBoolArray
	case oidTimestamptz:
		return oidTimestamptzArray
	}
	return oidTextArray
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func boolWord(b bool) uint32 { return uint32(boolByte(b)) }
