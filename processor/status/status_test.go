package status

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

var now = time.Date(2026, 11, 30, 2, 57, 41, 0, time.UTC)

// row is a progress row updated ago before now.
func row(id string, ago time.Duration, mutate ...func(*sink.ProgressRow)) sink.ProgressRow {
	r := sink.ProgressRow{ShardID: id, LastSequence: "49", CheckpointSequence: "49", MillisBehindLatest: 0,
		RecordsWritten: 100, UpdatedAt: now.Add(-ago), CheckpointedAt: now.Add(-ago - time.Second),
		Window: 10 * time.Second, WindowRecords: 8125, WindowBytes: 8320000}
	for _, m := range mutate {
		m(&r)
	}
	return r
}

func TestEvaluate(t *testing.T) {
	th := Thresholds{Stale: 5 * time.Minute, MaxBehind: time.Minute}
	lease := &Lease{Key: "s", Owner: "w1", Checkpoint: "49"}
	tests := []struct {
		name       string
		progress   *sink.ProgressRow
		lease      *Lease
		leasesRead bool
		th         Thresholds
		want       State
		reason     string
	}{
		{"fresh", ptr(row("s", 2*time.Second)), nil, false, th, OK, ""},
		{"fresh with its lease", ptr(row("s", 2*time.Second)), lease, true, th, OK, ""},
		{"no update past the threshold", ptr(row("s", 6*time.Minute)), lease, true, th, Stale, "no progress update for 6m00s (threshold 5m00s)"},
		{"just at the threshold is not yet stale", ptr(row("s", 5*time.Minute)), nil, false, th, OK, ""},
		{"stale without a threshold is never", ptr(row("s", 48*time.Hour)), nil, false, Thresholds{}, OK, ""},
		{"behind", ptr(row("s", time.Second, func(r *sink.ProgressRow) { r.MillisBehindLatest = 90_000 })), nil, false, th, Behind, "1m30s behind the stream's tip (threshold 1m00s)"},
		{"behind unchecked without a threshold", ptr(row("s", time.Second, func(r *sink.ProgressRow) { r.MillisBehindLatest = 90_000 })), nil, false, Thresholds{Stale: time.Hour}, OK, ""},
		{"behind unknown", ptr(row("s", time.Second, func(r *sink.ProgressRow) { r.MillisBehindLatest = -1 })), nil, false, th, OK, ""},
		{"stale wins over behind", ptr(row("s", time.Hour, func(r *sink.ProgressRow) { r.MillisBehindLatest = 90_000 })), nil, false, th, Stale, "no progress update for 1h00m (threshold 5m00s)"},
		{"ended shards never go stale", ptr(row("s", 48*time.Hour, func(r *sink.ProgressRow) { r.CheckpointSequence = "SHARD_END" })), nil, true, th, Ended, "read to its end (SHARD_END)"},
		{"ended by its lease", ptr(row("s", 48*time.Hour)), &Lease{Key: "s", Checkpoint: "SHARD_END"}, true, th, Ended, "read to its end (SHARD_END)"},
		{"a row without a lease in a read lease table", ptr(row("s", 48*time.Hour)), nil, true, th, NoLease, "no lease in the lease table: no worker processes it"},
		{"a lease without a row", nil, lease, true, th, NoProgress, "no progress row yet: no process has reported on it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Shard{ID: "s", Progress: tt.progress, Lease: tt.lease}
			s.evaluate(now, tt.th, tt.leasesRead)
			if s.State != tt.want || s.Reason != tt.reason {
				t.Fatalf("state %q (%s), want %q (%s)", s.State, s.Reason, tt.want, tt.reason)
			}
			if s.State.Alert() != (tt.want == Stale || tt.want == Behind) {
				t.Fatalf("%s: Alert() = %v", s.State, s.State.Alert())
			}
		})
	}
}

func TestRatesAndAges(t *testing.T) {
	tests := []struct {
		name                    string
		row                     sink.ProgressRow
		records, bytes          float64
		behind, checkpoint, upd time.Duration
	}{
		{"a full window", row("s", 2*time.Second), 812.5, 832000, 0, 3 * time.Second, 2 * time.Second},
		{"an idle window", row("s", 0, func(r *sink.ProgressRow) { r.WindowRecords, r.WindowBytes = 0, 0 }), 0, 0, 0, time.Second, 0},
		{"a row of an earlier version: no window, no checkpoint time", row("s", time.Second, func(r *sink.ProgressRow) {
			r.Window, r.WindowRecords, r.WindowBytes, r.CheckpointedAt = 0, 0, 0, time.Time{}
		}), 0, 0, 0, -1, time.Second},
		{"a short forced window (shutdown)", row("s", 0, func(r *sink.ProgressRow) {
			r.Window, r.WindowRecords, r.WindowBytes, r.MillisBehindLatest = 250*time.Millisecond, 100, 1024, 1500
		}), 400, 4096, 1500 * time.Millisecond, time.Second, 0},
		{"an update stamped after now by another node's clock", row("s", -time.Second), 812.5, 832000, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Shard{ID: "s", Progress: &tt.row}
			s.evaluate(now, Thresholds{}, false)
			if math.Abs(s.RecordsPerSecond-tt.records) > 1e-9 || math.Abs(s.BytesPerSecond-tt.bytes) > 1e-9 {
				t.Errorf("rates %v records/s %v bytes/s, want %v %v", s.RecordsPerSecond, s.BytesPerSecond, tt.records, tt.bytes)
			}
			if s.Behind != tt.behind || s.CheckpointAge != tt.checkpoint || s.UpdateAge != tt.upd {
				t.Errorf("behind %v checkpoint %v update %v, want %v %v %v", s.Behind, s.CheckpointAge, s.UpdateAge, tt.behind, tt.checkpoint, tt.upd)
			}
		})
	}
}

type fakeProgress struct {
	snap sink.ProgressSnapshot
	err  error
}

func (f fakeProgress) Read(context.Context) (sink.ProgressSnapshot, error) { return f.snap, f.err }

type fakeLeases struct {
	leases []Lease
	err    error
}

func (f fakeLeases) Leases(context.Context) ([]Lease, error) { return f.leases, f.err }
func (fakeLeases) Source() string                            { return "DynamoDB table demo-app" }

func snapshot(rows ...sink.ProgressRow) sink.ProgressSnapshot {
	return sink.ProgressSnapshot{Target: "public.kinesis_events", Table: "public.kinesis_progress", Dialect: sink.PostgreSQL, Now: now, Rows: rows, Complete: true}
}

func TestRead(t *testing.T) {
	ctx := context.Background()
	th := Thresholds{Stale: 5 * time.Minute}
	rows := []sink.ProgressRow{row("shardId-000000000001", time.Second), row("shardId-000000000000", 10*time.Minute)}

	rep, err := (&Reader{Progress: fakeProgress{snap: snapshot(rows...)}, Thresholds: th}).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Shards) != 2 || rep.Shards[0].ID != "shardId-000000000000" || rep.Shards[0].State != Stale || rep.Shards[1].State != OK {
		t.Fatalf("without leases: %+v", rep.Shards)
	}
	if a := rep.Alerts(); len(a) != 1 || a[0].ID != "shardId-000000000000" {
		t.Fatalf("alerts %+v", a)
	}

	// With leases: owners, a shard no process has reported on, a row whose
	// lease is gone; multi-stream lease keys name the shard last.
	leases := fakeLeases{leases: []Lease{
		{Key: "123456789012:demo-stream:1700000000:shardId-000000000001", Owner: "worker-a"},
		{Key: "shardId-000000000002", Owner: ""},
	}}
	rep, err = (&Reader{Progress: fakeProgress{snap: snapshot(rows...)}, Leases: leases, Thresholds: th}).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]State{}
	for _, s := range rep.Shards {
		got[s.ID] = s.State
	}
	want := map[string]State{"shardId-000000000000": NoLease, "shardId-000000000001": OK, "shardId-000000000002": NoProgress}
	if len(got) != len(want) || got["shardId-000000000000"] != NoLease || got["shardId-000000000001"] != OK || got["shardId-000000000002"] != NoProgress {
		t.Fatalf("states %v, want %v", got, want)
	}
	if rep.Shards[1].Lease.Owner != "worker-a" || len(rep.Alerts()) != 0 {
		t.Fatalf("shard 1 %+v, alerts %v", rep.Shards[1], rep.Alerts())
	}

	// Unreadable leases: the progress table alone decides.
	rep, err = (&Reader{Progress: fakeProgress{snap: snapshot(rows...)}, Leases: fakeLeases{err: errors.New("no route")}, Thresholds: th}).Read(ctx)
	if err != nil || rep.LeaseErr == nil || rep.Shards[0].State != Stale {
		t.Fatalf("unreadable leases: %v, %+v", err, rep)
	}

	// An unreadable progress table is the error.
	if _, err := (&Reader{Progress: fakeProgress{err: errors.New("connection refused")}}).Read(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Read = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
