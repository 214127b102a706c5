package kcl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// captureValue appends the next JSON value in br to dst. It checks only what
// it takes to find where the value ends (strings closed, brackets paired); the
// decoder checks the rest. The line ends at a newline, so a newline inside
// the value means the message was cut short.
func captureValue(br *bufio.Reader, dst []byte) ([]byte, error) {
	var sc valueScanner
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return dst, errCut
				}
				return dst, fmt.Errorf("kcl: reading stdin: %w", err)
			}
		}
		chunk, _ := br.Peek(br.Buffered())
		n, done, err := sc.scan(chunk)
		dst = append(dst, chunk[:n]...)
		br.Discard(n)
		if err != nil || done {
			return dst, err
		}
	}
}

// valueScanner finds the end of one JSON value fed to it in chunks.
type valueScanner struct {
	depth    int
	inString bool
	escape   bool // the next byte of the string is escaped
	scalar   bool // a number or literal at the top level
}

// scan consumes chunk up to the end of the value; n is how much of it
// belongs to the value.
func (s *valueScanner) scan(chunk []byte) (n int, done bool, err error) {
	for i := 0; i < len(chunk); {
		if s.inString {
			var closed bool
			if i, closed, err = s.stringPart(chunk, i); err != nil || (closed && s.depth == 0) {
				return i, err == nil, err
			}
			continue
		}
		c := chunk[i]
		if s.scalar {
			switch c {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i, true, nil
			}
			i++
			continue
		}
		switch c {
		case '"':
			s.inString = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				return i + 1, s.depth == 0, unpaired(s.depth)
			}
		case '\n':
			return i, false, errCut
		default:
			if s.depth == 0 {
				s.scalar = true
			}
		}
		i++
	}
	return len(chunk), false, nil
}

func unpaired(depth int) error {
	if depth < 0 {
		return errors.New("kcl: invalid message: unpaired bracket")
	}
	return nil
}

// stringPart scans a string body from chunk[i]; it returns where it stopped
// and whether the closing quote was found there.
func (s *valueScanner) stringPart(chunk []byte, i int) (int, bool, error) {
	if s.escape {
		s.escape = false
		if chunk[i] == '\n' {
			return i, false, errCut
		}
		return i + 1, false, nil
	}
	rest := chunk[i:]
	end := bytes.IndexByte(rest, '"')
	body := rest
	if end >= 0 {
		body = rest[:end]
	}
	if k := bytes.IndexByte(body, '\\'); k >= 0 {
		s.escape = true
		if bytes.IndexByte(body[:k], '\n') >= 0 {
			return i, false, errCut
		}
		return i + k + 1, false, nil
	}
	if bytes.IndexByte(body, '\n') >= 0 {
		return i, false, errCut
	}
	if end < 0 {
		return len(chunk), false, nil
	}
	s.inString = false
	return i + end + 1, true, nil
}
