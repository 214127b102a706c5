package decode

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [1, 2.0, {"b": null}] } `,
		`{"esc":"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"}`, `"\u12"`, `"\x"`, "\"a\tb\"", `01`, `1.`, `.5`, `1e`, `-`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{a:1}`, `[1 2]`, `tru`, `nul`, `"unterminated`, `{"a":1}x`, ``, ` `,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b":null}]}`, `"\u00e9"`, `-1.5E+10`, `[true,false]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}
