package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backfill"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// BenchmarkBackfill loads BENCH_BACKFILL_ITEMS (default 20,000) items from
// dynalite into a fresh table of the database BENCH_BACKFILL_DB names
// (cratedb, the default, or postgresql), with the command's defaults (4
// segments, pages of 1,000). The items are the sensor readings of the
// change-stream benchmark (kcl-bench's dynamodb-cdc format: about 750
// bytes, temperature declared DOUBLE), so the two rates compare. Each
// iteration is a new scan (--restart): the first inserts every row, later
// ones replace them. Beside it, stream-items/s is the change stream's path
// for the same items in the same minute (streamRate), which the shared
// machine's swings make the fairer comparison. scripts/bench/run.sh runs
// it once (-benchtime 1x).
// BENCH_BACKFILL_SEGMENTS and BENCH_BACKFILL_PAGE change --segments and
// --page-size.
func BenchmarkBackfill(b *testing.B) {
	n := 20000
	if v := os.Getenv("BENCH_BACKFILL_ITEMS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	name := os.Getenv("BENCH_BACKFILL_DB")
	if name == "" {
		name = pgtest.CrateDB
	}
	f := newFixture(b, pgtest.Get(b, name), cdc.Column{Name: "temperature", Type: cdc.Double})
	r := rand.New(rand.NewPCG(5, 20000))
	var items []json.RawMessage
	for i := range n {
		items = append(items, reading(r, i))
	}
	loaded := time.Now()
	dynamotest.PutItems(b, f.ddb, f.source, items)
	b.Logf("loaded %d items into dynalite in %s", n, time.Since(loaded).Round(time.Millisecond))
	b.ResetTimer()
	var total int64
	for b.Loop() {
		job := &backfill.Job{Table: f.source, Decoder: f.dec, Scanner: f.ddb, Sink: f.w, Restart: true,
			Segments: envInt(b, "BENCH_BACKFILL_SEGMENTS", 0), PageSize: envInt(b, "BENCH_BACKFILL_PAGE", 0)}
		sum, err := job.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if sum.Items != int64(n) || sum.DeadLettered != 0 {
			b.Fatalf("%+v", sum)
		}
		total += sum.ThisRun
	}
	rate := float64(total) / b.Elapsed().Seconds()
	b.StopTimer()
	b.ReportMetric(rate, "items/s")
	b.ReportMetric(float64(n), "items")
	b.ReportMetric(streamRate(b, f.db, items), "stream-items/s")
	b.ReportMetric(0, "ns/op") // one op is a whole table: items/s is the figure
}

// streamRate is the reference measured beside the backfill: the same items
// as the change stream's INSERT records, decoded and applied into a fresh
// table as the child does with a batch of 10,000 (no protocol, no scan),
// in items/s.
func streamRate(b *testing.B, db pgtest.DB, items []json.RawMessage) float64 {
	f := newTarget(b, db, cdc.Column{Name: "temperature", Type: cdc.Double})
	recs := make([]record.Source, len(items))
	for i, it := range items {
		keys := json.RawMessage(fmt.Sprintf(`{"id":%s,"rev":%s}`, attr(b, it, "id"), attr(b, it, "rev")))
		recs[i] = record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4965%052d", i),
			Data: dynamotest.ChangeRecord(f.source, "INSERT", keys, it, time.Now())}
	}
	start := time.Now()
	for first := 0; first < len(recs); first += 10000 {
		var changes []cdc.Change
		for _, rec := range recs[first:min(first+10000, len(recs))] {
			ev, err := f.dec.Decode(rec)
			if err != nil {
				b.Fatal(err)
			}
			changes = append(changes, *ev.Change)
		}
		if _, err := f.w.Apply(context.Background(), cdc.Compact(changes)); err != nil {
			b.Fatal(err)
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds()
}

// attr is one attribute of an item, as raw attribute-value JSON.
func attr(b *testing.B, item json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(item, &m); err != nil {
		b.Fatal(err)
	}
	return m[name]
}

// reading is a sensor item like kcl-bench's change stream images, about
// 750 bytes.
func reading(r *rand.Rand, i int) json.RawMessage {
	note := make([]byte, 380)
	for j := range note {
		note[j] = 'a' + byte(r.IntN(26))
	}
	return json.RawMessage(fmt.Sprintf(`{"id":{"S":"device-%d"},"rev":{"N":"%d"},"version":{"N":"1"},`+
		`"temperature":{"N":"%d.%d"},"humidity":{"N":"%d"},"status":{"S":%q},"online":{"BOOL":%t},`+
		`"tags":{"SS":["site-%d","rack-%d"]},"meta":{"M":{"firmware":{"S":"1.2.%d"},"battery":{"N":"0.%d"},`+
		`"readings":{"L":[{"N":"%d"},{"N":"%d"}]}}},"note":{"S":%q}}`,
		i%1000, 1700000000+i/1000, 15+r.IntN(20), 10+r.IntN(90), 20+r.IntN(70),
		[]string{"ok", "ok", "ok", "degraded", "offline"}[r.IntN(5)], r.IntN(4) != 0,
		r.IntN(50), r.IntN(500), r.IntN(10), 10+r.IntN(90), r.IntN(1000), r.IntN(1000), note))
}

func envInt(b *testing.B, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", key, err)
	}
	return n
}
