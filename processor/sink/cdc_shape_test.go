package sink

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseSubscripts(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`data['a']`, []string{"a"}},
		{`data['a']['b c']`, []string{"a", "b c"}},
		{`data['it''s']['x']`, []string{"it's", "x"}},
		{`data['']`, []string{""}},
		{`data`, nil},
		{`aux['a']`, nil},
		{`data['a`, nil},
		{`data['a']x`, nil},
	} {
		got, ok := parseSubscripts(tt.in, "data")
		if ok != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("parseSubscripts(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

// typesOf builds the data column's types from information_schema rows
// "name type".
func typesOf(rows ...string) *colType {
	var names, types []string
	for _, r := range rows {
		name, typ, _ := strings.Cut(r, " ")
		names, types = append(names, name), append(types, typ)
	}
	return buildDataTypes(names, types)
}

// The table as CrateDB reported it after a first row (probe on 6.4.3).
var shapeTable = []string{
	`data['n'] bigint`, `data['d'] double precision`, `data['t'] text`, `data['b'] boolean`,
	`data['arr'] bigint_array`, `data['darr'] double precision_array`, `data['nested'] bigint_array_array`,
	`data['m'] object`, `data['m']['x'] bigint`, `data['oa'] object_array`, `data['oa']['a'] bigint`,
	`data['u'] undefined`, `data['ua'] undefined_array`, `data['e'] object`,
}

func TestFitClaim(t *testing.T) {
	for _, tt := range []struct {
		attr, value string
		fits        bool
	}{
		{"n", `1`, true},
		{"n", `-9223372036854775807`, true},
		{"n", `9223372036854775807`, false}, // CrateDB: exceeds allowed range
		{"n", `1.5`, false},                 // stored as 1
		{"n", `"7"`, false},                 // stored as 7
		{"n", `true`, false},
		{"n", `null`, true},
		{"d", `1.5`, true},
		{"d", `3`, true},
		{"d", `9007199254740993`, false},     // rounded to …992
		{"d", `-9223372036854775808`, false}, // a double, but reads back as -9.223372036854776E18
		{"t", `"x"`, true},
		{"t", `1`, false},       // stored as "1"
		{"t", `true`, false},    // stored as "t"
		{"t", `{"a":1}`, false}, // stored as its JSON text
		{"t", `"` + strings.Repeat("x", maxIndexedString+1) + `"`, false},
		{"t", `"a\"b\u00e9"`, true},
		{"t", `"` + strings.Repeat(`\n`, 20000) + `"`, true}, // 40,000 characters of JSON, 20,000 bytes
		{"m", `{"y\u0041":"z","x":-0}`, true},
		{"b", `false`, true},
		{"b", `"true"`, false},
		{"b", `1`, false},
		{"arr", `[1,2,null]`, true},
		{"arr", `[]`, true},
		{"arr", `[1.5]`, false},
		{"arr", `5`, false},
		{"darr", `[1,2.5]`, true},
		{"nested", `[[1],[2,3]]`, true},
		{"nested", `[1]`, false},
		{"m", `{"x":2}`, true},
		{"m", `{"x":"2"}`, false},
		{"m", `{"y":"new"}`, true},
		{"m", `{"y":null}`, false}, // would create an undefined column
		{"m", `{"a.b":1}`, false},
		{"m", `"s"`, false},
		{"oa", `[{"a":1},{"a":2,"b":"x"}]`, true},
		{"oa", `[{"a":1},{"a":"x"}]`, false},
		{"u", `null`, true},
		{"u", `1`, false},
		{"ua", `[1]`, false},
		{"e", `{}`, true},
		{"new", `1`, true},
		{"new", `[1,2.5]`, true},
		{"new", `[1,9007199254740993,2.5]`, false},
		{"new", `[1,"a"]`, false},
		{"new", `[{"q":1},{"q":"x"}]`, false},
		{"new", `[[{"q":1}]]`, false},
		{"new", `null`, false},
		{"new", `[]`, false},
		{"new", `[null]`, false},
		{"new", `{}`, true},
		{"new", `{"q":null}`, false},
	} {
		for _, pretty := range []bool{false, true} {
			value := tt.value
			if pretty { // the walker must not depend on the decoders' compact form
				value = strings.NewReplacer(",", " , ", ":", " : ", "[", "[ ", "]", " ]", "{", "{ ", "}", " }").Replace(value)
			}
			res, err := shapeData(json.RawMessage(`{"`+tt.attr+`": `+value+` }`), nil, typesOf(shapeTable...), true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fits := len(res.moved) == 0; fits != tt.fits {
				t.Errorf("%s = %.60s: fits %v, want %v", tt.attr, value, fits, tt.fits)
			}
		}
	}
}

func TestShapeDataClaimsWithinAChunk(t *testing.T) {
	types := typesOf(shapeTable...)
	loaded := types.clone()
	rows := []struct{ data, aux, wantData, wantAux string }{
		{`{"n":1,"t":2,"z":"first"}`, `{"big":"123456789012345678901234567890"}`,
			`{"n":1,"z":"first"}`, `{"big":"123456789012345678901234567890","t":2}`},
		// z was claimed as text by the row before: CrateDB would convert 5 to "5"
		{`{"z":5,"w":[1,2.5]}`, `{}`, `{"w":[1,2.5]}`, `{"z":5}`},
		{`{"w":[3],"m":{"k":{"deep":true}}}`, `{}`, `{"w":[3],"m":{"k":{"deep":true}}}`, `{}`}, // unchanged: nothing moved
		{`{"m":{"k":{"deep":"no"}}}`, `{}`, `{}`, `{"m":{"k":{"deep":"no"}}}`},
	}
	for i, r := range rows {
		res, err := shapeData(json.RawMessage(r.data), json.RawMessage(r.aux), types, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.data) != r.wantData || string(res.aux) != r.wantAux {
			t.Errorf("row %d: data %s aux %s; want %s %s", i, res.data, res.aux, r.wantData, r.wantAux)
		}
	}
	ddl := addColumnsDDL(tableName{schema: "doc", name: "t"}, loaded, types)
	want := []string{
		`ALTER TABLE "doc"."t" ADD COLUMN "data"['m']['k'] OBJECT(DYNAMIC)`,
		`ALTER TABLE "doc"."t" ADD COLUMN "data"['m']['k']['deep'] BOOLEAN`,
		`ALTER TABLE "doc"."t" ADD COLUMN "data"['w'] ARRAY(DOUBLE PRECISION)`,
		`ALTER TABLE "doc"."t" ADD COLUMN "data"['z'] TEXT`,
	}
	if !slices.Equal(ddl, want) {
		t.Errorf("DDL:\n  %s\nwant:\n  %s", strings.Join(ddl, "\n  "), strings.Join(want, "\n  "))
	}

	// Without new columns (the column limit, say), z goes to aux.
	res, err := shapeData(json.RawMessage(`{"n":2,"brand":"new"}`), nil, typesOf(shapeTable...), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.data) != `{"n":2}` || string(res.aux) != `{"brand":"new"}` {
		t.Errorf("allowNew=false: data %s aux %s", res.data, res.aux)
	}
}

func TestShapeDataUnchangedWhenAllFits(t *testing.T) {
	data := json.RawMessage(`{"t":"x","n":1}`) // not in canonical order: kept as is
	res, err := shapeData(data, json.RawMessage(`{}`), typesOf(shapeTable...), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.data) != string(data) || string(res.aux) != `{}` || len(res.moved) != 0 {
		t.Errorf("got %s %s %v", res.data, res.aux, res.moved)
	}
}

func TestAllToAux(t *testing.T) {
	d, a, err := allToAux(json.RawMessage(`{"b":1,"a":"x"}`), json.RawMessage(`{"c":"9223372036854775808"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(d) != `{}` || string(a) != `{"a":"x","b":1,"c":"9223372036854775808"}` {
		t.Errorf("got %s %s", d, a)
	}
}

func TestColumnDDLType(t *testing.T) {
	for _, tt := range []struct {
		c    colType
		want string
	}{
		{colType{base: "bigint"}, "BIGINT"},
		{colType{base: "double precision", arrays: 1}, "ARRAY(DOUBLE PRECISION)"},
		{colType{base: "text", arrays: 2}, "ARRAY(ARRAY(TEXT))"},
		{colType{base: "object", arrays: 1}, "ARRAY(OBJECT(DYNAMIC))"},
	} {
		if got := columnDDLType(&tt.c); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.c, got, tt.want)
		}
	}
}

func BenchmarkShapeData(b *testing.B) {
	data := json.RawMessage(`{"color":"red","dims":{"h":4,"w":12},"labels":["a","b","c"],"name":"A fairly ordinary item name","price":12.5,"qty":3,` +
		`"profile":{"active":true,"address":{"city":"Berlin","geo":[52.52,13.405],"zip":"10115"},"name":"Echo"},"scores":[1,2.5,-3],"updated":"2024-07-11T23:23:53Z"}`)
	types := typesOf(`data['color'] text`, `data['dims'] object`, `data['dims']['h'] bigint`, `data['dims']['w'] bigint`, `data['labels'] text_array`,
		`data['name'] text`, `data['price'] double precision`, `data['qty'] bigint`, `data['profile'] object`, `data['profile']['active'] boolean`,
		`data['profile']['address'] object`, `data['profile']['address']['city'] text`, `data['profile']['address']['geo'] double precision_array`,
		`data['profile']['address']['zip'] text`, `data['profile']['name'] text`, `data['scores'] double precision_array`, `data['updated'] text`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if r, err := shapeData(data, json.RawMessage(`{}`), types, true, nil); err != nil || len(r.moved) > 0 {
			b.Fatal(err, r.moved)
		}
	}
}

func TestObjectMembers(t *testing.T) {
	ms, err := objectMembers(json.RawMessage(` { "b" : [1, {"x":"}"}] , "a\"q":"v,]" , "c":null} `))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.name+"="+string(m.raw))
	}
	if want := []string{`b=[1, {"x":"}"}]`, `a"q="v,]"`, `c=null`}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{`[1]`, `{"a"}`, `{"a":1`, `{"a":1 "b":2}`, `"s"`} {
		if _, err := objectMembers(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	for _, empty := range []string{``, `null`, `{}`, ` { } `} {
		if ms, err := objectMembers(json.RawMessage(empty)); err != nil || len(ms) != 0 {
			t.Errorf("%q: %v %v", empty, ms, err)
		}
	}
}

func TestShapeDataLeavesDeclaredColumns(t *testing.T) {
	types := typesOf(`data['placed'] timestamp with time zone`, `data['n'] bigint`)
	res, err := shapeData(json.RawMessage(`{"n":"x","placed":"2024-07-01T10:00:00Z"}`), nil, types, true, map[string]bool{"placed": true})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.data) != `{"placed":"2024-07-01T10:00:00Z"}` || string(res.aux) != `{"n":"x"}` {
		t.Errorf("got %s %s", res.data, res.aux)
	}
}

func TestFitRawUndefined(t *testing.T) {
	for _, tt := range []struct {
		value            string
		fits, undef, new bool
	}{
		{`{"m":{"x":1}}`, true, false, false},
		{`{"m":{"x":null,"q":null}}`, true, true, false}, // q: an undefined column by itself
		{`{"u":5}`, true, true, false},                   // retypes the undefined column u
		{`{"nn":[]}`, true, false, true},                 // the claiming pass finds the undefined array
		{`{"m":{"x":"s"}}`, false, false, false},
		{`{"w":1,"v":null}`, true, true, true},
	} {
		root := typesOf(shapeTable...)
		fits, needsNew, undef := fitRawUndefined([]byte(tt.value), &root, false, true)
		if fits != tt.fits || (fits && (undef != tt.undef || needsNew != tt.new)) {
			t.Errorf("%s: fits %v undef %v new %v, want %v %v %v", tt.value, fits, undef, needsNew, tt.fits, tt.undef, tt.new)
		}
		if fits, _, _ := fitRawUndefined([]byte(tt.value), &root, false, false); fits && tt.undef {
			t.Errorf("%s: fits without allowUndef", tt.value)
		}
	}
}
