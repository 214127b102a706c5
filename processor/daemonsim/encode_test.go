package daemonsim

import (
	"bytes"
	"encoding/json"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// The expected lines are the daemon's own Jackson output recorded in
// the developers' protocol notes (the Java daemon run on these inputs).
func TestEncodeMatchesJackson(t *testing.T) {
	binary := []byte{0xff, 0xfe}
	for b := byte(0); b <= 0x50; b++ {
		binary = append(binary, b)
	}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"initialize trim horizon", AppendInitialize(nil, "shardId-000000000000", ptr("TRIM_HORIZON"), ptr[int64](0)),
			`{"action":"initialize","shardId":"shardId-000000000000","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}`},
		{"initialize nulls", AppendInitialize(nil, "shardId-000000000001", nil, nil),
			`{"action":"initialize","shardId":"shardId-000000000001","sequenceNumber":null,"subSequenceNumber":null}`},
		{"processRecords", AppendProcessRecords(nil, []Record{
			{Data: []byte("hello world"), PartitionKey: "pk-1", SequenceNumber: "49590338271490256608559692538361571095921575989136588898", ApproximateArrivalTimestamp: ptr[int64](1700000000123)},
			{Data: binary, PartitionKey: "äöü-\"quoted\"\n", SequenceNumber: "49590338271490256608559692538361571095921575989136588899", ApproximateArrivalTimestamp: ptr[int64](1700000000456), SubSequenceNumber: 2},
		}, ptr[int64](0)),
			`{"action":"processRecords","records":[{"data":"aGVsbG8gd29ybGQ=","partitionKey":"pk-1","sequenceNumber":"49590338271490256608559692538361571095921575989136588898","approximateArrivalTimestamp":1700000000123,"subSequenceNumber":0,"action":"record"},{"data":"//4AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0RFRkdISUpLTE1OT1A=","partitionKey":"äöü-\"quoted\"\n","sequenceNumber":"49590338271490256608559692538361571095921575989136588899","approximateArrivalTimestamp":1700000000456,"subSequenceNumber":2,"action":"record"}],"millisBehindLatest":0}`},
		{"empty processRecords", AppendProcessRecords(nil, nil, nil), `{"action":"processRecords","records":[],"millisBehindLatest":null}`},
		{"leaseLost", appendBare(nil, ActionLeaseLost), `{"action":"leaseLost"}`},
		{"checkpoint ok", appendCheckpointReply(nil, ptr("4959033827"), nil, ""),
			`{"action":"checkpoint","sequenceNumber":"4959033827","subSequenceNumber":null,"error":null}`},
		{"checkpoint null", appendCheckpointReply(nil, nil, nil, ""),
			`{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":null}`},
		{"checkpoint error", appendCheckpointReply(nil, ptr("4959033827"), ptr[int64](5), ErrThrottling),
			`{"action":"checkpoint","sequenceNumber":"4959033827","subSequenceNumber":5,"error":"ThrottlingException"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The doc shows the escaped "\n" literally; the daemon writes
			// the two characters backslash and n.
			if want := tt.want + "\n"; string(tt.got) != want {
				t.Errorf("got\n%s\nwant\n%s", tt.got, want)
			}
		})
	}
}

func TestAppendStringEscapesLikeJackson(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"a/b<c>&d", `"a/b<c>&d"`},
		{"tab\tcr\rbs\bff\fnl\n", `"tab\tcr\rbs\bff\fnl\n"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001F` + "\x7f" + `"`},
		{"quote\" back\\", `"quote\" back\\"`},
		{"ü\u2028😀", "\"ü\u2028😀\""},
		{"bad\xffutf8", `"bad?utf8"`},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestGeneratorRecords(t *testing.T) {
	g := Generator{Seed: 7, Size: 700, SubRecords: 3}
	recs, err := g.Records(500)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := g.Records(500)
	var prev Position
	nonASCIIKey := false
	for i, r := range recs {
		if len(r.Data) != 700 {
			t.Fatalf("record %d: payload %d bytes, want 700", i, len(r.Data))
		}
		var obj map[string]any
		if err := json.Unmarshal(r.Data, &obj); err != nil {
			t.Fatalf("record %d: payload is not JSON: %v", i, err)
		}
		if _, ok := obj["customer"].(map[string]any); !ok {
			t.Fatalf("record %d: no nested customer object", i)
		}
		if len(r.SequenceNumber) != 56 || !isDigits(r.SequenceNumber) {
			t.Fatalf("record %d: sequence %q is not 56 digits", i, r.SequenceNumber)
		}
		p := Position{r.SequenceNumber, r.SubSequenceNumber}
		if i > 0 && p.Compare(prev) <= 0 {
			t.Fatalf("record %d: position %v not above %v", i, p, prev)
		}
		if want := int64(i % 3); r.SubSequenceNumber != want {
			t.Fatalf("record %d: sub-sequence %d, want %d", i, r.SubSequenceNumber, want)
		}
		prev = p
		if !bytes.Equal(r.Data, again[i].Data) || r.PartitionKey != again[i].PartitionKey {
			t.Fatalf("record %d differs between two runs with the same seed", i)
		}
		for _, c := range []byte(r.PartitionKey) {
			nonASCIIKey = nonASCIIKey || c >= 0x80
		}
	}
	if !nonASCIIKey {
		t.Error("no non-ASCII partition key generated")
	}
	batches := Batches(recs, 200, nil)
	if len(batches) != 3 || batches[2].Count != 100 {
		t.Fatalf("batches: got %d (last %d records), want 3 (last 100)", len(batches), batches[len(batches)-1].Count)
	}
	last := recs[len(recs)-1]
	if batches[2].Largest != (Position{last.SequenceNumber, last.SubSequenceNumber}) {
		t.Errorf("largest of last batch %v, want last record", batches[2].Largest)
	}
	var msg struct {
		Records []struct {
			Data []byte `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(batches[0].Line, &msg); err != nil || len(msg.Records) != 200 || !bytes.Equal(msg.Records[5].Data, recs[5].Data) {
		t.Fatalf("batch line does not round-trip: %v", err)
	}
}
