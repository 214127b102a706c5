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
		{"out of range", map[string]string{"sink.batchMaxRecords": "-1"}, "sink.batchMaxRecords"},
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

// TestDatabaseURLSources pins the precedence SINK_DATABASE_URL >
// sink.databaseUrl > DATABASE_URL, and that no source is overridden
// silently: a differing lower source is a warning naming both, and
// DATABASE_URL against the properties file, with nothing to decide, is an
// error naming both.
func TestDatabaseURLSources(t *testing.T) {
	const file, sinkEnv, generic = "postgres://u:secret1@file/db", "postgres://u:secret2@sink/db", "postgres://u:secret3@generic/db"
	tests := []struct {
		name     string
		file     string
		env      []string
		want     string
		warnings []string // substrings of the one warning
		errorHas []string
	}{
		{name: "file only", file: file, want: file},
		{name: "generic only", env: []string{"DATABASE_URL=" + generic}, want: generic},
		{name: "sink env only", env: []string{"SINK_DATABASE_URL=" + sinkEnv}, want: sinkEnv},
		{name: "same everywhere", file: file, env: []string{"SINK_DATABASE_URL=" + file, "DATABASE_URL=" + file}, want: file},
		{name: "sink env over file", file: file, env: []string{"SINK_DATABASE_URL=" + sinkEnv}, want: sinkEnv,
			warnings: []string{"SINK_DATABASE_URL = postgres://u:xxxxx@sink/db", "sink.databaseUrl = postgres://u:xxxxx@file/db in the properties file"}},
		{name: "sink env over both", file: file, env: []string{"SINK_DATABASE_URL=" + sinkEnv, "DATABASE_URL=" + generic}, want: sinkEnv,
			warnings: []string{"SINK_DATABASE_URL", "sink.databaseUrl", "DATABASE_URL = postgres://u:xxxxx@generic/db"}},
		{name: "sink env over generic", env: []string{"SINK_DATABASE_URL=" + sinkEnv, "DATABASE_URL=" + generic}, want: sinkEnv,
			warnings: []string{"SINK_DATABASE_URL", "overrides DATABASE_URL"}},
		{name: "generic against file", file: file, env: []string{"DATABASE_URL=" + generic},
			errorHas: []string{"sink.databaseUrl", "postgres://u:xxxxx@file/db", "DATABASE_URL = postgres://u:xxxxx@generic/db", "SINK_DATABASE_URL"}},
		{name: "generic equal to file", file: file, env: []string{"DATABASE_URL=" + file}, want: file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := Properties{}
			if tt.file != "" {
				props["sink.databaseUrl"] = tt.file
			}
			s, err := FromProperties(props, tt.env)
			if tt.errorHas != nil {
				if !IsInvalid(err) {
					t.Fatalf("error %v, want an invalid setting", err)
				}
				for _, sub := range tt.errorHas {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not name %q", err, sub)
					}
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows a password: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.DatabaseURL != tt.want {
				t.Errorf("DatabaseURL %q, want %q", s.DatabaseURL, tt.want)
			}
			if len(tt.warnings) == 0 {
				if len(s.Warnings) != 0 {
					t.Errorf("unexpected warnings %q", s.Warnings)
				}
				return
			}
			if len(s.Warnings) != 1 {
				t.Fatalf("warnings %q, want one", s.Warnings)
			}
			for _, sub := range tt.warnings {
				if !strings.Contains(s.Warnings[0], sub) {
					t.Errorf("warning %q does not name %q", s.Warnings[0], sub)
				}
			}
			if strings.Contains(s.Warnings[0], "secret") {
				t.Errorf("warning shows a password: %q", s.Warnings[0])
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://crate@127.0.0.1:5432/doc":             "postgres://crate@127.0.0.1:5432/doc",
		"postgres://admin:s3cret@host:5432/doc?sslmode=1": "postgres://admin:xxxxx@host:5432/doc?sslmode=1",
		"host=h user=u password=s3cret dbname=d":          "host=h user=u password=xxxxx dbname=d",
		"host=h password='with space' dbname=d":           "host=h password=xxxxx dbname=d",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHidePassword(t *testing.T) {
	tests := []struct{ text, dsn, want string }{
		{"connect postgres://u:s3cr%2Ft@h/db: refused", "postgres://u:s3cr%2Ft@h/db", "connect postgres://u:xxxxx@h/db: refused"},
		{"auth failed for s3cr/t (s3cr%2Ft)", "postgres://u:s3cr%2Ft@h/db", "auth failed for xxxxx (xxxxx)"},
		{"no secret here", "postgres://u@h/db", "no secret here"},
		{"password=hunter2 rejected", "host=h user=u password=hunter2", "password=xxxxx rejected"},
		{"'hunter 2' rejected", "host=h password='hunter 2'", "'xxxxx' rejected"},
	}
	for _, tt := range tests {
		if got := HidePassword(tt.text, tt.dsn); got != tt.want {
			t.Errorf("HidePassword(%q, %q) = %q, want %q", tt.text, tt.dsn, got, tt.want)
		}
	}
}
