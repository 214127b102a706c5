package main

import (
	"strings"
	"testing"
	"time"
)

// withDefaults fills in the flags' defaults where want leaves them zero;
// -1 stands for a zero that was asked for.
func withDefaults(want invocation) invocation {
	set := func(d *time.Duration, def time.Duration) {
		switch *d {
		case 0:
			*d = def
		case -1:
			*d = 0
		}
	}
	set(&want.interval, 2*time.Second)
	set(&want.stale, 5*time.Minute)
	if want.listen == "" {
		want.listen = "127.0.0.1:9108"
	}
	return want
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want invocation
		code int
		ok   bool
		says string // a part of what stderr must say
	}{
		{"child", []string{"--properties", "p"}, invocation{command: "child", properties: "p"}, 0, true, ""},
		{"check", []string{"check", "--properties", "p"}, invocation{command: "check", properties: "p"}, 0, true, ""},
		{"replay one shard", []string{"replay", "--properties", "p", "--shard", "s"}, invocation{command: "replay", properties: "p", shard: "s"}, 0, true, ""},
		{"help lists every command", []string{"-h"}, invocation{command: "child"}, 0, false, "replay    --properties FILE [--shard ID]"},
		{"unknown command", []string{"chek", "--properties", "p"}, invocation{command: "chek"}, exitUsage, false, `unknown command "chek"`},
		{"stray argument", []string{"--properties", "p", "extra"}, invocation{command: "child", properties: "p"}, exitUsage, false, `unexpected argument "extra"`},
		{"unknown flag", []string{"--propertis", "p"}, invocation{command: "child"}, exitUsage, false, "flag provided but not defined"},
		{"backfill", []string{"backfill", "--properties", "p", "--dynamodb-table", "orders", "--segments", "8", "--page-size", "100", "--restart"},
			invocation{command: "backfill", properties: "p", backfill: backfillArgs{table: "orders", segments: 8, pageSize: 100, restart: true}}, 0, true, ""},
		{"backfill dry run", []string{"backfill", "--properties", "p", "--dynamodb-table", "orders", "--dry-run"},
			invocation{command: "backfill", properties: "p", dryRun: true, backfill: backfillArgs{table: "orders"}}, 0, true, ""},
		{"backfill without a table", []string{"backfill", "--properties", "p"}, invocation{command: "backfill", properties: "p"}, exitUsage, false, "backfill needs --dynamodb-table"},
		{"backfill flags elsewhere", []string{"check", "--properties", "p", "--restart", "--dynamodb-table", "t"},
			invocation{command: "check", properties: "p", backfill: backfillArgs{table: "t", restart: true}}, exitUsage, false, "--dynamodb-table, --restart belong(s) to backfill"},
		{"retention dry run", []string{"retention", "--properties", "p", "--dry-run"}, invocation{command: "retention", properties: "p", dryRun: true}, 0, true, ""},
		{"dry run outside retention", []string{"replay", "--properties", "p", "--dry-run"}, invocation{command: "replay", properties: "p", dryRun: true}, exitUsage, false, "--dry-run belongs to retention and backfill"},
		{"shard outside replay", []string{"check", "--properties", "p", "--shard", "s"}, invocation{command: "check", properties: "p", shard: "s"}, exitUsage, false, "--shard belongs to replay"},
		{"status", []string{"status", "--properties", "p"}, invocation{command: "status", properties: "p"}, 0, true, ""},
		{"status watched, thresholds", []string{"status", "--properties", "p", "--watch", "--interval", "5s", "--stale", "2m", "--max-behind", "60s"},
			invocation{command: "status", properties: "p", watch: true, interval: 5 * time.Second, stale: 2 * time.Minute, maxBehind: time.Minute}, 0, true, ""},
		{"stale 0: never", []string{"status", "--properties", "p", "--stale", "0"}, invocation{command: "status", properties: "p", stale: -1}, 0, true, ""},
		{"exporter", []string{"exporter", "--properties", "p", "--listen", "127.0.0.1:0", "--stale", "1m"},
			invocation{command: "exporter", properties: "p", listen: "127.0.0.1:0", stale: time.Minute}, 0, true, ""},
		{"listen outside the exporter", []string{"status", "--properties", "p", "--listen", ":1"}, invocation{command: "status", properties: "p", listen: ":1"}, exitUsage, false, "--listen belongs to exporter"},
		{"watch outside status", []string{"exporter", "--properties", "p", "--watch"}, invocation{command: "exporter", properties: "p", watch: true}, exitUsage, false, "--watch belongs to status"},
		{"thresholds outside status and the exporter", []string{"check", "--properties", "p", "--stale", "1m"}, invocation{command: "check", properties: "p", stale: time.Minute},
			exitUsage, false, "--stale belongs to status and exporter"},
		{"a zero interval", []string{"status", "--properties", "p", "--watch", "--interval", "0s"}, invocation{command: "status", properties: "p", watch: true, interval: -1},
			exitUsage, false, "--interval must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			got, code, ok := parseArgs(tt.args, &stderr)
			tt.want = withDefaults(tt.want)
			if got != tt.want || code != tt.code || ok != tt.ok {
				t.Fatalf("parseArgs(%q) = %+v, %d, %v; want %+v, %d, %v", tt.args, got, code, ok, tt.want, tt.code, tt.ok)
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Fatalf("stderr %q does not say %q", stderr.String(), tt.says)
			}
		})
	}
}
