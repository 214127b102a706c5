package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseProperties(t *testing.T) {
	text := "# comment\n! also a comment\n\n" +
		"executableName = bin/kinesis-cratedb --properties x.properties\n" +
		"streamName:demo\n" +
		"applicationName demo-app\n" +
		"   indented = yes  \n" +
		"multi = one, \\\n    two\n" +
		"escaped\\ key = tab\\there \\u00e9\n" +
		"latin1 = caf\xe9\n" +
		"empty =\n" +
		"sink.table = doc.events\r\n"
	props, err := ParseProperties(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"executableName":  "bin/kinesis-cratedb --properties x.properties",
		"streamName":      "demo",
		"applicationName": "demo-app",
		"indented":        "yes  ",
		"multi":           "one, two",
		"escaped key":     "tab\there é",
		"latin1":          "café",
		"empty":           "",
		"sink.table":      "doc.events",
	}
	for k, v := range want {
		if got, ok := props[k]; !ok || got != v {
			t.Errorf("%q = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(props) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(props), len(want), props)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"sink.databaseUrl":              "SINK_DATABASE_URL",
		"sink.table":                    "SINK_TABLE",
		"sink.checkpointIntervalMillis": "SINK_CHECKPOINT_INTERVAL_MILLIS",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestFromProperties(t *testing.T) {
	props := Properties{
		"sink.databaseUrl": "postgres://file", "sink.table": "doc.t", "sink.format": "RAW",
		"sink.checkpointIntervalMillis": "2500", "sink.logLevel": "debug", "timeoutInSeconds": "100",
	}
	s, err := FromProperties(props, []string{"SINK_DATABASE_URL=postgres://env", "SINK_CREATE_TABLES=false"})
	if err != nil {
		t.Fatal(err)
	}
	if s.DatabaseURL != "postgres://env" || s.Table != "doc.t" || s.Format != FormatRaw || s.CreateTables ||
		s.CheckpointInterval != 2500*time.Millisecond || s.LogLevel.String() != "debug" || s.RetryMaxWait != 75*time.Second {
		t.Fatalf("unexpected settings %+v", s)
	}
	s, err = FromProperties(Properties{}, []string{"DATABASE_URL=postgres://alias"})
	if err != nil || s.DatabaseURL != "postgres://alias" || s.Mode != ModeWrite || s.Format != FormatJSON || s.RetryMaxWait != 0 {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
}

func TestInvalidSettingsNameTheKey(t *testing.T) {
	base := func() Properties { return Properties{"sink.databaseUrl": "postgres://x"} }
	tests := []struct {
		name    string
		set     map[string]string
		wantKey string
	}{
		{"no url", map[string]string{"sink.databaseUrl": ""}, "sink.databaseUrl"},
		{"bad format", map[string]string{"sink.format": "xml"}, "sink.format"},
		{"bad policy", map[string]string{"sink.objectPolicy": "strict"}, "sink.objectPolicy"},
		{"bad bool", map[string]string{"sink.createTables": "maybe"}, "sink.createTables"},
		{"bad number", map[string]string{"sink.batchMaxRecords": "lots"}, "sink.batchMaxRecords"},
		{"out of range", map[string]string{"sink.batchMaxRecords": "0"}, "sink.batchMaxRecords"},
		{"bad level", map[string]string{"sink.logLevel": "loud"}, "sink.logLevel"},
		{"backoff order", map[string]string{"sink.retryInitialBackoffMillis": "5000", "sink.retryMaxBackoffMillis": "100"}, "sink.retryMaxBackoffMillis"},
		{"wait beyond daemon timeout", map[string]string{"timeoutInSeconds": "60", "sink.retryMaxWaitMillis": "59000"}, "sink.retryMaxWaitMillis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			for k, v := range tt.set {
				p[k] = v
			}
			_, err := FromProperties(p, nil)
			if !IsInvalid(err) || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("error %v, want one naming %s", err, tt.wantKey)
			}
		})
	}
}
