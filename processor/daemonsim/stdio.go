package daemonsim

import (
	"bufio"
	"io"
	"sync"
)

// readStdout splits stdout into lines with no length limit, like Java's
// readLine on an unbounded BufferedReader.
func (c *Child) readStdout(r io.Reader) {
	defer close(c.lines)
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			c.lines <- line
		}
		if err != nil {
			return
		}
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			buf = buf[:len(buf)-1]
		}
		return buf, err
	}
}

// drainStderr copies stderr line by line for the child's whole life, so
// the child never blocks on a full stderr pipe.
func (c *Child) drainStderr(r io.Reader, w io.Writer) {
	defer close(c.stderrDone)
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			c.stderrTail.add(string(line))
			if w != nil {
				_, _ = w.Write(append(line, '\n'))
			}
		}
		if err != nil {
			return
		}
	}
}

// tail keeps the last max lines; it is shared with the stderr goroutine.
type tail struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 500 {
		s = s[:500]
	}
	t.buf = append(t.buf, s)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

func truncate(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
