package localaws

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TSLayout is the fixed-width RFC 3339 layout (microseconds, UTC) of
// DemoRecord.TS. Fixed width keeps padded records exactly PublishOptions.Size
// bytes and a seeded run reproducible.
const TSLayout = "2006-01-02T15:04:05.000000Z07:00"

// MaxBatch is the most records one PutRecords call accepts.
const MaxBatch = 500

// maxPutAttempts bounds how often records that PutRecords reports as failed
// (throttled, internal failure) are sent again before Publish gives up.
const maxPutAttempts = 10

// DemoRecord is the JSON object Publish writes into each Kinesis record: a
// sensor reading like the seed project's publish.py sent. ID runs from
// PublishOptions.FirstID upwards, one per record, so a consumer can check that
// every record arrived exactly once. Key is also the record's partition key.
type DemoRecord struct {
	ID          int64   `json:"id"`
	Key         string  `json:"key"`
	TS          string  `json:"ts"` // TSLayout, UTC
	Device      string  `json:"device"`
	Temperature float64 `json:"temperature"`
	Humidity    float64 `json:"humidity"`
	Pad         string  `json:"pad"`
}

// PublishOptions describes a run of Publish. Only Stream is required; the zero
// value of every other field has a sensible meaning.
type PublishOptions struct {
	Stream string
	// Count records are published, with ids FirstID .. FirstID+Count-1.
	Count   int64
	FirstID int64
	// Size is the approximate size in bytes of each record's JSON; the pad field
	// fills it up. 0 means no padding.
	Size int
	// Rate limits publishing to that many records per second; 0 means as fast as
	// possible.
	Rate float64
	// PartitionKeys is the number of distinct partition keys (default 16).
	PartitionKeys int
	// Batch is the number of records per PutRecords call, 1..MaxBatch (default MaxBatch).
	Batch int
	// Seed makes keys, values and padding reproducible.
	Seed int64
}

// PublishResult summarises a run of Publish.
type PublishResult struct {
	Records int64
	Bytes   int64
	Calls   int
	// Retried counts records sent again because PutRecords reported them failed.
	Retried int64
	Elapsed time.Duration
	// PerShard counts records by the shard Kinesis put them in.
	PerShard map[string]int64
}

// String is the one-line summary the publish command prints.
func (r PublishResult) String() string {
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Records) / r.Elapsed.Seconds()
	}
	shards := make([]string, 0, len(r.PerShard))
	for id, n := range r.PerShard {
		shards = append(shards, fmt.Sprintf("%s=%d", id, n))
	}
	sort.Strings(shards)
	return fmt.Sprintf("published %d records (%d bytes) in %.2fs, %.0f rec/s, %d calls, %d retried; shards: %s",
		r.Records, r.Bytes, r.Elapsed.Seconds(), rate, r.Calls, r.Retried, strings.Join(shards, " "))
}

// Publish writes o.Count demo records to o.Stream with PutRecords.
func Publish(ctx context.Context, c *kinesis.Client, o PublishOptions) (PublishResult, error) {
	res := PublishResult{PerShard: map[string]int64{}}
	if o.Stream == "" {
		return res, fmt.Errorf("publish: no stream given")
	}
	batch, err := o.batchSize()
	if err != nil {
		return res, err
	}
	gen := newRecordGen(o)
	start := time.Now()
	for sent := int64(0); sent < o.Count; {
		if err := o.pace(ctx, start, sent); err != nil {
			return res, err
		}
		n := min(int64(batch), o.Count-sent)
		entries := make([]types.PutRecordsRequestEntry, 0, n)
		for range n {
			data, key, err := gen.next()
			if err != nil {
				return res, err
			}
			entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(key)})
			res.Bytes += int64(len(data))
		}
		if err := putAll(ctx, c, o.Stream, entries, &res); err != nil {
			return res, fmt.Errorf("publish to %s (records %d..%d): %w", o.Stream, o.FirstID+sent, o.FirstID+sent+n-1, err)
		}
		sent += n
		res.Records = sent
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func (o PublishOptions) batchSize() (int, error) {
	b := o.Batch
	if b == 0 {
		b = MaxBatch
	}
	if b < 1 || b > MaxBatch {
		return 0, fmt.Errorf("publish: batch %d outside 1..%d", b, MaxBatch)
	}
	if o.Rate > 0 {
		// About ten calls a second keep a low rate smooth instead of bursty.
		b = min(b, max(1, int(o.Rate/10)))
	}
	return b, nil
}

// pace sleeps until record number sent is due under o.Rate.
func (o PublishOptions) pace(ctx context.Context, start time.Time, sent int64) error {
	if o.Rate <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(sent) / o.Rate * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("publish: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// putAll sends entries and then again those PutRecords reports as failed, with
// exponential backoff, until all are in or maxPutAttempts is reached.
func putAll(ctx context.Context, c *kinesis.Client, stream string, entries []types.PutRecordsRequestEntry, res *PublishResult) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		res.Calls++
		if err != nil {
			return err
		}
		failed, lastErr := splitFailed(entries, out.Records, res.PerShard)
		if len(failed) == 0 {
			return nil
		}
		if attempt == maxPutAttempts {
			return fmt.Errorf("%d records still failing after %d attempts, last error: %s", len(failed), attempt, lastErr)
		}
		res.Retried += int64(len(failed))
		entries = failed
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// splitFailed returns the entries whose result carries an error code and counts
// the successful ones per shard. Results come back in request order.
func splitFailed(entries []types.PutRecordsRequestEntry, results []types.PutRecordsResultEntry, perShard map[string]int64) ([]types.PutRecordsRequestEntry, string) {
	if len(results) != len(entries) {
		// Should not happen; treat every entry as failed so nothing is lost.
		return entries, fmt.Sprintf("%d results for %d records", len(results), len(entries))
	}
	var failed []types.PutRecordsRequestEntry
	var lastErr string
	for i, r := range results {
		if r.ErrorCode != nil {
			failed = append(failed, entries[i])
			lastErr = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
			continue
		}
		perShard[aws.ToString(r.ShardId)]++
	}
	return failed, lastErr
}

// recordGen builds the demo records of one Publish run.
type recordGen struct {
	o    PublishOptions
	rng  *rand.Rand
	id   int64
	keys int
}

func newRecordGen(o PublishOptions) *recordGen {
	keys := o.PartitionKeys
	if keys <= 0 {
		keys = 16
	}
	seed := uint64(o.Seed)
	return &recordGen{o: o, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), id: o.FirstID, keys: keys}
}

// next returns the JSON payload and partition key of the next record.
func (g *recordGen) next() ([]byte, string, error) {
	k := g.rng.IntN(g.keys)
	r := DemoRecord{
		ID:          g.id,
		Key:         fmt.Sprintf("key-%d", k),
		TS:          time.Now().UTC().Format(TSLayout),
		Device:      fmt.Sprintf("device-%d", k),
		Temperature: math.Round(-2000+g.rng.Float64()*6000) / 100,
		Humidity:    math.Round(g.rng.Float64()*10000) / 100,
	}
	g.id++
	data, err := json.Marshal(r)
	if err != nil {
		return nil, "", fmt.Errorf("encode record %d: %w", r.ID, err)
	}
	if pad := g.o.Size - len(data); pad > 0 {
		r.Pad = g.padding(pad)
		if data, err = json.Marshal(r); err != nil {
			return nil, "", fmt.Errorf("encode record %d: %w", r.ID, err)
		}
	}
	return data, r.Key, nil
}

// padding returns n random lower-case letters: one byte each in JSON, so the
// record hits Size exactly, and not compressible to nothing.
func (g *recordGen) padding(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + g.rng.IntN(26))
	}
	return string(b)
}
