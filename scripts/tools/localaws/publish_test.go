package localaws

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

func TestRecordGen(t *testing.T) {
	tests := []struct {
		size, keys int
	}{
		{size: 0, keys: 1},
		{size: 50, keys: 3},
		{size: 300, keys: 16},
		{size: 4096, keys: 0}, // 0 keys means the default
	}
	for _, tt := range tests {
		o := PublishOptions{Size: tt.size, PartitionKeys: tt.keys, FirstID: 40, Seed: 7}
		a, b := newRecordGen(o), newRecordGen(o)
		keys := map[string]bool{}
		for i := range 200 {
			data, key, err := a.next()
			if err != nil {
				t.Fatal(err)
			}
			var r DemoRecord
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("record %d is not JSON: %v", i, err)
			}
			if r.ID != int64(40+i) || r.Key != key || r.Device != strings.Replace(key, "key-", "device-", 1) {
				t.Fatalf("record %d: id %d key %q device %q (partition key %q)", i, r.ID, r.Key, r.Device, key)
			}
			ts, err := time.Parse(time.RFC3339, r.TS)
			if err != nil || time.Since(ts) > time.Minute || r.Humidity < 0 || r.Humidity > 100 {
				t.Fatalf("record %d: implausible %+v", i, r)
			}
			// Padding makes the record exactly Size bytes when it was smaller.
			if tt.size > 0 && len(data) < tt.size || r.Pad != "" && len(data) != tt.size {
				t.Fatalf("record %d: %d bytes, size %d", i, len(data), tt.size)
			}
			keys[key] = true
			// Same seed, same keys, readings and padding.
			data2, key2, _ := b.next()
			var r2 DemoRecord
			_ = json.Unmarshal(data2, &r2)
			if key2 != key || r2.Temperature != r.Temperature || r2.Pad != r.Pad {
				t.Fatalf("record %d differs between runs with the same seed", i)
			}
		}
		want := tt.keys
		if want == 0 {
			want = 16
		}
		if len(keys) != want {
			t.Errorf("size %d: %d distinct keys, want %d", tt.size, len(keys), want)
		}
	}
}

func TestBatchSize(t *testing.T) {
	tests := []struct {
		batch int
		rate  float64
		want  int
		err   bool
	}{
		{batch: 0, want: MaxBatch},
		{batch: 7, want: 7},
		{batch: 500, rate: 100, want: 10},
		{batch: 500, rate: 3, want: 1},
		{batch: 5, rate: 10000, want: 5},
		{batch: 501, err: true},
		{batch: -1, err: true},
	}
	for _, tt := range tests {
		got, err := PublishOptions{Batch: tt.batch, Rate: tt.rate}.batchSize()
		if (err != nil) != tt.err || got != tt.want && !tt.err {
			t.Errorf("batch %d rate %g: %d, %v; want %d (error %v)", tt.batch, tt.rate, got, err, tt.want, tt.err)
		}
	}
}

func TestSplitFailed(t *testing.T) {
	entries := []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a")}, {PartitionKey: aws.String("b")}, {PartitionKey: aws.String("c")},
	}
	ok := func(shard string) types.PutRecordsResultEntry {
		return types.PutRecordsResultEntry{ShardId: aws.String(shard), SequenceNumber: aws.String("1")}
	}
	throttled := types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("slow down")}
	tests := []struct {
		name     string
		results  []types.PutRecordsResultEntry
		failed   string
		perShard map[string]int64
	}{
		{"all ok", []types.PutRecordsResultEntry{ok("s0"), ok("s1"), ok("s0")}, "", map[string]int64{"s0": 2, "s1": 1}},
		{"middle fails", []types.PutRecordsResultEntry{ok("s0"), throttled, ok("s1")}, "b", map[string]int64{"s0": 1, "s1": 1}},
		{"all fail", []types.PutRecordsResultEntry{throttled, throttled, throttled}, "abc", map[string]int64{}},
		{"short answer", []types.PutRecordsResultEntry{ok("s0")}, "abc", map[string]int64{}},
	}
	for _, tt := range tests {
		perShard := map[string]int64{}
		failed, lastErr := splitFailed(entries, tt.results, perShard)
		var keys string
		for _, e := range failed {
			keys += aws.ToString(e.PartitionKey)
		}
		if keys != tt.failed || fmt.Sprint(perShard) != fmt.Sprint(tt.perShard) || (len(failed) > 0) != (lastErr != "") {
			t.Errorf("%s: failed %q per shard %v err %q; want %q %v", tt.name, keys, perShard, lastErr, tt.failed, tt.perShard)
		}
	}
}

func TestPublish(t *testing.T) {
	kc, _ := testClients(t)
	tests := []struct {
		shards int32
		o      PublishOptions
	}{
		{2, PublishOptions{Count: 250, Batch: 100, Size: 300, PartitionKeys: 4, Seed: 1}},
		{1, PublishOptions{Count: 7, FirstID: 1000, PartitionKeys: 1}},
		{3, PublishOptions{Count: 1200, Size: 1000, PartitionKeys: 64, Seed: 3}},
	}
	for _, tt := range tests {
		tt.o.Stream = newStream(t, kc, tt.shards)
		res, err := Publish(t.Context(), kc, tt.o)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, n := range res.PerShard {
			sum += n
		}
		if res.Records != tt.o.Count || sum != tt.o.Count {
			t.Fatalf("result %s: want %d records", res, tt.o.Count)
		}
		seen := map[int64]int{}
		var bytes int64
		for shard, recs := range readAll(t, kc, tt.o.Stream) {
			if int64(len(recs)) != res.PerShard[shard] {
				t.Errorf("%s holds %d records, Publish reported %d", shard, len(recs), res.PerShard[shard])
			}
			for _, r := range recs {
				var d DemoRecord
				if err := json.Unmarshal(r.Data, &d); err != nil {
					t.Fatalf("record %s: %v", aws.ToString(r.SequenceNumber), err)
				}
				if d.Key != aws.ToString(r.PartitionKey) {
					t.Fatalf("record %d: key %q, partition key %q", d.ID, d.Key, aws.ToString(r.PartitionKey))
				}
				seen[d.ID]++
				bytes += int64(len(r.Data))
			}
		}
		for id := tt.o.FirstID; id < tt.o.FirstID+tt.o.Count; id++ {
			if seen[id] != 1 {
				t.Fatalf("id %d stored %d times", id, seen[id])
			}
		}
		if len(seen) != int(tt.o.Count) || bytes != res.Bytes {
			t.Fatalf("stream holds %d ids / %d bytes, want %d / %d", len(seen), bytes, tt.o.Count, res.Bytes)
		}
	}
}

func TestPublishPacesToRate(t *testing.T) {
	kc, _ := testClients(t)
	stream := newStream(t, kc, 1)
	// 30 records at 100/s go out as three batches of 10, 100 ms apart.
	res, err := Publish(t.Context(), kc, PublishOptions{Stream: stream, Count: 30, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 3 || res.Elapsed < 200*time.Millisecond {
		t.Fatalf("%s: want 3 calls over at least 200ms", res)
	}
}

func TestPublishErrors(t *testing.T) {
	kc, _ := testClients(t)
	tests := []struct {
		name string
		o    PublishOptions
		err  string
	}{
		{"no stream", PublishOptions{Count: 1}, "no stream"},
		{"missing stream", PublishOptions{Stream: uniqueName(t), Count: 1}, "ResourceNotFound"},
		{"batch too big", PublishOptions{Stream: "x", Count: 1, Batch: 501}, "batch"},
	}
	for _, tt := range tests {
		_, err := Publish(t.Context(), kc, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want error with %q", tt.name, err, tt.err)
		}
	}
}

// BenchmarkPublish measures PutRecords throughput into kinesis-mock with 1 KB
// records in batches of 500 (the stream grows with b.N, which slows the mock).
func BenchmarkPublish(b *testing.B) {
	e := Endpoints{Kinesis: os.Getenv("KINESIS_ENDPOINT")}
	if e.Kinesis == "" {
		testenv.Missing(b, "KINESIS_ENDPOINT unset: sh scripts/stack.sh start")
	}
	kc, err := e.KinesisClient(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	stream := fmt.Sprintf("bench-publish-%d", time.Now().UnixNano())
	if err := CreateStream(b.Context(), kc, stream, 4); err != nil {
		b.Fatal(err)
	}
	defer DeleteStream(context.Background(), kc, stream)
	b.ResetTimer()
	res, err := Publish(b.Context(), kc, PublishOptions{Stream: stream, Count: int64(b.N), Size: 1024, PartitionKeys: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(res.Records)/res.Elapsed.Seconds(), "records/s")
	b.SetBytes(res.Bytes / int64(max(b.N, 1)))
}
