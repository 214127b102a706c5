package cdc

import "testing"

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		kind NumberKind
		json string
		text string
	}{
		{"1", Int, "1", "1"},
		{"-0", Int, "0", "0"},
		{"0.000", Int, "0", "0"},
		{"100.0", Int, "100", "100"},
		{"1E+2", Int, "100", "100"},
		{"+007", Int, "7", "7"},
		{"9223372036854775807", Int, "9223372036854775807", "9223372036854775807"},
		{"-9223372036854775808", Int, "-9223372036854775808", "-9223372036854775808"},
		{"84.84", Float, "84.84", "84.84"},
		{"0.1", Float, "0.1", "0.1"},
		{"-1.5e-7", Float, "-1.5e-07", "-0.00000015"},
		{"1e20", Float, "1e+20", "100000000000000000000"},
		{"6.02214076E23", Float, "6.02214076e+23", "602214076000000000000000"},
		// One past int64 and not a float64 either: kept as exact text.
		{"9223372036854775808", Big, `"9223372036854775808"`, "9223372036854775808"},
		{"12345678901234567890", Big, `"12345678901234567890"`, "12345678901234567890"},
		// 38 significant digits, DynamoDB's maximum precision.
		{"3.1415926535897932384626433832795028841", Big, `"3.1415926535897932384626433832795028841"`, "3.1415926535897932384626433832795028841"},
		{"0.30000000000000004", Float, "0.30000000000000004", "0.30000000000000004"},
		{"0.300000000000000001", Big, `"0.300000000000000001"`, "0.300000000000000001"},
		{"1E-130", Float, "1e-130", "0." + zeros(129) + "1"},
		{"9.9999999999999999999999999999999999999E+125", Big, `"99999999999999999999999999999999999999` + zeros(88) + `"`, "99999999999999999999999999999999999999" + zeros(88)},
	}
	for _, tt := range tests {
		n, ok := ParseNumber(tt.in)
		if !ok {
			t.Errorf("ParseNumber(%q) failed", tt.in)
			continue
		}
		if n.Kind != tt.kind || string(n.AppendJSON(nil)) != tt.json || n.Text != tt.text {
			t.Errorf("ParseNumber(%q) = %s %s %q, want %s %s %q", tt.in, n.Kind, n.AppendJSON(nil), n.Text, tt.kind, tt.json, tt.text)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e", "1e+", "abc", "1.2.3", "0x10", "1 ", "NaN", "Infinity", "1e999999"} {
		if _, ok := ParseNumber(bad); ok {
			t.Errorf("ParseNumber(%q) accepted", bad)
		}
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestStringEnd(t *testing.T) {
	for _, tt := range []struct {
		in  string
		end int
	}{
		{`"abc",`, 5},
		{`"a\"b",`, 6},
		{`"a\\",`, 5},
		{`"a\\\"",`, 7},
		{`""`, 2},
	} {
		end, err := stringEnd([]byte(tt.in), 0)
		if err != nil || end != tt.end {
			t.Errorf("stringEnd(%s) = %d, %v; want %d", tt.in, end, err, tt.end)
		}
	}
	if _, err := stringEnd([]byte(`"abc\"`), 0); err == nil {
		t.Error("unterminated string accepted")
	}
}
