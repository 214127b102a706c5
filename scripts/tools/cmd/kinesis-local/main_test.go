package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

func TestRunRejectsBadArguments(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"create-stream"}, "--stream is required"},
		{[]string{"split", "--stream", "s"}, "--shard is required"},
		{[]string{"merge", "--stream", "s", "--shard", "a"}, "--adjacent is required"},
		{[]string{"leases"}, "--table is required"},
		{[]string{"shards", "--stream", "s", "extra"}, "unexpected arguments"},
		{[]string{"create-stream", "--bogus"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		err := run(t.Context(), tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("run(%q) = %v, want error with %q", tt.args, err, tt.err)
		}
	}
}

// TestCommands drives the subcommands the Makefile and README use against the
// emulators of scripts/stack.sh.
func TestCommands(t *testing.T) {
	kinesis, dynamo := os.Getenv("KINESIS_ENDPOINT"), os.Getenv("DYNAMODB_ENDPOINT")
	if kinesis == "" || dynamo == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KINESIS_ENDPOINT and DYNAMODB_ENDPOINT must be set under CI")
		}
		t.Skip("KINESIS_ENDPOINT / DYNAMODB_ENDPOINT unset; run sh scripts/stack.sh start")
	}
	name := fmt.Sprintf("cmd-test-%d", time.Now().UnixNano())
	eps := []string{"--kinesis-endpoint", kinesis, "--dynamodb-endpoint", dynamo}
	do := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(t.Context(), append(args, eps...), &out); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return out.String()
	}
	do("create-stream", "--stream", name, "--shards", "2")
	defer do("delete-stream", "--stream", name)
	do("create-lease-table", "--table", name, "--seed-leases", name)
	defer do("delete-lease-table", "--table", name)

	if got := do("split", "--stream", name, "--shard", "shardId-000000000001"); got != "shardId-000000000002 shardId-000000000003\n" {
		t.Errorf("split printed %q", got)
	}
	if got := do("merge", "--stream", name, "--shard", "shardId-000000000002", "--adjacent", "shardId-000000000003"); got != "shardId-000000000004\n" {
		t.Errorf("merge printed %q", got)
	}
	shards := do("shards", "--stream", name)
	if n := strings.Count(shards, "\n"); n != 6 || strings.Count(shards, " open ") != 2 {
		t.Errorf("shards printed %d lines, want header + 5 with 2 open:\n%s", n, shards)
	}
	want := "shardId-000000000000\t-\tTRIM_HORIZON\t0\nshardId-000000000001\t-\tTRIM_HORIZON\t0\n"
	if got := do("leases", "--table", name); got != want {
		t.Errorf("leases printed %q, want %q", got, want)
	}
	var leases []localaws.Lease
	if err := json.Unmarshal([]byte(do("leases", "--table", name, "--json")), &leases); err != nil || len(leases) != 2 {
		t.Errorf("leases --json: %v, %+v", err, leases)
	}
}
