package cdc

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// TestItemDecodesLikeTheStream: for every NewImage of the golden stream,
// Item makes exactly the Change the stream's record makes at the same
// version, and Decode of the Change's own Source (the dead-letter and
// replay path) makes it again.
func TestItemDecodesLikeTheStream(t *testing.T) {
	f, err := os.Open("testdata/dynamodb/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, err := ParseDynamoKeys("id:S,rev:N")
	if err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{"", "inventory"} {
		d, err := NewDynamoDB("doc.inventory", keys, nil, Hex)
		if err != nil {
			t.Fatal(err)
		}
		if source != "" {
			d = d.WithSourceTable(source)
		}
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		checked := 0
		for sc.Scan() {
			line := sc.Bytes()
			var r struct {
				EventName string
				Dynamodb  struct{ NewImage json.RawMessage }
			}
			if json.Unmarshal(line, &r) != nil || r.EventName == "REMOVE" || len(r.Dynamodb.NewImage) == 0 {
				continue
			}
			ev, err := d.Decode(record.Source{ShardID: "s", SequenceNumber: "49", SubSequenceNumber: 3, Data: line})
			if err != nil || ev.Change == nil {
				continue // the corpus's malformed records: Item refuses them too (below)
			}
			stream := *ev.Change
			item, err := d.Item(r.Dynamodb.NewImage, stream.Version)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if item.Op != Upsert || !reflect.DeepEqual(item.Key, stream.Key) || string(item.Data) != string(stream.Data) ||
				string(item.Aux) != string(stream.Aux) || item.Version != stream.Version || !item.EventTime.Equal(stream.EventTime) {
				t.Fatalf("item\n %+v\nstream\n %+v", item, stream)
			}
			again, err := d.Decode(item.Source)
			if err != nil || again.Change == nil {
				t.Fatalf("Decode(Source) %s: %v %+v", item.Source.Data, err, again)
			}
			if g := again.Change; g.Version != item.Version || string(g.Data) != string(item.Data) || string(g.Aux) != string(item.Aux) ||
				!reflect.DeepEqual(g.Key, item.Key) {
				t.Fatalf("replayed\n %+v\nitem\n %+v", *g, item)
			}
			checked++
		}
		if checked < 10 {
			t.Fatalf("only %d images checked", checked)
		}
	}
}

func TestItemErrors(t *testing.T) {
	d := testDynamo(t, Base64, Column{Name: "temp", Type: Double})
	ok := Version{Micros: 1720740233000000, Seq: "1", Sub: 7}
	tests := []struct {
		name, item string
		v          Version
		want       string
	}{
		{"missing key attribute", `{"device":{"S":"a"}}`, ok, `key attribute "ts" is missing`},
		{"key of another type", `{"device":{"S":"a"},"ts":{"S":"x"}}`, ok, `has type S, configured N`},
		{"fractional number key", `{"device":{"S":"a"},"ts":{"N":"1.5"}}`, ok, "does not fit the BIGINT key column"},
		{"declared type", `{"device":{"S":"a"},"ts":{"N":"1"},"temp":{"S":"hot"}}`, ok, "declared type DOUBLE"},
		{"bad type tag", `{"device":{"S":"a"},"ts":{"N":"1"},"x":{"Q":"1"}}`, ok, `unknown type tag "Q"`},
		{"not an object", `[1]`, ok, "missing"},
		{"leading zero in the version", `{"device":{"S":"a"},"ts":{"N":"1"}}`, Version{Micros: 1, Seq: "01"}, "without leading zeros"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := d.Item(json.RawMessage(tc.item), tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(c.Source.Data) == 0 || c.Source.SequenceNumber == "" {
				t.Fatalf("no Source for the dead letter: %+v", c.Source)
			}
			// The dead letter, replayed, fails the same way.
			if _, err := d.Decode(c.Source); err == nil && tc.v == ok {
				t.Fatalf("the dead letter decodes: %s", c.Source.Data)
			}
		})
	}
}

// TestItemVersionWithoutSequence: an empty Seq sorts below every record's
// sequence number at the same time, and survives the round trip.
func TestItemVersionWithoutSequence(t *testing.T) {
	d := testDynamo(t, Base64)
	v := Version{Micros: 1720740233000000}
	c, err := d.Item(json.RawMessage(`{"device":{"S":"a"},"ts":{"N":"1"},"t":{"N":"2"}}`), v)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := d.Decode(c.Source)
	if err != nil || ev.Change.Version != v {
		t.Fatalf("%v %+v", err, ev.Change)
	}
	if v.Compare(Version{Micros: v.Micros, Seq: "1"}) >= 0 || v.String() >= (Version{Micros: v.Micros, Seq: "1"}).String() {
		t.Fatal("empty Seq does not sort first")
	}
}
