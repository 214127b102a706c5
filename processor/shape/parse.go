package shape

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
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

// parse reads one JSON value (surrounding white space allowed). The
// value's members and elements live in sc, which must outlive the value.
func parse(b []byte, sc *scratch) (value, error) {
	p := parser{b: b, sc: sc}
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
	b  []byte
	i  int
	sc *scratch
}

// scratch holds the members and elements of parsed values: objects and
// arrays are gathered on a stack, then copied into an arena, so a record
// costs no allocation once the arena is large enough. A scratch is reused
// through scratchPool after the value is no longer needed (Split); without
// it, a 1 KB record allocated about 5.6 KB of growing slices, which on
// CrateDB's path (every record is fitted) drove the collector.
type scratch struct {
	mstack, marena []member
	vstack, varena []value
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooled is the most members or values a pooled scratch keeps.
const maxPooled = 1 << 14

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// release forgets every value parsed into sc and pools it.
func (sc *scratch) release() {
	clear(sc.mstack[:cap(sc.mstack)])
	clear(sc.marena[:cap(sc.marena)])
	clear(sc.vstack[:cap(sc.vstack)])
	clear(sc.varena[:cap(sc.varena)])
	if cap(sc.mstack) > maxPooled || cap(sc.marena) > maxPooled || cap(sc.vstack) > maxPooled || cap(sc.varena) > maxPooled {
		return // a huge record: let the collector have it
	}
	sc.mstack, sc.marena, sc.vstack, sc.varena = sc.mstack[:0], sc.marena[:0], sc.vstack[:0], sc.varena[:0]
	scratchPool.Put(sc)
}

// keepMembers moves the members from stack index base on into the arena.
func (sc *scratch) keepMembers(base int) []member { return keep(&sc.mstack, &sc.marena, base) }

// keepValues moves the values from stack index base on into the arena.
func (sc *scratch) keepValues(base int) []value { return keep(&sc.vstack, &sc.varena, base) }

// keep moves (*stack)[base:] to the end of *arena and returns it there. A
// full arena is replaced, not grown: slices handed out earlier keep
// pointing into the old one.
func keep[T any](stack, arena *[]T, base int) []T {
	n := len(*stack) - base
	if cap(*arena)-len(*arena) < n {
		*arena = make([]T, 0, max(2*cap(*arena), n, 64))
	}
	l := len(*arena)
	*arena = append(*arena, (*stack)[base:]...)
	clear((*stack)[base:])
	*stack = (*stack)[:base]
	return (*arena)[l : l+n : l+n]
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
	base := len(p.sc.mstack)
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
		// This object's members so far (nested values are done with the
		// stack by now).
		sc := p.sc
		members := sc.mstack[base:]
		if at, dup := lookup(members, &index, m.key); dup {
			// The last value wins, as in PostgreSQL's jsonb; the key keeps
			// its first place.
			members[at].val = m.val
			v.merged = true
		} else {
			if index != nil {
				index[m.key] = len(members)
			}
			sc.mstack = append(sc.mstack, m)
		}
		p.space()
		if p.i >= len(p.b) {
			return value{}, p.fail("unterminated object")
		}
		if p.b[p.i] == '}' {
			p.i++
			v.raw = p.b[start:p.i]
			v.members = sc.keepMembers(base)
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
	base := len(p.sc.vstack)
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
		p.sc.vstack = append(p.sc.vstack, e)
		p.space()
		if p.i >= len(p.b) {
			return value{}, p.fail("unterminated array")
		}
		if p.b[p.i] == ']' {
			p.i++
			v.raw = p.b[start:p.i]
			v.elems = p.sc.keepValues(base)
			return v, nil
		}
		if p.b[p.i] != ',' {
			return value{}, p.fail("want ',' or ']'")
		}
		p.i++
	}
}
