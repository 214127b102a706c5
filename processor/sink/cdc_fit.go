package sink

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Whether a JSON value fits the data column's sub-columns exactly (see
// cdc_shape.go for why it matters).

// maxIndexedString is the longest string CrateDB indexes (UTF-8 bytes).
const maxIndexedString = 32766

// fitRaw reports whether the JSON value raw can be stored at a path of
// type *tp (nil: no column yet) without being refused or converted, and
// without changing an existing column.
//
// Without claim it only checks, and reports needsNew when the value would
// create a path; *tp is not touched. With claim (on a clone), the paths the
// value creates are claimed: *tp and its fields then hold the types to
// create them with (addColumnsDDL). A value that would make CrateDB create
// a column of undefined type (a null, an empty list or a list of nulls where
// there is no column) does not fit: that mapping change cannot be made
// beforehand. On false with claim, *tp is left in an undefined state.
func fitRaw(raw []byte, tp **colType, claim bool) (fits, needsNew bool) {
	fits, needsNew, _ = fitRawUndefined(raw, tp, claim, false)
	return fits, needsNew
}

// fitRawUndefined is fitRaw that, with allowUndef, also accepts a value
// that creates or retypes a column of undefined type, and reports it
// (undef); such a path is not claimed.
func fitRawUndefined(raw []byte, tp **colType, claim, allowUndef bool) (fits, needsNew, undef bool) {
	f := fitter{b: raw, claim: claim, allowUndef: allowUndef}
	fits = f.value(tp)
	return fits && !f.bad, f.needsNew, f.undef
}

// fitter walks one valid JSON value (as the decoders write it).
type fitter struct {
	b          []byte
	i          int
	claim      bool
	allowUndef bool
	needsNew   bool
	undef      bool
	bad        bool
}

func (f *fitter) ws() {
	for f.i < len(f.b) && (f.b[f.i] == ' ' || f.b[f.i] == '\t' || f.b[f.i] == '\n' || f.b[f.i] == '\r') {
		f.i++
	}
}

// value checks the value at f.i against *tp and moves past it (when it
// fits; after a misfit the position does not matter).
func (f *fitter) value(tp **colType) bool {
	f.ws()
	if f.i >= len(f.b) {
		f.bad = true
		return false
	}
	t, c := *tp, f.b[f.i]
	if t != nil && t.base == "undefined" {
		// A column made from a null: any other value would change its type.
		if f.literal("null") {
			return true
		}
		f.undef = true
		return f.allowUndef && f.skip()
	}
	if t == nil && c == 'n' {
		// would create an undefined column
		f.undef = true
		return f.allowUndef && f.literal("null")
	}
	if t == nil && !f.claim {
		f.needsNew = true
		return f.skip()
	}
	switch {
	case c == 'n':
		return f.literal("null") && t != nil
	case c == 't' || c == 'f':
		if !f.literal("true") && !f.literal("false") {
			return false
		}
		if t == nil {
			*tp = &colType{base: "boolean"}
			return true
		}
		return t.arrays == 0 && t.base == "boolean"
	case c == '"':
		if n, ok := f.stringLen(); !ok || n > maxIndexedString {
			return false
		}
		if t == nil {
			*tp = &colType{base: "text"}
			return true
		}
		return t.arrays == 0 && t.base == "text"
	case c == '{':
		return f.object(tp)
	case c == '[':
		return f.array(tp)
	}
	n, ok := f.number()
	if !ok {
		return false
	}
	if t == nil {
		if n.Kind == cdc.Float {
			*tp = &colType{base: "double precision"}
			return true
		}
		t = &colType{base: "bigint"}
		*tp = t
	}
	return t.arrays == 0 && numberFits(n, t.base)
}

func (f *fitter) object(tp **colType) bool {
	t := *tp
	if t == nil {
		t = &colType{base: "object"}
		*tp = t
	}
	if t.arrays != 0 || t.base != "object" {
		return false
	}
	f.i++ // {
	f.ws()
	if f.i < len(f.b) && f.b[f.i] == '}' {
		f.i++
		return true
	}
	for {
		f.ws()
		key, ok := f.key()
		if !ok || strings.ContainsAny(key, ".[\t\r\n") {
			return false
		}
		f.ws()
		if f.i >= len(f.b) || f.b[f.i] != ':' {
			f.bad = true
			return false
		}
		f.i++
		child := t.fields[key]
		if !f.value(&child) {
			return false
		}
		if f.claim && child != nil {
			if t.fields == nil {
				t.fields = map[string]*colType{}
			}
			t.fields[key] = child
		}
		f.ws()
		if f.i >= len(f.b) {
			f.bad = true
			return false
		}
		switch f.b[f.i] {
		case ',':
			f.i++
		case '}':
			f.i++
			return true
		default:
			f.bad = true
			return false
		}
	}
}

func (f *fitter) array(tp **colType) bool {
	t := *tp
	var elem *colType
	if t == nil {
		// CrateDB stores integers mixed with fractions as a DOUBLE array;
		// fine when every integer is exact as a double.
		if f.numericArray() {
			*tp = &colType{base: "double precision", arrays: 1}
			return true
		}
	} else {
		if t.arrays == 0 {
			return false
		}
		elem = &colType{base: t.base, arrays: t.arrays - 1, fields: t.fields}
	}
	f.i++ // [
	f.ws()
	if f.i < len(f.b) && f.b[f.i] == ']' {
		f.i++
	} else {
		for {
			f.ws()
			if f.i < len(f.b) && f.b[f.i] == 'n' {
				if !f.literal("null") {
					return false
				}
			} else if !f.value(&elem) {
				return false
			}
			f.ws()
			if f.i >= len(f.b) {
				f.bad = true
				return false
			}
			if f.b[f.i] == ']' {
				f.i++
				break
			}
			if f.b[f.i] != ',' {
				f.bad = true
				return false
			}
			f.i++
		}
	}
	if t != nil {
		if f.claim {
			t.fields = elem.fields // sub-columns claimed by object elements
		}
		return true
	}
	if elem == nil {
		// nothing typed the list (empty, or only nulls): an undefined
		// array column
		f.undef = true
		return f.allowUndef
	}
	if elem.base == "object" && elem.arrays > 0 {
		return false // a list of lists of objects
	}
	*tp = &colType{base: elem.base, arrays: elem.arrays + 1, fields: elem.fields}
	return true
}

// numericArray consumes a list of numbers and nulls with at least one
// fraction and every integer exact as a double; otherwise it leaves the
// position alone and returns false.
func (f *fitter) numericArray() bool {
	start := f.i
	f.i++ // [
	frac := false
	for {
		f.ws()
		if f.i >= len(f.b) {
			break
		}
		switch c := f.b[f.i]; {
		case c == ']':
			f.i++
			if frac {
				return true
			}
			f.i = start
			return false
		case c == ',':
			f.i++
			continue
		case c == 'n':
			if !f.literal("null") {
				f.i = start
				return false
			}
			continue
		}
		n, ok := f.number()
		if !ok || (n.Kind == cdc.Int && !exactDouble(n.Int)) {
			break
		}
		frac = frac || n.Kind == cdc.Float
	}
	f.i, f.bad = start, false
	return false
}

// number reads a number literal; Big numbers (never in data) do not fit.
func (f *fitter) number() (cdc.Number, bool) {
	start := f.i
	for f.i < len(f.b) {
		c := f.b[f.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			f.i++
			continue
		}
		break
	}
	n, ok := cdc.ParseNumber(string(f.b[start:f.i]))
	if !ok {
		f.bad = true
	}
	return n, ok && n.Kind != cdc.Big
}

func (f *fitter) literal(lit string) bool {
	if !bytes.HasPrefix(f.b[f.i:], []byte(lit)) {
		return false
	}
	f.i += len(lit)
	return true
}

// stringLen moves past the string at f.i and returns its length in bytes.
func (f *fitter) stringLen() (int, bool) {
	start := f.i
	escaped := false
	for j := start + 1; j < len(f.b); j++ {
		switch f.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			f.i = j + 1
			if !escaped {
				return j - start - 1, true
			}
			var s string
			if err := json.Unmarshal(f.b[start:j+1], &s); err != nil {
				f.bad = true
				return 0, false
			}
			return len(s), true
		}
	}
	f.bad = true
	return 0, false
}

// key reads an object key.
func (f *fitter) key() (string, bool) {
	if f.i >= len(f.b) || f.b[f.i] != '"' {
		f.bad = true
		return "", false
	}
	start := f.i
	if _, ok := f.stringLen(); !ok {
		return "", false
	}
	raw := f.b[start+1 : f.i-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(f.b[start:f.i], &s); err != nil {
		f.bad = true
		return "", false
	}
	return s, true
}

// skip moves past the value at f.i.
func (f *fitter) skip() bool {
	depth := 0
	for f.i < len(f.b) {
		switch c := f.b[f.i]; c {
		case '"':
			if _, ok := f.stringLen(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing value
			}
			depth--
			if depth == 0 {
				f.i++
				return true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return true
			}
		}
		f.i++
	}
	return depth == 0
}
