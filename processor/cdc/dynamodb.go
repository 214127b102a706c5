package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/decode"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Binary says how DynamoDB binary values (B, BS) are stored.
type Binary int

const (
	// Base64 keeps the standard base64 text DynamoDB's JSON carries.
	Base64 Binary = iota
	// Hex stores lower-case hexadecimal text.
	Hex
)

// ParseBinary reads the sink.dynamodb.binary setting.
func ParseBinary(s string) (Binary, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "base64":
		return Base64, nil
	case "hex":
		return Hex, nil
	}
	return 0, fmt.Errorf("unknown binary encoding %q (want base64 or hex)", s)
}

// DynamoKey is one key attribute of the source table and its DynamoDB type.
type DynamoKey struct {
	Name string
	Tag  string // S, N or B
}

// ParseDynamoKeys reads "name:TYPE,name:TYPE" (TYPE one of S, N, B), the
// source table's key attributes in primary-key order. The type is taken
// after the last colon, so names may contain colons, but not commas.
func ParseDynamoKeys(s string) ([]DynamoKey, error) {
	var keys []DynamoKey
	seen := map[string]bool{}
	for part := range settingEntries(s) {
		name, tag, ok := cutType(part)
		if !ok {
			return nil, fmt.Errorf("key %q: want name:S, name:N or name:B", part)
		}
		tag = strings.ToUpper(tag)
		if tag != "S" && tag != "N" && tag != "B" {
			return nil, fmt.Errorf("key %q: type %q is not S, N or B", part, tag)
		}
		if seen[name] {
			return nil, fmt.Errorf("key %q: repeated name", part)
		}
		seen[name] = true
		keys = append(keys, DynamoKey{Name: name, Tag: tag})
	}
	if len(keys) == 0 {
		return nil, errors.New("no key attributes (want e.g. id:S or device:S,ts:N)")
	}
	if len(keys) > 2 {
		return nil, errors.New("DynamoDB keys have at most two attributes (partition and sort key)")
	}
	return keys, nil
}

// ParseColumns reads "name:TYPE,name:TYPE" (see ParseType).
func ParseColumns(s string) ([]Column, error) {
	var cols []Column
	seen := map[string]bool{}
	for part := range settingEntries(s) {
		name, typ, ok := cutType(part)
		if !ok {
			return nil, fmt.Errorf("column %q: want name:TYPE", part)
		}
		t, err := ParseType(typ)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", part, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("column %q: repeated", name)
		}
		seen[name] = true
		cols = append(cols, Column{Name: name, Type: t})
	}
	return cols, nil
}

// DynamoDB decodes records of DynamoDB's Kinesis destination ("Kinesis Data
// Streams for DynamoDB") into Document-layout changes. Its zero value is not
// usable; build it with NewDynamoDB.
type DynamoDB struct {
	table  *Table
	keys   []DynamoKey
	binary Binary
	types  map[string]Type // declared types of data attributes
	source string          // only records of this DynamoDB table; "" = all
}

// WithSourceTable returns a decoder that skips records whose tableName is
// not name, for a stream that several DynamoDB tables publish into.
func (d *DynamoDB) WithSourceTable(name string) *DynamoDB {
	c := *d
	c.source = name
	return &c
}

// NewDynamoDB configures the decoder for one target table. columns declares
// types of top-level data attributes (TEXT, BIGINT, INTEGER, DOUBLE,
// BOOLEAN or OBJECT); values that do not fit are refused.
func NewDynamoDB(table string, keys []DynamoKey, columns []Column, binary Binary) (*DynamoDB, error) {
	if strings.TrimSpace(table) == "" {
		return nil, errors.New("no target table")
	}
	if len(keys) == 0 {
		return nil, errors.New("no key attributes")
	}
	t := &Table{Name: table, Layout: Document}
	for _, k := range keys {
		typ := Text
		if k.Tag == "N" {
			typ = BigInt
		}
		t.Key = append(t.Key, Column{Name: k.Name, Type: typ})
	}
	types := map[string]Type{}
	for _, c := range columns {
		switch c.Type {
		case Text, BigInt, Integer, Double, Boolean, Object:
		default:
			return nil, fmt.Errorf("attribute %s: type %s cannot hold a DynamoDB value", c.Name, c.Type)
		}
		if slices.ContainsFunc(keys, func(k DynamoKey) bool { return k.Name == c.Name }) {
			return nil, fmt.Errorf("attribute %s is a key attribute; its type comes from the key setting", c.Name)
		}
		types[c.Name] = c.Type
		t.Columns = append(t.Columns, c)
	}
	return &DynamoDB{table: t, keys: keys, binary: binary, types: types}, nil
}

// Tables returns the one target table.
func (d *DynamoDB) Tables() []*Table { return []*Table{d.table} }

// dynamoRecord holds the parts of a change record the decoder reads, as raw
// JSON.
type dynamoRecord struct {
	eventSource, eventName string
	tableName              string
	dynamodb               bool
	created, precision     []byte
	keys, newImage         []byte
}

// parseDynamoRecord picks the fields out of a record that decode.JSON has
// validated, without building the whole document.
func parseDynamoRecord(data []byte) (dynamoRecord, error) {
	var r dynamoRecord
	if _, err := (decode.JSON{}).Decode(data); err != nil {
		return r, err
	}
	err := eachMember(data, func(k, v []byte) error {
		var err error
		switch memberName(k) {
		case "eventSource":
			r.eventSource, err = unquote(v)
		case "eventName":
			r.eventName, err = unquote(v)
		case "tableName":
			if !isNull(v) {
				r.tableName, err = unquote(v)
			}
		case "dynamodb":
			r.dynamodb = true
			err = eachMember(v, func(k, v []byte) error {
				switch memberName(k) {
				case "ApproximateCreationDateTime":
					r.created = v
				case "ApproximateCreationDateTimePrecision":
					r.precision = v
				case "Keys":
					r.keys = v
				case "NewImage":
					r.newImage = v
				}
				return nil
			})
		}
		return err
	})
	return r, err
}

// memberName is the name of a raw member key; AWS never escapes its field
// names, so an escaped key simply matches nothing.
func memberName(k []byte) string {
	if len(k) < 2 {
		return ""
	}
	return string(k[1 : len(k)-1])
}

// Decode turns one DynamoDB change record into a Change.
func (d *DynamoDB) Decode(rec record.Source) (Event, error) {
	r, err := parseDynamoRecord(rec.Data)
	if err != nil {
		return Event{}, fmt.Errorf("not a DynamoDB change record: %w", err)
	}
	if r.eventSource != "aws:dynamodb" {
		return Event{}, fmt.Errorf("eventSource %q is not aws:dynamodb", r.eventSource)
	}
	if d.source != "" && r.tableName != d.source {
		return Event{Skipped: fmt.Sprintf("record of DynamoDB table %q, not %q", r.tableName, d.source)}, nil
	}
	c := &Change{Table: d.table, Source: rec}
	switch r.eventName {
	case "INSERT", "MODIFY":
		c.Op = Upsert
	case "REMOVE":
		c.Op = Delete
	default:
		return Event{}, fmt.Errorf("unknown eventName %q (want INSERT, MODIFY or REMOVE)", r.eventName)
	}
	if !r.dynamodb {
		return Event{}, errors.New("record has no dynamodb object")
	}
	micros, err := changeMicros(r.created, r.precision)
	if err != nil {
		return Event{}, err
	}
	if c.Version, err = versionOf(micros, rec); err != nil {
		return Event{}, err
	}
	c.EventTime = time.UnixMicro(micros).UTC()
	if c.Key, err = d.key(r.keys); err != nil {
		return Event{}, err
	}
	if c.Op == Upsert {
		if len(r.newImage) == 0 || isNull(r.newImage) {
			return Event{}, fmt.Errorf("%s record has no NewImage (the stream must carry new images)", r.eventName)
		}
		if c.Data, c.Aux, err = d.image(r.newImage); err != nil {
			return Event{}, fmt.Errorf("NewImage: %w", err)
		}
	}
	return Event{Change: c}, nil
}

// changeMicros reads ApproximateCreationDateTime: microseconds when the
// precision says MICROSECOND, milliseconds when it says MILLISECOND, and
// otherwise judged by magnitude (seconds, as DynamoDB Streams sends them,
// are below 1e11; milliseconds below 1e14).
func changeMicros(raw, precisionRaw []byte) (int64, error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, errors.New("dynamodb.ApproximateCreationDateTime is missing")
	}
	n, err := numberText(raw)
	if err != nil {
		return 0, fmt.Errorf("dynamodb.ApproximateCreationDateTime: %w", err)
	}
	precision := ""
	if len(precisionRaw) > 0 && precisionRaw[0] == '"' {
		precision, _ = unquote(precisionRaw)
	}
	num, ok := ParseNumber(n)
	if !ok || num.Kind == Big {
		return 0, fmt.Errorf("dynamodb.ApproximateCreationDateTime %q is not a time", n)
	}
	f := float64(num.Int)
	if num.Kind == Float {
		f = num.Float
	}
	var micros float64
	switch strings.ToUpper(precision) {
	case "MICROSECOND":
		micros = f
	case "MILLISECOND":
		micros = f * 1e3
	default:
		switch {
		case f < 1e11:
			micros = f * 1e6
		case f < 1e14:
			micros = f * 1e3
		default:
			micros = f
		}
	}
	if micros < 0 || micros > math.MaxInt64/2 {
		return 0, fmt.Errorf("dynamodb.ApproximateCreationDateTime %q is out of range", n)
	}
	return int64(math.Round(micros)), nil
}

// key reads dynamodb.Keys: exactly the configured attributes, with the
// configured types.
func (d *DynamoDB) key(raw json.RawMessage) ([]any, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, errors.New("record has no dynamodb.Keys")
	}
	values := make([]any, len(d.keys))
	err := eachMember(raw, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(d.keys, func(dk DynamoKey) bool { return dk.Name == name })
		if i < 0 {
			return fmt.Errorf("key attribute %q is not configured (sink.dynamodb.keys)", name)
		}
		tag, val, err := typed(v)
		if err != nil {
			return fmt.Errorf("key attribute %q: %w", name, err)
		}
		if tag != d.keys[i].Tag {
			return fmt.Errorf("key attribute %q has type %s, configured %s", name, tag, d.keys[i].Tag)
		}
		if values[i], err = d.keyValue(tag, val); err != nil {
			return fmt.Errorf("key attribute %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, v := range values {
		if v == nil {
			return nil, fmt.Errorf("key attribute %q is missing from dynamodb.Keys", d.keys[i].Name)
		}
	}
	return values, nil
}

func (d *DynamoDB) keyValue(tag string, v []byte) (any, error) {
	if isNull(v) {
		return nil, errors.New("null key value")
	}
	switch tag {
	case "N":
		lit, err := numberText(v)
		if err != nil {
			return nil, err
		}
		n, ok := ParseNumber(lit)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", lit)
		}
		if n.Kind != Int {
			return nil, fmt.Errorf("number %s does not fit the BIGINT key column exactly", n.Text)
		}
		return n.Int, nil
	case "B":
		s, err := unquote(v)
		if err != nil {
			return nil, err
		}
		return encodeBinary(s, d.binary)
	default:
		return unquote(v)
	}
}

// typed splits a DynamoDB attribute value {"TAG": value} into tag and raw
// value.
func typed(v []byte) (tag string, val []byte, err error) {
	n := 0
	err = eachMember(v, func(k, x []byte) error {
		n++
		if n > 1 {
			return errors.New("attribute value has more than one type tag")
		}
		tag, err = unquote(k)
		val = x
		return err
	})
	if err == errNotObject {
		return "", nil, fmt.Errorf("attribute value %.40s is not a {\"TYPE\": value} object", v)
	}
	if err == nil && n == 0 {
		err = errors.New("attribute value has no type tag")
	}
	return tag, val, err
}

// Problems that send a top-level attribute to aux instead of data.
const (
	auxVaried = 1 << iota // a list mixes types one CrateDB array cannot hold
	auxBig                // a number fits neither int64 nor float64 exactly
	auxName               // a map key CrateDB refuses as a column name
)
