package main

import (
	"strings"
	"testing"
)

func TestRunRejectsBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"--count", "x"}, "invalid value"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"--batch", "600", "--count", "1", "--endpoint", "http://127.0.0.1:1"}, "batch 600 outside"},
	}
	for _, tt := range tests {
		err := run(t.Context(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("run(%q) = %v, want error with %q", tt.args, err, tt.err)
		}
	}
}
