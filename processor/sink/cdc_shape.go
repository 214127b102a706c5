package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Type conflicts in CrateDB's data column (Document layout).
//
// data is OBJECT(DYNAMIC): the first value written at a path fixes that
// sub-column's type for good. A later value of another type is either
// refused for its row ("Cannot cast object element …", tag INSERT 0 -3) or,
// worse, silently converted: 1.5 into a BIGINT column is stored as 1, 1 into
// TEXT as "1", true into TEXT as "t", an object into TEXT as its JSON text,
// "7" into BIGINT as 7, 9007199254740993 into DOUBLE as 9007199254740992.
// So the sink decides before writing: a top-level attribute whose value
// does not fit the existing sub-columns exactly goes to aux (OBJECT(IGNORED),
// which stores any value as it is) for that row. README "Type conflicts".
//
// The column types come from information_schema.columns, read before each
// chunk. Within a chunk, the first attribute that creates a path claims its
// type for the rows after it, because CrateDB creates the column from
// whichever row comes first.

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

// shapeResult is a change's data and aux after shaping.
type shapeResult struct {
	data, aux json.RawMessage
	moved     []string // top-level attributes moved to aux
}

// shapeData splits data into what fits types and the attributes that move
// to aux (added to the change's aux). types gains the paths the kept
// attributes create; with allowNew false an attribute that needs a new
// path moves to aux too. Attributes named in declared stay. Data and aux
// are JSON objects.
func shapeData(data, aux json.RawMessage, types *colType, allowNew bool, declared map[string]bool) (shapeResult, error) {
	res := shapeResult{data: data, aux: aux}
	members, err := objectMembers(data)
	if err != nil {
		return res, fmt.Errorf("data: %w", err)
	}
	var keep, move []member
	for _, m := range members {
		if declared[m.name] {
			// A configured scalar type (sink.dynamodb.columnTypes,
			// sink.dms.columnTypes): the decoder has converted the value
			// or refused the record; CrateDB stores it in that type.
			keep = append(keep, m)
			continue
		}
		node := types.fields[m.name]
		fits, needsNew := fitRaw(m.raw, &node, false)
		if fits && needsNew {
			fits = false
			if allowNew {
				node = node.clone()
				if fits, _ = fitRaw(m.raw, &node, true); fits {
					types.fields[m.name] = node
				}
			}
		}
		if fits {
			keep = append(keep, m)
			continue
		}
		move = append(move, m)
		res.moved = append(res.moved, m.name)
	}
	if len(move) == 0 {
		return res, nil
	}
	auxMembers, err := objectMembers(aux)
	if err != nil {
		return res, fmt.Errorf("aux: %w", err)
	}
	res.data = writeMembers(keep)
	res.aux = writeMembers(append(auxMembers, move...))
	return res, nil
}

// allToAux is the last resort for a row CrateDB still refuses: every data
// attribute in aux.
func allToAux(data, aux json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	d, err := objectMembers(data)
	if err != nil {
		return nil, nil, err
	}
	a, err := objectMembers(aux)
	if err != nil {
		return nil, nil, err
	}
	return json.RawMessage(`{}`), writeMembers(append(a, d...)), nil
}

type member struct {
	name string
	raw  json.RawMessage
}

// objectMembers lists a JSON object's members, in their order; nil, empty
// or null input is {}.
func objectMembers(obj json.RawMessage) ([]member, error) {
	f := fitter{b: obj}
	f.ws()
	if f.i == len(f.b) || f.literal("null") {
		return nil, nil
	}
	if f.b[f.i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	f.i++
	f.ws()
	var out []member
	if f.i < len(f.b) && f.b[f.i] == '}' {
		return out, nil
	}
	for {
		f.ws()
		name, ok := f.key()
		f.ws()
		if !ok || f.i >= len(f.b) || f.b[f.i] != ':' {
			return nil, errors.New("malformed JSON object")
		}
		f.i++
		f.ws()
		start := f.i
		if !f.skip() || f.i == start {
			return nil, errors.New("malformed JSON object")
		}
		out = append(out, member{name: name, raw: json.RawMessage(f.b[start:f.i])})
		f.ws()
		if f.i >= len(f.b) {
			return nil, errors.New("malformed JSON object")
		}
		switch f.b[f.i] {
		case ',':
			f.i++
		case '}':
			return out, nil
		default:
			return nil, errors.New("malformed JSON object")
		}
	}
}

func writeMembers(ms []member) json.RawMessage {
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
	b := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(m.name) // a string always encodes
		b = append(b, name...)
		b = append(b, ':')
		b = append(b, m.raw...)
	}
	return append(b, '}')
}

// addColumnsDDL lists the sub-columns claimed has and loaded lacks, parents
// first, as ALTER TABLE … ADD COLUMN statements. Creating them before the
// write keeps CrateDB from changing the mapping inside the upsert: a bulk
// whose rows add columns loses the data of other rows that it updates
// (README "Type conflicts").
func addColumnsDDL(table tableName, loaded, claimed *colType) []string {
	return addSubColumnsDDL(table, "data", loaded, claimed)
}

// addSubColumnsDDL is addColumnsDDL for the object column root.
func addSubColumnsDDL(table tableName, root string, loaded, claimed *colType) []string {
	var out []string
	var walk func(path string, l, c *colType)
	walk = func(path string, l, c *colType) {
		names := make([]string, 0, len(c.fields))
		for name := range c.fields {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			cc := c.fields[name]
			var lc *colType
			if l != nil {
				lc = l.fields[name]
			}
			p := path + "[" + sqlString(name) + "]"
			if lc == nil {
				out = append(out, `ALTER TABLE `+table.sql()+` ADD COLUMN `+p+` `+columnDDLType(cc))
			}
			walk(p, lc, cc)
		}
	}
	walk(quoteIdent(root), loaded, claimed)
	return out
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
