// Package cdc decodes records into typed row changes: change-data-capture
// events that arrive over Kinesis (DynamoDB's Kinesis destination and AWS
// DMS's Kinesis target), and plain JSON records mapped to typed columns
// (Mapped: a row per record, or the latest state per key). It compacts a
// batch to the newest change per row.
//
// It knows nothing about SQL: processor/sink turns Changes into guarded
// upserts. Every Change carries a Version; the sink only lets a change
// replace a row whose stored version is lower, and a delete is stored as a
// tombstone, so duplicates, reordering and replays never regress a row.
// README.md describes the layouts, the number rule and the guarantees.
package cdc

import (
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Type is the SQL type of a configured column.
type Type int

const (
	Text Type = iota + 1
	BigInt
	Integer
	Double
	Boolean
	Timestamp
	Object
	// IgnoredObject is an object stored as it is and never indexed:
	// OBJECT(IGNORED) on CrateDB, jsonb on PostgreSQL.
	IgnoredObject
)

var typeNames = map[Type]string{
	Text: "TEXT", BigInt: "BIGINT", Integer: "INTEGER", Double: "DOUBLE",
	Boolean: "BOOLEAN", Timestamp: "TIMESTAMP", Object: "OBJECT", IgnoredObject: "OBJECT(IGNORED)",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// settingEntries yields the trimmed, non-empty entries of a comma-separated
// setting.
func settingEntries(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" && !yield(part) {
				return
			}
		}
	}
}

// cutType splits a "name:TYPE" entry at its last colon, so names may hold
// colons; ok is false when there is no colon or no name before it.
func cutType(entry string) (name, typ string, ok bool) {
	i := strings.LastIndexByte(entry, ':')
	if i < 0 {
		return "", "", false
	}
	name, typ = strings.TrimSpace(entry[:i]), strings.TrimSpace(entry[i+1:])
	return name, typ, name != ""
}

// ParseType reads a column type as written in the settings. Aliases follow
// SQL spelling; TIMESTAMP always means "with time zone" (values are UTC).
func ParseType(s string) (Type, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TEXT", "STRING", "VARCHAR":
		return Text, nil
	case "BIGINT", "INT8", "LONG":
		return BigInt, nil
	case "INTEGER", "INT", "INT4":
		return Integer, nil
	case "DOUBLE", "FLOAT8", "DOUBLE PRECISION":
		return Double, nil
	case "BOOLEAN", "BOOL":
		return Boolean, nil
	case "TIMESTAMP", "TIMESTAMPTZ":
		return Timestamp, nil
	case "OBJECT", "JSON", "MAP", "OBJECT(DYNAMIC)":
		return Object, nil
	case "OBJECT(IGNORED)":
		return IgnoredObject, nil
	}
	return 0, fmt.Errorf("unknown type %q (want TEXT, BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP or OBJECT)", s)
}

// Layout is how a target table stores rows.
type Layout int

const (
	// Document is commons-codec's pk/data/aux layout: pk holds the typed
	// key columns, data the other attributes, aux what cannot be indexed.
	Document Layout = iota + 1
	// Direct stores every configured column as a real, typed column.
	Direct
)

func (l Layout) String() string {
	switch l {
	case Document:
		return "universal"
	case Direct:
		return "direct"
	}
	return "layout(" + strconv.Itoa(int(l)) + ")"
}

// Column is a configured column.
type Column struct {
	Name string
	Type Type
	// IndexOff and NoColumnstore are CrateDB storage options for long
	// text: no index (INDEX OFF), no column store (STORAGE WITH
	// (columnstore = false)). PostgreSQL has no such options.
	IndexOff, NoColumnstore bool
}

// Table is a target table as configured: its name, layout, primary key and,
// for Direct, its other columns. For Document tables Columns only types
// fields inside data.
type Table struct {
	Name    string // [schema.]table, as the sink's settings spell it
	Layout  Layout
	Key     []Column
	Columns []Column
	// Partition, when set, partitions a Direct table by a generated
	// column: a TIMESTAMP column truncated to a day, week or month.
	Partition *Partition
	// AppendOnly tables are keyed by each record's place in the stream: a
	// row is written once and never changes (a redelivery is the same
	// row), so no version guard is needed.
	AppendOnly bool
}

// Partition is how a table is partitioned by time.
type Partition struct {
	Column string // a TIMESTAMP column of the table
	Unit   string // day | week | month
}

// Name is the generated column's name.
func (p *Partition) Name() string { return p.Column + "_" + p.Unit }

// Start is the start of the partition that holds t (UTC; weeks start on
// Monday, as date_trunc has it on both databases).
func (p *Partition) Start(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	switch p.Unit {
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	case "week":
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Op is what a change does to its row.
type Op int

const (
	Upsert Op = iota + 1
	Delete
)

func (o Op) String() string {
	switch o {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Change is the new state of one row.
type Change struct {
	Table *Table
	Op    Op
	// Key holds one value per Table.Key column: string or int64 (and, for
	// DMS, any value a Column type converts to).
	Key []any
	// Data and Aux are JSON objects (Document layout, Upsert only).
	Data, Aux json.RawMessage
	// Values holds one value per Table.Columns (Direct layout, Upsert
	// only): nil, string, int64, float64, bool, time.Time or
	// json.RawMessage for Object.
	Values  []any
	Version Version
	// EventTime is when the source made the change (informational).
	EventTime time.Time
	Source    record.Source
}

// KeyObject returns the primary key as a JSON object in column order, the
// value of the Document layout's pk column.
func (c *Change) KeyObject() json.RawMessage {
	b := []byte{'{'}
	for i, col := range c.Table.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, col.Name)
		b = append(b, ':')
		b = appendJSONValue(b, c.Key[i])
	}
	return append(b, '}')
}

// ControlKind is a table-level DDL event.
type ControlKind int

const (
	CreateTable ControlKind = iota + 1
	DropTable
)

func (k ControlKind) String() string {
	switch k {
	case CreateTable:
		return "create-table"
	case DropTable:
		return "drop-table"
	}
	return "control(" + strconv.Itoa(int(k)) + ")"
}

// Control asks the sink to create or drop a target table.
type Control struct {
	Kind   ControlKind
	Table  *Table
	Source record.Source
}

// Event is one decoded record: a Change, a Control, or neither when the
// decoder deliberately ignores the record (Skipped says why).
type Event struct {
	Change  *Change
	Control *Control
	Skipped string
}

// Decoder turns one Kinesis record into an Event. An error means the record
// is malformed or does not fit the configuration; the caller dead-letters it.
type Decoder interface {
	Decode(rec record.Source) (Event, error)
	// Tables lists every target table the decoder can produce changes for.
	Tables() []*Table
}

// appendJSONValue encodes the Go values a Change carries.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case time.Time:
		return appendJSONString(b, x.UTC().Format(time.RFC3339Nano))
	case int64, float64, bool, json.RawMessage:
		return AppendText(b, x)
	default:
		enc, err := json.Marshal(x)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, enc...)
	}
}

// AppendText appends the text of a value a Change carries, as a database
// casts it back to the column's type: strings bare, numbers with every
// digit, times in RFC 3339 (UTC), objects as their JSON.
func AppendText(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(b, x...)
	case json.RawMessage:
		return append(b, x...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return x.UTC().AppendFormat(b, time.RFC3339Nano)
	default:
		return fmt.Append(b, x)
	}
}

// appendJSONString quotes s as a JSON string. Unlike encoding/json it
// leaves <, > and & alone; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\\ufffd"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
