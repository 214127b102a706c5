package shape

import "math"

// fits reports whether v can be stored exactly in an existing sub-column
// of type t (node c holds an object's sub-columns).
func (s *splitter) fits(v *value, t colType, c *node, depth int) bool {
	if v.kind == kindNull {
		return true
	}
	if t.dims > 0 {
		if v.kind != kindArray {
			return false
		}
		if depth+1 > s.r.maxDepth {
			return false
		}
		inner := colType{base: t.base, dims: t.dims - 1}
		for i := range v.elems {
			if !s.fits(&v.elems[i], inner, c, depth+1) {
				return false
			}
		}
		return true
	}
	switch t.base {
	case baseBool:
		return v.kind == kindBool
	case baseInt8, baseInt16, baseInt32, baseInt64:
		return v.kind == kindNumber && s.intFits(readNumber(v.raw), intBits(t.base))
	case baseFloat64:
		return v.kind == kindNumber && readNumber(v.raw).exactFloat
	case baseFloat32:
		return v.kind == kindNumber && readNumber(v.raw).fitsFloat32()
	case baseText:
		return v.kind == kindString && s.textOK(v)
	case baseObject:
		if v.kind != kindObject || depth+1 > s.r.maxDepth {
			return false
		}
		for i := range v.members {
			m := &v.members[i]
			if !s.keyOK(m) {
				return false
			}
			if m.val.kind == kindNull {
				continue
			}
			if col := c.child(m.key); col != nil && col.typ.base != baseUndefined {
				if !s.fits(&m.val, col.typ, col, depth+1) {
					return false
				}
				continue
			}
			if s.mode == KnownOnly || (s.r.maxColumns > 0 && s.cols.count >= s.r.maxColumns) {
				return false
			}
			t, ok := s.infer(&m.val, depth+1)
			if !ok {
				return false
			}
			if t.base != baseUndefined {
				col, _ := s.record(c, m.key, t)
				if (t.base == baseObject) && !s.fits(&m.val, t, col, depth+1) {
					return false
				}
			}
		}
		return true
	case baseOther:
		return true // the database decides; a refusal moves the record
	}
	return false
}

// infer returns the type a new sub-column gets from v, or false when v
// cannot be stored exactly in one. baseUndefined means "no type yet" (null,
// empty arrays).
func (s *splitter) infer(v *value, depth int) (colType, bool) {
	switch v.kind {
	case kindNull:
		return colType{base: baseUndefined}, true
	case kindBool:
		return colType{base: baseBool}, true
	case kindString:
		return colType{base: baseText}, s.textOK(v)
	case kindNumber:
		n := readNumber(v.raw)
		if n.floatToken {
			return colType{base: baseFloat64}, n.exactFloat
		}
		return colType{base: baseInt64}, s.intFits(n, 64)
	case kindObject:
		return colType{base: baseObject}, depth+1 <= s.r.maxDepth
	}
	// An array: every element must have one type, or integers beside
	// doubles (the column becomes a double array). Arrays count as a level:
	// the database's JSON parser limits nesting of both.
	if depth+1 > s.r.maxDepth {
		return colType{}, false
	}
	elem := colType{base: baseUndefined}
	for i := range v.elems {
		e := &v.elems[i]
		t, ok := s.infer(e, depth+1)
		if !ok {
			return colType{}, false
		}
		if t.base == baseUndefined && t.dims == 0 {
			continue
		}
		switch {
		case elem.base == baseUndefined && elem.dims == 0:
			elem = t
		case elem == t:
		case elem.dims == 0 && t.dims == 0 && numeric(elem.base) && numeric(t.base):
			elem = colType{base: baseFloat64}
		default:
			return colType{}, false
		}
	}
	if elem.base == baseFloat64 {
		for i := range v.elems {
			if e := &v.elems[i]; e.kind == kindNumber && !readNumber(e.raw).exactFloat {
				return colType{}, false
			}
		}
	}
	if elem.base == baseUndefined {
		return colType{base: baseUndefined}, true
	}
	if elem.base == baseObject {
		// The members of all elements share one set of sub-columns.
		scratch := &node{}
		for i := range v.elems {
			if !s.fitsScratch(&v.elems[i], scratch, depth) {
				return colType{}, false
			}
		}
	}
	return colType{base: elem.base, dims: elem.dims + 1}, true
}

// fitsScratch checks array elements that are objects against the
// sub-columns earlier elements would make, without touching cols.
func (s *splitter) fitsScratch(v *value, scratch *node, depth int) bool {
	if v.kind != kindObject {
		return v.kind == kindNull || v.kind == kindArray
	}
	saved := s.cols.count
	mark := len(s.added)
	ok := s.fits(v, colType{base: baseObject}, scratch, depth)
	// Undo the count and the rollback list; scratch keeps its types.
	s.added = s.added[:mark]
	s.cols.count = saved
	return ok
}

// intFits: n is an integer an integer column of bits bits stores.
func (s *splitter) intFits(n number, bits int) bool {
	if bits == 64 && s.r.bigintEnds && (n.i == math.MinInt64 || n.i == math.MaxInt64) {
		return false
	}
	return n.fitsInt(bits)
}

func intBits(b base) int {
	switch b {
	case baseInt8:
		return 8
	case baseInt16:
		return 16
	case baseInt32:
		return 32
	}
	return 64
}

func numeric(b base) bool { return b == baseInt64 || b == baseFloat64 }

// textOK: a string the main column stores exactly.
func (s *splitter) textOK(v *value) bool {
	t := inspect(v.raw)
	if t.lone || (s.r.jsonb && t.nul) {
		return false
	}
	return s.r.maxText == 0 || t.bytes <= s.r.maxText
}

// untypedOK: a value jsonb stores exactly (PostgreSQL).
func (s *splitter) untypedOK(v *value, depth int) bool {
	switch v.kind {
	case kindString:
		return s.textOK(v)
	case kindNumber:
		if s.r.exactNumbers {
			n := readNumber(v.raw)
			return (n.floatToken && n.exactFloat) || (!n.floatToken && n.isInt)
		}
		_, ok := canonical(string(v.raw))
		return ok
	case kindArray:
		for i := range v.elems {
			e := &v.elems[i]
			if e.kind == kindObject {
				if depth+1 > s.r.maxDepth || !s.untypedObjectOK(e, depth+1) {
					return false
				}
			} else if !s.untypedOK(e, depth+1) {
				return false
			}
		}
	case kindObject:
		return depth+1 <= s.r.maxDepth && s.untypedObjectOK(v, depth+1)
	}
	return true
}

func (s *splitter) untypedObjectOK(v *value, depth int) bool {
	for i := range v.members {
		m := &v.members[i]
		if !s.keyOK(m) || !s.untypedOK(&m.val, depth) {
			return false
		}
	}
	return true
}
