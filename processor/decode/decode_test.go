package decode

import (
	"errors"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"object passes through", `{"a":1}`, `{"a":1}`, ""},
		{"big integers keep their digits", ` {"n":18446744073709551617,"m":9007199254740993} `, `{"n":18446744073709551617,"m":9007199254740993}`, ""},
		{"array is wrapped", `[1,2]`, `{"value":[1,2]}`, ""},
		{"scalar is wrapped", `"text"`, `{"value":"text"}`, ""},
		{"unicode", `{"k":"äöü 😀"}`, `{"k":"äöü 😀"}`, ""},
		{"empty", ``, "", "empty payload"},
		{"blank", "  \n", "", "empty payload"},
		{"not json", `hello`, "", "not JSON"},
		{"truncated", `{"a":`, "", "not JSON"},
		{"invalid utf-8", "{\"a\":\"\xff\"}", "", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSON{}.Decode([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
	if _, err := (JSON{}).Decode(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("nil payload: %v", err)
	}
}

func TestRaw(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain <text> & more", `{"text":"plain <text> & more"}`},
		{"", `{"text":""}`},
		{"\xff\x00", `{"base64":"/wA="}`},
	}
	for _, tt := range tests {
		got, err := Raw{}.Decode([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Raw(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, f := range []string{"json", "raw", ""} {
		if _, err := New(f); err != nil {
			t.Errorf("New(%q): %v", f, err)
		}
	}
	if _, err := New("xml"); err == nil {
		t.Error("New(xml) succeeded")
	}
}

func BenchmarkJSON1KB(b *testing.B) {
	payload := []byte(`{"id":123456789,"name":"` + strings.Repeat("x", 950) + `","nested":{"a":[1,2,3]},"ok":true}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := (JSON{}).Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}
