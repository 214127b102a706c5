package jsontext

import "testing"

func TestNumberEnd(t *testing.T) {
	tests := []struct {
		in   string
		end  int
		good bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"123,", 3, true}, {"1.25]", 4, true}, {"-1.5e-3}", 7, true}, {"2E+10", 5, true},
		{"01", 1, true}, // a number ends after the 0; the caller rejects what follows
		{"-", 1, false}, {"1.", 1, false}, {".5", 0, false}, {"1e", 2, false}, {"1e+", 3, false}, {"+1", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		end, ok := NumberEnd([]byte(tt.in), 0)
		if ok != tt.good || (ok && end != tt.end) {
			t.Errorf("NumberEnd(%q) = %d, %v; want %d, %v", tt.in, end, ok, tt.end, tt.good)
		}
	}
}
