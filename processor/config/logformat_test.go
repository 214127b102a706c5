package config

import (
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logtext"
)

// TestLogFormat: text by default (what tail -F shows people), json on
// request, the environment over the file as for every sink.* key.
func TestLogFormat(t *testing.T) {
	tests := []struct {
		name, file string
		env        []string
		want       string
		invalid    bool
	}{
		{name: "default", want: logtext.FormatText},
		{name: "file", file: "json", want: logtext.FormatJSON},
		{name: "any case", file: "JSON", want: logtext.FormatJSON},
		{name: "environment over file", file: "json", env: []string{"SINK_LOG_FORMAT=text"}, want: logtext.FormatText},
		{name: "environment alone", env: []string{"SINK_LOG_FORMAT=json"}, want: logtext.FormatJSON},
		{name: "unknown", file: "logfmt", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Properties{"sink.mode": "discard"}
			if tt.file != "" {
				p["sink.logFormat"] = tt.file
			}
			s, err := FromProperties(p, tt.env)
			if tt.invalid {
				if !IsInvalid(err) || err.Error() != `invalid setting sink.logFormat = "logfmt": must be one of text, json` {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil || s.LogFormat != tt.want {
				t.Fatalf("LogFormat %q, %v; want %q", s.LogFormat, err, tt.want)
			}
		})
	}
	if got := EnvName("sink.logFormat"); got != "SINK_LOG_FORMAT" {
		t.Errorf("EnvName = %q", got)
	}
}
