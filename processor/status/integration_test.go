package status_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/histogram"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
)

const (
	shard0 = "shardId-000000000000"
	shard1 = "shardId-000000000001"
)

// What real children write is what status reads: counts summed over a
// shard's processes, bytes, lag, the checkpoint's time, the histograms
// carried on from one process to the next, and SHARD_END.
func TestStatusReadsWhatChildrenWrote(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		d := newDeployment(t, db)
		first, second := records(0, 50, 3*time.Second), records(50, 50, 40*time.Second)
		d.shard(t, shard0, "shutdown", first, second)
		d.shard(t, shard1, "shard end", records(1000, 30, time.Second))
		// The shard's next process (after a lease move) carries on.
		third := records(100, 10, 0)
		d.shard(t, shard0, "shutdown", third)
		d.refresh(t)

		ctx := context.Background()
		src, err := sink.OpenProgress(ctx, db.URL, sink.Config{Table: d.table, ProgressTable: d.progress})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		rep, err := (&status.Reader{Progress: src, Thresholds: status.Thresholds{Stale: time.Hour}}).Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Shards) != 2 || !rep.Complete || rep.Target != d.table {
			t.Fatalf("report %+v", rep)
		}
		s0, s1 := rep.Shards[0], rep.Shards[1]
		p := s0.Progress
		var bytes int64
		for _, r := range append(append(first, second...), third...) {
			bytes += int64(len(r.Data))
		}
		if p.RecordsWritten != 99 || p.DeadLettered != 11 || p.BytesWritten != bytes || s0.Behind != 1500*time.Millisecond || s0.State != status.OK {
			t.Fatalf("shard 0: %+v, %+v", s0, *p)
		}
		if s0.CheckpointAge < 0 || s0.CheckpointAge > time.Minute || s0.UpdateAge < 0 || s0.UpdateAge > time.Minute {
			t.Fatalf("shard 0 checkpoint age %v, update age %v", s0.CheckpointAge, s0.UpdateAge)
		}
		lat, err := histogram.Parse(&histogram.WriteLatency, p.WriteLatency)
		if err != nil || lat.Count() != 3 {
			t.Fatalf("write latency %q (%v): want the three batches of both processes", p.WriteLatency, err)
		}
		fresh, err := histogram.Parse(&histogram.Freshness, p.Freshness)
		if err != nil || fresh.Count() != 110 {
			t.Fatalf("freshness %q (%v): want all 110 records", p.Freshness, err)
		}
		// 50 records 40 s old when stored: above the 30 s bound.
		if c := fresh.Cumulative(); c[len(histogram.Freshness.Bounds)]-c[7] < 50 {
			t.Fatalf("freshness buckets %v: the 40 s old records are not above 30 s", c)
		}
		if s1.State != status.Ended || s1.Progress.RecordsWritten != 27 || s1.Progress.CheckpointSequence != "SHARD_END" {
			t.Fatalf("shard 1: %+v, %+v", s1, *s1.Progress)
		}
	})
}

// status's exit code: 0 when every shard is fine, 2 when one is stale or
// behind (an ended shard never is), 1 when the database cannot be read;
// what it prints never holds the password.
func TestStatusExitCodes(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		d := newDeployment(t, db)
		d.shard(t, shard0, "shutdown", records(0, 20, time.Second))
		d.shard(t, shard1, "shard end", records(100, 20, time.Second))
		d.refresh(t)

		code, out, errOut := d.run(t, nil, "status")
		if code != 0 || !strings.Contains(out, shard0) || !regexpLine(out, shard1+`\s+-\s.*\sended$`) || !regexpLine(out, shard0+`\s+-\s.*\s18\s+2\s+ok$`) {
			t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
		}
		time.Sleep(2500 * time.Millisecond) // no process updates the rows now
		code, out, errOut = d.run(t, nil, "status", "--stale", "2s")
		if code != 2 || !strings.Contains(out, "STALE: "+shard0+" no progress update for") || strings.Contains(out, "STALE: "+shard1) {
			t.Fatalf("status --stale 2s: exit %d, want 2\n%s%s", code, out, errOut)
		}
		code, out, errOut = d.run(t, nil, "status", "--max-behind", "1s")
		if code != 2 || !strings.Contains(out, "BEHIND: "+shard0+" 1s behind the stream's tip (threshold 1s)") {
			t.Fatalf("status --max-behind 1s: exit %d, want 2\n%s%s", code, out, errOut)
		}
		code, out, errOut = d.run(t, []string{"SINK_DATABASE_URL=postgres://crate:s3cr3tpw@127.0.0.1:1/doc?sslmode=disable"}, "status")
		if code != 1 || strings.Contains(out+errOut, "s3cr3tpw") || !strings.Contains(errOut, "connection refused") {
			t.Fatalf("status against a closed port: exit %d, want 1\n%s%s", code, out, errOut)
		}
	})
}

// The exporter serves what real children wrote, and /healthz turns 503
// once a shard is stale.
func TestExporterServesWhatChildrenWrote(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		d := newDeployment(t, db)
		d.shard(t, shard0, "shutdown", records(0, 20, time.Second), records(20, 20, time.Second))
		d.refresh(t)
		url := d.exporter(t, nil, "--stale", "1h")
		m := scrape(t, url+"/metrics")
		labels := `{table="` + d.table + `",shard="` + shard0 + `"}`
		for _, line := range []string{
			"kinesis_cratedb_up 1",
			"kinesis_cratedb_records_written_total" + labels + " 36",
			"kinesis_cratedb_dead_lettered_total" + labels + " 4",
			"kinesis_cratedb_behind_latest_seconds" + labels + " 1.5",
			"kinesis_cratedb_write_latency_seconds_count" + labels + " 2",
			"kinesis_cratedb_freshness_seconds_count" + labels + " 40",
			`kinesis_cratedb_shard_info{table="` + d.table + `",shard="` + shard0 + `",owner="",state="ok"} 1`,
		} {
			if !strings.Contains(m.body, "\n"+line+"\n") {
				t.Errorf("/metrics lacks %q", line)
			}
		}
		if m.code != http.StatusOK || m.contentType != "text/plain; version=0.0.4; charset=utf-8" || t.Failed() {
			t.Fatalf("/metrics: %+v", m)
		}
		if h := scrape(t, url+"/healthz"); h.code != http.StatusOK || !strings.HasPrefix(h.body, "ok: 1 shards of "+d.table) {
			t.Fatalf("/healthz: %+v", h)
		}

		time.Sleep(2500 * time.Millisecond)
		stale := d.exporter(t, nil, "--stale", "2s")
		if h := scrape(t, stale+"/healthz"); h.code != http.StatusServiceUnavailable ||
			!strings.HasPrefix(h.body, "unhealthy: stale shard "+shard0+": no progress update for") {
			t.Fatalf("/healthz of a stale shard: %+v", h)
		}
		if m := scrape(t, stale+"/metrics"); !strings.Contains(m.body, "\nkinesis_cratedb_shard_stale"+labels+" 1\n") {
			t.Fatalf("/metrics of a stale shard:\n%s", m.body)
		}
	})
}

// With the database down the exporter still serves: up 0, and /healthz
// 503 with the reason, never the password.
func TestExporterWithoutTheDatabase(t *testing.T) {
	d := newDeployment(t, pgtest.Get(t, pgtest.PostgreSQL))
	url := d.exporter(t, []string{"SINK_DATABASE_URL=postgres://postgres:s3cr3tpw@127.0.0.1:1/postgres?sslmode=disable"})
	if m := scrape(t, url+"/metrics"); m.code != http.StatusOK || !strings.Contains(m.body, "\nkinesis_cratedb_up 0\n") || strings.Contains(m.body, "shard=") {
		t.Fatalf("/metrics: %+v", m)
	}
	h := scrape(t, url+"/healthz")
	if h.code != http.StatusServiceUnavailable || !strings.HasPrefix(h.body, "unhealthy: cannot read the progress table:") || strings.Contains(h.body, "s3cr3tpw") {
		t.Fatalf("/healthz: %+v", h)
	}
}

// answer is what an endpoint of the exporter answered.
type answer struct {
	code        int
	contentType string
	body        string
}

// scrape asks the exporter as a scraper does, with a deadline.
func scrape(t *testing.T, url string) answer {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), body.String()}
}
