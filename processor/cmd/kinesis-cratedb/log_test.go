package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// TestLogFile runs the built child for one shard under daemonsim (discard
// mode, no database) and reads the log it leaves: text lines by default,
// zerolog's JSON with SINK_LOG_FORMAT=json, the file not world-readable.
func TestLogFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := testenv.Build(".", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	textLine := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR|DEBUG) (shardId-000000000007|-) \S.* pid=\d+$`)
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, line string)
	}{
		{"text by default", nil, func(t *testing.T, line string) {
			if !textLine.MatchString(line) {
				t.Errorf("not a text line: %q", line)
			}
		}},
		{"json on request", []string{"SINK_LOG_FORMAT=json"}, func(t *testing.T, line string) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["message"] == nil {
				t.Errorf("not a zerolog JSON line: %q (%v)", line, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			props := filepath.Join(dir, "child.properties")
			logPath := filepath.Join(dir, "record_processor.log")
			if err := os.WriteFile(props, []byte("sink.mode = discard\nsink.logFile = "+logPath+"\nsink.logLevel = debug\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := append(os.Environ(), tt.env...)
			child, err := daemonsim.Start(ctx, []string{bin, "--properties", props}, env, dir)
			if err != nil {
				t.Fatal(err)
			}
			seq := "TRIM_HORIZON"
			if err := child.Initialize(ctx, "shardId-000000000007", &seq, nil); err != nil {
				t.Fatal(err)
			}
			records := []daemonsim.Record{{Data: []byte(`{"a":"x y"}`), PartitionKey: "k", SequenceNumber: "1"}}
			if err := child.ProcessRecords(ctx, records, nil); err != nil {
				t.Fatal(err)
			}
			if err := child.ShutdownRequested(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := child.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) < 3 {
				t.Fatalf("only %d lines:\n%s", len(lines), b)
			}
			for _, line := range lines {
				tt.check(t, line)
			}
			info, err := os.Stat(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm&^0o640 != 0 {
				t.Errorf("log file mode %v, want at most 0640", perm)
			}
		})
	}
}
