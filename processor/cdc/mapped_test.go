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
	}, MappedOptions{Unmapped: UnmappedIgnored})
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
	}, MappedOptions{Unmapped: UnmappedDrop})
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
		{"{\"n\":\"\xff\"}", `not valid UTF-8`},
		{`{"n":`, `payload is not JSON`},
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
	m, err := NewMapped("t", columns, MappedOptions{Key: []string{"id"}, Unmapped: UnmappedDrop, Version: version, Delete: rule})
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
		cols          []MappedColumn
		key           []string
		rule          *Rule
		part, partCol string
	}{
		"twice":              {cols: []MappedColumn{id, id}},
		"payload name":       {cols: []MappedColumn{col(t, "payload", Text, "/p")}},
		"unknown key":        {cols: []MappedColumn{id}, key: []string{"nope"}},
		"object key":         {cols: []MappedColumn{col(t, "o", Object, "/o")}, key: []string{"o"}},
		"rule without key":   {cols: []MappedColumn{id}, rule: &Rule{Path: []string{"op"}, Value: json.RawMessage(`1`)}},
		"append key clash":   {cols: []MappedColumn{col(t, "seq", Text, "/seq")}},
		"no columns":         {},
		"bad name for crate": {cols: []MappedColumn{col(t, "_id", Text, "/x")}},
		"partition unit":     {cols: []MappedColumn{id}, part: "year"},
		"partition not ts":   {cols: []MappedColumn{id}, part: "day", partCol: "id"},
		"partition unknown":  {cols: []MappedColumn{id}, part: "day", partCol: "ts"},
		"partition off key":  {cols: []MappedColumn{id, col(t, "ts", Timestamp, "/ts")}, key: []string{"id"}, part: "day", partCol: "ts"},
	} {
		if _, err := NewMapped("t", tt.cols, MappedOptions{Key: tt.key, Unmapped: UnmappedIgnored, Delete: tt.rule, PartitionBy: tt.part, PartitionColumn: tt.partCol}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMappedPartitionsByArrivalOrAKeyColumn(t *testing.T) {
	m, err := NewMapped("t", []MappedColumn{col(t, "v", BigInt, "/v")}, MappedOptions{Unmapped: UnmappedDrop, PartitionBy: "month"})
	if err != nil {
		t.Fatal(err)
	}
	tb := m.Tables()[0]
	if tb.Partition == nil || tb.Partition.Name() != "arrived_at_month" || tb.Columns[len(tb.Columns)-1].Name != "arrived_at" {
		t.Fatalf("%+v", tb)
	}
	ev, err := m.Decode(mappedSource(`{"v":1}`))
	if err != nil || ev.Change.Values[1] != time.Date(2026, 11, 30, 1, 2, 3, 456000000, time.UTC) {
		t.Fatalf("%+v %v", ev.Change, err)
	}
	keyed, err := NewMapped("t", []MappedColumn{col(t, "id", Text, "/id"), col(t, "ts", Timestamp, "/ts")},
		MappedOptions{Key: []string{"id", "ts"}, Unmapped: UnmappedDrop, PartitionBy: "day", PartitionColumn: "ts"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyed.Decode(mappedSource(`{"id":"a"}`)); err == nil || !strings.Contains(err.Error(), `"ts" from /ts is missing`) {
		t.Errorf("missing partition key: %v", err)
	}
	for _, tt := range []struct{ unit, at, want string }{
		{"day", "2026-11-30T23:59:59.999Z", "2026-11-30T00:00:00Z"},
		{"week", "2026-11-29T10:00:00Z", "2026-11-23T00:00:00Z"}, // a Sunday: its week began on Monday
		{"week", "2026-11-30T10:00:00Z", "2026-11-30T00:00:00Z"},
		{"month", "2026-11-30T10:00:00+05:00", "2026-11-01T00:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got := (&Partition{Unit: tt.unit}).Start(at).Format(time.RFC3339); got != tt.want {
			t.Errorf("%s of %s = %s, want %s", tt.unit, tt.at, got, tt.want)
		}
	}
}

func BenchmarkMappedDecode(b *testing.B) {
	t := &testing.T{}
	m, err := NewMapped("t", []MappedColumn{
		col(t, "id", BigInt, "/id"), col(t, "event", Text, "/event"), col(t, "customer", Text, "/customer/id"),
		col(t, "tier", Text, "/customer/tier"), col(t, "amount", Double, "/amount/value"), col(t, "items", Integer, "/items"),
		col(t, "active", Boolean, "/active"), col(t, "updated_at", Timestamp, "/updated_at"), col(t, "pk", Text, "$partitionKey"),
	}, MappedOptions{Unmapped: UnmappedIgnored})
	if err != nil {
		b.Fatal(err)
	}
	src := mappedSource(`{"id":17,"event":"order_placed","order_id":"ord-1","customer":{"id":"cust-7","name":"A B","tier":"gold"},` +
		`"amount":{"value":12.5,"currency":"EUR"},"items":3,"active":true,"updated_at":"2023-11-14T22:13:20.123Z","note":"` + strings.Repeat("x", 700) + `"}`)
	b.SetBytes(int64(len(src.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Decode(src); err != nil {
			b.Fatal(err)
		}
	}
}
