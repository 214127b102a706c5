package kcl

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Action names the daemon sends.
const (
	ActionInitialize        = "initialize"
	ActionProcessRecords    = "processRecords"
	ActionLeaseLost         = "leaseLost"
	ActionShardEnded        = "shardEnded"
	ActionShutdownRequested = "shutdownRequested"
	ActionCheckpoint        = "checkpoint"
	// ActionShutdown is the KCL 1.x / 2.0 message that leaseLost and
	// shardEnded replaced; its reason says which of the two it means.
	ActionShutdown = "shutdown"
)

// message is any line the daemon sends, decoded. Fields that the action does
// not carry stay zero.
type message struct {
	Action             string
	ShardID            string
	SequenceNumber     *string
	SubSequenceNumber  *int64
	MillisBehindLatest *int64
	Error              *string
	Reason             string
	Records            []Record
	release            func() // gives the records' memory back (ProcessRecordsInput.Release)
	more               bool   // a part of a batch: the rest of its line follows
}

// decodeMessage parses one complete line from the daemon (without its
// newline), as the stream reader would, but never splits the batch. mem,
// when not nil, lends the payload buffer and record slice of an earlier,
// released batch and keeps this batch's.
func decodeMessage(line []byte, mem *batchMemory) (message, error) {
	r := bytes.NewReader(line)
	s := streamReader{
		br:        bufio.NewReaderSize(r, 64<<10),
		partBytes: -1,
		take: func() *batchMemory {
			if mem == nil {
				return &batchMemory{}
			}
			return mem
		},
		give: func(*batchMemory) {},
	}
	m, err := s.read(func(message) {})
	if err != nil {
		return message{}, err
	}
	if s.br.Buffered() > 0 || r.Len() > 0 {
		return message{}, errors.New("kcl: invalid message: trailing data after the message")
	}
	if m.Action == "" {
		return message{}, errors.New("kcl: message has no action")
	}
	m.release = nil // nobody to give the memory back to
	return m, nil
}

// decodeFields parses a message whose records, if any, were taken out by
// the stream reader. It is a purpose-built JSON reader, like the record
// decoder beside it: unknown fields are skipped so that newer daemons do not
// break older children.
func decodeFields(line []byte) (message, error) {
	d := decoder{buf: line}
	var m message
	if err := d.object(func(key []byte) error { return d.messageField(&m, key) }); err != nil {
		return message{}, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return message{}, d.errorf("trailing data after the message")
	}
	if m.Action == "" {
		return message{}, errors.New("kcl: message has no action")
	}
	return m, nil
}

type decoder struct {
	buf     []byte
	pos     int
	mem     *batchMemory
	data    []byte // decoded payloads of the current batch, sub-sliced per record
	limit   int    // data grows no larger than this unless one record needs it; <= 0: no limit
	strings []byte // backing of the record strings handed out so far
}

func (d *decoder) messageField(m *message, key []byte) error {
	var err error
	switch string(key) {
	case "action":
		m.Action, err = d.stringValue()
	case "shardId":
		var s *string
		if s, err = d.nullableString(); s != nil {
			m.ShardID = *s
		}
	case "sequenceNumber":
		m.SequenceNumber, err = d.nullableString()
	case "subSequenceNumber":
		m.SubSequenceNumber, err = d.nullableInt()
	case "millisBehindLatest":
		m.MillisBehindLatest, err = d.nullableInt()
	case "error":
		m.Error, err = d.nullableString()
	case "reason":
		var s *string
		if s, err = d.nullableString(); s != nil {
			m.Reason = *s
		}
	case "records":
		// An array is decoded by the stream reader, record by record.
		if !d.consumeLiteral("null") {
			err = d.errorf("expected an array or null")
		}
	default:
		err = d.skipValue()
	}
	if err != nil {
		return fmt.Errorf("field %q: %w", key, err)
	}
	return nil
}

func (d *decoder) recordField(r *Record, key []byte) error {
	var err error
	switch string(key) {
	case "data":
		r.Data, err = d.base64Value()
	case "partitionKey":
		r.PartitionKey, err = d.recordString()
	case "sequenceNumber":
		r.SequenceNumber, err = d.recordString()
	case "subSequenceNumber":
		r.SubSequenceNumber, _, err = d.plainInt()
	case "approximateArrivalTimestamp":
		var ms int64
		var ok bool
		if ms, ok, err = d.plainInt(); ok {
			r.ApproximateArrivalTimestamp = time.UnixMilli(ms).UTC()
		}
	default:
		err = d.skipValue()
	}
	if err != nil {
		return fmt.Errorf("field %q: %w", key, err)
	}
	return nil
}

func (d *decoder) base64Value() ([]byte, error) {
	d.skipSpace()
	if d.consumeLiteral("null") {
		return nil, nil
	}
	// Fast path: base64 has no quote, backslash or control character, so
	// the string ends at the next quote and the decoder itself rejects
	// anything else; only a failure needs the careful string reader.
	if d.pos < len(d.buf) && d.buf[d.pos] == '"' {
		if end := bytes.IndexByte(d.buf[d.pos+1:], '"'); end >= 0 {
			if out, ok := d.appendBase64(d.buf[d.pos+1 : d.pos+1+end]); ok {
				d.pos += end + 2
				return out, nil
			}
		}
	}
	raw, escaped, err := d.rawString()
	if err != nil {
		return nil, err
	}
	if escaped {
		if raw, err = unescape(raw); err != nil {
			return nil, err
		}
	}
	if out, ok := d.appendBase64(raw); ok {
		return out, nil
	}
	_, err = base64.StdEncoding.Decode(make([]byte, base64.StdEncoding.DecodedLen(len(raw))), raw)
	return nil, fmt.Errorf("base64: %w", err)
}

// appendBase64 decodes raw into the batch's payload buffer.
func (d *decoder) appendBase64(raw []byte) ([]byte, bool) {
	start := len(d.data)
	if need := base64.StdEncoding.DecodedLen(len(raw)); cap(d.data)-start < need {
		size := 2*cap(d.data) + need
		if d.limit > 0 {
			size = max(min(size, d.limit), start+need)
		}
		grown := make([]byte, start, size)
		copy(grown, d.data)
		d.data = grown
	}
	n, err := base64.StdEncoding.Decode(d.data[start:cap(d.data)], raw)
	if err != nil {
		return nil, false
	}
	d.data = d.data[:start+n]
	return d.data[start : start+n : start+n], true
}

func (d *decoder) object(field func(key []byte) error) error {
	d.skipSpace()
	if !d.consume('{') {
		return d.errorf("expected an object")
	}
	d.skipSpace()
	if d.consume('}') {
		return nil
	}
	for {
		d.skipSpace()
		key, escaped, err := d.rawString()
		if err != nil {
			return err
		}
		if escaped {
			if key, err = unescape(key); err != nil {
				return err
			}
		}
		d.skipSpace()
		if !d.consume(':') {
			return d.errorf("expected ':'")
		}
		if err := field(key); err != nil {
			return err
		}
		d.skipSpace()
		if d.consume('}') {
			return nil
		}
		if !d.consume(',') {
			return d.errorf("expected ',' or '}'")
		}
	}
}

func (d *decoder) array(elem func() error) error {
	d.skipSpace()
	if !d.consume('[') {
		return d.errorf("expected an array")
	}
	d.skipSpace()
	if d.consume(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		d.skipSpace()
		if d.consume(']') {
			return nil
		}
		if !d.consume(',') {
			return d.errorf("expected ',' or ']'")
		}
	}
}

// Bounds of the chunks that back record strings.
const (
	minStringChunk = 1 << 10
	maxStringChunk = 64 << 10
)
