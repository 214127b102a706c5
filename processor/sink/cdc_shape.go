package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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
