package decode

import (
	"encoding/binary"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/internal/jsontext"
)

// validJSON reports whether b is exactly one JSON value, as json.Valid does,
// several times faster on the string-heavy payloads Kinesis carries: strings
// are skipped eight bytes at a time instead of a state machine step per
// byte. UTF-8 is not checked; ascii tells whether there is any to check:
// bytes above 0x7f can only be inside strings of a valid value.
func validJSON(b []byte) (valid, ascii bool) {
	v := validator{b: b}
	v.space()
	if !v.value(0) {
		return false, false
	}
	v.space()
	return v.i == len(v.b), v.seen&highs == 0
}

// maxDepth bounds nesting like encoding/json does, so a hostile payload
// cannot exhaust the stack.
const maxDepth = 10000

type validator struct {
	b    []byte
	i    int
	seen uint64 // string bytes ORed together, byte-wise
}

// plain marks bytes that may appear in a string without ending it or
// starting an escape.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		return v.str()
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	}
	return false
}

func (v *validator) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++ // {
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++ // [
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

func (v *validator) str() bool {
	v.i++ // opening quote
	b := v.b
	for {
		i := v.skipPlain(b, v.i)
		v.i = i
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case '"':
			v.i++
			return true
		case '\\':
			if !v.escape() {
				return false
			}
		default: // control character
			return false
		}
	}
}

// skipPlain returns the index of the first byte at or after i that ends a
// string, starts an escape or is not allowed in one. It tests eight bytes at
// a time while none of them is such a byte; payload strings are mostly long
// runs of plain bytes.
func (v *validator) skipPlain(b []byte, i int) int {
	seen := uint64(0)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i : i+8])
		if hasStringStop(x) {
			break
		}
		seen |= x
	}
	for i < len(b) && plain[b[i]] {
		seen |= uint64(b[i])
		i++
	}
	v.seen |= seen
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasStringStop reports whether any of the eight bytes in x is '"', '\\' or
// below 0x20. (x - ones*n) & ^x & highs is non-zero exactly when some byte
// of x is below n (n <= 0x80); a byte equal to c is a zero byte of x ^ ones*c,
// that is, below 1.
func hasStringStop(x uint64) bool {
	q := x ^ (ones * '"')
	e := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(e-ones)&^e)&highs != 0
}

func (v *validator) escape() bool {
	v.i++ // backslash
	if v.i >= len(v.b) {
		return false
	}
	switch v.b[v.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		v.i++
		return true
	case 'u':
		if v.i+4 >= len(v.b) {
			return false
		}
		for _, c := range v.b[v.i+1 : v.i+5] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		v.i += 5
		return true
	}
	return false
}

func (v *validator) number() bool {
	end, ok := jsontext.NumberEnd(v.b, v.i)
	v.i = end
	return ok
}

func (v *validator) lit(s string) bool {
	if len(v.b)-v.i < len(s) || string(v.b[v.i:v.i+len(s)]) != s {
		return false
	}
	v.i += len(s)
	return true
}

func (v *validator) space() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}
