package cdc

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

func mustPointer(t *testing.T, s string) []string {
	t.Helper()
	p, err := ParsePointer(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func col(t *testing.T, name string, typ Type, from string) MappedColumn {
	t.Helper()
	if strings.HasPrefix(from, "$") {
		return MappedColumn{Column{Name: name, Type: typ}, Source{Meta: from}}
	}
	return MappedColumn{Column{Name: name, Type: typ}, Source{Path: mustPointer(t, from)}}
}

func mappedSource(data string) record.Source {
	return record.Source{ShardID: "shardId-000000000001", SequenceNumber: "4959", SubSequenceNumber: 2, PartitionKey: "dev-7",
		ArrivedAt: time.Date(2026, 11, 30, 1, 2, 3, 456000000, time.UTC), Data: []byte(data)}
}

func TestMappedAppendConvertsExactly(t *testing.T) {
	m, err := NewMapped("doc.readings", []MappedColumn{
		col(t, "ts", Timestamp, "/ts"),
		col(t, "device", Text, "/meta/device"),
		col(t, "temp", Double, "/data/value"),
		col(t, "count", BigInt, "/count"),
		col(t, "ok", Boolean, "/ok"),
		col(t, "pk", Text, "$partitionKey"),
		col(t, "arrived", Timestamp, "$arrival"),
		col(t, "slash", Text, "/a~1b"),
		col(t, "first", Integer, "/list/0"),
	}, nil, UnmappedIgnored, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := m.Tables()[0]
	if len(tb.Key) != 3 || tb.Key[0].Name != "shard_id" || tb.Columns[len(tb.Columns)-1] != (Column{Name: PayloadColumn, Type: IgnoredObject}) {
		t.Fatalf("table: %+v", tb)
	}
	ev, err := m.Decode(mappedSource(`{"ts":1764464523456,"meta":{"device":"d1"},"data":{"value":21.5},"count":"12","ok":true,"a/b":"s","list":[7,8],"extra":{"x":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Change
	if c.Op != Upsert || c.Key[0] != "shardId-000000000001" || c.Key[1] != "4959" || c.Key[2] != int64(2) {
		t.Fatalf("key %v", c.Key)
	}
	want := []any{time.UnixMilli(1764464523456).UTC(), "d1", 21.5, int64(12), true, "dev-7", time.Date(2026, 11, 30, 1, 2, 3, 456000000, time.UTC), "s", int64(7)}
	for i, w := range want {
		if c.Values[i] != w {
			t.Errorf("column %s = %#v, want %#v", tb.Columns[i].Name, c.Values[i], w)
		}
	}
	// Members a column takes whole leave the payload; the others stay,
	// /meta and /data included (only a part of them is mapped).
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(c.Values[len(want)].(json.RawMessage), &payload); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"meta", "data", "list", "extra"} {
		if _, ok := payload[k]; !ok {
			t.Errorf("payload lacks %q: %s", k, c.Values[len(want)])
		}
	}
	for _, k := range []string{"ts", "count", "ok", "a/b"} {
		if _, ok := payload[k]; ok {
			t.Errorf("payload keeps mapped %q", k)
		}
	}
}

func TestMappedRefusesWhatDoesNotConvertExactly(t *testing.T) {
	m, err := NewMapped("t", []MappedColumn{
		col(t, "n", BigInt, "/n"), col(t, "i", Integer, "/i"), col(t, "d", Double, "/d"), col(t, "ts", Timestamp, "/ts"), col(t, "b", Boolean, "/b"),
	}, nil, UnmappedDrop, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ doc, want string }{
		{`{"n":1.5}`, `column "n" from /n = 1.5: 1.5 does not fit BIGINT exactly`},
		{`{"n":9223372036854775808}`, `column "n" from /n = 9223372036854775808`},
		{`{"i":2147483648}`, `does not fit INTEGER exactly`},
		{`{"d":9007199254740993}`, `9007199254740993 does not fit DOUBLE exactly`},
		{`{"d":0.10000000000000000001}`, `does not fit DOUBLE exactly`},
		{`{"d":1e400}`, `column "d" from /d = 1e400`},
		{`{"ts":"yesterday"}`, `column "ts" from /ts = "yesterday"`},
		{`{"ts":1.5}`, `integer epoch milliseconds`},
		{`{"b":"maybe"}`, `is not a boolean`},
		{`[1]`, `not a JSON object`},
		{`{"n":`, `not a JSON object`},
	} {
		_, err := m.Decode(mappedSource(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.doc, err, tt.want)
		}
	}
	// What does fit exactly is kept: integers that are doubles, exponents
	// that are integers, a missing or null value as NULL.
	ev, err := m.Decode(mappedSource(`{"n":1e3,"d":9007199254740992,"i":null}`))
	if err != nil || ev.Change.Values[0] != int64(1000) || ev.Change.Values[2] != float64(9007199254740992) || ev.Change.Values[1] != nil || ev.Change.Values[3] != nil {
		t.Fatalf("%+v %v", ev.Change, err)
	}
}

func TestMappedLatestStateKeyVersionAndDeleteRule(t *testing.T) {
	columns := []MappedColumn{col(t, "id", Text, "/id"), col(t, "v", BigInt, "/v")}
	version := &Source{Path: mustPointer(t, "/updated_at")}
	rule := &Rule{Path: mustPointer(t, "/op"), Value: json.RawMessage(`"delete"`)}
	m, err := NewMapped("t", columns, []string{"id"}, UnmappedDrop, version, rule)
	if err != nil {
		t.Fatal(err)
	}
	older, err := m.Decode(mappedSource(`{"id":"a","v":1,"updated_at":"2026-11-30T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := m.Decode(mappedSource(`{"id":"a","v":2,"updated_at":"2026-11-30T00:00:01Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if older.Change.Version.Compare(newer.Change.Version) >= 0 {
		t.Errorf("version: %v is not below %v", older.Change.Version, newer.Change.Version)
	}
	gone, err := m.Decode(mappedSource(`{"id":"a","op":"delete","updated_at":1764464524000000}`))
	if err != nil || gone.Change.Op != Delete || gone.Change.Key[0] != "a" {
		t.Fatalf("delete rule: %+v %v", gone.Change, err)
	}
	if _, err := m.Decode(mappedSource(`{"v":1,"updated_at":1}`)); err == nil || !strings.Contains(err.Error(), `key column "id" from /id is missing`) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := m.Decode(mappedSource(`{"id":"a"}`)); err == nil || !strings.Contains(err.Error(), "version from /updated_at") {
		t.Errorf("missing version: %v", err)
	}
}

func TestNewMappedRefusesBadMappings(t *testing.T) {
	id := col(t, "id", Text, "/id")
	for name, tt := range map[string]struct {
		cols []MappedColumn
		key  []string
		rule *Rule
	}{
		"twice":              {cols: []MappedColumn{id, id}},
		"payload name":       {cols: []MappedColumn{col(t, "payload", Text, "/p")}},
		"unknown key":        {cols: []MappedColumn{id}, key: []string{"nope"}},
		"object key":         {cols: []MappedColumn{col(t, "o", Object, "/o")}, key: []string{"o"}},
		"rule without key":   {cols: []MappedColumn{id}, rule: &Rule{Path: []string{"op"}, Value: json.RawMessage(`1`)}},
		"append key clash":   {cols: []MappedColumn{col(t, "seq", Text, "/seq")}},
		"no columns":         {},
		"bad name for crate": {cols: []MappedColumn{col(t, "_id", Text, "/x")}},
	} {
		if _, err := NewMapped("t", tt.cols, tt.key, UnmappedIgnored, nil, tt.rule); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
