package sink

import (
	"strings"
	"testing"
)

func TestParseTableName(t *testing.T) {
	tests := []struct {
		in      string
		want    tableName
		wantSQL string
		wantErr bool
	}{
		{in: "kinesis_events", want: tableName{"doc", "kinesis_events"}, wantSQL: `"doc"."kinesis_events"`},
		{in: "doc.kinesis_events", want: tableName{"doc", "kinesis_events"}, wantSQL: `"doc"."kinesis_events"`},
		{in: "Public.Events", want: tableName{"public", "events"}, wantSQL: `"public"."events"`},
		{in: ` "MySchema"."My ""T""" `, want: tableName{"MySchema", `My "T"`}, wantSQL: `"MySchema"."My ""T"""`},
		{in: `"a.b".c`, want: tableName{"a.b", "c"}, wantSQL: `"a.b"."c"`},
		{in: `s."x y"`, want: tableName{"s", "x y"}, wantSQL: `"s"."x y"`},
		{in: "", wantErr: true},
		{in: "a.b.c", wantErr: true},
		{in: ".t", wantErr: true},
		{in: "s.", wantErr: true},
		{in: `"open`, wantErr: true},
		{in: `"q"x`, wantErr: true},
		{in: `x"q"`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseTableName(tt.in, "doc")
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseTableName(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want || got.sql() != tt.wantSQL {
			t.Errorf("parseTableName(%q) = %#v (%s), %v; want %#v (%s)", tt.in, got, got.sql(), err, tt.want, tt.wantSQL)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := map[string]string{
		"plain":         `"plain"`,
		`with"quote`:    `"with""quote"`,
		"":              `""`,
		`x"; DROP t --`: `"x""; DROP t --"`,
	}
	for in, want := range tests {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDialect(t *testing.T) {
	if PostgreSQL.String() != "postgresql" || CrateDB.String() != "cratedb" || Dialect(7).String() != "dialect(7)" {
		t.Errorf("String: %s %s %s", PostgreSQL, CrateDB, Dialect(7))
	}
	if (postgres{}).defaultSchema() != "public" || (crateDB{}).defaultSchema() != "doc" {
		t.Error("default schemas")
	}
	for v, want := range map[string]bool{"6.4.3": true, "6.3.0": true, "7.0.1": true, "6.2.9": false, "5.10.1": false, "": false, "x.y": false} {
		if got := crateCanPing(v); got != want {
			t.Errorf("crateCanPing(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestCheckNameLengths(t *testing.T) {
	long := strings.Repeat("n", 64)
	for _, tt := range []struct {
		d     Dialect
		names []tableName
		ok    bool
	}{
		{PostgreSQL, []tableName{{"public", strings.Repeat("n", 63)}}, true},
		{PostgreSQL, []tableName{{"public", "t"}, {"public", long}}, false},
		{PostgreSQL, []tableName{{long, "t"}}, false},
		{PostgreSQL, []tableName{{"public", strings.Repeat("é", 32)}}, false}, // 64 bytes
		{CrateDB, []tableName{{"doc", long}}, true},
	} {
		if err := checkNames(dialectOf(tt.d), tt.names...); (err == nil) != tt.ok {
			t.Errorf("%v %v: %v", tt.d, tt.names, err)
		}
	}
}
