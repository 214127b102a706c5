package kcl

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultPartBytes is Process.PartBytes's default: above what one GetRecords
// call can return (10 MB), so that a batch from Kinesis is never split, yet
// low enough that a child's memory does not follow the daemon's line.
const DefaultPartBytes = 16 << 20

// minPartBuffer is the payload buffer a batch starts with: a small batch
// never grows it, and a large one reaches its size in a few doublings.
const minPartBuffer = 64 << 10

// errCut is a message that ends before its JSON does: a newline inside it, or
// the end of stdin.
var errCut = errors.New("kcl: invalid message: the line ends inside the message")

// streamReader decodes the daemon's messages straight off stdin. A
// processRecords line is never held whole: each record is decoded as it
// arrives, and once a batch's payloads pass partBytes what was decoded so far
// is handed on as a part (ProcessRecordsInput.More), so that memory follows
// partBytes and not the length of the line.
type streamReader struct {
	br        *bufio.Reader
	partBytes int                 // < 0: never split
	take      func() *batchMemory // memory of a released batch, or fresh
	give      func(*batchMemory)  // memory nobody needs any more

	scratch  []byte // one value of the line at a time
	head     []byte // the message without its records, decoded at the end
	lineDone bool   // the newline (or the end) of the line was read
}

// read decodes the next message. emit is called with each part of a split
// batch but the last, which read returns. An empty line gives a message with
// no action and no error. After an error the rest of the line is skipped.
func (s *streamReader) read(emit func(message)) (m message, err error) {
	s.lineDone = false
	defer func() {
		if err != nil && !s.lineDone {
			s.skipLine()
		}
	}()
	c, err := s.skipSpace()
	if err != nil {
		return message{}, err
	}
	if c == '\n' {
		s.discard(1)
		s.lineDone = true
		return message{}, nil
	}
	if c != '{' {
		return message{}, s.invalid("expected an object")
	}
	s.discard(1)
	var b batchStream
	if err := s.fields(&b, emit); err != nil {
		b.drop(s.give)
		return message{}, err
	}
	if err := s.endLine(); err != nil {
		b.drop(s.give)
		return message{}, err
	}
	return s.finish(&b)
}

// fields reads the message's fields after its '{': the records into b, the
// others into the head.
func (s *streamReader) fields(b *batchStream, emit func(message)) error {
	s.head = append(s.head[:0], '{')
	action := ""
	for first := true; ; first = false {
		c, err := s.skipSpace()
		if err != nil {
			return err
		}
		if first && c == '}' {
			s.discard(1)
			return nil
		}
		mark := len(s.head)
		key, err := s.key()
		if err != nil {
			return err
		}
		if c, err = s.skipSpace(); err != nil {
			return err
		}
		if string(key) == "records" && c == '[' && !b.started {
			s.head = s.head[:mark]
			err = s.records(b, action == ActionProcessRecords, emit)
		} else {
			action, err = s.field(key, action)
		}
		if err != nil {
			return err
		}
		if done, err := s.afterValue('}'); done || err != nil {
			return err
		}
	}
}

// key reads an object key and the colon after it.
func (s *streamReader) key() ([]byte, error) {
	var err error
	if s.scratch, err = captureValue(s.br, s.scratch[:0]); err != nil {
		return nil, err
	}
	d := decoder{buf: s.scratch}
	key, escaped, err := d.rawString()
	if err == nil && escaped {
		key, err = unescape(key)
	}
	if err != nil {
		return nil, err
	}
	// The head needs the key as written: it is decoded again there.
	s.head = append(s.head, s.scratch...)
	c, err := s.skipSpace()
	if err != nil {
		return nil, err
	}
	if c != ':' {
		return nil, s.invalid("expected ':'")
	}
	s.discard(1)
	s.head = append(s.head, ':')
	return key, nil
}

// field copies a value other than the records into the head; it returns
// the action once known, which decides whether a batch may be split.
func (s *streamReader) field(key []byte, action string) (string, error) {
	start := len(s.head)
	var err error
	if s.head, err = captureValue(s.br, s.head); err != nil {
		return action, err
	}
	if string(key) == "action" {
		d := decoder{buf: s.head[start:]}
		if a, err := d.stringValue(); err == nil {
			action = a
		}
	}
	s.head = append(s.head, ',')
	return action, nil
}

// finish decodes the head and puts the last part of the batch, if any, in
// the message.
func (s *streamReader) finish(b *batchStream) (message, error) {
	if n := len(s.head); s.head[n-1] == ',' {
		s.head[n-1] = '}'
	} else {
		s.head = append(s.head, '}')
	}
	m, err := decodeFields(s.head)
	if err != nil {
		b.drop(s.give)
		return message{}, err
	}
	if !b.started {
		return m, nil
	}
	if len(b.recs) == 0 {
		// Nothing to lend: the memory goes straight back, and an empty
		// batch gets a slice of its own, which its processor may append to.
		b.drop(s.give)
		m.Records = []Record{}
		return m, nil
	}
	m.Records, m.release = b.hand(s.give)
	return m, nil
}

// batchStream is the part of a batch being decoded.
type batchStream struct {
	started bool
	mem     *batchMemory
	d       decoder
	recs    []Record
}

func (b *batchStream) reset(mem *batchMemory) {
	b.mem = mem
	b.d = decoder{mem: mem, data: mem.dataBuffer(minPartBuffer), limit: b.d.limit, strings: b.d.strings}
	b.recs = mem.recordSlice()
}

// hand gives the part away: its records, and the release that lends its
// memory to a later part once the processor is done with them.
func (b *batchStream) hand(give func(*batchMemory)) ([]Record, func()) {
	mem, recs := b.mem, b.recs
	mem.keep(b.d.data, recs)
	var once sync.Once
	return recs, func() { once.Do(func() { give(mem) }) }
}

func (b *batchStream) drop(give func(*batchMemory)) {
	if b.mem != nil {
		b.mem.keep(b.d.data, b.recs)
		give(b.mem)
		b.mem = nil
	}
}

// records decodes the records array one record at a time. With split, a
// part is emitted once the next record would take its payloads past
// partBytes. On an error, read drops the part.
func (s *streamReader) records(b *batchStream, split bool, emit func(message)) error {
	s.discard(1)
	b.started = true
	b.d.limit = s.partBytes
	b.reset(s.take())
	split = split && s.partBytes > 0
	for first := true; ; first = false {
		c, err := s.skipSpace()
		if err != nil {
			return err
		}
		if first && c == ']' {
			s.discard(1)
			return nil
		}
		if s.scratch, err = captureValue(s.br, s.scratch[:0]); err != nil {
			return err
		}
		if err := b.record(s.scratch); err != nil {
			return fmt.Errorf("kcl: invalid message: record %d: %w", len(b.recs), err)
		}
		if split && len(b.recs) > 1 && len(b.d.data) > s.partBytes {
			b.split(s.take, s.give, emit)
		}
		if done, err := s.afterValue(']'); done || err != nil {
			return err
		}
	}
}

// afterValue reads what follows a member or element: a ',' (more follow) or
// the closing bracket, which ends the object or array (done).
func (s *streamReader) afterValue(closing byte) (done bool, err error) {
	c, err := s.skipSpace()
	if err != nil {
		return false, err
	}
	if c != ',' && c != closing {
		return false, s.invalid(fmt.Sprintf("expected ',' or '%c'", closing))
	}
	s.discard(1)
	return c == closing, nil
}

// split emits the part without its last record, which took it past the
// limit, and starts the next part with that record.
func (b *batchStream) split(take func() *batchMemory, give func(*batchMemory), emit func(message)) {
	last := b.recs[len(b.recs)-1]
	b.recs = b.recs[:len(b.recs)-1]
	b.d.data = b.d.data[:len(b.d.data)-len(last.Data)] // a record's payload ends the buffer
	next := take()
	data := append(next.dataBuffer(max(minPartBuffer, len(last.Data))), last.Data...)
	last.Data = data[:len(data):len(data)]
	recs, release := b.hand(give)
	b.reset(next)
	b.d.data = data
	b.recs = append(b.recs, last)
	emit(message{Action: ActionProcessRecords, Records: recs, release: release, more: true})
}

// record decodes one record object into the part.
func (b *batchStream) record(raw []byte) error {
	// The payload is shorter than the record's JSON.
	b.reserve(base64.StdEncoding.DecodedLen(len(raw)))
	b.d.buf, b.d.pos = raw, 0
	var r Record
	if err := b.d.object(func(key []byte) error { return b.d.recordField(&r, key) }); err != nil {
		return err
	}
	if b.d.skipSpace(); b.d.pos != len(raw) {
		return b.d.errorf("trailing data after the record")
	}
	if r.Data == nil {
		r.Data = b.d.data[len(b.d.data):len(b.d.data):len(b.d.data)]
	}
	b.recs = append(b.recs, r)
	return nil
}

// reserve makes room for need more payload bytes. A grown buffer takes the
// part's payloads along and its records point into it, so that the part
// holds one buffer, not every smaller one it outgrew.
func (b *batchStream) reserve(need int) {
	d := &b.d
	if cap(d.data)-len(d.data) >= need {
		return
	}
	size := max(len(d.data)+need, cap(d.data)+cap(d.data)/2)
	if d.limit > 0 {
		size = max(min(size, d.limit), len(d.data)+need)
	}
	grown := make([]byte, len(d.data), size)
	copy(grown, d.data)
	off := 0 // the payloads lie in the buffer one after the other
	for i := range b.recs {
		n := len(b.recs[i].Data)
		b.recs[i].Data = grown[off : off+n : off+n]
		off += n
	}
	d.data = grown
}

// skipSpace returns the next byte that is not a space, tab or carriage
// return without consuming it. A newline is returned like any other byte.
func (s *streamReader) skipSpace() (byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			s.lineDone = true
			if errors.Is(err, io.EOF) {
				return 0, errCut
			}
			return 0, fmt.Errorf("kcl: reading stdin: %w", err)
		}
		switch c {
		case ' ', '\t', '\r':
			continue
		}
		s.br.UnreadByte()
		return c, nil
	}
}

func (s *streamReader) discard(n int) { s.br.Discard(n) }

// endLine reads the newline after a message; only spaces may come first.
func (s *streamReader) endLine() error {
	c, err := s.skipSpace()
	if errors.Is(err, errCut) {
		return nil // the last line may lack its newline
	}
	if err != nil {
		return err
	}
	if c != '\n' {
		return s.invalid("trailing data after the message")
	}
	s.discard(1)
	s.lineDone = true
	return nil
}

// skipLine drops the rest of a line that could not be decoded.
func (s *streamReader) skipLine() {
	for {
		_, err := s.br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (s *streamReader) invalid(what string) error {
	if c, err := s.br.ReadByte(); err == nil {
		s.lineDone = c == '\n'
		return fmt.Errorf("kcl: invalid message: %s, found %q", what, c)
	}
	s.lineDone = true
	return fmt.Errorf("kcl: invalid message: %s", what)
}
