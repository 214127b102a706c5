package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePropertyEntriesLines(t *testing.T) {
	tests := []struct {
		name, text string
		want       []Entry
	}{
		{"plain", "a = 1\nb = 2\n", []Entry{{"a", "1", 1}, {"b", "2", 2}}},
		{"comments and blanks before", "# c\n\n! c\nkey = v\n", []Entry{{"key", "v", 4}}},
		{"continuation starts at its first line", "x = 1\nmulti = a, \\\n  b\ny = 2", []Entry{{"x", "1", 1}, {"multi", "a, b", 2}, {"y", "2", 4}}},
		{"repeated keys kept in order", "k = 1\nk = 2\n", []Entry{{"k", "1", 1}, {"k", "2", 2}}},
		{"CRLF", "a = 1\r\n\r\nb = 2\r\n", []Entry{{"a", "1", 1}, {"b", "2", 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePropertyEntries(strings.NewReader(tt.text))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := ParsePropertyEntries(strings.NewReader("# c\nbad = \\u12\n")); err == nil || !strings.HasPrefix(err.Error(), "line 2:") {
		t.Errorf("malformed escape: %v, want it on line 2", err)
	}
}
