package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// With KCL_BENCH_TEST_CHILD set the test binary is the child under test.
func TestMain(m *testing.M) {
	switch os.Getenv("KCL_BENCH_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "garbage":
		fmt.Println("debug output on stdout")
	}
	if err := nullChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(config) bool
	}{
		{args: []string{"--records", "10", "--", "python3", "proc.py", "--x"}, check: func(c config) bool {
			return c.records == 10 && strings.Join(c.child, " ") == "python3 proc.py --x" && c.name == "python3" && c.batch == 10000
		}},
		{args: []string{"--name", "ours", "--", "bin/child"}, check: func(c config) bool { return c.name == "ours" }},
		{args: []string{"--records", "5"}, wantErr: "no child command"},
		{args: []string{"--batch", "0", "--", "x"}, wantErr: "must be positive"},
		{args: []string{"--bogus", "--", "x"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("cfg %+v err %v", cfg, err)
			}
		})
	}
}

func TestLatencies(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		in   []time.Duration
		want Latencies
	}{
		{nil, Latencies{}},
		{ms(7), Latencies{7, 7, 7}},
		{ms(5, 1, 4, 2, 3), Latencies{3, 5, 5}},
		{append(ms(100), ms(ones(99)...)...), Latencies{1, 1, 100}}, // p99 of 100 values is the 99th
	}
	for _, tt := range tests {
		if got := latencies(tt.in); got != tt.want {
			t.Errorf("latencies(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func ones(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func testConfig(t *testing.T, mode string) config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KCL_BENCH_TEST_CHILD", mode)
	return config{name: mode, records: 2500, size: 300, batch: 1000, seed: 3, shard: "shardId-000000000007",
		timeout: time.Minute, exitWait: 5 * time.Second, child: []string{exe}}
}

func TestRunAgainstNullChild(t *testing.T) {
	cfg := testConfig(t, "null")
	cfg.jsonOut = filepath.Join(t.TempDir(), "out.json")
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 3 || res.Records != 2500 || res.Violations != 0 || res.ExitCode != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.InputBytes < 2500*400 || res.RecordsPerSec <= 0 || res.LatencyMs.Max < res.LatencyMs.P50 || res.PeakRSSMiB <= 0 {
		t.Fatalf("implausible measurements %+v", res)
	}
	if res.Checkpoints != 0 || res.CheckpointAtEnd {
		t.Fatalf("the null child never checkpoints: %+v", res)
	}
	if err := writeJSON(cfg.jsonOut, res); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	b, _ := os.ReadFile(cfg.jsonOut)
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	// report.py reads these keys.
	for _, k := range []string{"name", "records", "records_per_s", "mb_per_s", "batch_latency_ms", "child_peak_rss_mib",
		"child_cpu_s", "checkpoints", "checkpoint_at_end", "violations", "batch_size", "record_size"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON result lacks %q", k)
		}
	}
}

func TestRunCountsStdoutGarbage(t *testing.T) {
	res, err := run(context.Background(), testConfig(t, "garbage"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Violations != 1 || !strings.Contains(res.ViolationLines[0], "debug output on stdout") {
		t.Fatalf("violations %d %q, want the printed line", res.Violations, res.ViolationLines)
	}
}

// The generated change stream is what the dynamodb-cdc decoder takes: every
// record decodes, the mix has all three event kinds, and records are about
// the requested size.
func TestDynamoChangeStreamDecodes(t *testing.T) {
	records, err := daemonsim.Generator{Seed: 7, Size: 1024}.Records(3000)
	if err != nil {
		t.Fatal(err)
	}
	dynamoChangeStream(records, 7, 1024)
	keys, err := cdc.ParseDynamoKeys(CDCKeys)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := cdc.NewDynamoDB("bench", keys, nil, cdc.Base64)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, r := range records {
		if len(r.Data) < 900 || len(r.Data) > 1200 {
			t.Fatalf("record %d: %d bytes", i, len(r.Data))
		}
		ev, err := dec.Decode(record.Source{ShardID: "s", SequenceNumber: r.SequenceNumber, Data: r.Data})
		if err != nil || ev.Change == nil {
			t.Fatalf("record %d: %v (%+v)\n%s", i, err, ev, r.Data)
		}
		var head struct{ EventName string }
		if err := json.Unmarshal(r.Data, &head); err != nil {
			t.Fatal(err)
		}
		kinds[head.EventName]++
	}
	if kinds["INSERT"] == 0 || kinds["MODIFY"] == 0 || kinds["REMOVE"] == 0 {
		t.Fatalf("event kinds %v", kinds)
	}
}
