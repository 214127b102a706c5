// Package logtext turns zerolog's JSON events into one line of text each,
// for people who watch the log with tail -F, as kclpy users do:
//
//	2026-11-30 01:02:03.456 INFO  shardId-000000000001 batch stored records=500 bytes=512000 took=12ms pid=4711
//
// A line is the local time to the millisecond, the level padded to five
// characters, the shard ("-" when the event has none), the message, then
// the event's other fields as key=value in the order they were logged, pid
// last. A message or value that is empty, or holds a space, a quote, an =,
// a control character or another unprintable character, is written as a Go
// string literal ("a \"b\"\nc"), so every event stays one line and a line
// splits unambiguously: the message is quoted or holds no =, and every
// field after it is key=value. Objects and arrays are written as their JSON
// text, quoted by the same rule.
//
// The JSON time field is dropped: zerolog writes it in whole seconds, and
// the writer stamps the line with its own clock instead, which is the
// event's time to within microseconds since zerolog writes an event
// synchronously when it is logged.
package logtext

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The formats of a log: FormatText for people (this package), FormatJSON
// for log shippers (zerolog's own lines).
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Select returns the writer that logs to w in the given format.
func Select(format string, w io.Writer) io.Writer {
	if format == FormatJSON {
		return w
	}
	return New(w)
}

// Writer rewrites each zerolog event written to it as one text line on Out.
// Safe for concurrent use; it reuses one buffer, so a line costs no
// allocation once the buffer has grown to the longest line.
type Writer struct {
	out io.Writer
	now func() time.Time

	mu     sync.Mutex
	line   []byte  // the line being built
	str    []byte  // a decoded JSON string
	fields []field // the event's fields
}

// New returns a Writer that writes lines to out, one Write call per line
// (which keeps lines whole in a file that several processes append to).
func New(out io.Writer) *Writer {
	return &Writer{out: out, now: time.Now}
}

// timeLayout is the line's time: local time (TZ=UTC gives UTC), as in the
// daemon's log and kclpy's samples, to the millisecond.
const timeLayout = "2006-01-02 15:04:05.000"

// Write formats one event. p is zerolog's JSON object and its newline;
// anything else is written as a quoted message, so that nothing logged is
// lost and every event is still one line.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.line = w.now().AppendFormat(w.line[:0], timeLayout)
	var ev event
	var ok bool
	ev, w.fields, ok = scanEvent(bytes.TrimRight(p, "\r\n"), w.fields[:0])
	if !ok {
		w.line = append(w.line, " -     - "...)
		w.line = appendQuoted(w.line, bytes.TrimRight(p, "\r\n"))
	} else {
		w.appendEvent(&ev)
	}
	w.line = append(w.line, '\n')
	if _, err := w.out.Write(w.line); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *Writer) appendEvent(ev *event) {
	w.line = append(w.line, ' ')
	w.line = appendLevel(w.line, w.decode(ev.level))
	w.line = append(w.line, ' ')
	if shard := w.decode(ev.shard); len(shard) > 0 {
		w.line = appendValue(w.line, shard)
	} else {
		w.line = append(w.line, '-')
	}
	if msg := w.decode(ev.message); len(msg) > 0 {
		w.line = append(w.line, ' ')
		if messageNeedsQuote(msg) {
			w.line = appendQuoted(w.line, msg)
		} else {
			w.line = append(w.line, msg...)
		}
	}
	for _, f := range ev.fields {
		w.appendField(f)
	}
	if ev.pid.key != nil {
		w.appendField(ev.pid)
	}
}

// appendField writes " key=value".
func (w *Writer) appendField(f field) {
	w.line = append(w.line, ' ')
	for _, c := range w.decode(f.key) {
		if c <= ' ' || c == '=' || c == '"' || c >= utf8.RuneSelf {
			c = '_' // keys are the program's; keep the line splittable whatever they hold
		}
		w.line = append(w.line, c)
	}
	w.line = append(w.line, '=')
	if f.value[0] == '"' {
		w.line = appendValue(w.line, w.decode(f.value))
	} else {
		w.line = appendValue(w.line, f.value) // number, true, false, null, object, array
	}
}

// decode returns the text of a JSON string token (quotes included), in a
// buffer that the next call reuses; any other token is returned as it is.
func (w *Writer) decode(tok []byte) []byte {
	if len(tok) < 2 || tok[0] != '"' {
		return tok
	}
	raw := tok[1 : len(tok)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	w.str = appendUnescaped(w.str[:0], raw)
	return w.str
}

func appendValue(dst, v []byte) []byte {
	if len(v) == 0 || needsQuote(v) {
		return appendQuoted(dst, v)
	}
	return append(dst, v...)
}

// appendQuoted appends v as a Go string literal (strconv.Unquote reads it
// back), like strconv.AppendQuote without converting v to a string.
func appendQuoted(dst, v []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < ' ' || c == 0x7f:
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && size == 1: // not UTF-8: the byte itself
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
		case strconv.IsPrint(r):
			dst = append(dst, v[i:i+size]...)
		case r < 0x10000:
			dst = append(dst, '\\', 'u')
			for s := 12; s >= 0; s -= 4 {
				dst = append(dst, hex[r>>uint(s)&0xf])
			}
		default:
			dst = append(dst, '\\', 'U')
			for s := 28; s >= 0; s -= 4 {
				dst = append(dst, hex[r>>uint(s)&0xf])
			}
		}
		i += size
	}
	return append(dst, '"')
}

// needsQuote reports whether v cannot stand bare in a line: it holds a
// space, a quote, an =, a control character or an unprintable rune.
func needsQuote(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '"' || c == '=' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// messageNeedsQuote is needsQuote for the message, whose words are
// separated by single spaces: a space is quoted only at either end, where a
// reader could lose it.
func messageNeedsQuote(m []byte) bool {
	if m[0] == ' ' || m[len(m)-1] == ' ' {
		return true
	}
	for len(m) > 0 {
		word := m
		if sp := bytes.IndexByte(m, ' '); sp >= 0 {
			word, m = m[:sp], m[sp+1:]
		} else {
			m = nil
		}
		if needsQuote(word) { // an empty word: two spaces in a row
			return true
		}
	}
	return false
}

var levels = map[string]string{
	"trace": "TRACE", "debug": "DEBUG", "info": "INFO ", "warn": "WARN ",
	"error": "ERROR", "fatal": "FATAL", "panic": "PANIC",
}

func appendLevel(dst, level []byte) []byte {
	if l, ok := levels[string(level)]; ok { // no allocation: the compiler looks up string(bytes) in place
		return append(dst, l...)
	}
	if len(level) == 0 {
		return append(dst, "-    "...)
	}
	return appendValue(dst, level)
}

// appendUnescaped appends the text of the inside of a JSON string.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, n := hex4(raw[i+1:])
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += n
			if utf16.IsSurrogate(r) { // a pair of escapes for one rune above U+FFFF
				if len(raw) >= i+7 && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, n2 := hex4(raw[i+3:]); n2 > 0 {
						if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
							dst = utf8.AppendRune(dst, pair)
							i += 2 + n2
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // \" \\ \/
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// hex4 reads the four hex digits of a \u escape; n is 0 when they are not
// there.
func hex4(b []byte) (r rune, n int) {
	if len(b) < 4 {
		return 0, 0
	}
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, 0
		}
		r = r<<4 | rune(d)
	}
	return r, 4
}
