package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Settings of typed columns from plain JSON (README "Typed columns"):
//
//	sink.columns = ts:TIMESTAMP=/ts, device:TEXT=/meta/device, temp:DOUBLE=/data/value,
//	               pk:TEXT=$partitionKey, note:TEXT=/note INDEX OFF COLUMNSTORE OFF
//	sink.key = device                 optional: one row per key (latest state)
//	sink.version = /updated_at        optional, with sink.key: what orders a key's records
//	sink.deleteWhen = /op == "delete" optional, with sink.key: tombstone rule
//	sink.unmapped = ignored           ignored (OBJECT(IGNORED)) | object | drop
//	sink.partitionBy = month          day|week|month [:column]; default column: arrival
var mappedKeys = []string{"sink.key", "sink.version", "sink.deleteWhen", "sink.unmapped", "sink.partitionBy"}

// mapped builds the decoder of sink.columns, or nil when it is not set.
func (r *reader) mapped(format, table string) cdc.Decoder {
	spec, ok := r.raw("sink.columns")
	if !ok || strings.TrimSpace(spec) == "" {
		r.unused(mappedKeys, "json without sink.columns")
		return nil
	}
	if format != FormatJSON {
		r.fail("sink.columns", spec, "applies to sink.format = json only")
		return nil
	}
	columns, err := parseMappedColumns(spec)
	if err != nil {
		r.fail("sink.columns", spec, err.Error())
		return nil
	}
	var key []string
	if k := r.str("sink.key", ""); k != "" {
		for part := range strings.SplitSeq(k, ",") {
			key = append(key, columnFor(columns, strings.TrimSpace(part)))
		}
	}
	unmapped := map[string]cdc.Unmapped{"ignored": cdc.UnmappedIgnored, "object": cdc.UnmappedObject, "drop": cdc.UnmappedDrop}[r.oneOf("sink.unmapped", "ignored", "ignored", "object", "drop")]
	var version *cdc.Source
	if v := r.str("sink.version", ""); v != "" {
		s, err := parseSource(v)
		if err != nil {
			r.fail("sink.version", v, err.Error())
			return nil
		}
		version = &s
	}
	var rule *cdc.Rule
	if d := r.str("sink.deleteWhen", ""); d != "" {
		if rule, err = parseRule(d); err != nil {
			r.fail("sink.deleteWhen", d, err.Error())
			return nil
		}
	}
	if len(key) == 0 && (version != nil || rule != nil) {
		r.fail("sink.key", "", "sink.version and sink.deleteWhen need sink.key")
		return nil
	}
	unit, partCol, _ := strings.Cut(r.str("sink.partitionBy", ""), ":")
	m, err := cdc.NewMapped(table, columns, cdc.MappedOptions{Key: key, Unmapped: unmapped, Version: version, Delete: rule,
		PartitionBy: strings.ToLower(strings.TrimSpace(unit)), PartitionColumn: strings.TrimSpace(partCol)})
	if err != nil {
		key := "sink.columns"
		if strings.HasPrefix(err.Error(), "partition") {
			key = "sink.partitionBy"
		}
		r.fail(key, r.str(key, ""), err.Error())
		return nil
	}
	return m
}

// columnFor names the column a key entry means: its name, or the path it
// is mapped from.
func columnFor(columns []cdc.MappedColumn, entry string) string {
	for _, c := range columns {
		if c.From.Meta == "" && c.From.String() == entry {
			return c.Name
		}
	}
	return entry
}

// parseMappedColumns reads "name:TYPE=source [INDEX OFF] [COLUMNSTORE OFF]"
// entries separated by commas.
func parseMappedColumns(spec string) ([]cdc.MappedColumn, error) {
	var out []cdc.MappedColumn
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		c, err := parseMappedColumn(entry)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", entry, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseMappedColumn(entry string) (cdc.MappedColumn, error) {
	def, from, ok := strings.Cut(entry, "=")
	name, typ, ok2 := strings.Cut(def, ":")
	if !ok || !ok2 || strings.TrimSpace(name) == "" {
		return cdc.MappedColumn{}, fmt.Errorf("want name:TYPE=/json/pointer or name:TYPE=$partitionKey")
	}
	t, err := cdc.ParseType(typ)
	if err != nil {
		return cdc.MappedColumn{}, err
	}
	fields := strings.Fields(from)
	if len(fields) == 0 {
		return cdc.MappedColumn{}, fmt.Errorf("no source after =")
	}
	c := cdc.MappedColumn{Column: cdc.Column{Name: strings.TrimSpace(name), Type: t}}
	if c.From, err = parseSource(fields[0]); err != nil {
		return cdc.MappedColumn{}, err
	}
	opts := strings.ToUpper(strings.Join(fields[1:], " "))
	for opts != "" {
		switch {
		case strings.HasPrefix(opts, "INDEX OFF"):
			c.IndexOff, opts = true, strings.TrimSpace(opts[len("INDEX OFF"):])
		case strings.HasPrefix(opts, "COLUMNSTORE OFF"):
			c.NoColumnstore, opts = true, strings.TrimSpace(opts[len("COLUMNSTORE OFF"):])
		default:
			return cdc.MappedColumn{}, fmt.Errorf("unknown option %q (want INDEX OFF, COLUMNSTORE OFF)", opts)
		}
	}
	return c, nil
}

func parseSource(s string) (cdc.Source, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "$") {
		for _, m := range []string{cdc.MetaPartitionKey, cdc.MetaArrival, cdc.MetaShardID, cdc.MetaSequenceNumber, cdc.MetaSubSequenceNumber} {
			if strings.EqualFold(s, m) {
				return cdc.Source{Meta: m}, nil
			}
		}
		return cdc.Source{}, fmt.Errorf("unknown metadata %q (want $partitionKey, $arrival, $shardId, $sequenceNumber or $subSequenceNumber)", s)
	}
	path, err := cdc.ParsePointer(s)
	return cdc.Source{Path: path}, err
}

// parseRule reads `/json/pointer == <JSON value>`.
func parseRule(s string) (*cdc.Rule, error) {
	lhs, rhs, ok := strings.Cut(s, "==")
	if !ok {
		return nil, fmt.Errorf(`want /json/pointer == "value"`)
	}
	path, err := cdc.ParsePointer(strings.TrimSpace(lhs))
	if err != nil {
		return nil, err
	}
	v := json.RawMessage(strings.TrimSpace(rhs))
	if !json.Valid(v) || len(v) == 0 || v[0] == '{' || v[0] == '[' {
		return nil, fmt.Errorf("%s is not a JSON string, number, true, false or null", rhs)
	}
	return &cdc.Rule{Path: path, Value: v}, nil
}
