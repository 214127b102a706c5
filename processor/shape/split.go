// Package shape fits a JSON record to a database's object column without
// losing any of it.
//
// A CrateDB OBJECT(DYNAMIC) column turns every key into a typed, indexed
// sub-column, and refuses a value that does not fit: an integer beyond 64
// bits, a string over 32766 bytes, a key with a dot or a bracket, a value of
// another type than the sub-column already has, an array that mixes types,
// nesting beyond the table's depth limit. PostgreSQL's jsonb refuses \u0000,
// lone surrogates and numbers beyond numeric's range. Split keeps in the
// main object what the column takes exactly and moves the rest, at the same
// path, to an aux object (CrateDB: OBJECT(IGNORED), stored but not indexed,
// as crate/commons-codec does); the whole record is then also returned as
// text, so it can always be read back exactly.
package shape

import (
	"bytes"
	"errors"
	"strings"
)

// Rules are one database's limits for an object column. Use CrateDB or
// PostgreSQL.
type Rules struct {
	typed       bool   // sub-columns take a fixed type from their first value
	maxDepth    int    // object levels below the column
	maxText     int    // UTF-8 bytes of an indexed string; 0 = no limit
	maxColumns  int    // sub-columns per column; 0 = no limit
	badKeyBytes string // bytes a key must not contain
	jsonb       bool   // no \u0000, no lone surrogates, numbers in numeric's range
	// exactNumbers: only 64-bit integers and doubles (CrateDB's JSON
	// reader refuses bigger integers and rounds other decimals).
	exactNumbers bool
	// bigintEnds: a BIGINT column refuses -2^63 and 2^63-1 (CrateDB 6.4:
	// "Value 9223372036854775807 exceeds allowed range for column of type
	// bigint").
	bigintEnds bool
	auxDepth   int // deeper aux values are kept as their JSON text
}

var (
	// CrateDB is OBJECT(DYNAMIC) beside an OBJECT(IGNORED) aux column.
	CrateDB = Rules{typed: true, maxDepth: 50, maxText: 32766, maxColumns: 980,
		badKeyBytes: ".[\t\n\r", exactNumbers: true, bigintEnds: true, auxDepth: 400}
	// CrateDBIgnored is an OBJECT(IGNORED) payload (sink.objectPolicy =
	// ignored): stored, not indexed, so only numbers must be exact.
	CrateDBIgnored = Rules{exactNumbers: true, maxDepth: 400, auxDepth: 400}
	// PostgreSQL is jsonb beside a jsonb aux column.
	PostgreSQL = Rules{jsonb: true, maxDepth: 1000, auxDepth: 1000}
)

// Mode says how much a Split keeps in the main object.
type Mode int

const (
	// Fit keeps every value the column takes exactly.
	Fit Mode = iota
	// KnownOnly keeps only values of sub-columns the table already has
	// (after the database refused to add a column, e.g. its column limit).
	KnownOnly
	// AuxOnly moves every value to aux.
	AuxOnly
)

// Result is a record fitted to its column.
type Result struct {
	Main []byte // for the object column; the input itself when it fits as is
	Aux  []byte // values moved out of Main, at their paths; nil if none
	// Full is the whole record when Main and Aux do not give it back
	// exactly (something moved or had to be stored as text); nil otherwise.
	Full []byte
}

// ErrNotObject is returned for a document that is not a JSON object.
var ErrNotObject = errors.New("shape: not a JSON object")

// Split fits doc, a JSON object, to a column with rules r whose sub-columns
// cols knows. Values it keeps in a new sub-column are added to cols, so that
// later records of the batch agree with the types the database will make.
// cols may be nil for rules that are not typed. Duplicate keys are merged,
// the last value winning, in every result.
func (r Rules) Split(doc []byte, cols *Columns, mode Mode) (Result, error) {
	// The parsed tree lives in sc until Split returns; the result holds
	// doc or bytes of its own, never the tree.
	sc := getScratch()
	defer sc.release()
	v, err := parse(doc, sc)
	if err != nil {
		return Result{}, err
	}
	if v.kind != kindObject {
		return Result{}, ErrNotObject
	}
	if cols == nil {
		cols = &Columns{}
	}
	s := splitter{r: r, cols: cols, mode: mode, dry: true}
	s.object(nil, &v, &cols.root, 1)
	if !s.moved && !v.merged {
		return Result{Main: doc}, nil
	}
	s.dry, s.moved = false, false
	main, aux := s.object(make([]byte, 0, len(doc)), &v, &cols.root, 1)
	res := Result{Main: main}
	if s.moved {
		res.Aux = append(append([]byte{'{'}, aux...), '}')
		res.Full = s.emit(nil, &v)
	}
	return res, nil
}

type splitter struct {
	r     Rules
	cols  *Columns
	mode  Mode
	dry   bool // decide only; append nothing
	moved bool
	added []addition // sub-columns recorded while checking one value
}

type addition struct {
	parent *node
	key    string
}

// object appends v's kept members to main as an object and returns its
// moved members, comma-separated, for the aux object at the same path.
func (s *splitter) object(main []byte, v *value, n *node, depth int) (mainOut, aux []byte) {
	main = s.put(main, "{")
	first := true
	for i := range v.members {
		m := &v.members[i]
		keep, into := s.decide(m, n, depth)
		switch {
		case into != nil:
			main = s.key(main, m, &first)
			var sub []byte
			if main, sub = s.object(main, &m.val, into, depth+1); len(sub) > 0 && !s.dry {
				aux = appendMember(aux, m.rawKey, append(append([]byte{'{'}, sub...), '}'))
			}
		case keep:
			main = s.key(main, m, &first)
			if !s.dry {
				main = s.emit(main, &m.val)
			}
		default:
			s.moved = true
			if !s.dry && s.auxKeyOK(m) {
				aux = appendMember(aux, m.rawKey, s.emitAux(nil, &m.val, 1))
			}
		}
	}
	return s.put(main, "}"), aux
}

func (s *splitter) put(b []byte, text string) []byte {
	if s.dry {
		return b
	}
	return append(b, text...)
}

func (s *splitter) key(main []byte, m *member, first *bool) []byte {
	if s.dry {
		return main
	}
	if !*first {
		main = append(main, ',')
	}
	*first = false
	main = append(main, m.rawKey...)
	return append(main, ':')
}

func appendMember(aux, key, val []byte) []byte {
	if len(aux) > 0 {
		aux = append(aux, ',')
	}
	aux = append(aux, key...)
	aux = append(aux, ':')
	return append(aux, val...)
}

// decide says whether member m of an object whose sub-columns n knows stays
// in main: keep for the whole value, or into (the object's node) to split
// the member's object in turn.
func (s *splitter) decide(m *member, n *node, depth int) (keep bool, into *node) {
	if s.mode == AuxOnly || !s.keyOK(m) {
		return false, nil
	}
	if m.val.kind == kindNull {
		return true, nil
	}
	if !s.r.typed {
		if m.val.kind == kindObject {
			if depth+1 > s.r.maxDepth {
				return false, nil
			}
			return false, &node{}
		}
		return s.untypedOK(&m.val, depth), nil
	}
	col := n.child(m.key)
	if col != nil && col.typ.base != baseUndefined {
		if col.typ == (colType{base: baseObject}) && m.val.kind == kindObject {
			if depth+1 > s.r.maxDepth {
				return false, nil
			}
			return false, col
		}
		mark := len(s.added)
		if s.fits(&m.val, col.typ, col, depth) {
			s.added = s.added[:0]
			return true, nil
		}
		s.rollback(mark)
		return false, nil
	}
	if s.mode == KnownOnly || (s.r.maxColumns > 0 && s.cols.count >= s.r.maxColumns) {
		return false, nil
	}
	if m.val.kind == kindObject {
		if depth+1 > s.r.maxDepth {
			return false, nil
		}
		into, _ := s.record(n, m.key, colType{base: baseObject})
		s.added = s.added[:0]
		return false, into
	}
	mark := len(s.added)
	if t, ok := s.infer(&m.val, depth); ok {
		if t.base != baseUndefined {
			if c, _ := s.record(n, m.key, t); t.base == baseObject {
				// An array of objects: its members were checked against
				// a scratch node; check them against the real one.
				if !s.fits(&m.val, t, c, depth) {
					s.rollback(mark)
					return false, nil
				}
			}
		}
		s.added = s.added[:0]
		return true, nil
	}
	s.rollback(mark)
	return false, nil
}

// keyOK: the key can name a sub-column.
func (s *splitter) keyOK(m *member) bool {
	if s.r.badKeyBytes != "" && strings.ContainsAny(m.key, s.r.badKeyBytes) {
		return false
	}
	if bytes.IndexByte(m.rawKey, '\\') < 0 {
		return true // no escape, so neither \u0000 nor a surrogate
	}
	t := inspect(m.rawKey)
	return !t.lone && !(s.r.jsonb && t.nul)
}

// auxKeyOK: the aux column can hold the key (jsonb cannot hold \u0000 or
// lone surrogates anywhere; such members live in Full only).
func (s *splitter) auxKeyOK(m *member) bool {
	if !s.r.jsonb {
		return true
	}
	t := inspect(m.rawKey)
	return !t.lone && !t.nul
}

// record adds sub-column key under parent, remembering it for rollback.
func (s *splitter) record(parent *node, key string, t colType) (*node, bool) {
	if c := parent.child(key); c != nil && c.typ.base != baseUndefined {
		return c, false
	}
	c, made := parent.add(key, t)
	if made {
		s.cols.count++
		s.added = append(s.added, addition{parent: parent, key: key})
	}
	return c, made
}

// rollback forgets sub-columns recorded since mark, for a value that went
// to aux after all.
func (s *splitter) rollback(mark int) {
	for _, a := range s.added[mark:] {
		delete(a.parent.kids, a.key)
		s.cols.count--
	}
	s.added = s.added[:mark]
}

// emit appends v's normalised text (duplicate keys merged).
func (s *splitter) emit(dst []byte, v *value) []byte {
	if !v.merged {
		return append(dst, v.raw...)
	}
	switch v.kind {
	case kindObject:
		dst = append(dst, '{')
		for i := range v.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v.members[i].rawKey...)
			dst = append(dst, ':')
			dst = s.emit(dst, &v.members[i].val)
		}
		return append(dst, '}')
	case kindArray:
		dst = append(dst, '[')
		for i := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = s.emit(dst, &v.elems[i])
		}
		return append(dst, ']')
	}
	return append(dst, v.raw...)
}

// emitAux appends v for the aux column: as itself where that column keeps
// it exactly, as a string of its JSON text where it cannot (numbers beyond
// 64-bit integers and doubles, nesting deeper than the aux limit, and for
// jsonb \u0000 and lone surrogates).
func (s *splitter) emitAux(dst []byte, v *value, depth int) []byte {
	switch v.kind {
	case kindNumber:
		if s.r.jsonb {
			if _, ok := canonical(string(v.raw)); !ok {
				return appendQuoted(dst, v.raw)
			}
			return append(dst, v.raw...)
		}
		if n := readNumber(v.raw); (n.floatToken && !n.exactFloat) || (!n.floatToken && !n.isInt) {
			return appendQuoted(dst, v.raw)
		}
	case kindString:
		if t := inspect(v.raw); s.r.jsonb && (t.nul || t.lone) {
			return appendQuoted(dst, v.raw)
		}
	case kindObject:
		if depth > s.r.auxDepth {
			return appendQuoted(dst, s.emit(nil, v))
		}
		dst = append(dst, '{')
		first := true
		for i := range v.members {
			m := &v.members[i]
			if !s.auxKeyOK(m) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, m.rawKey...)
			dst = append(dst, ':')
			dst = s.emitAux(dst, &m.val, depth+1)
		}
		return append(dst, '}')
	case kindArray:
		if depth > s.r.auxDepth {
			return appendQuoted(dst, s.emit(nil, v))
		}
		dst = append(dst, '[')
		for i := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = s.emitAux(dst, &v.elems[i], depth+1)
		}
		return append(dst, ']')
	}
	return append(dst, v.raw...)
}
