package sink

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// cdcBenchEvent is a DynamoDB MODIFY record of about size bytes for item i.
func cdcBenchEvent(i, version, size int) []byte {
	head := fmt.Sprintf(`{"awsRegion":"eu-central-1","eventID":"%08d-%04d-4000-8000-000000000000","eventName":"MODIFY","userIdentity":null,`+
		`"recordFormat":"application/json","tableName":"readings","eventSource":"aws:dynamodb","dynamodb":{`+
		`"ApproximateCreationDateTime":%d,"ApproximateCreationDateTimePrecision":"MICROSECOND",`+
		`"Keys":{"device":{"S":"device-%04d"},"ts":{"N":"%d"}},"NewImage":{"device":{"S":"device-%04d"},"ts":{"N":"%d"},`+
		`"temperature":{"N":"%d.%02d"},"humidity":{"N":"%d"},"status":{"S":"ok"},"tags":{"SS":["a","b"]},`+
		`"meta":{"M":{"firmware":{"S":"1.2.%d"},"battery":{"N":"0.%02d"},"readings":{"L":[{"N":"1"},{"N":"2"},{"N":"3"}]}}},"note":{"S":"`,
		i, version, 1720740233000000+int64(version)*1000000+int64(i), i%1000, i, i%1000, i, 20+i%15, i%100, 40+i%50, i%10, i%100)
	tail := `"}},"SizeBytes":400}}`
	return []byte(head + strings.Repeat("x", max(size-len(head)-len(tail), 0)) + tail)
}

// BenchmarkCDCDecodeApply decodes, compacts and applies 10,000 DynamoDB
// change records of 750 bytes (10,000 distinct items) per iteration and
// reports events/s. "new" upserts into an empty table; "update" replaces
// every row with a newer version; "stale" replays records the table already
// holds (the guard rejects every row).
//
//	TEST_DATABASE_URL=$(scripts/pg.sh url) go test -run '^$' -bench CDCDecodeApply -benchmem ./processor/sink
func BenchmarkCDCDecodeApply(b *testing.B) {
	url := testDatabaseURL(b)
	const n, size = 10000, 750
	keys, _ := cdc.ParseDynamoKeys("device:S,ts:N")
	for _, mode := range []string{"new", "update", "stale"} {
		b.Run(mode, func(b *testing.B) {
			dec, err := cdc.NewDynamoDB("bench", keys, nil, cdc.Base64)
			if err != nil {
				b.Fatal(err)
			}
			w := openCDCTest(b, url, dec.Tables()...) // renames the decoder's table
			batch := func(version int) []record.Source {
				recs := make([]record.Source, n)
				for i := range recs {
					recs[i] = record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4959%036d%010d", version, i), Data: cdcBenchEvent(i, version, size)}
				}
				return recs
			}
			run := func(recs []record.Source) {
				changes := make([]cdc.Change, 0, len(recs))
				for _, r := range recs {
					ev, err := dec.Decode(r)
					if err != nil {
						b.Fatal(err)
					}
					changes = append(changes, *ev.Change)
				}
				res, err := w.Apply(context.Background(), cdc.Compact(changes))
				if err != nil || res.Written != n {
					b.Fatalf("written %d: %v", res.Written, err)
				}
			}
			ctx := context.Background()
			first := batch(0)
			if mode != "new" {
				run(first)
			}
			b.SetBytes(int64(n * size))
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				recs := first
				switch mode {
				case "new":
					if _, err := w.pool.Exec(ctx, "TRUNCATE "+w.order[0].name.sql()); err != nil {
						b.Fatal(err)
					}
				case "update":
					recs = batch(i + 1)
				}
				b.StartTimer()
				run(recs)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
