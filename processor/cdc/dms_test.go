package cdc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testDMS(t testing.TB, layout Layout, control ControlMode) *DMS {
	t.Helper()
	sources, err := dmsSources(DMSSettings{
		Tables:       "public.orders:id; public.lines:order_id,line_no",
		ColumnTypes:  "public.orders.id:BIGINT, public.orders.total:DOUBLE, public.orders.note:TEXT, public.orders.meta:OBJECT, public.orders.placed:TIMESTAMP, public.orders.paid:BOOLEAN, public.lines.order_id:BIGINT, public.lines.line_no:INTEGER, public.lines.sku:TEXT",
		TableMapping: "public.lines=doc.order_lines",
	}, layout)
	if err != nil {
		t.Fatal(err)
	}
	return NewDMS(sources, control)
}

func dmsEvent(op, table, data string) []byte {
	recordType := "data"
	if strings.Contains(op, "-") {
		recordType = "control"
	}
	d := ""
	if data != "" {
		d = `"data":` + data + `,`
	}
	return fmt.Appendf(nil, `{%s"metadata":{"timestamp":"2024-07-21T15:04:05.123456Z","record-type":%q,"operation":%q,"partition-key-type":"primary-key","schema-name":"public","table-name":%q,"transaction-id":42}}`,
		d, recordType, op, table)
}

func TestDMSDirect(t *testing.T) {
	d := testDMS(t, Direct, ControlIgnore)
	ev, err := d.Decode(rec(dmsEvent("update", "orders", `{"id":7,"total":"12.5","note":12345678901234567890123,"meta":"{\"a\":[1,2]}","placed":"2024-07-21 10:00:00.5","paid":1}`), "17"))
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Change
	if c.Table.Name != "public.orders" || c.Op != Upsert || c.Key[0] != int64(7) {
		t.Fatalf("%+v", c)
	}
	want := []any{12.5, "12345678901234567890123", `{"a":[1,2]}`, time.Date(2024, 7, 21, 10, 0, 0, 5e8, time.UTC), true}
	for i, v := range c.Values {
		if raw, ok := v.(json.RawMessage); ok {
			v = string(raw)
		}
		if fmt.Sprint(v) != fmt.Sprint(want[i]) {
			t.Errorf("column %s = %#v, want %#v", c.Table.Columns[i].Name, v, want[i])
		}
	}
	if c.Version != (Version{Seq: "17"}) || c.EventTime != time.Date(2024, 7, 21, 15, 4, 5, 123456000, time.UTC) {
		t.Errorf("version %+v time %s", c.Version, c.EventTime)
	}
	// A missing column is NULL (DMS omits NULLs unless IncludeNullAndEmpty).
	ev, err = d.Decode(rec(dmsEvent("insert", "lines", `{"order_id":7,"line_no":1}`), "18"))
	if err != nil || ev.Change.Table.Name != "doc.order_lines" || ev.Change.Values[0] != nil || ev.Change.Key[1] != int64(1) {
		t.Fatalf("%+v %v", ev.Change, err)
	}
}

func TestDMSUniversal(t *testing.T) {
	d := testDMS(t, Document, ControlIgnore)
	ev, err := d.Decode(rec(dmsEvent("load", "orders", `{"id":"7","total":2.5,"extra":99999999999999999999,"name":"x","meta":"{\"a\":1}","a.b":true}`), "1"))
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Change
	if string(c.KeyObject()) != `{"id":7}` {
		t.Errorf("key %s", c.KeyObject())
	}
	if string(c.Data) != `{"meta":{"a":1},"name":"x","total":2.5}` || string(c.Aux) != `{"a.b":true,"extra":"99999999999999999999"}` {
		t.Errorf("data %s aux %s", c.Data, c.Aux)
	}
	ev, err = d.Decode(rec(dmsEvent("delete", "orders", `{"id":7}`), "2"))
	if err != nil || ev.Change.Op != Delete || ev.Change.Data != nil {
		t.Fatalf("%+v %v", ev.Change, err)
	}
}

func TestDMSControlAndSkips(t *testing.T) {
	ignore := testDMS(t, Direct, ControlIgnore)
	apply := testDMS(t, Direct, ControlApply)
	for _, tt := range []struct {
		d       *DMS
		op, tbl string
		control ControlKind
	}{
		{apply, "create-table", "orders", CreateTable},
		{apply, "drop-table", "lines", DropTable},
		{ignore, "drop-table", "orders", 0},
		{apply, "drop-table", "unknown", 0},
		{apply, "add-column", "orders", 0},
		{apply, "rename-table", "orders", 0},
	} {
		ev, err := tt.d.Decode(rec(dmsEvent(tt.op, tt.tbl, ""), "1"))
		if err != nil {
			t.Fatalf("%s %s: %v", tt.op, tt.tbl, err)
		}
		switch {
		case tt.control != 0 && (ev.Control == nil || ev.Control.Kind != tt.control):
			t.Errorf("%s %s: %+v", tt.op, tt.tbl, ev)
		case tt.control == 0 && (ev.Control != nil || ev.Change != nil || ev.Skipped == ""):
			t.Errorf("%s %s: want a skip, got %+v", tt.op, tt.tbl, ev)
		}
	}
	ev, err := apply.Decode(rec(dmsEvent("insert", "awsdms_apply_exceptions", `{"x":1}`), "1"))
	if err != nil || ev.Skipped == "" {
		t.Errorf("awsdms table: %+v %v", ev, err)
	}
}

func TestDMSMalformed(t *testing.T) {
	d := testDMS(t, Direct, ControlApply)
	tests := []struct{ name, data, want string }{
		{"not json", `{"data":`, "not a DMS record"},
		{"no metadata", `{"data":{}}`, "no metadata"},
		{"unknown operation", string(dmsEvent("upsert", "orders", `{"id":1}`)), `unknown operation "upsert"`},
		{"unknown table", string(dmsEvent("insert", "customers", `{"id":1}`)), "public.customers is not configured"},
		{"no data", string(dmsEvent("insert", "orders", "")), "no data object"},
		{"missing key", string(dmsEvent("insert", "orders", `{"note":"x"}`)), `key column "id" is missing`},
		{"fractional key", string(dmsEvent("insert", "orders", `{"id":1.5}`)), "does not fit BIGINT"},
		{"unknown column", string(dmsEvent("insert", "orders", `{"id":1,"colour":"red"}`)), `column "colour" is not configured`},
		{"inexact double", string(dmsEvent("insert", "orders", `{"id":1,"total":0.30000000000000000001}`)), "does not fit DOUBLE exactly"},
		{"integer range", string(dmsEvent("insert", "lines", `{"order_id":1,"line_no":3000000000}`)), "does not fit INTEGER"},
		{"bad timestamp", string(dmsEvent("insert", "orders", `{"id":1,"placed":"yesterday"}`)), "not a timestamp"},
		{"bad object", string(dmsEvent("insert", "orders", `{"id":1,"meta":"{oops"}`)), "does not hold JSON"},
		{"bad boolean", string(dmsEvent("insert", "orders", `{"id":1,"paid":"maybe"}`)), "not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Decode(rec([]byte(tt.data), "1"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseDMSTablesErrors(t *testing.T) {
	tests := []struct {
		s    DMSSettings
		want string
	}{
		{DMSSettings{Tables: ""}, "no tables"},
		{DMSSettings{Tables: "public.orders"}, "want schema.table:pk1,pk2"},
		{DMSSettings{Tables: "public.orders:"}, "no primary key"},
		{DMSSettings{Tables: "a.b:id; a.b:id"}, "listed twice"},
		{DMSSettings{Tables: "a.b:id", ColumnTypes: "a.c.x:TEXT"}, `table "a.c" is not listed`},
		{DMSSettings{Tables: "a.b:id", ColumnTypes: "a.b.x:BLOB"}, "unknown type"},
		{DMSSettings{Tables: "a.b:id", ColumnTypes: "a.b.id:OBJECT"}, "primary key column cannot be OBJECT"},
		{DMSSettings{Tables: "a.b:id", ColumnTypes: "x:TEXT"}, "want schema.table.column:TYPE"},
		{DMSSettings{Tables: "a.b:id", TableMapping: "a.b"}, "want schema.table=target"},
		{DMSSettings{Tables: "a.b:id; a.c:id", TableMapping: "a.b=x.y, a.c=x.y"}, "same target"},
	}
	for _, tt := range tests {
		_, err := dmsSources(tt.s, Direct)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.s, err, tt.want)
		}
	}
}

type DMSSettings struct{ Tables, ColumnTypes, TableMapping string }

func dmsSources(s DMSSettings, layout Layout) (map[string]*Table, error) {
	sources, err := ParseDMSTables(s.Tables, layout)
	if err != nil {
		return nil, err
	}
	if err := ApplyColumnTypes(sources, s.ColumnTypes); err != nil {
		return nil, err
	}
	return sources, ApplyTableMapping(sources, s.TableMapping)
}
