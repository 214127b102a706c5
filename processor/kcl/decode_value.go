package kcl

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/internal/jsontext"
)

func (d *decoder) stringValue() (string, error) {
	s, err := d.nullableString()
	if err != nil || s == nil {
		return "", err
	}
	return *s, nil
}

// nullableString reads a string or null. Like the daemon's Jackson it also
// accepts a number where a string is expected and keeps its digits.
func (d *decoder) nullableString() (*string, error) {
	s, ok, err := d.plainString()
	if err != nil || !ok {
		return nil, err
	}
	return &s, nil
}

// plainString is nullableString without the pointer; ok is false for null.
func (d *decoder) plainString() (string, bool, error) {
	raw, ok, err := d.plainStringBytes()
	return string(raw), ok, err
}

// recordString is plainString for the strings of a record, which share
// their backing memory (see share).
func (d *decoder) recordString() (string, error) {
	raw, _, err := d.plainStringBytes()
	return d.share(raw), err
}

// share returns raw as a string backed by a chunk that the strings of
// other records share: a batch's 10,000 partition keys and sequence numbers
// would otherwise be 20,000 small objects for the garbage collector. The
// bytes of a chunk are never written again once handed out (new strings go
// after them or into a new chunk), which is what makes unsafe.String sound,
// as in strings.Builder.
func (d *decoder) share(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if len(raw) > maxStringChunk/4 {
		return string(raw)
	}
	if cap(d.strings)-len(d.strings) < len(raw) {
		size := min(max(2*cap(d.strings), minStringChunk), maxStringChunk)
		d.strings = make([]byte, 0, size)
	}
	start := len(d.strings)
	d.strings = append(d.strings, raw...)
	return unsafe.String(&d.strings[start], len(raw))
}

// plainStringBytes is plainString before the copy: raw points into the
// line or, if the string had escapes, into a new buffer.
func (d *decoder) plainStringBytes() ([]byte, bool, error) {
	d.skipSpace()
	if d.consumeLiteral("null") {
		return nil, false, nil
	}
	if d.pos < len(d.buf) && d.buf[d.pos] != '"' {
		num, err := d.number()
		if err != nil {
			return nil, false, err
		}
		return num, true, nil
	}
	raw, escaped, err := d.rawString()
	if err != nil {
		return nil, false, err
	}
	if escaped {
		if raw, err = unescape(raw); err != nil {
			return nil, false, err
		}
	}
	return raw, true, nil
}

// nullableInt reads an integer or null; a string holding an integer is
// accepted too, as Jackson coerces it.
func (d *decoder) nullableInt() (*int64, error) {
	n, ok, err := d.plainInt()
	if err != nil || !ok {
		return nil, err
	}
	return &n, nil
}

// plainInt is nullableInt without the pointer; ok is false for null.
func (d *decoder) plainInt() (int64, bool, error) {
	d.skipSpace()
	if d.consumeLiteral("null") {
		return 0, false, nil
	}
	var digits []byte
	if d.pos < len(d.buf) && d.buf[d.pos] == '"' {
		raw, escaped, err := d.rawString()
		if err != nil {
			return 0, false, err
		}
		if escaped {
			return 0, false, d.errorf("expected an integer")
		}
		digits = raw
	} else {
		num, err := d.number()
		if err != nil {
			return 0, false, err
		}
		digits = num
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("integer: %w", err)
	}
	return n, true, nil
}

// rawString returns the bytes between the quotes of the next string without
// decoding escapes, and whether it contained any.
func (d *decoder) rawString() (raw []byte, escaped bool, err error) {
	if !d.consume('"') {
		return nil, false, d.errorf("expected a string")
	}
	start := d.pos
	for d.pos < len(d.buf) {
		switch c := d.buf[d.pos]; {
		case c == '"':
			raw = d.buf[start:d.pos]
			d.pos++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			d.pos += 2
		case c < 0x20:
			return nil, false, d.errorf("control character in string")
		default:
			d.pos++
		}
	}
	return nil, false, d.errorf("unterminated string")
}

func (d *decoder) number() ([]byte, error) {
	start := d.pos
	end, ok := jsontext.NumberEnd(d.buf, d.pos)
	if end == start {
		return nil, d.errorf("expected a value")
	}
	if !ok {
		return nil, d.errorf("invalid number %q", d.buf[start:end])
	}
	// A number runs into the next delimiter; "01" or "1x" is not one number.
	if end < len(d.buf) && (isDigit(d.buf[end]) || d.buf[end] == '.' || d.buf[end] == '-' || d.buf[end] == '+' || d.buf[end] == 'e' || d.buf[end] == 'E') {
		return nil, d.errorf("invalid number %q", d.buf[start:end+1])
	}
	d.pos = end
	return d.buf[start:end], nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipValue skips any JSON value, validating its syntax.
func (d *decoder) skipValue() error {
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return d.errorf("expected a value")
	}
	switch d.buf[d.pos] {
	case '{':
		return d.object(func([]byte) error { return d.skipValue() })
	case '[':
		return d.array(d.skipValue)
	case '"':
		raw, escaped, err := d.rawString()
		if err == nil && escaped {
			_, err = unescape(raw)
		}
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		_, err := d.number()
		return err
	}
}

func (d *decoder) literal(lit string) error {
	if !d.consumeLiteral(lit) {
		return d.errorf("invalid literal")
	}
	return nil
}

func (d *decoder) consumeLiteral(lit string) bool {
	if len(d.buf)-d.pos >= len(lit) && string(d.buf[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

func (d *decoder) consume(c byte) bool {
	if d.pos < len(d.buf) && d.buf[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("kcl: invalid message at byte %d: %s", d.pos, fmt.Sprintf(format, args...))
}

// unescape decodes the escapes of a JSON string body. Invalid UTF-8 is kept
// as it is: the daemon's charset may not be UTF-8 and a partition key must
// survive the trip unchanged.
func unescape(raw []byte) ([]byte, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, errors.New("kcl: dangling escape in string")
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := unicodeEscape(raw[i+1:])
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
			i += n
		default:
			return nil, fmt.Errorf("kcl: invalid escape \\%c in string", raw[i])
		}
	}
	return out, nil
}

// unicodeEscape decodes the hex digits after a \u, joining surrogate pairs;
// it returns the rune and how many bytes it used.
func unicodeEscape(b []byte) (rune, int, error) {
	r, ok := hex4(b)
	if !ok {
		return 0, 0, errors.New("kcl: invalid \\u escape in string")
	}
	if utf16.IsSurrogate(r) && len(b) >= 10 && b[4] == '\\' && b[5] == 'u' {
		if r2, ok := hex4(b[6:]); ok {
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				return pair, 10, nil
			}
		}
	}
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return r, 4, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
