package localaws

import (
	"strings"
	"testing"
)

func TestSeedLeases(t *testing.T) {
	kc, dc := testClients(t)
	tests := []struct {
		shards   int32
		position string
		want     string // checkpoint of every seeded lease
	}{
		{2, "TRIM_HORIZON", "TRIM_HORIZON"},
		{1, "latest", "LATEST"},
	}
	for _, tt := range tests {
		stream := newStream(t, kc, tt.shards)
		table := newLeaseTable(t, dc)
		n, err := SeedLeases(t.Context(), dc, kc, table, stream, tt.position)
		if err != nil || n != int(tt.shards) {
			t.Fatalf("SeedLeases = %d, %v; want %d", n, err, tt.shards)
		}
		leases, err := Leases(t.Context(), dc, table)
		if err != nil {
			t.Fatal(err)
		}
		shards, _ := ListShards(t.Context(), kc, stream)
		for i, l := range leases {
			if l.LeaseKey != *shards[i].ShardId || l.LeaseOwner != "" || l.Checkpoint != tt.want || l.LeaseCounter != 0 {
				t.Errorf("lease %d = %+v, want unowned %s at %s", i, l, *shards[i].ShardId, tt.want)
			}
		}
		// Existing leases are kept: nothing new is written.
		if n, err := SeedLeases(t.Context(), dc, kc, table, stream, tt.position); err != nil || n != 0 {
			t.Fatalf("second SeedLeases = %d, %v; want 0, nil", n, err)
		}
	}
}

func TestSeedLeasesRefuses(t *testing.T) {
	kc, dc := testClients(t)
	table := newLeaseTable(t, dc)
	stream := newStream(t, kc, 1)
	if _, err := SeedLeases(t.Context(), dc, kc, table, stream, "AT_TIMESTAMP"); err == nil {
		t.Error("AT_TIMESTAMP accepted")
	}
	if _, err := SplitShard(t.Context(), kc, stream, "shardId-000000000000"); err != nil {
		t.Fatal(err)
	}
	_, err := SeedLeases(t.Context(), dc, kc, table, stream, "TRIM_HORIZON")
	if err == nil || !strings.Contains(err.Error(), "resharded") {
		t.Errorf("resharded stream: %v, want refusal", err)
	}
	if leases, _ := Leases(t.Context(), dc, table); len(leases) != 0 {
		t.Errorf("refused seeding still wrote %d leases", len(leases))
	}
}
