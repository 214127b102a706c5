package sink

import (
	"math"
	"strconv"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// colType is the type of one sub-column of the data column.
type colType struct {
	base   string              // "bigint", "text", "double precision", "boolean", "object", "undefined", …
	arrays int                 // array depth: bigint_array is {bigint, 1}
	fields map[string]*colType // sub-columns of an object or object array
}

func (c *colType) clone() *colType {
	if c == nil {
		return nil
	}
	d := &colType{base: c.base, arrays: c.arrays}
	if c.fields != nil {
		d.fields = make(map[string]*colType, len(c.fields))
		for k, v := range c.fields {
			d.fields[k] = v.clone()
		}
	}
	return d
}

// parseDataType reads information_schema's data_type: "bigint_array_array"
// is {bigint, 2}.
func parseDataType(s string) (base string, arrays int) {
	for strings.HasSuffix(s, "_array") {
		s = strings.TrimSuffix(s, "_array")
		arrays++
	}
	return s, arrays
}

// parseSubscripts reads a column name such as data['a']['b'] into its path
// below root ("a", "b"); a quote inside a key is doubled. ok is false for
// anything else.
func parseSubscripts(name, root string) ([]string, bool) {
	rest, ok := strings.CutPrefix(name, root)
	if !ok || rest == "" {
		return nil, false
	}
	var path []string
	for rest != "" {
		if !strings.HasPrefix(rest, "['") {
			return nil, false
		}
		rest = rest[2:]
		var b strings.Builder
		for {
			i := strings.IndexByte(rest, '\'')
			if i < 0 {
				return nil, false
			}
			b.WriteString(rest[:i])
			rest = rest[i+1:]
			if strings.HasPrefix(rest, "'") { // '' is a quote inside the key
				b.WriteByte('\'')
				rest = rest[1:]
				continue
			}
			break
		}
		if !strings.HasPrefix(rest, "]") {
			return nil, false
		}
		rest = rest[1:]
		path = append(path, b.String())
	}
	return path, true
}

// buildDataTypes turns (column_name, data_type) rows of information_schema
// into the tree of the data column's sub-columns.
func buildDataTypes(names, types []string) *colType {
	return buildColumnTypes(names, types, "data")
}

// buildColumnTypes is buildDataTypes for the object column root.
func buildColumnTypes(names, types []string, root string) *colType {
	top := &colType{base: "object", fields: map[string]*colType{}}
	for i, name := range names {
		path, ok := parseSubscripts(name, root)
		if !ok {
			continue
		}
		node := top
		for j, key := range path {
			if node.fields == nil {
				node.fields = map[string]*colType{}
			}
			child := node.fields[key]
			if child == nil {
				child = &colType{}
				node.fields[key] = child
			}
			if j == len(path)-1 {
				child.base, child.arrays = parseDataType(types[i])
			}
			node = child
		}
	}
	return top
}

// columnDDLType is the type of a claimed sub-column in DDL.
func columnDDLType(c *colType) string {
	t := strings.ToUpper(c.base)
	if c.base == "object" {
		t = "OBJECT(DYNAMIC)"
	}
	for range c.arrays {
		t = "ARRAY(" + t + ")"
	}
	return t
}

// numberFits reports whether CrateDB stores n in a column of type base
// without changing its value.
func numberFits(n cdc.Number, base string) bool {
	switch base {
	case "bigint":
		// CrateDB refuses the two extremes ("exceeds allowed range").
		return n.Kind == cdc.Int && n.Int != math.MinInt64 && n.Int != math.MaxInt64
	case "integer":
		return n.Kind == cdc.Int && n.Int >= math.MinInt32 && n.Int <= math.MaxInt32
	case "smallint":
		return n.Kind == cdc.Int && n.Int >= math.MinInt16 && n.Int <= math.MaxInt16
	case "byte", "char":
		return n.Kind == cdc.Int && n.Int >= math.MinInt8 && n.Int <= math.MaxInt8
	case "double precision":
		return n.Kind == cdc.Float || (n.Kind == cdc.Int && exactDouble(n.Int))
	}
	return false // real, numeric, timestamps, …: conversions we cannot vouch for
}

// exactDouble reports whether a DOUBLE column keeps the integer's decimal
// value: the double's shortest decimal form (what CrateDB returns) must be
// the integer itself. -2^63 is a double exactly, but reads back as
// -9.223372036854776E18.
func exactDouble(i int64) bool {
	return strconv.FormatFloat(float64(i), 'f', -1, 64) == strconv.FormatInt(i, 10)
}
