package kcl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeMessage(t *testing.T) {
	arrival := time.UnixMilli(1700000000123).UTC()
	tests := []struct {
		name string
		line string
		want message
	}{
		{
			name: "initialize",
			line: `{"action":"initialize","shardId":"shardId-000000000000","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}`,
			want: message{Action: "initialize", ShardID: "shardId-000000000000", SequenceNumber: ptr("TRIM_HORIZON"), SubSequenceNumber: ptr(int64(0))},
		},
		{
			name: "initialize with nulls",
			line: `{"action":"initialize","shardId":"shardId-000000000001","sequenceNumber":null,"subSequenceNumber":null}`,
			want: message{Action: "initialize", ShardID: "shardId-000000000001"},
		},
		{
			name: "processRecords, non-ASCII and escaped partition key, binary data",
			line: `{"action":"processRecords","records":[{"data":"aGVsbG8gd29ybGQ=","partitionKey":"pk-1","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","approximateArrivalTimestamp":1700000000123,"subSequenceNumber":0,"action":"record"},{"data":"//4AAQ==","partitionKey":"äöü-\"quoted\"\n\u00e9\ud83d\ude00","sequenceNumber":"49590338271490256608559692538361571095921575989136588899","approximateArrivalTimestamp":null,"subSequenceNumber":2,"action":"record"}],"millisBehindLatest":0}`,
			want: message{Action: "processRecords", MillisBehindLatest: ptr(int64(0)), Records: []Record{
				{Data: []byte("hello world"), PartitionKey: "pk-1", SequenceNumber: "49590338271490256608559692538361571095921575989136588898", ApproximateArrivalTimestamp: arrival},
				{Data: []byte{0xff, 0xfe, 0x00, 0x01}, PartitionKey: "äöü-\"quoted\"\né😀", SequenceNumber: "49590338271490256608559692538361571095921575989136588899", SubSequenceNumber: 2},
			}},
		},
		{
			name: "empty payload and empty batch fields",
			line: `{"action":"processRecords","records":[{"data":"","partitionKey":"","sequenceNumber":"1","subSequenceNumber":0}],"millisBehindLatest":null}`,
			want: message{Action: "processRecords", Records: []Record{{Data: []byte{}, SequenceNumber: "1"}}},
		},
		{
			name: "no records",
			line: `{"action":"processRecords","records":[],"millisBehindLatest":null}`,
			want: message{Action: "processRecords", Records: []Record{}},
		},
		{
			name: "checkpoint reply with error",
			line: `{"action":"checkpoint","sequenceNumber":"4959033827","subSequenceNumber":5,"error":"ThrottlingException"}`,
			want: message{Action: "checkpoint", SequenceNumber: ptr("4959033827"), SubSequenceNumber: ptr(int64(5)), Error: ptr("ThrottlingException")},
		},
		{
			name: "legacy shutdown",
			line: `{"action":"shutdown","reason":"TERMINATE"}`,
			want: message{Action: "shutdown", Reason: "TERMINATE"},
		},
		{
			name: "unknown fields, spaces and coerced types are tolerated",
			line: ` { "action" : "checkpoint" , "future" : {"a":[1,2.5e3,true,false,null,"x\u0041"]}, "sequenceNumber" : 123 , "subSequenceNumber" : "4" } `,
			want: message{Action: "checkpoint", SequenceNumber: ptr("123"), SubSequenceNumber: ptr(int64(4))},
		},
		{
			name: "escaped base64",
			line: `{"action":"processRecords","records":[{"data":"aGk\/","sequenceNumber":"1"}]}`,
			want: message{Action: "processRecords", Records: []Record{{Data: []byte("hi?"), SequenceNumber: "1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMessage([]byte(tt.line), nil)
			if err != nil {
				t.Fatalf("decodeMessage: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	tests := []struct{ name, line, wantErr string }{
		{"not json", `hello world`, "expected an object"},
		{"array", `[1,2]`, "expected an object"},
		{"no action", `{"shardId":"x"}`, "no action"},
		{"truncated", `{"action":"processRecords","records":[{"data":"aGk=",`, "invalid message"},
		{"bad base64", `{"action":"processRecords","records":[{"data":"***","sequenceNumber":"1"}]}`, "base64"},
		{"trailing garbage", `{"action":"leaseLost"} x`, "trailing data"},
		{"bad escape", `{"action":"le\qseLost"}`, "invalid escape"},
		{"bad number", `{"action":"checkpoint","subSequenceNumber":01}`, "invalid number"},
		{"overflowing int", `{"action":"checkpoint","subSequenceNumber":99999999999999999999}`, "integer"},
		{"control char", "{\"action\":\"a\x01\"}", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMessage([]byte(tt.line), nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// jsonRecord mirrors the daemon's record JSON for comparing our decoder
// with encoding/json.
type jsonRecord struct {
	Data                        []byte `json:"data"`
	PartitionKey                string `json:"partitionKey"`
	SequenceNumber              string `json:"sequenceNumber"`
	ApproximateArrivalTimestamp *int64 `json:"approximateArrivalTimestamp"`
	SubSequenceNumber           int64  `json:"subSequenceNumber"`
	Action                      string `json:"action"`
}

type jsonBatch struct {
	Action             string       `json:"action"`
	Records            []jsonRecord `json:"records"`
	MillisBehindLatest *int64       `json:"millisBehindLatest"`
}

// TestDecodeMatchesEncodingJSON decodes random batches written by
// encoding/json and checks every field against the source values.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		batch := randomBatch(rng)
		line, err := json.Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeMessage(line, nil)
		if err != nil {
			t.Fatalf("batch %d: %v\n%s", i, err, line)
		}
		if len(got.Records) != len(batch.Records) {
			t.Fatalf("batch %d: %d records, want %d", i, len(got.Records), len(batch.Records))
		}
		for j, want := range batch.Records {
			compareRecord(t, got.Records[j], want)
		}
	}
}

func compareRecord(t *testing.T, got Record, want jsonRecord) {
	t.Helper()
	if string(got.Data) != string(want.Data) || got.PartitionKey != want.PartitionKey ||
		got.SequenceNumber != want.SequenceNumber || got.SubSequenceNumber != want.SubSequenceNumber {
		t.Fatalf("record mismatch:\n got %+v\nwant %+v", got, want)
	}
	if want.ApproximateArrivalTimestamp == nil {
		if !got.ApproximateArrivalTimestamp.IsZero() {
			t.Fatalf("arrival %v, want zero", got.ApproximateArrivalTimestamp)
		}
	} else if got.ApproximateArrivalTimestamp.UnixMilli() != *want.ApproximateArrivalTimestamp {
		t.Fatalf("arrival %v, want %d", got.ApproximateArrivalTimestamp, *want.ApproximateArrivalTimestamp)
	}
}

func randomBatch(rng *rand.Rand) jsonBatch {
	n := rng.IntN(20)
	b := jsonBatch{Action: "processRecords", Records: make([]jsonRecord, n)}
	if rng.IntN(2) == 0 {
		b.MillisBehindLatest = ptr(rng.Int64N(1 << 40))
	}
	for i := range b.Records {
		data := make([]byte, rng.IntN(300))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		r := jsonRecord{
			Data:              data,
			PartitionKey:      randomKey(rng),
			SequenceNumber:    fmt.Sprintf("4959%052d", rng.Int64()),
			SubSequenceNumber: rng.Int64N(1000),
			Action:            "record",
		}
		if rng.IntN(4) != 0 {
			r.ApproximateArrivalTimestamp = ptr(rng.Int64N(4e12))
		}
		b.Records[i] = r
	}
	return b
}

func randomKey(rng *rand.Rand) string {
	alphabet := []rune("abcXYZ019 \"\\/\n\t\u00e4\u00f6\u00fc\u20ac\U0001F600<>&\u2028")
	k := make([]rune, rng.IntN(30))
	for i := range k {
		k[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(k)
}

func TestAppendStringIsASCII(t *testing.T) {
	for _, s := range []string{"plain", "äöü", "quote\"back\\slash", "line\nbreak\r\ttab\x01", "emoji 😀", "\xff invalid"} {
		b := appendString(nil, s)
		for _, c := range b {
			if c >= 0x80 || c < 0x20 {
				t.Fatalf("appendString(%q) = %q: not printable ASCII", s, b)
			}
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("appendString(%q) = %q: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	}
}

// FuzzDecodeMessage checks that no input makes the decoder panic, that it
// never accepts what is not JSON, that it agrees with encoding/json on the
// payloads of records it accepts, and that reading in small chunks and
// splitting into parts changes nothing.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"action":"initialize","shardId":"shardId-000000000000","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}`))
	f.Add([]byte(`{"action":"processRecords","records":[{"data":"aGVsbG8=","partitionKey":"k\u00e9","sequenceNumber":"1","approximateArrivalTimestamp":1,"subSequenceNumber":0,"action":"record"}],"millisBehindLatest":null}`))
	f.Add([]byte(`{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":"ShutdownException"}`))
	f.Add([]byte(`{"action":"shutdown","reason":"ZOMBIE"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeMessage(line, nil)
		if err != nil {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		// Read through a tiny buffer, values cut at every chunk, and
		// split into parts, the line gives the same records.
		parts, err := readParts(line, 16, 64)
		if err != nil {
			t.Fatalf("accepted whole, refused in parts: %v", err)
		}
		var all []Record
		for _, p := range parts {
			all = append(all, p.Records...)
		}
		if len(all) != len(m.Records) {
			t.Fatalf("%d records in parts, %d whole", len(all), len(m.Records))
		}
		for i := range all {
			if string(all[i].Data) != string(m.Records[i].Data) || all[i].PartitionKey != m.Records[i].PartitionKey {
				t.Fatalf("record %d differs in parts: %+v, whole %+v", i, all[i], m.Records[i])
			}
		}
		var ref jsonBatch
		if json.Unmarshal(line, &ref) != nil || len(ref.Records) != len(m.Records) {
			return
		}
		// encoding/json matches keys without regard to case ("dAtA" is
		// data to it), Jackson and we do not.
		if bytes.Count(bytes.ToLower(line), []byte(`"data"`)) != bytes.Count(line, []byte(`"data"`)) {
			return
		}
		for i := range ref.Records {
			if string(ref.Records[i].Data) != string(m.Records[i].Data) {
				t.Fatalf("record %d data %q, encoding/json says %q", i, m.Records[i].Data, ref.Records[i].Data)
			}
		}
	})
}

func BenchmarkDecodeProcessRecords(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	batch := jsonBatch{Action: "processRecords", MillisBehindLatest: ptr(int64(0))}
	payload := []byte(`{"id":123456,"name":"` + strings.Repeat("x", 950) + `","ok":true}`)
	for i := 0; i < 10000; i++ {
		batch.Records = append(batch.Records, jsonRecord{
			Data: payload, PartitionKey: fmt.Sprintf("pk-%d", rng.IntN(100)),
			SequenceNumber: fmt.Sprintf("4959%052d", i), ApproximateArrivalTimestamp: ptr(int64(1700000000000 + i)), Action: "record",
		})
	}
	line, _ := json.Marshal(batch)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeMessage(line, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Records))/b.Elapsed().Seconds(), "records/s")
}
