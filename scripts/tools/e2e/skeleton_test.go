package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// logged is one line of bin/record-processor's log.
type logged struct {
	Message     string `json:"message"`
	PID         int    `json:"pid"`
	Shard       string `json:"shard"`
	Sequence    string `json:"sequence"`
	SubSequence int64  `json:"sub_sequence"`
	Data        string `json:"data"`
}

type delivery struct {
	id   int64
	pid  int
	rec  logged
	line int
}

// deliveries parses the record lines of the example processor's log.
func deliveries(t *testing.T, path string) []delivery {
	t.Helper()
	var out []delivery
	for i, line := range readLines(path) {
		var l logged
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %d is not JSON: %q", i, line)
		}
		if l.Message != "record" {
			continue
		}
		var rec localaws.DemoRecord
		if err := json.Unmarshal([]byte(l.Data), &rec); err != nil {
			t.Fatalf("record data is not a demo record: %q", l.Data)
		}
		out = append(out, delivery{id: rec.ID, pid: l.PID, rec: l, line: i})
	}
	return out
}

// idsSeen counts deliveries per record id.
func idsSeen(ds []delivery) map[int64]int {
	seen := map[int64]int{}
	for _, d := range ds {
		seen[d.id]++
	}
	return seen
}

func checkExactlyOnce(t *testing.T, ds []delivery, from, to int64) {
	t.Helper()
	seen := idsSeen(ds)
	for id := from; id < to; id++ {
		if seen[id] != 1 {
			t.Fatalf("record %d delivered %d times", id, seen[id])
		}
	}
}

// checkOrderPerShard checks that each child saw its shard's records in
// increasing sequence order.
func checkOrderPerShard(t *testing.T, ds []delivery) {
	t.Helper()
	last := map[string]logged{}
	for _, d := range ds {
		key := fmt.Sprintf("%d/%s", d.pid, d.rec.Shard)
		if prev, ok := last[key]; ok && !seqLess(prev.Sequence, d.rec.Sequence) {
			t.Fatalf("shard %s: sequence %s after %s", d.rec.Shard, d.rec.Sequence, prev.Sequence)
		}
		last[key] = d.rec
	}
}

func publish(t *testing.T, s *stack, stream string, first, count int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := localaws.Publish(ctx, s.kc, localaws.PublishOptions{
		Stream: stream, FirstID: first, Count: count, Size: 300, PartitionKeys: 8, Batch: 250, Seed: first + 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published %s", res)
}

func leasesByShard(t *testing.T, s *stack, app string) map[string]localaws.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leases, err := localaws.Leases(ctx, s.dc, app)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]localaws.Lease{}
	for _, l := range leases {
		m[l.LeaseKey] = l
	}
	return m
}

// TestE2EDaemonDrivesRecordProcessor is the walking skeleton: the real daemon
// delivers every published record exactly once to bin/record-processor,
// checkpoints, resumes after a restart without redelivering, and handles a
// shard split with a SHARD_END checkpoint.
func TestE2EDaemonDrivesRecordProcessor(t *testing.T) {
	s := requireStack(t)
	app, stream := s.newApp(t, 2)
	dir := t.TempDir()
	recordLog := filepath.Join(dir, "record_processor.log")
	exe := filepath.Join(s.repo, "bin/record-processor") + " --log " + recordLog + " --checkpoint-interval 1s"
	props := s.writeProperties(t, dir, app, stream, exe)

	// 1. Every record exactly once, in order per shard, and checkpointed.
	d := s.startDaemon(t, props)
	publish(t, s, stream, 0, 1200)
	eventually(t, 3*time.Minute, "1200 records in the processor log", func() (bool, string) {
		n := len(idsSeen(deliveries(t, recordLog)))
		return n >= 1200, fmt.Sprintf("%d distinct ids", n)
	})
	first := deliveries(t, recordLog)
	checkExactlyOnce(t, first, 0, 1200)
	checkOrderPerShard(t, first)
	shards := map[string]bool{}
	for _, dl := range first {
		shards[dl.rec.Shard] = true
	}
	if len(shards) != 2 {
		t.Fatalf("records came from shards %v, want 2 shards", sortedKeys(shards))
	}

	// 2. Graceful stop checkpoints everything (shutdownRequested); a new
	// daemon resumes after the checkpoint and delivers nothing twice.
	d.stop()
	leases := leasesByShard(t, s, app)
	for shard := range shards {
		if l := leases[shard]; l.Checkpoint == "" || l.Checkpoint == "TRIM_HORIZON" {
			t.Fatalf("shard %s not checkpointed after graceful stop: %+v", shard, l)
		}
	}
	d = s.startDaemon(t, props)
	publish(t, s, stream, 1200, 300)
	eventually(t, 3*time.Minute, "1500 records", func() (bool, string) {
		n := len(idsSeen(deliveries(t, recordLog)))
		return n >= 1500, fmt.Sprintf("%d distinct ids", n)
	})
	all := deliveries(t, recordLog)
	checkExactlyOnce(t, all, 0, 1500)

	// 3. Split a shard: its child sees shardEnded and checkpoints SHARD_END,
	// and the new shards' records arrive.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	split := sortedKeys(shards)[0]
	children, err := localaws.SplitShard(ctx, s.kc, stream, split)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s, stream, 1500, 300)
	eventually(t, 3*time.Minute, "1800 records and SHARD_END on the split shard", func() (bool, string) {
		n := len(idsSeen(deliveries(t, recordLog)))
		l := leasesByShard(t, s, app)[split]
		return n >= 1800 && l.Checkpoint == "SHARD_END", fmt.Sprintf("%d distinct ids, %s checkpoint %q", n, split, l.Checkpoint)
	})
	all = deliveries(t, recordLog)
	checkExactlyOnce(t, all, 0, 1800)
	checkOrderPerShard(t, all)
	fromChildren := 0
	for _, dl := range all {
		for _, c := range children {
			if dl.rec.Shard == c {
				fromChildren++
			}
		}
	}
	if fromChildren == 0 {
		t.Fatalf("no record arrived from the child shards %v", children)
	}
	if !strings.Contains(tail(d.log, 400), "shardEnded") && !strings.Contains(strings.Join(readLines(recordLog), "\n"), "shard ended") {
		t.Fatal("no shardEnded seen")
	}
	d.stop()
}
