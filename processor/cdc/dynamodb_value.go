package cdc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

type member struct {
	name string
	key  []byte // raw JSON key literal
	val  []byte
	aux  bool
}

// image converts NewImage into the data and aux objects. Attributes are
// written in name order so equal items give equal bytes.
func (d *DynamoDB) image(raw json.RawMessage) (data, aux json.RawMessage, err error) {
	var members []member
	err = eachMember(raw, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(d.keys, func(dk DynamoKey) bool { return dk.Name == name }) {
			return nil
		}
		out, shape, flags, err := d.value(nil, v, 0)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
		if badColumnName(name) {
			flags |= auxName
		}
		if t, ok := d.types[name]; ok && flags == 0 {
			if err := checkDeclared(t, shape); err != nil {
				return fmt.Errorf("attribute %q: %w", name, err)
			}
		}
		members = append(members, member{name: name, key: k, val: out, aux: flags != 0})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	return writeObject(members, false), writeObject(members, true), nil
}

func writeObject(members []member, aux bool) json.RawMessage {
	b := []byte{'{'}
	for _, m := range members {
		if m.aux != aux {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, m.key...)
		b = append(b, ':')
		b = append(b, m.val...)
	}
	return append(b, '}')
}

// checkDeclared refuses a value whose shape does not fit the declared
// column type (a CrateDB typed sub-column would reject or, for BIGINT,
// silently truncate it).
func checkDeclared(t Type, shape string) error {
	if shape == "" {
		return nil
	}
	ok := false
	switch t {
	case Text:
		ok = shape == "s"
	case BigInt, Integer:
		ok = shape == "i"
	case Double:
		ok = shape == "i" || shape == "f"
	case Boolean:
		ok = shape == "b"
	case Object:
		ok = shape == "o"
	}
	if !ok {
		return fmt.Errorf("value of kind %s does not fit the declared type %s", shapeName(shape), t)
	}
	return nil
}

func shapeName(s string) string {
	switch {
	case s == "s":
		return "string"
	case s == "i":
		return "integer"
	case s == "f":
		return "number"
	case s == "b":
		return "boolean"
	case s == "o":
		return "map"
	case strings.HasPrefix(s, "a"):
		return "list"
	}
	return "null"
}

const maxDepth = 64 // DynamoDB allows 32 levels of nesting

// value appends the plain JSON of a DynamoDB attribute value. shape
// describes its kind for list homogeneity ("" null, s, i, f, b, o, or "a"
// followed by the element shape); flags report why it cannot go to data.
func (d *DynamoDB) value(dst, v []byte, depth int) (out []byte, shape string, flags int, err error) {
	if depth > maxDepth {
		return nil, "", 0, errors.New("nested too deeply")
	}
	tag, val, err := typed(v)
	if err != nil {
		return nil, "", 0, err
	}
	if isNull(val) && tag != "NULL" {
		return append(dst, "null"...), "", 0, nil
	}
	switch tag {
	case "S":
		if len(val) == 0 || val[0] != '"' {
			return nil, "", 0, errors.New("S value is not a string")
		}
		return append(dst, val...), "s", 0, nil
	case "N":
		return appendNumber(dst, val)
	case "B":
		s, err := unquote(val)
		if err != nil {
			return nil, "", 0, errors.New("B value is not a string")
		}
		enc, err := encodeBinary(s, d.binary)
		if err != nil {
			return nil, "", 0, err
		}
		return appendJSONString(dst, enc), "s", 0, nil
	case "BOOL":
		if string(val) != "true" && string(val) != "false" {
			return nil, "", 0, errors.New("BOOL value is not true or false")
		}
		return append(dst, val...), "b", 0, nil
	case "NULL":
		return append(dst, "null"...), "", 0, nil
	case "M":
		return d.mapValue(dst, val, depth)
	case "L":
		return d.list(dst, val, depth, func(dst, e []byte) ([]byte, string, int, error) { return d.value(dst, e, depth+1) })
	case "SS":
		return d.list(dst, val, depth, func(dst, e []byte) ([]byte, string, int, error) {
			if len(e) == 0 || e[0] != '"' {
				return nil, "", 0, errors.New("SS element is not a string")
			}
			return append(dst, e...), "s", 0, nil
		})
	case "NS":
		return d.list(dst, val, depth, appendNumber)
	case "BS":
		return d.list(dst, val, depth, func(dst, e []byte) ([]byte, string, int, error) {
			s, err := unquote(e)
			if err != nil {
				return nil, "", 0, errors.New("BS element is not a string")
			}
			enc, err := encodeBinary(s, d.binary)
			if err != nil {
				return nil, "", 0, err
			}
			return appendJSONString(dst, enc), "s", 0, nil
		})
	}
	return nil, "", 0, fmt.Errorf("unknown type tag %q", tag)
}

func (d *DynamoDB) mapValue(dst, val []byte, depth int) ([]byte, string, int, error) {
	var members []member
	flags := 0
	err := eachMember(val, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil {
			return err
		}
		out, _, f, err := d.value(nil, v, depth+1)
		if err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
		if badColumnName(name) {
			f |= auxName
		}
		flags |= f
		members = append(members, member{name: name, key: k, val: out})
		return nil
	})
	if err != nil {
		return nil, "", 0, err
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.name, b.name) })
	return append(dst, writeObject(members, false)...), "o", flags, nil
}

func (d *DynamoDB) list(dst, val []byte, depth int, elem func(dst, e []byte) ([]byte, string, int, error)) ([]byte, string, int, error) {
	if depth > maxDepth {
		return nil, "", 0, errors.New("nested too deeply")
	}
	dst = append(dst, '[')
	shape, flags, n := "", 0, 0
	err := eachElement(val, func(e []byte) error {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		var s string
		var f int
		var err error
		dst, s, f, err = elem(dst, e)
		if err != nil {
			return err
		}
		flags |= f
		var ok bool
		if shape, ok = unify(shape, s); !ok {
			flags |= auxVaried
		}
		return nil
	})
	if err != nil {
		return nil, "", 0, err
	}
	return append(dst, ']'), "a" + shape, flags, nil
}

// unify merges two element shapes; integers and doubles merge to doubles
// (CrateDB stores such an array as DOUBLE), nulls fit anything, and two
// arrays merge when their elements do.
func unify(a, b string) (string, bool) {
	switch {
	case a == "" || a == b:
		return b, true
	case b == "":
		return a, true
	case (a == "i" && b == "f") || (a == "f" && b == "i"):
		return "f", true
	case a[0] == 'a' && b[0] == 'a':
		inner, ok := unify(a[1:], b[1:])
		return "a" + inner, ok
	}
	return a, false
}

func appendNumber(dst, v []byte) ([]byte, string, int, error) {
	lit, err := numberText(v)
	if err != nil {
		return nil, "", 0, err
	}
	n, ok := ParseNumber(lit)
	if !ok {
		return nil, "", 0, fmt.Errorf("%q is not a number", lit)
	}
	switch n.Kind {
	case Int:
		return n.AppendJSON(dst), "i", 0, nil
	case Float:
		return n.AppendJSON(dst), "f", 0, nil
	}
	return n.AppendJSON(dst), "f", auxBig, nil
}

// numberText accepts a number as DynamoDB sends it (a string) or as a bare
// JSON number (seen in hand-written and some converted events).
func numberText(v []byte) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		return unquote(v)
	}
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return "", fmt.Errorf("%.40s is not a number", v)
	}
	return string(v), nil
}

// badColumnName reports object keys CrateDB refuses in a dynamic object
// (a key with a dot, brackets or a line break is no column name there);
// inside OBJECT(IGNORED) they are stored as they are.
func badColumnName(name string) bool {
	return strings.ContainsAny(name, ".[\t\r\n")
}

func encodeBinary(s string, enc Binary) (string, error) {
	raw, err := decodeBase64(s)
	if err != nil {
		return "", err
	}
	if enc == Hex {
		return hexString(raw), nil
	}
	return s, nil
}

var errBase64 = errors.New("binary value is not valid base64")

func decodeBase64(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errBase64
	}
	return raw, nil
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return string(out)
}
