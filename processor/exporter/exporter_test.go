package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
)

var now = time.Date(2026, 11, 30, 2, 57, 41, 0, time.UTC)

type fakeProgress struct{ rows []sink.ProgressRow }

func (f fakeProgress) Read(context.Context) (sink.ProgressSnapshot, error) {
	return sink.ProgressSnapshot{Target: "public.kinesis_events", Table: "public.kinesis_progress", Now: now, Rows: f.rows, Complete: true}, nil
}

type fakeLeases struct{}

func (fakeLeases) Leases(context.Context) ([]status.Lease, error) {
	return []status.Lease{{Key: "shardId-000000000000", Owner: "worker-a"}, {Key: "shardId-000000000001", Owner: `w"b`}}, nil
}
func (fakeLeases) Source() string { return "DynamoDB table demo-app" }

// counting is a Looker that counts its looks and can fail.
type counting struct {
	status.Reader
	looks atomic.Int32
	err   error
}

func (c *counting) Read(ctx context.Context) (status.Report, error) {
	c.looks.Add(1)
	if c.err != nil {
		return status.Report{}, c.err
	}
	return c.Reader.Read(ctx)
}

func rows(staleAge time.Duration) []sink.ProgressRow {
	return []sink.ProgressRow{
		{ShardID: "shardId-000000000000", MillisBehindLatest: 1500, RecordsWritten: 16250, DeadLettered: 3, BytesWritten: 16640000,
			UpdatedAt: now.Add(-2 * time.Second), CheckpointedAt: now.Add(-3 * time.Second),
			WriteLatency: "w1 0.734 0 3 10 2 0 0 0 0 0 0 0 0 0 0", Freshness: "f1 12.5 10 0 0 5 0 0 0 0 0 0 0 0 1"},
		{ShardID: "shardId-000000000001", MillisBehindLatest: -1, RecordsWritten: 7, UpdatedAt: now.Add(-staleAge)},
	}
}

func serve(t *testing.T, l Looker) *httptest.Server {
	srv := httptest.NewServer((&Exporter{Looker: l, HasLeases: true, Cache: time.Hour}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const wantMetrics = `# HELP kinesis_cratedb_up 1 when the progress table could be read, else 0 (and no shard series).
# TYPE kinesis_cratedb_up gauge
kinesis_cratedb_up 1
# HELP kinesis_cratedb_scrape_duration_seconds Time the exporter took to read the progress and lease tables.
# TYPE kinesis_cratedb_scrape_duration_seconds gauge
kinesis_cratedb_scrape_duration_seconds X
# HELP kinesis_cratedb_lease_table_up 1 when the KCL lease table could be read, else 0 (owners unknown).
# TYPE kinesis_cratedb_lease_table_up gauge
kinesis_cratedb_lease_table_up 1
# HELP kinesis_cratedb_shard_info 1 per shard, labelled with its lease owner ("" when unknown or nobody) and state (ok, stale, behind, ended, no lease, no progress).
# TYPE kinesis_cratedb_shard_info gauge
kinesis_cratedb_shard_info{table="public.kinesis_events",shard="shardId-000000000000",owner="worker-a",state="ok"} 1
kinesis_cratedb_shard_info{table="public.kinesis_events",shard="shardId-000000000001",owner="w\"b",state="stale"} 1
# HELP kinesis_cratedb_records_written_total Records stored in the target table (progress table, summed over the shard's processes).
# TYPE kinesis_cratedb_records_written_total counter
kinesis_cratedb_records_written_total{table="public.kinesis_events",shard="shardId-000000000000"} 16250
kinesis_cratedb_records_written_total{table="public.kinesis_events",shard="shardId-000000000001"} 7
# HELP kinesis_cratedb_bytes_written_total Kinesis data bytes of the records stored, dead letters included.
# TYPE kinesis_cratedb_bytes_written_total counter
kinesis_cratedb_bytes_written_total{table="public.kinesis_events",shard="shardId-000000000000"} 16640000
kinesis_cratedb_bytes_written_total{table="public.kinesis_events",shard="shardId-000000000001"} 0
# HELP kinesis_cratedb_dead_lettered_total Records sent to the dead-letter table.
# TYPE kinesis_cratedb_dead_lettered_total counter
kinesis_cratedb_dead_lettered_total{table="public.kinesis_events",shard="shardId-000000000000"} 3
kinesis_cratedb_dead_lettered_total{table="public.kinesis_events",shard="shardId-000000000001"} 0
# HELP kinesis_cratedb_behind_latest_seconds The last batch's millisBehindLatest, in seconds: how far the shard is behind the stream's tip.
# TYPE kinesis_cratedb_behind_latest_seconds gauge
kinesis_cratedb_behind_latest_seconds{table="public.kinesis_events",shard="shardId-000000000000"} 1.5
# HELP kinesis_cratedb_checkpoint_age_seconds Time since the shard's last checkpoint with the KCL (on a quiet shard it grows: nothing new to checkpoint).
# TYPE kinesis_cratedb_checkpoint_age_seconds gauge
kinesis_cratedb_checkpoint_age_seconds{table="public.kinesis_events",shard="shardId-000000000000"} 3
# HELP kinesis_cratedb_last_update_age_seconds Time since the shard's process last updated its progress row.
# TYPE kinesis_cratedb_last_update_age_seconds gauge
kinesis_cratedb_last_update_age_seconds{table="public.kinesis_events",shard="shardId-000000000000"} 2
kinesis_cratedb_last_update_age_seconds{table="public.kinesis_events",shard="shardId-000000000001"} 600
# HELP kinesis_cratedb_shard_stale 1 when the shard's row is older than the exporter's --stale threshold, else 0.
# TYPE kinesis_cratedb_shard_stale gauge
kinesis_cratedb_shard_stale{table="public.kinesis_events",shard="shardId-000000000000"} 0
kinesis_cratedb_shard_stale{table="public.kinesis_events",shard="shardId-000000000001"} 1
# HELP kinesis_cratedb_write_latency_seconds Time to store a batch, from its arrival at the shard's process to stored (decoding, writing, retries).
# TYPE kinesis_cratedb_write_latency_seconds histogram
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.005"} 0
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.01"} 3
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.025"} 13
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.05"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.1"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.25"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.5"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="1"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="2.5"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="5"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="10"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="30"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="60"} 15
kinesis_cratedb_write_latency_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="+Inf"} 15
kinesis_cratedb_write_latency_seconds_sum{table="public.kinesis_events",shard="shardId-000000000000"} 0.734
kinesis_cratedb_write_latency_seconds_count{table="public.kinesis_events",shard="shardId-000000000000"} 15
`

func TestMetrics(t *testing.T) {
	l := &counting{Reader: status.Reader{Progress: fakeProgress{rows(10 * time.Minute)}, Leases: fakeLeases{}, Thresholds: status.Thresholds{Stale: 5 * time.Minute}}}
	srv := serve(t, l)
	code, ctype, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK || ctype != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("%d %q", code, ctype)
	}
	checkFormat(t, body)
	body = regexp.MustCompile(`(?m)^(kinesis_cratedb_scrape_duration_seconds) \S+$`).ReplaceAllString(body, "$1 X")
	// Everything up to the freshness family is checked whole; the second
	// shard's row has no histograms (a row of an earlier version).
	head, fresh, _ := strings.Cut(body, "# HELP kinesis_cratedb_freshness_seconds")
	if head != wantMetrics {
		t.Fatalf("got\n%s\nwant\n%s", head, wantMetrics)
	}
	for _, line := range []string{
		`kinesis_cratedb_freshness_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="0.1"} 10`,
		`kinesis_cratedb_freshness_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="1"} 15`,
		`kinesis_cratedb_freshness_seconds_bucket{table="public.kinesis_events",shard="shardId-000000000000",le="+Inf"} 16`,
	} {
		if !strings.Contains(fresh, "\n"+line+"\n") {
			t.Errorf("missing %s in\n%s", line, fresh)
		}
	}
	if strings.Contains(fresh, "shardId-000000000001") {
		t.Errorf("a histogram for a row without one:\n%s", fresh)
	}
	get(t, srv.URL+"/metrics")
	get(t, srv.URL+"/healthz")
	if n := l.looks.Load(); n != 1 {
		t.Fatalf("%d looks within the cache period, want 1", n)
	}
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$`)
	helpLine   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) `)
)

// checkFormat holds a body to the rules of the text format: every line a
// comment or a sample, a family's TYPE before its samples, each family in
// one group, histogram buckets cumulative up to +Inf = _count.
func checkFormat(t *testing.T, body string) {
	t.Helper()
	if !strings.HasSuffix(body, "\n") {
		t.Fatal("the last line does not end with a line feed")
	}
	typed, done, buckets := map[string]string{}, map[string]bool{}, map[string]string{}
	cur := ""
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if m := helpLine.FindStringSubmatch(line); m != nil {
			if m[2] != cur {
				done[cur], cur = true, m[2]
				if done[cur] {
					t.Fatalf("family %s in two groups", cur)
				}
			}
			if m[1] == "TYPE" {
				typed[cur] = strings.TrimPrefix(line, "# TYPE "+cur+" ")
			}
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		name := m[1]
		if typed[cur] == "histogram" {
			name = regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(name, "")
			checkBucket(t, buckets, line)
		}
		if name != cur || typed[cur] == "" {
			t.Fatalf("sample %q outside its family (in %s)", line, cur)
		}
	}
}

var bucketLine = regexp.MustCompile(`^(\w+)_(bucket|count)\{(.*?),?(le="([^"]+)")?\} (\S+)$`)

// checkBucket follows one histogram's lines: bucket counts never go down,
// the last bucket is +Inf, and _count equals it.
func checkBucket(t *testing.T, last map[string]string, line string) {
	t.Helper()
	m := bucketLine.FindStringSubmatch(line)
	if m == nil {
		return // _sum
	}
	key, value := m[1]+"{"+m[3]+"}", m[6]
	if m[2] == "count" {
		if !strings.HasPrefix(last[key], "+Inf ") || strings.TrimPrefix(last[key], "+Inf ") != value {
			t.Fatalf("%s: _count %s, last bucket %q", key, value, last[key])
		}
		return
	}
	if prev, ok := last[key]; ok && !strings.HasPrefix(prev, "+Inf") {
		var a, b float64
		fmt.Sscan(strings.Fields(prev)[1], &a)
		fmt.Sscan(value, &b)
		if b < a {
			t.Fatalf("%s: bucket le=%s has %s, fewer than the one before (%s)", key, m[5], value, prev)
		}
	}
	last[key] = m[5] + " " + value
}

func TestMetricsWhenTheDatabaseIsDown(t *testing.T) {
	srv := serve(t, &counting{err: errors.New("sink: read progress table public.kinesis_progress: connection refused")})
	code, _, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "\nkinesis_cratedb_up 0\n") || strings.Contains(body, "shard=") {
		t.Fatalf("%d\n%s", code, body)
	}
	checkFormat(t, body)
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name string
		l    Looker
		code int
		says string
	}{
		{"every shard fresh", &counting{Reader: status.Reader{Progress: fakeProgress{rows(time.Second)}, Thresholds: status.Thresholds{Stale: 5 * time.Minute}}},
			http.StatusOK, "ok: 2 shards of public.kinesis_events (2 ok)\n"},
		{"a stale shard", &counting{Reader: status.Reader{Progress: fakeProgress{rows(10 * time.Minute)}, Thresholds: status.Thresholds{Stale: 5 * time.Minute}}},
			http.StatusServiceUnavailable, "unhealthy: stale shard shardId-000000000001: no progress update for 10m00s (threshold 5m00s)\n"},
		{"a shard behind, with a threshold", &counting{Reader: status.Reader{Progress: fakeProgress{rows(time.Second)}, Thresholds: status.Thresholds{MaxBehind: time.Second}}},
			http.StatusServiceUnavailable, "unhealthy: behind shard shardId-000000000000: 1s behind the stream's tip (threshold 1s)\n"},
		{"the database unreachable", &counting{err: errors.New("connection refused")},
			http.StatusServiceUnavailable, "unhealthy: cannot read the progress table: connection refused\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := get(t, serve(t, tt.l).URL+"/healthz")
			if code != tt.code || body != tt.says {
				t.Fatalf("%d %q, want %d %q", code, body, tt.code, tt.says)
			}
		})
	}
}

// A cache period over, the next scrape takes a new look.
func TestCacheExpires(t *testing.T) {
	l := &counting{Reader: status.Reader{Progress: fakeProgress{rows(time.Second)}}}
	srv := httptest.NewServer((&Exporter{Looker: l, Cache: time.Millisecond}).Handler())
	defer srv.Close()
	get(t, srv.URL+"/metrics")
	time.Sleep(5 * time.Millisecond)
	get(t, srv.URL+"/metrics")
	if n := l.looks.Load(); n != 2 {
		t.Fatalf("%d looks, want 2", n)
	}
	if code, _, _ := get(t, srv.URL+"/nothing"); code != http.StatusNotFound {
		t.Fatalf("/nothing: %d", code)
	}
}
