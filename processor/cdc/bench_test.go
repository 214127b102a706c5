package cdc

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// benchEvent is a DynamoDB MODIFY record of about size bytes: a typical
// item with strings, numbers, a map, a list and a string set.
func benchEvent(i, size int) []byte {
	head := fmt.Sprintf(`{"awsRegion":"eu-central-1","eventID":"%08d-0000-4000-8000-000000000000","eventName":"MODIFY","userIdentity":null,`+
		`"recordFormat":"application/json","tableName":"readings","eventSource":"aws:dynamodb","dynamodb":{`+
		`"ApproximateCreationDateTime":%d,"ApproximateCreationDateTimePrecision":"MICROSECOND",`+
		`"Keys":{"device":{"S":"device-%04d"},"ts":{"N":"%d"}},"NewImage":{"device":{"S":"device-%04d"},"ts":{"N":"%d"},`+
		`"temperature":{"N":"%d.%02d"},"humidity":{"N":"%d"},"status":{"S":"ok"},"tags":{"SS":["a","b"]},`+
		`"meta":{"M":{"firmware":{"S":"1.2.%d"},"battery":{"N":"0.%02d"},"readings":{"L":[{"N":"1"},{"N":"2"},{"N":"3"}]}}},"note":{"S":"`,
		i, 1720740233000000+int64(i), i%1000, i, i%1000, i, 20+i%15, i%100, 40+i%50, i%10, i%100)
	tail := `"}},"SizeBytes":400}}`
	return []byte(head + strings.Repeat("x", max(size-len(head)-len(tail), 0)) + tail)
}

// BenchmarkDynamoDBDecode decodes 750-byte change records (no database).
//
//	go test -run '^$' -bench DynamoDBDecode -benchmem ./processor/cdc
func BenchmarkDynamoDBDecode(b *testing.B) {
	keys, _ := ParseDynamoKeys("device:S,ts:N")
	d, err := NewDynamoDB("readings", keys, nil, Base64)
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	recs := make([]record.Source, n)
	for i := range recs {
		recs[i] = record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4959%046d", i), Data: benchEvent(i, 750)}
	}
	b.SetBytes(int64(len(recs[0].Data)))
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.Decode(recs[i%n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
