package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// ControlMode says what happens to DMS control records.
type ControlMode int

const (
	// ControlIgnore skips create-table and drop-table records.
	ControlIgnore ControlMode = iota
	// ControlApply creates or drops the configured target table.
	ControlApply
)

// ParseControlMode reads the sink.dms.control setting.
func ParseControlMode(s string) (ControlMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "ignore":
		return ControlIgnore, nil
	case "apply":
		return ControlApply, nil
	}
	return 0, fmt.Errorf("unknown control mode %q (want ignore or apply)", s)
}

// ParseLayout reads the sink.dms.mapping setting.
func ParseLayout(s string) (Layout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "universal":
		return Document, nil
	case "direct":
		return Direct, nil
	}
	return 0, fmt.Errorf("unknown mapping %q (want universal or direct)", s)
}

// ParseDMSTables reads the sink.dms.tables setting, "schema.table:pk1,pk2;
// schema.other:id", into one target table per source table, keyed by
// "schema.table" as DMS names it. Key columns are TEXT until
// ApplyColumnTypes types them; the target is the source's schema.table
// until ApplyTableMapping renames it.
func ParseDMSTables(spec string, layout Layout) (map[string]*Table, error) {
	sources := map[string]*Table{}
	for entry := range strings.SplitSeq(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, ':')
		if i <= 0 {
			return nil, fmt.Errorf("table %q: want schema.table:pk1,pk2", entry)
		}
		src := strings.TrimSpace(entry[:i])
		if sources[src] != nil {
			return nil, fmt.Errorf("table %q: listed twice", src)
		}
		t := &Table{Name: src, Layout: layout}
		for col := range strings.SplitSeq(entry[i+1:], ",") {
			col = strings.TrimSpace(col)
			if col == "" {
				continue
			}
			if slices.ContainsFunc(t.Key, func(c Column) bool { return c.Name == col }) {
				return nil, fmt.Errorf("table %q: key column %q repeated", src, col)
			}
			t.Key = append(t.Key, Column{Name: col, Type: Text})
		}
		if len(t.Key) == 0 {
			return nil, fmt.Errorf("table %q: no primary key columns", src)
		}
		sources[src] = t
	}
	if len(sources) == 0 {
		return nil, errors.New("no tables (want schema.table:pk1,pk2; ...)")
	}
	return sources, nil
}

// ApplyColumnTypes reads the sink.dms.columnTypes setting,
// "schema.table.column:TYPE, ...". It types key columns (default TEXT) and
// adds the other columns: the real columns of Direct tables, typing hints
// for data fields of Document tables.
func ApplyColumnTypes(sources map[string]*Table, spec string) error {
	for part := range settingEntries(spec) {
		name, typText, ok := cutType(part)
		j := strings.LastIndexByte(name, '.')
		if !ok || j <= 0 {
			return fmt.Errorf("column type %q: want schema.table.column:TYPE", part)
		}
		src, col := strings.TrimSpace(name[:j]), strings.TrimSpace(name[j+1:])
		t := sources[src]
		if t == nil {
			return fmt.Errorf("column type %q: table %q is not listed in the tables setting", part, src)
		}
		typ, err := ParseType(typText)
		if err != nil {
			return fmt.Errorf("column type %q: %w", part, err)
		}
		if k := slices.IndexFunc(t.Key, func(c Column) bool { return c.Name == col }); k >= 0 {
			if typ == Object || typ == Double {
				return fmt.Errorf("column type %q: a primary key column cannot be %s", part, typ)
			}
			t.Key[k].Type = typ
			continue
		}
		if slices.ContainsFunc(t.Columns, func(c Column) bool { return c.Name == col }) {
			return fmt.Errorf("column type %q: column typed twice", part)
		}
		t.Columns = append(t.Columns, Column{Name: col, Type: typ})
	}
	return nil
}

// ApplyTableMapping reads the sink.dms.tableMapping setting,
// "schema.table=target_schema.target, ...".
func ApplyTableMapping(sources map[string]*Table, spec string) error {
	targets := map[string]string{}
	for part := range settingEntries(spec) {
		src, target, ok := strings.Cut(part, "=")
		src, target = strings.TrimSpace(src), strings.TrimSpace(target)
		if !ok || src == "" || target == "" {
			return fmt.Errorf("table mapping %q: want schema.table=target", part)
		}
		t := sources[src]
		if t == nil {
			return fmt.Errorf("table mapping %q: table %q is not listed in the tables setting", part, src)
		}
		t.Name = target
	}
	for src, t := range sources {
		if other, dup := targets[t.Name]; dup {
			return fmt.Errorf("tables %q and %q map to the same target %q", other, src, t.Name)
		}
		targets[t.Name] = src
	}
	return nil
}

// DMS decodes AWS DMS records from its Kinesis target. Build it with NewDMS.
type DMS struct {
	sources map[string]*Table
	control ControlMode
}

// NewDMS configures the decoder for the given source tables.
func NewDMS(sources map[string]*Table, control ControlMode) *DMS {
	return &DMS{sources: sources, control: control}
}

// Tables lists the target tables in name order.
func (d *DMS) Tables() []*Table {
	out := make([]*Table, 0, len(d.sources))
	for _, t := range d.sources {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

type dmsRecord struct {
	Data     json.RawMessage `json:"data"`
	Metadata *struct {
		Timestamp  string `json:"timestamp"`
		RecordType string `json:"record-type"`
		Operation  string `json:"operation"`
		SchemaName string `json:"schema-name"`
		TableName  string `json:"table-name"`
	} `json:"metadata"`
}

// Decode turns one DMS record into a Change, a Control or a skip.
//
// DMS changes are versioned by their position in the stream alone: DMS
// publishes a key's changes in order into one shard (partition key
// primary-key or schema-table), while its metadata timestamp does not order
// full-load rows against changes cached during the load.
func (d *DMS) Decode(rec record.Source) (Event, error) {
	var r dmsRecord
	if err := json.Unmarshal(rec.Data, &r); err != nil {
		return Event{}, fmt.Errorf("not a DMS record: %w", err)
	}
	if r.Metadata == nil {
		return Event{}, errors.New("DMS record has no metadata")
	}
	m := r.Metadata
	src := m.TableName
	if m.SchemaName != "" {
		src = m.SchemaName + "." + m.TableName
	}
	table := d.sources[src]
	if m.RecordType == "control" {
		return d.controlEvent(m.Operation, src, table, rec), nil
	}
	if m.RecordType != "data" && m.RecordType != "" {
		return Event{}, fmt.Errorf("unknown record-type %q", m.RecordType)
	}
	c := &Change{Table: table, Source: rec}
	switch m.Operation {
	case "load", "insert", "update":
		c.Op = Upsert
	case "delete":
		c.Op = Delete
	default:
		return Event{}, fmt.Errorf("unknown operation %q for %s", m.Operation, src)
	}
	if table == nil {
		if strings.HasPrefix(m.TableName, "awsdms_") {
			return Event{Skipped: "DMS bookkeeping table " + src}, nil
		}
		return Event{}, fmt.Errorf("table %s is not configured (sink.dms.tables)", src)
	}
	if len(r.Data) == 0 || r.Data[0] != '{' {
		return Event{}, fmt.Errorf("%s record for %s has no data object", m.Operation, src)
	}
	var err error
	if c.Version, err = versionOf(0, rec); err != nil {
		return Event{}, err
	}
	if ts, err := parseTime(m.Timestamp); err == nil {
		c.EventTime = ts
	}
	if err := d.row(c, r.Data); err != nil {
		return Event{}, fmt.Errorf("%s: %w", src, err)
	}
	return Event{Change: c}, nil
}

func (d *DMS) controlEvent(op, src string, table *Table, rec record.Source) Event {
	var kind ControlKind
	switch op {
	case "create-table":
		kind = CreateTable
	case "drop-table":
		kind = DropTable
	default:
		return Event{Skipped: fmt.Sprintf("control operation %q for %s", op, src)}
	}
	switch {
	case table == nil:
		return Event{Skipped: fmt.Sprintf("%s for unconfigured table %s", op, src)}
	case d.control != ControlApply:
		return Event{Skipped: fmt.Sprintf("%s for %s (sink.dms.control = ignore)", op, src)}
	}
	return Event{Control: &Control{Kind: kind, Table: table, Source: rec}}
}

// row fills the key and, for upserts, the values of c from the data object.
func (d *DMS) row(c *Change, data json.RawMessage) error {
	t := c.Table
	fields := map[string][]byte{}
	var names []string
	err := eachMember(data, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil {
			return err
		}
		if _, dup := fields[name]; !dup {
			names = append(names, name)
		}
		fields[name] = v
		return nil
	})
	if err != nil {
		return err
	}
	c.Key = make([]any, len(t.Key))
	for i, col := range t.Key {
		v, err := convertValue(fields[col.Name], col.Type)
		if err != nil {
			return fmt.Errorf("key column %q: %w", col.Name, err)
		}
		if v == nil {
			return fmt.Errorf("key column %q is missing or null", col.Name)
		}
		c.Key[i] = v
	}
	if c.Op == Delete {
		return nil
	}
	if t.Layout == Direct {
		return directValues(c, fields, names)
	}
	return documentValues(c, fields, names)
}

func directValues(c *Change, fields map[string][]byte, names []string) error {
	t := c.Table
	for _, name := range names {
		known := slices.ContainsFunc(t.Key, func(col Column) bool { return col.Name == name }) ||
			slices.ContainsFunc(t.Columns, func(col Column) bool { return col.Name == name })
		if !known {
			return fmt.Errorf("column %q is not configured (sink.dms.columnTypes)", name)
		}
	}
	c.Values = make([]any, len(t.Columns))
	for i, col := range t.Columns {
		v, err := convertValue(fields[col.Name], col.Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", col.Name, err)
		}
		c.Values[i] = v
	}
	return nil
}

// documentValues builds data and aux: configured columns converted to their
// type, the rest as DMS sent them, except numbers that fit neither int64 nor
// float64 exactly and names CrateDB refuses, which go to aux.
func documentValues(c *Change, fields map[string][]byte, names []string) error {
	t := c.Table
	sort.Strings(names)
	data, aux := []byte{'{'}, []byte{'{'}
	add := func(dst []byte, name string, val []byte) []byte {
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		return append(dst, val...)
	}
	for _, name := range names {
		if slices.ContainsFunc(t.Key, func(col Column) bool { return col.Name == name }) {
			continue
		}
		raw := fields[name]
		var val []byte
		toAux := badColumnName(name)
		if i := slices.IndexFunc(t.Columns, func(col Column) bool { return col.Name == name }); i >= 0 {
			v, err := convertValue(raw, t.Columns[i].Type)
			if err != nil {
				return fmt.Errorf("column %q: %w", name, err)
			}
			val = appendJSONValue(nil, v)
		} else if len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
			n, ok := ParseNumber(string(raw))
			if !ok {
				return fmt.Errorf("column %q: %s is not a number", name, raw)
			}
			val = n.AppendJSON(nil)
			toAux = toAux || n.Kind == Big
		} else {
			val = raw
		}
		if toAux {
			aux = add(aux, name, val)
		} else {
			data = add(data, name, val)
		}
	}
	c.Data, c.Aux = append(data, '}'), append(aux, '}')
	return nil
}
