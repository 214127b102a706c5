package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/decode"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Mapped turns plain JSON records into rows of typed columns (sink.columns):
// each column takes its value from a JSON pointer into the record or from
// the record's metadata, converted exactly to the column's type. Without a
// key every record is a row of its own, keyed by its place in the stream;
// with one (sink.key) the table keeps the latest state per key, guarded by
// a version like a change stream, and a record matching the delete rule is
// a tombstone.
type Mapped struct {
	table    *Table
	sources  []Source // of table.Key, then table.Columns
	unmapped Unmapped
	version  *Source // nil: stream order
	deletion *Rule
	// whole lists the top-level members a column takes whole: they are
	// not kept again in the payload column.
	whole map[string]bool
	// partition is the partition column's place among the values Decode
	// builds (when the table is partitioned).
	partition int
}

// Unmapped is what happens to the top-level members no column takes whole.
type Unmapped int

const (
	// UnmappedIgnored keeps them in a payload OBJECT(IGNORED) column:
	// stored as they are, never indexed, never in conflict with a type.
	UnmappedIgnored Unmapped = iota + 1
	// UnmappedObject keeps them in a payload OBJECT(DYNAMIC) column: every
	// member indexed, typed by its first value (CrateDB).
	UnmappedObject
	// UnmappedDrop stores only the mapped columns.
	UnmappedDrop
)

// PayloadColumn is the column that keeps unmapped members.
const PayloadColumn = "payload"

// MappedColumn is one configured column and where its value comes from.
type MappedColumn struct {
	Column
	From Source
}

// appendKey is the key of a table without sink.key: the record's place in
// the stream, so that a redelivered record is the same row.
var appendKey = []MappedColumn{
	{Column{Name: "shard_id", Type: Text}, Source{Meta: MetaShardID}},
	{Column{Name: "seq", Type: Text}, Source{Meta: MetaSequenceNumber}},
	{Column{Name: "sub_seq", Type: BigInt}, Source{Meta: MetaSubSequenceNumber}},
}

// MappedOptions are the choices of a mapping besides its columns.
type MappedOptions struct {
	Key      []string // column names; none: every record is a row (append)
	Unmapped Unmapped
	Version  *Source // what orders a key's records; nil: the stream
	Delete   *Rule   // makes a record a tombstone; needs Key
	// PartitionBy (day, week, month) partitions the table by a TIMESTAMP
	// column, PartitionColumn, or by the record's arrival ("": an
	// arrived_at column mapped from $arrival is added).
	PartitionBy, PartitionColumn string
}

// NewMapped checks a mapping.
func NewMapped(table string, columns []MappedColumn, o MappedOptions) (*Mapped, error) {
	if len(columns) == 0 {
		return nil, errors.New("no columns")
	}
	key, unmapped, version, deletion := o.Key, o.Unmapped, o.Version, o.Delete
	columns, partition, err := partitionOf(columns, o)
	if err != nil {
		return nil, err
	}
	m := &Mapped{table: &Table{Name: table, Layout: Direct, Partition: partition, AppendOnly: len(key) == 0}, unmapped: unmapped, version: version, deletion: deletion, whole: map[string]bool{}}
	byName := map[string]MappedColumn{}
	for _, c := range columns {
		if _, dup := byName[c.Name]; dup || c.Name == PayloadColumn && unmapped != UnmappedDrop {
			return nil, fmt.Errorf("column %q is configured twice (or is the payload column)", c.Name)
		}
		if badColumnName(c.Name) || strings.HasPrefix(c.Name, "_") {
			return nil, fmt.Errorf("column name %q is not allowed (CrateDB refuses dots, brackets and a leading underscore)", c.Name)
		}
		byName[c.Name] = c
		if len(c.From.Path) == 1 {
			m.whole[c.From.Path[0]] = true
		}
	}
	keyCols := appendKey
	if len(key) > 0 {
		keyCols = nil
		for _, k := range key {
			c, ok := byName[k]
			if !ok {
				return nil, fmt.Errorf("key %q is not a configured column", k)
			}
			if c.Type == Object || c.Type == IgnoredObject {
				return nil, fmt.Errorf("key %q: an object cannot be a key", k)
			}
			keyCols = append(keyCols, c)
		}
	} else if deletion != nil {
		return nil, errors.New("a delete rule needs a key (sink.key)")
	}
	for _, c := range keyCols {
		m.table.Key = append(m.table.Key, c.Column)
		m.sources = append(m.sources, c.From)
	}
	for _, c := range columns {
		if !isKey(m.table.Key, c.Name) {
			m.table.Columns = append(m.table.Columns, c.Column)
			m.sources = append(m.sources, c.From)
		}
	}
	if len(key) == 0 {
		for _, c := range appendKey {
			if _, clash := byName[c.Name]; clash {
				return nil, fmt.Errorf("column %q is the key of a table without sink.key; name it otherwise", c.Name)
			}
		}
	}
	switch unmapped {
	case UnmappedIgnored:
		m.table.Columns = append(m.table.Columns, Column{Name: PayloadColumn, Type: IgnoredObject})
	case UnmappedObject:
		m.table.Columns = append(m.table.Columns, Column{Name: PayloadColumn, Type: Object})
	}
	if partition != nil {
		for i := range m.sources {
			if m.column(i).Name == partition.Column {
				m.partition = i
			}
		}
	}
	return m, nil
}

// partitionOf checks the partition choice and adds the arrival column it
// may need. A keyed table may only be partitioned by a key column: a key's
// row must never move between partitions.
func partitionOf(columns []MappedColumn, o MappedOptions) ([]MappedColumn, *Partition, error) {
	switch o.PartitionBy {
	case "":
		return columns, nil, nil
	case "day", "week", "month":
	default:
		return nil, nil, fmt.Errorf("partition unit %q: want day, week or month", o.PartitionBy)
	}
	name := o.PartitionColumn
	if name == "" {
		name = "arrived_at"
		if !slices.ContainsFunc(columns, func(c MappedColumn) bool { return c.Name == name }) {
			columns = append(slices.Clip(columns), MappedColumn{Column{Name: name, Type: Timestamp}, Source{Meta: MetaArrival}})
		}
	}
	i := slices.IndexFunc(columns, func(c MappedColumn) bool { return c.Name == name })
	switch {
	case i < 0:
		return nil, nil, fmt.Errorf("partition column %q is not a configured column", name)
	case columns[i].Type != Timestamp:
		return nil, nil, fmt.Errorf("partition column %q is %s, not TIMESTAMP", name, columns[i].Type)
	case len(o.Key) > 0 && !slices.Contains(o.Key, name):
		return nil, nil, fmt.Errorf("partition column %q must be part of sink.key: a key's row would move between partitions", name)
	}
	return columns, &Partition{Column: name, Unit: o.PartitionBy}, nil
}

func isKey(key []Column, name string) bool {
	for _, k := range key {
		if k.Name == name {
			return true
		}
	}
	return false
}

// Tables returns the one target table.
func (m *Mapped) Tables() []*Table { return []*Table{m.table} }

// Decode maps one record to a row change. A value that does not convert
// exactly fails the record, naming the column, the source and the value.
func (m *Mapped) Decode(src record.Source) (Event, error) {
	// Plain JSON's rules (decode.JSON): a value that is not an object is
	// {"value": …}, so /value maps it.
	doc, err := (decode.JSON{}).Decode(src.Data)
	if err != nil {
		return Event{}, err
	}
	top, err := members(doc)
	if err != nil {
		return Event{}, err
	}
	c := &Change{Table: m.table, Op: Upsert, Source: src, EventTime: src.ArrivedAt}
	if c.Version, err = m.versionOf(top, src); err != nil {
		return Event{}, err
	}
	if m.deletion != nil && m.deletion.matches(top) {
		c.Op = Delete
	}
	values := make([]any, len(m.sources))
	for i, s := range m.sources {
		col := m.column(i)
		raw, found := s.lookup(top, src)
		v, err := convertMapped(raw, found, col.Type)
		if err != nil {
			return Event{}, fmt.Errorf("column %q from %s = %.80s: %w", col.Name, s, raw, err)
		}
		if i < len(m.table.Key) && v == nil {
			return Event{}, fmt.Errorf("key column %q from %s is missing or null", col.Name, s)
		}
		values[i] = v
	}
	if p := m.table.Partition; p != nil && values[m.partition] == nil {
		return Event{}, fmt.Errorf("partition column %q is missing or null", p.Column)
	}
	c.Key = values[:len(m.table.Key)]
	if c.Op == Delete {
		return Event{Change: c}, nil
	}
	c.Values = values[len(m.table.Key):]
	if m.unmapped != UnmappedDrop {
		payload, err := m.payload(doc)
		if err != nil {
			return Event{}, err
		}
		c.Values = append(c.Values, payload)
	}
	return Event{Change: c}, nil
}

func (m *Mapped) column(i int) Column {
	if i < len(m.table.Key) {
		return m.table.Key[i]
	}
	return m.table.Columns[i-len(m.table.Key)]
}

// payload is the record without the members a column takes whole.
func (m *Mapped) payload(doc []byte) (json.RawMessage, error) {
	out := []byte{'{'}
	err := eachMember(doc, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil || m.whole[name] {
			return err
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, k...), ':'), v...)
		return nil
	})
	return append(out, '}'), err
}

// versionOf orders the changes of one key: by the configured source (a
// timestamp in microseconds, or a non-negative integer), then by the
// stream. Without a source, by the stream alone.
func (m *Mapped) versionOf(top map[string][]byte, src record.Source) (Version, error) {
	var micros int64
	if m.version != nil {
		raw, found := m.version.lookup(top, src)
		v, err := versionValue(raw, found)
		if err != nil {
			return Version{}, fmt.Errorf("version from %s = %.80s: %w", m.version, raw, err)
		}
		micros = v
	}
	return versionOf(micros, src)
}

func versionValue(raw []byte, found bool) (int64, error) {
	if !found || isNull(raw) {
		return 0, errors.New("missing or null")
	}
	if raw[0] == '"' {
		v, err := convertValue(raw, Timestamp)
		if err != nil {
			return 0, err
		}
		return v.(time.Time).UnixMicro(), nil
	}
	n, err := numberOf(raw)
	if err != nil || n.Kind != Int || n.Int < 0 {
		return 0, errors.New("want a timestamp string or a non-negative integer")
	}
	return n.Int, nil
}

// convertMapped is convertValue, plus: a number for a TIMESTAMP is epoch
// milliseconds.
func convertMapped(raw []byte, found bool, t Type) (any, error) {
	if !found {
		return nil, nil
	}
	if t == Timestamp && len(raw) > 0 && raw[0] != '"' && !isNull(raw) {
		n, err := numberOf(raw)
		if err != nil || n.Kind != Int {
			return nil, errors.New("want a timestamp string or integer epoch milliseconds")
		}
		return time.UnixMilli(n.Int).UTC(), nil
	}
	if t == IgnoredObject {
		t = Object
	}
	return convertValue(raw, t)
}
