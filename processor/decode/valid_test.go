package decode

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
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
		if got, _ := validJSON([]byte(c)); got != json.Valid([]byte(c)) {
			t.Errorf("validJSON(%.40q) = %v, json.Valid disagrees", c, got)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b":null}]}`, `"\u00e9"`, `-1.5E+10`, `[true,false]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ascii := validJSON(b)
		if got != json.Valid(b) {
			t.Fatalf("validJSON(%q) = %v, json.Valid disagrees", b, got)
		}
		if got && ascii && !isASCII(b) {
			t.Fatalf("validJSON(%q) says ASCII", b)
		}
	})
}

func TestHasStringStop(t *testing.T) {
	naive := func(w []byte) bool {
		for _, c := range w {
			if c < 0x20 || c == '"' || c == '\\' {
				return true
			}
		}
		return false
	}
	check := func(w []byte) {
		t.Helper()
		if got, want := hasStringStop(binary.LittleEndian.Uint64(w)), naive(w); got != want {
			t.Fatalf("hasStringStop(% x) = %v, want %v", w, got, want)
		}
	}
	// Every byte value at every position, among plain ASCII, among bytes
	// that borrow (0x00 neighbours) and among high bytes.
	for _, fill := range []byte{'a', 0x00, 0x20, 0x21, 0x5d, 0x80, 0xff} {
		for pos := range 8 {
			for c := range 256 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				check(w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]byte, 8)
	for range 200000 {
		binary.LittleEndian.PutUint64(w, rng.Uint64())
		check(w)
	}
}

// TestValidJSONLongStrings puts each kind of special byte at every offset
// of strings longer than the eight-byte steps of skipPlain.
func TestValidJSONLongStrings(t *testing.T) {
	for n := range 40 {
		for pos := range n {
			for _, special := range []string{`"`, `\\`, `\n`, `\u00e9`, "\x01", "\x1f", "é", "\xff", `\`} {
				s := `{"k":"` + strings.Repeat("x", pos) + special + strings.Repeat("y", n-pos) + `"}`
				got, ascii := validJSON([]byte(s))
				if got != json.Valid([]byte(s)) {
					t.Fatalf("validJSON(%q) = %v, json.Valid disagrees", s, got)
				}
				if got && ascii != isASCII([]byte(s)) {
					t.Fatalf("validJSON(%q): ascii = %v", s, ascii)
				}
			}
		}
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c > 0x7f {
			return false
		}
	}
	return true
}
