package status

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

func TestWriteTable(t *testing.T) {
	rows := []sink.ProgressRow{
		row("shardId-000000000000", 2*time.Second),
		row("shardId-000000000001", 11*time.Minute, func(r *sink.ProgressRow) { r.DeadLettered = 2 }),
		row("shardId-000000000003", time.Hour, func(r *sink.ProgressRow) { r.CheckpointSequence = "SHARD_END" }),
	}
	leases := fakeLeases{leases: []Lease{{Key: "shardId-000000000000", Owner: "worker-a"}, {Key: "shardId-000000000001", Owner: "worker-b"},
		{Key: "shardId-000000000002"}, {Key: "shardId-000000000003", Checkpoint: "SHARD_END"}}}
	rep, err := (&Reader{Progress: fakeProgress{snap: snapshot(rows...)}, Leases: leases, Thresholds: Thresholds{Stale: 5 * time.Minute}}).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `2026-11-30 02:57:41 UTC  public.kinesis_events (postgresql, progress in public.kinesis_progress)  leases: DynamoDB table demo-app
SHARD                 OWNER     RECORDS/S  BYTES/S    BEHIND  CHECKPOINTED  UPDATED     WRITTEN  DEAD  STATE
shardId-000000000000  worker-a  812.5      812.5 KiB  0s      3s ago        2s ago      100      0     ok
shardId-000000000001  worker-b  812.5      812.5 KiB  0s      11m01s ago    11m00s ago  100      2     stale
shardId-000000000002  (none)    -          -          -       -             -           -        -     no progress
shardId-000000000003  (none)    812.5      812.5 KiB  0s      1h00m ago     1h00m ago   100      0     ended
STALE: shardId-000000000001 no progress update for 11m00s (threshold 5m00s)
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteTableNotes(t *testing.T) {
	tests := []struct {
		name   string
		snap   sink.ProgressSnapshot
		leases LeaseReader
		says   []string
	}{
		{"no lease reader", snapshot(row("s", time.Second)), nil, []string{"leases: not read (no DynamoDB)", "\ns      -      812.5"}},
		{"leases unreadable, first line of the error", snapshot(row("s", time.Second)), fakeLeases{err: errors.New("dynamodb Scan: AccessDenied\nmore")},
			[]string{"leases: unreadable (DynamoDB table demo-app: dynamodb Scan: AccessDenied …)", "\ns      -  "}},
		{"no shard yet", snapshot(), nil, []string{"no shard has reported on public.kinesis_events yet"}},
		{"a table of an earlier version", func() sink.ProgressSnapshot { s := snapshot(row("s", time.Second)); s.Complete = false; return s }(), nil,
			[]string{"note: the progress table was made by an earlier version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{Progress: fakeProgress{snap: tt.snap}, Leases: tt.leases}
			if tt.leases == nil {
				r.NoLeases = "no DynamoDB"
			}
			rep, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := rep.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.says {
				if !strings.Contains(b.String(), s) {
					t.Errorf("%q missing from\n%s", s, b.String())
				}
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-1: "-", 0: "0s", time.Millisecond: "1ms", 850 * time.Millisecond: "850ms", 42 * time.Second: "42s", 252 * time.Second: "4m12s",
		2*time.Hour + 5*time.Minute + 59*time.Second: "2h05m", 76 * time.Hour: "3d04h",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	for v, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 20 << 20: "20.0 MiB", 3 << 40: "3.0 TiB", 5 << 50: "5120.0 TiB"} {
		if got := Bytes(v); got != want {
			t.Errorf("Bytes(%v) = %q, want %q", v, got, want)
		}
	}
}
