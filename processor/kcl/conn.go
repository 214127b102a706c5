package kcl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrDaemonGone is returned when stdin ended: the daemon closed the pipe or
// died, and nothing more can be said to it.
var ErrDaemonGone = errors.New("kcl: the daemon closed stdin")

// maxRetainedLine bounds the line buffers kept between messages; a rare huge
// batch should not pin its memory for the rest of the child's life.
const maxRetainedLine = 64 << 20

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
	if cap(data) > maxRetainedLine {
		data = nil
	}
	m.data, m.records = data, records
}

// conn is the pipe pair to the daemon. A reader goroutine reads stdin so
// that the end of stdin is noticed even while a processor is busy; lines are
// handed over in one reusable buffer.
type conn struct {
	wmu sync.Mutex
	out io.Writer

	lines   chan []byte   // complete lines, without the line terminator
	free    chan []byte   // the line buffer, given back after decoding
	gone    chan struct{} // closed when stdin ended
	readErr error         // why stdin ended; read only after gone is closed

	// spare is the memory of a released batch, for the next one. Only one
	// is kept: a processor that stores batches one at a time needs no
	// more, and anything kept counts against the heap limit.
	spareMu sync.Mutex
	spare   *batchMemory
}

func newConn(in io.Reader, out io.Writer) *conn {
	c := &conn{
		out:   out,
		lines: make(chan []byte),
		free:  make(chan []byte, 1),
		gone:  make(chan struct{}),
	}
	c.free <- nil
	go c.readLoop(in)
	return c
}

func (c *conn) readLoop(in io.Reader) {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		// Wait for input before taking a line buffer: the end of stdin is
		// noticed at once, yet only one buffer grows to the size of the
		// largest line, because the daemon sends the next line only after
		// the previous one was answered (and its buffer released).
		if _, err := br.Peek(1); err != nil {
			c.finish(err)
			return
		}
		buf := <-c.free
		line, err := readLine(br, buf[:0])
		if len(line) > 0 {
			c.lines <- line
		} else {
			c.free <- line
		}
		if err != nil {
			c.finish(err)
			return
		}
	}
}

func (c *conn) finish(err error) {
	if !errors.Is(err, io.EOF) {
		c.readErr = fmt.Errorf("kcl: reading stdin: %w", err)
	}
	close(c.gone)
}

// readLine appends the next line to buf, without its "\n" or "\r\n". A line
// has no length limit: a processRecords message can be tens of megabytes.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, err
	}
}

// next returns the next message from the daemon. ErrDaemonGone means stdin
// ended.
func (c *conn) next(ctx context.Context) (message, error) {
	select {
	case line := <-c.lines:
		return c.decode(line)
	case <-c.gone:
		// A last line may still be in flight when stdin ends.
		select {
		case line := <-c.lines:
			return c.decode(line)
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

// decode parses a line and gives its buffer back to the reader. The
// records of a batch are decoded into the spare memory, if any.
func (c *conn) decode(line []byte) (message, error) {
	mem := c.takeSpare()
	m, err := decodeMessage(line, mem)
	c.release(line)
	if len(m.Records) == 0 {
		// Nothing to lend: the spare goes straight back, and an empty batch
		// gets a slice of its own, which its processor may append to.
		if m.Records != nil {
			m.Records = []Record{}
		}
		c.putSpare(mem)
		return m, err
	}
	var once sync.Once
	m.release = func() { once.Do(func() { c.putSpare(mem) }) }
	return m, err
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

func (c *conn) release(line []byte) {
	if cap(line) > maxRetainedLine {
		line = nil
	}
	c.free <- line[:0]
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
