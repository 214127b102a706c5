package shape

import (
	"bytes"
	"errors"
	"fmt"
)

// kind is a JSON value's type.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// value is a parsed JSON value that keeps its exact text: scalars are
// re-emitted byte for byte, never re-encoded, so numbers keep every digit
// and escapes (lone surrogates included) survive.
type value struct {
	kind    kind
	raw     []byte   // the value's text in the input
	members []member // objects, duplicate keys merged (the last wins)
	elems   []value  // arrays
	// merged is set when this value or one inside it had duplicate keys:
	// raw is then not the normalised text and must not be copied.
	merged bool
}

type member struct {
	key    string // decoded
	rawKey []byte // as written, quotes included
	val    value
}

// errSyntax is returned for input that is not one JSON value; decoders
// validate payloads first, so it means a caller bug.
var errSyntax = errors.New("shape: not a JSON value")

// parse reads one JSON value (surrounding white space allowed).
func parse(b []byte) (value, error) {
	p := parser{b: b}
	p.space()
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.space()
	if p.i != len(b) {
		return value{}, fmt.Errorf("%w: text after the value at byte %d", errSyntax, p.i)
	}
	return v, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errSyntax, what, p.i)
}

func (p *parser) value() (value, error) {
	if p.i >= len(p.b) {
		return value{}, p.fail("unexpected end")
	}
	start := p.i
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		if err := p.skipString(); err != nil {
			return value{}, err
		}
		return value{kind: kindString, raw: p.b[start:p.i]}, nil
	case c == 't' || c == 'f' || c == 'n':
		for p.i < len(p.b) && p.b[p.i] >= 'a' && p.b[p.i] <= 'z' {
			p.i++
		}
		switch string(p.b[start:p.i]) {
		case "true", "false":
			return value{kind: kindBool, raw: p.b[start:p.i]}, nil
		case "null":
			return value{kind: kindNull, raw: p.b[start:p.i]}, nil
		}
		return value{}, p.fail("bad literal")
	case c == '-' || (c >= '0' && c <= '9'):
		for p.i < len(p.b) && numberByte(p.b[p.i]) {
			p.i++
		}
		return value{kind: kindNumber, raw: p.b[start:p.i]}, nil
	}
	return value{}, p.fail("unexpected byte")
}

func numberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (p *parser) skipString() error {
	p.i++ // opening quote
	for p.i < len(p.b) {
		// Jump to the next quote; it ends the string unless escaped.
		q := bytes.IndexByte(p.b[p.i:], '"')
		if q < 0 {
			break
		}
		end := p.i + q
		if bytes.IndexByte(p.b[p.i:end], '\\') < 0 {
			p.i = end + 1
			return nil
		}
		for p.i < end {
			if p.b[p.i] == '\\' {
				p.i += 2
			} else {
				p.i++
			}
		}
		if p.i == end {
			p.i++
			return nil
		}
		// The quote was escaped: go on after it.
	}
	return p.fail("unterminated string")
}

func (p *parser) object() (value, error) {
	start := p.i
	p.i++
	v := value{kind: kindObject}
	var index map[string]int // built once an object is large enough to need it
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		v.raw = p.b[start:p.i]
		return v, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return value{}, p.fail("want a key")
		}
		ks := p.i
		if err := p.skipString(); err != nil {
			return value{}, err
		}
		m := member{rawKey: p.b[ks:p.i]}
		m.key = decodeString(m.rawKey)
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return value{}, p.fail("want ':'")
		}
		p.i++
		p.space()
		val, err := p.value()
		if err != nil {
			return value{}, err
		}
		m.val = val
		v.merged = v.merged || val.merged
		if at, dup := lookup(v.members, &index, m.key); dup {
			// The last value wins, as in PostgreSQL's jsonb; the key keeps
			// its first place.
			v.members[at].val = m.val
			v.merged = true
		} else {
			if index != nil {
				index[m.key] = len(v.members)
			}
			v.members = append(v.members, m)
		}
		p.space()
		if p.i >= len(p.b) {
			return value{}, p.fail("unterminated object")
		}
		if p.b[p.i] == '}' {
			p.i++
			v.raw = p.b[start:p.i]
			return v, nil
		}
		if p.b[p.i] != ',' {
			return value{}, p.fail("want ',' or '}'")
		}
		p.i++
	}
}

// lookup finds key among members: a linear scan for small objects, a map
// (made on first need) for large ones.
func lookup(members []member, index *map[string]int, key string) (int, bool) {
	if *index == nil {
		if len(members) < 16 {
			for i := range members {
				if members[i].key == key {
					return i, true
				}
			}
			return 0, false
		}
		*index = make(map[string]int, 2*len(members))
		for i := range members {
			(*index)[members[i].key] = i
		}
	}
	i, ok := (*index)[key]
	return i, ok
}

func (p *parser) array() (value, error) {
	start := p.i
	p.i++
	v := value{kind: kindArray}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		v.raw = p.b[start:p.i]
		return v, nil
	}
	for {
		p.space()
		e, err := p.value()
		if err != nil {
			return value{}, err
		}
		v.merged = v.merged || e.merged
		v.elems = append(v.elems, e)
		p.space()
		if p.i >= len(p.b) {
			return value{}, p.fail("unterminated array")
		}
		if p.b[p.i] == ']' {
			p.i++
			v.raw = p.b[start:p.i]
			return v, nil
		}
		if p.b[p.i] != ',' {
			return value{}, p.fail("want ',' or ']'")
		}
		p.i++
	}
}
