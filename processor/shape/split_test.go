package shape

import (
	"strings"
	"testing"
)

func TestSplitCrateDB(t *testing.T) {
	long := strings.Repeat("x", 32767)
	deep := strings.Repeat(`{"d":`, 60) + `1` + strings.Repeat(`}`, 60)
	tests := []struct {
		name      string
		columns   [][2]string // existing sub-columns: name, data_type
		doc       string
		main, aux string // aux "" = nil
		full      bool
	}{
		{name: "fits as is", doc: `{"a":1,"b":"x","c":[1,2.5],"d":{"e":true},"f":null,"g":[]}`,
			main: `{"a":1,"b":"x","c":[1,2.5],"d":{"e":true},"f":null,"g":[]}`},
		{name: "duplicate keys: last wins", doc: `{"k":1,"j":{"x":1,"x":2},"k":3}`, main: `{"k":3,"j":{"x":2}}`},
		{name: "integer beyond 64 bits", doc: `{"n":123456789012345678901234567890,"m":18446744073709551615,"ok":9223372036854775807}`,
			main: `{"ok":9223372036854775807}`, aux: `{"n":"123456789012345678901234567890","m":"18446744073709551615"}`, full: true},
		{name: "inexact decimal", doc: `{"d":0.1000000000000000055511151231257827,"e":0.1,"f":1e400}`,
			main: `{"e":0.1}`, aux: `{"d":"0.1000000000000000055511151231257827","f":"1e400"}`, full: true},
		{name: "long string", doc: `{"s":"` + long + `","t":"short"}`, main: `{"t":"short"}`, aux: `{"s":"` + long + `"}`, full: true},
		{name: "forbidden keys", doc: `{"a.b":1,"a[0]":2,"t\tab":3,"":4,"_x":5}`, main: `{"":4,"_x":5}`, aux: `{"a.b":1,"a[0]":2,"t\tab":3}`, full: true},
		{name: "mixed array", doc: `{"m":[1,"a",true],"o":[{"x":1},2],"n":[[1],["a"]],"ok":[[1],[2]]}`,
			main: `{"ok":[[1],[2]]}`, aux: `{"m":[1,"a",true],"o":[{"x":1},2],"n":[[1],["a"]]}`, full: true},
		{name: "objects in an array must agree", doc: `{"o":[{"x":1},{"x":"s"}],"p":[{"x":1},{"y":"s"}]}`,
			main: `{"p":[{"x":1},{"y":"s"}]}`, aux: `{"o":[{"x":1},{"x":"s"}]}`, full: true},
		{name: "too deep", doc: `{"a":1,"deep":` + deep + `}`, main: `{"a":1,"deep":` + strings.Repeat(`{"d":`, 48) + `{}` + strings.Repeat(`}`, 48) + `}`,
			aux: `{"deep":` + strings.Repeat(`{"d":`, 48) + `{"d":` + strings.Repeat(`{"d":`, 11) + `1` + strings.Repeat(`}`, 11) + `}` + strings.Repeat(`}`, 48) + `}`, full: true},
		{name: "conflicts with existing columns", columns: [][2]string{{"payload['a']", "bigint"}, {"payload['b']", "text"}, {"payload['c']", "bigint_array"},
			{"payload['d']", "object"}, {"payload['d']['e']", "boolean"}, {"payload['h']", "double precision"}, {"payload['u']", "undefined"}},
			doc:  `{"a":"x","b":2,"c":[1.5],"d":{"e":1,"f":2},"h":3,"u":"now text"}`,
			main: `{"d":{"f":2},"h":3,"u":"now text"}`, aux: `{"a":"x","b":2,"c":[1.5],"d":{"e":1}}`, full: true},
		{name: "exact values of other token types fit", columns: [][2]string{{"payload['a']", "bigint"}, {"payload['h']", "double precision"}, {"payload['i']", "integer"}},
			doc: `{"a":2.0,"h":9007199254740993,"i":2147483648}`, main: `{"a":2.0}`, aux: `{"h":9007199254740993,"i":2147483648}`, full: true},
		{name: "types agree within one record", doc: `{"o":{"x":1},"p":[{"x":1}]}`, main: `{"o":{"x":1},"p":[{"x":1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols := &Columns{}
			for _, c := range tt.columns {
				if !cols.AddColumn(c[0], c[1]) {
					t.Fatalf("AddColumn(%q)", c[0])
				}
			}
			res, err := CrateDB.Split([]byte(tt.doc), cols, Fit)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Main) != tt.main {
				t.Errorf("main\n got %s\nwant %s", res.Main, tt.main)
			}
			if (tt.aux == "" && res.Aux != nil) || (tt.aux != "" && string(res.Aux) != tt.aux) {
				t.Errorf("aux\n got %s\nwant %s", res.Aux, tt.aux)
			}
			if (res.Full != nil) != tt.full {
				t.Errorf("full = %s, want set: %v", res.Full, tt.full)
			}
		})
	}
}

func TestSplitLaterRecordsAgreeWithEarlierOnes(t *testing.T) {
	cols := &Columns{}
	first, err := CrateDB.Split([]byte(`{"a":1,"b":{"c":"x"}}`), cols, Fit)
	if err != nil || first.Aux != nil {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := CrateDB.Split([]byte(`{"a":"one","b":{"c":2,"d":true}}`), cols, Fit)
	if err != nil {
		t.Fatal(err)
	}
	if string(second.Main) != `{"b":{"d":true}}` || string(second.Aux) != `{"a":"one","b":{"c":2}}` {
		t.Errorf("second: main %s aux %s", second.Main, second.Aux)
	}
	if cols.Len() != 4 {
		t.Errorf("columns known: %d, want 4 (a, b, b.c, b.d)", cols.Len())
	}
}

func TestSplitModes(t *testing.T) {
	cols := &Columns{}
	cols.AddColumn("payload['a']", "bigint")
	known, _ := CrateDB.Split([]byte(`{"a":1,"new":2}`), cols, KnownOnly)
	if string(known.Main) != `{"a":1}` || string(known.Aux) != `{"new":2}` {
		t.Errorf("KnownOnly: %s %s", known.Main, known.Aux)
	}
	all, _ := CrateDB.Split([]byte(`{"a":1,"big":1e999}`), cols, AuxOnly)
	if string(all.Main) != `{}` || string(all.Aux) != `{"a":1,"big":"1e999"}` || string(all.Full) != `{"a":1,"big":1e999}` {
		t.Errorf("AuxOnly: %s %s %s", all.Main, all.Aux, all.Full)
	}
}

func TestSplitPostgreSQL(t *testing.T) {
	tests := []struct{ doc, main, aux string }{
		{`{"a":"x\u00e9","b":123456789012345678901234567890,"c":[1,"a"],"d.e":{"f[0]":1}}`, `{"a":"x\u00e9","b":123456789012345678901234567890,"c":[1,"a"],"d.e":{"f[0]":1}}`, ""},
		{`{"nul":"a\u0000b","ok":1,"lone":"\ud800","pair":"\ud83d\ude00","n":{"x":"\u0000"}}`, `{"ok":1,"pair":"\ud83d\ude00","n":{}}`,
			`{"nul":"\"a\\u0000b\"","lone":"\"\\ud800\"","n":{"x":"\"\\u0000\""}}`},
		{`{"huge":1e999999,"k\u0000":1}`, `{}`, `{"huge":"1e999999"}`},
	}
	for _, tt := range tests {
		res, err := PostgreSQL.Split([]byte(tt.doc), nil, Fit)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Main) != tt.main || string(res.Aux) != tt.aux {
			t.Errorf("%s:\n main %s\n  aux %s\nwant %s\n  aux %s", tt.doc, res.Main, res.Aux, tt.main, tt.aux)
		}
		if tt.aux != "" && string(res.Full) != tt.doc {
			t.Errorf("full %s", res.Full)
		}
	}
}

func TestSubscriptPath(t *testing.T) {
	for name, want := range map[string]string{"payload": "", "payload['a']": "a", "payload['a']['it''s']": "a|it's", "p['x.y']['[']": "x.y|["} {
		path, ok := subscriptPath(name)
		if !ok || strings.Join(path, "|") != want {
			t.Errorf("%s: %q %v", name, path, ok)
		}
	}
	if _, ok := subscriptPath("p['a"); ok {
		t.Error("unterminated subscript accepted")
	}
}
