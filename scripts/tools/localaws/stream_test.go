package localaws

import (
	"math/big"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// maxHashKey is the last of Kinesis's 2^128 hash keys.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)).String()

func TestSplitPoint(t *testing.T) {
	tests := []struct {
		start, end, want, err string
	}{
		{start: "0", end: maxHashKey, want: "170141183460469231731687303715884105728"}, // 2^127
		{start: "0", end: "1", want: "1"},
		{start: "10", end: "13", want: "12"},
		{start: "0", end: "2", want: "2"},
		{start: "7", end: "7", err: "single key"},
		{start: "9", end: "3", err: "single key"},
		{start: "x", end: "3", err: "bad starting"},
		{start: "0", end: "", err: "bad ending"},
	}
	for _, tt := range tests {
		got, err := splitPoint(tt.start, tt.end)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("splitPoint(%s, %s) error = %v, want %q", tt.start, tt.end, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("splitPoint(%s, %s) = %s, %v; want %s", tt.start, tt.end, got, err, tt.want)
		}
	}
}

// checkCoverage fails unless the open shards cover the hash key space exactly
// once, in order.
func checkCoverage(t *testing.T, shards []types.Shard) {
	t.Helper()
	var open []types.Shard
	for _, s := range shards {
		if ShardOpen(s) {
			open = append(open, s)
		}
	}
	key := func(s types.Shard) *big.Int {
		k, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		return k
	}
	sort.Slice(open, func(i, j int) bool { return key(open[i]).Cmp(key(open[j])) < 0 })
	next := big.NewInt(0)
	for _, s := range open {
		start := key(s)
		end, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if start.Cmp(next) != 0 {
			t.Fatalf("shard %s starts at %s, want %s", aws.ToString(s.ShardId), start, next)
		}
		next = end.Add(end, big.NewInt(1))
	}
	if last := new(big.Int).Sub(next, big.NewInt(1)).String(); last != maxHashKey {
		t.Fatalf("open shards end at %s, want %s", last, maxHashKey)
	}
}

func TestCreateStream(t *testing.T) {
	kc, _ := testClients(t)
	for _, shards := range []int32{1, 3} {
		name := newStream(t, kc, shards)
		got, err := ListShards(t.Context(), kc, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != int(shards) {
			t.Fatalf("%d shards, want %d", len(got), shards)
		}
		checkCoverage(t, got)
		// A second create of an existing stream is fine and changes nothing.
		if err := CreateStream(t.Context(), kc, name, shards+1); err != nil {
			t.Fatalf("second create: %v", err)
		}
		if again, _ := ListShards(t.Context(), kc, name); len(again) != int(shards) {
			t.Fatalf("after second create: %d shards, want %d", len(again), shards)
		}
	}
	if err := CreateStream(t.Context(), kc, uniqueName(t), 0); err == nil {
		t.Fatal("0 shards accepted")
	}
}

func TestDeleteStream(t *testing.T) {
	kc, _ := testClients(t)
	name := uniqueName(t)
	if err := CreateStream(t.Context(), kc, name, 1); err != nil {
		t.Fatal(err)
	}
	if err := DeleteStream(t.Context(), kc, name); err != nil {
		t.Fatal(err)
	}
	_, err := kc.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if !isNotFound(err) {
		t.Fatalf("after delete: %v, want ResourceNotFoundException", err)
	}
	if err := DeleteStream(t.Context(), kc, name); err != nil {
		t.Fatalf("deleting a missing stream: %v", err)
	}
	// Tests reuse names: a stream recreated right after its deletion must come
	// up (kinesis-mock still knows the old one for a moment).
	for shards := int32(1); shards <= 3; shards++ {
		if err := CreateStream(t.Context(), kc, name, shards); err != nil {
			t.Fatalf("recreate %d: %v", shards, err)
		}
		if got, _ := ListShards(t.Context(), kc, name); len(got) != int(shards) {
			t.Fatalf("recreated stream has %d shards, want %d", len(got), shards)
		}
		if err := DeleteStream(t.Context(), kc, name); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSplitShard(t *testing.T) {
	kc, _ := testClients(t)
	tests := []struct {
		shards int32
		split  string
	}{
		{1, "shardId-000000000000"},
		{2, "shardId-000000000001"},
	}
	for _, tt := range tests {
		name := newStream(t, kc, tt.shards)
		before, err := ListShards(t.Context(), kc, name)
		if err != nil {
			t.Fatal(err)
		}
		parent, _ := findShard(before, tt.split)
		children, err := SplitShard(t.Context(), kc, name, tt.split)
		if err != nil {
			t.Fatal(err)
		}
		after, err := ListShards(t.Context(), kc, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != int(tt.shards)+2 {
			t.Fatalf("%d shards after split, want %d", len(after), tt.shards+2)
		}
		closed, _ := findShard(after, tt.split)
		if ShardOpen(closed) {
			t.Fatalf("parent %s still open", tt.split)
		}
		checkCoverage(t, after)
		lo, _ := findShard(after, children[0])
		hi, _ := findShard(after, children[1])
		if aws.ToString(lo.HashKeyRange.StartingHashKey) != aws.ToString(parent.HashKeyRange.StartingHashKey) ||
			aws.ToString(hi.HashKeyRange.EndingHashKey) != aws.ToString(parent.HashKeyRange.EndingHashKey) {
			t.Fatalf("children %v do not cover parent range %v", []types.HashKeyRange{*lo.HashKeyRange, *hi.HashKeyRange}, *parent.HashKeyRange)
		}
		if _, err := SplitShard(t.Context(), kc, name, tt.split); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("splitting a closed shard: %v, want error", err)
		}
	}
}

func TestMergeShards(t *testing.T) {
	kc, _ := testClients(t)
	tests := []struct {
		a, b, err string
	}{
		{a: "shardId-000000000000", b: "shardId-000000000001"},
		{a: "shardId-000000000001", b: "shardId-000000000002"},
		{a: "shardId-000000000000", b: "shardId-000000000002", err: "adjacent"},
	}
	for _, tt := range tests {
		name := newStream(t, kc, 3)
		merged, err := MergeShards(t.Context(), kc, name, tt.a, tt.b)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("merge %s+%s: %v, want error with %q", tt.a, tt.b, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		after, err := ListShards(t.Context(), kc, name)
		if err != nil {
			t.Fatal(err)
		}
		checkCoverage(t, after)
		s, ok := findShard(after, merged)
		if !ok || aws.ToString(s.ParentShardId) != tt.a || aws.ToString(s.AdjacentParentShardId) != tt.b {
			t.Fatalf("merged shard %+v, want parents %s and %s", s, tt.a, tt.b)
		}
	}
}
