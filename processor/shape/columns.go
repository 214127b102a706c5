package shape

import "strings"

// base is a column's element type, as far as the split must know it.
type base uint8

const (
	baseNone      base = iota // no column yet
	baseUndefined             // made by null or []: takes the first typed value
	baseBool
	baseInt8
	baseInt16
	baseInt32
	baseInt64
	baseFloat32
	baseFloat64
	baseText
	baseObject
	baseOther // timestamp, ip, geo, numeric, …: left to the database
)

// colType is a column type: a base and how many array levels wrap it.
type colType struct {
	base base
	dims int
}

// parseDataType reads information_schema.columns.data_type as CrateDB
// writes it: "bigint", "double precision", "text_array", "object_array",
// "bigint_array_array", "undefined", ….
func parseDataType(s string) colType {
	s = strings.ToLower(strings.TrimSpace(s))
	var t colType
	for strings.HasSuffix(s, "_array") {
		s = strings.TrimSuffix(s, "_array")
		t.dims++
	}
	for strings.HasPrefix(s, "array(") && strings.HasSuffix(s, ")") {
		s = s[len("array(") : len(s)-1]
		t.dims++
	}
	switch {
	case s == "boolean":
		t.base = baseBool
	case s == "byte" || s == "char":
		t.base = baseInt8
	case s == "smallint":
		t.base = baseInt16
	case s == "integer":
		t.base = baseInt32
	case s == "bigint":
		t.base = baseInt64
	case s == "real":
		t.base = baseFloat32
	case s == "double precision":
		t.base = baseFloat64
	case s == "text" || strings.HasPrefix(s, "character varying") || strings.HasPrefix(s, "varchar"):
		t.base = baseText
	case s == "object":
		t.base = baseObject
	case s == "undefined":
		t.base = baseUndefined
	default:
		t.base = baseOther
	}
	return t
}

// Columns holds the sub-columns a database has made inside one object
// column, and those the split expects it to make for values it kept. The
// zero value knows none. It is not safe for concurrent use.
type Columns struct {
	root  node
	count int
}

type node struct {
	typ  colType
	kids map[string]*node
}

func (n *node) child(key string) *node {
	if n == nil {
		return nil
	}
	return n.kids[key]
}

// add makes or retypes the child key.
func (n *node) add(key string, t colType) (*node, bool) {
	if c := n.kids[key]; c != nil {
		c.typ = t
		return c, false
	}
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	c := &node{typ: t}
	n.kids[strings.Clone(key)] = c
	return c, true
}

// AddColumn records one row of information_schema.columns: name is
// CrateDB's column name of a sub-column, such as payload['a']['b'], and
// dataType its data_type. Names without a subscript (the object column
// itself) are ignored; false reports a name that could not be read.
func (c *Columns) AddColumn(name, dataType string) bool {
	path, ok := subscriptPath(name)
	if !ok {
		return false
	}
	if len(path) == 0 {
		return true
	}
	n := &c.root
	for i, key := range path {
		t := colType{base: baseObject}
		if i == len(path)-1 {
			t = parseDataType(dataType)
		}
		if next := n.child(key); next != nil && i < len(path)-1 {
			n = next
			continue
		}
		var made bool
		n, made = n.add(key, t)
		if made {
			c.count++
		}
	}
	return true
}

// Len is the number of sub-columns known.
func (c *Columns) Len() int { return c.count }

// subscriptPath splits `col['a']['it”s']` into [a it's].
func subscriptPath(name string) ([]string, bool) {
	i := strings.IndexByte(name, '[')
	if i < 0 {
		return nil, true
	}
	var path []string
	s := name[i:]
	for len(s) > 0 {
		if !strings.HasPrefix(s, "['") {
			return nil, false
		}
		s = s[2:]
		var key strings.Builder
		for {
			j := strings.IndexByte(s, '\'')
			if j < 0 {
				return nil, false
			}
			key.WriteString(s[:j])
			s = s[j+1:]
			if strings.HasPrefix(s, "'") { // '' is a quote
				key.WriteByte('\'')
				s = s[1:]
				continue
			}
			break
		}
		if !strings.HasPrefix(s, "]") {
			return nil, false
		}
		s = s[1:]
		path = append(path, key.String())
	}
	return path, true
}
