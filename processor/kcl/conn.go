package kcl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrDaemonGone is returned when stdin ended: the daemon closed the pipe or
// died, and nothing more can be said to it.
var ErrDaemonGone = errors.New("kcl: the daemon closed stdin")

// maxRetainedBatch bounds the batch memory kept between messages; a rare
// huge batch should not pin its memory for the rest of the child's life.
const maxRetainedBatch = 64 << 20

// batchMemory is the payload buffer and record slice of one batch, kept
// for a later batch once the processor released it. Its methods on a nil
// *batchMemory allocate afresh and keep nothing.
type batchMemory struct {
	data    []byte
	records []Record
}

func (m *batchMemory) dataBuffer(size int) []byte {
	if m == nil {
		return make([]byte, 0, size)
	}
	if cap(m.data) < size {
		// A little room spares a new buffer (and, until the garbage
		// collector runs, two at once) for each slightly larger batch.
		m.data = make([]byte, 0, size+size/32)
	}
	return m.data[:0]
}

func (m *batchMemory) recordSlice() []Record {
	if m != nil && m.records != nil {
		return m.records[:0]
	}
	return make([]Record, 0, 64)
}

func (m *batchMemory) keep(data []byte, records []Record) {
	if m == nil {
		return
	}
	if cap(data) > maxRetainedBatch {
		data = nil
	}
	m.data, m.records = data, records
}

// conn is the pipe pair to the daemon. A reader goroutine reads and decodes
// stdin so that the end of stdin is noticed even while a processor is busy;
// it hands over one message (or part of a batch) at a time.
type conn struct {
	wmu sync.Mutex
	out io.Writer

	msgs    chan decoded  // decoded messages, in order
	gone    chan struct{} // closed when stdin ended
	readErr error         // why stdin ended; read only after gone is closed

	// spare is the memory of a released batch, for the next one. Only one
	// is kept: a processor that stores batches one at a time needs no
	// more, and anything kept counts against the heap limit.
	spareMu sync.Mutex
	spare   *batchMemory
}

type decoded struct {
	m   message
	err error
}

// newConn starts reading in; a batch whose payloads pass partBytes is
// handed over in parts (0: DefaultPartBytes, < 0: never split).
func newConn(in io.Reader, out io.Writer, partBytes int) *conn {
	c := &conn{
		out:  out,
		msgs: make(chan decoded),
		gone: make(chan struct{}),
	}
	if partBytes == 0 {
		partBytes = DefaultPartBytes
	}
	go c.readLoop(in, partBytes)
	return c
}

func (c *conn) readLoop(in io.Reader, partBytes int) {
	s := streamReader{br: bufio.NewReaderSize(in, 64<<10), partBytes: partBytes, take: c.takeSpare, give: c.putSpare}
	emit := func(m message) { c.msgs <- decoded{m: m} }
	for {
		// The end of stdin is noticed at once, also while a processor is
		// busy. Only one message is decoded ahead: the daemon sends the
		// next line only after the previous one was answered.
		if _, err := s.br.Peek(1); err != nil {
			c.finish(err)
			return
		}
		m, err := s.read(emit)
		if err != nil || m.Action != "" || m.Records != nil {
			c.msgs <- decoded{m: m, err: err}
		}
	}
}

func (c *conn) finish(err error) {
	if !errors.Is(err, io.EOF) {
		c.readErr = fmt.Errorf("kcl: reading stdin: %w", err)
	}
	close(c.gone)
}

// next returns the next message from the daemon. ErrDaemonGone means stdin
// ended.
func (c *conn) next(ctx context.Context) (message, error) {
	select {
	case d := <-c.msgs:
		return d.m, d.err
	case <-c.gone:
		// A last message may still be in flight when stdin ends.
		select {
		case d := <-c.msgs:
			return d.m, d.err
		default:
		}
		if c.readErr != nil {
			return message{}, errors.Join(ErrDaemonGone, c.readErr)
		}
		return message{}, ErrDaemonGone
	case <-ctx.Done():
		return message{}, context.Cause(ctx)
	}
}

func (c *conn) takeSpare() *batchMemory {
	c.spareMu.Lock()
	defer c.spareMu.Unlock()
	m := c.spare
	c.spare = nil
	if m == nil {
		m = &batchMemory{}
	}
	return m
}

// putSpare keeps the larger of mem and the current spare.
func (c *conn) putSpare(mem *batchMemory) {
	c.spareMu.Lock()
	defer c.spareMu.Unlock()
	if c.spare == nil || cap(mem.data) > cap(c.spare.data) {
		c.spare = mem
	}
}

// write sends one complete protocol message. Only the loop and the
// checkpointer call it, and never at the same time, but the lock keeps a
// misbehaving caller from interleaving two messages.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.out.Write(b); err != nil {
		return fmt.Errorf("kcl: writing to the daemon: %w", err)
	}
	return nil
}

// roundTrip sends a request and reads the daemon's one-line reply.
func (c *conn) roundTrip(ctx context.Context, req []byte) (message, error) {
	if err := c.write(req); err != nil {
		return message{}, err
	}
	return c.next(ctx)
}
