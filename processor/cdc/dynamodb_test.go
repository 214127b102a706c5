package cdc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

func testDynamo(t testing.TB, binary Binary, columns ...Column) *DynamoDB {
	t.Helper()
	keys, err := ParseDynamoKeys("device:S, ts:N")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDynamoDB("doc.readings", keys, columns, binary)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ddbEvent builds a Kinesis-destination record around an image.
func ddbEvent(name, keys, newImage string, micros int64) []byte {
	img := ""
	if newImage != "" {
		img = `,"NewImage":` + newImage
	}
	return fmt.Appendf(nil, `{"awsRegion":"eu-central-1","eventID":"e-%d","eventName":%q,"userIdentity":null,`+
		`"recordFormat":"application/json","tableName":"readings","eventSource":"aws:dynamodb",`+
		`"dynamodb":{"ApproximateCreationDateTime":%d,"ApproximateCreationDateTimePrecision":"MICROSECOND",`+
		`"Keys":%s%s,"SizeBytes":99}}`, micros, name, micros, keys, img)
}

func rec(data []byte, seq string) record.Source {
	return record.Source{ShardID: "shardId-000000000000", SequenceNumber: seq, PartitionKey: "p", Data: data}
}

const keyFoo = `{"device":{"S":"foo"},"ts":{"N":"1720740233"}}`

func TestDynamoDBDecode(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		data, aux string
	}{
		{"scalars", `{"device":{"S":"foo"},"ts":{"N":"1720740233"},"temp":{"N":"42.42"},"count":{"N":"7"},"ok":{"BOOL":true},"none":{"NULL":true},"empty":{"S":""},"nul":{"S":null}}`,
			`{"count":7,"empty":"","none":null,"nul":null,"ok":true,"temp":42.42}`, `{}`},
		{"nested map and list sorted", `{"meta":{"M":{"z":{"N":"1"},"a":{"L":[{"S":"x"},{"S":"y"}]}}},"tags":{"L":[{"M":{"k":{"S":"v"}}},{"M":{"k":{"S":"w"}}}]}}`,
			`{"meta":{"a":["x","y"],"z":1},"tags":[{"k":"v"},{"k":"w"}]}`, `{}`},
		{"sets", `{"ss":{"SS":["a","b"]},"ns":{"NS":["1","2","0.34"]},"bs":{"BS":["U3Vubnk="]}}`,
			`{"bs":["U3Vubnk="],"ns":[1,2,0.34],"ss":["a","b"]}`, `{}`},
		{"numbers as bare JSON", `{"n":{"N":12345},"ns":{"NS":[1,2.5]}}`, `{"n":12345,"ns":[1,2.5]}`, `{}`},
		{"big numbers go to aux as exact text", `{"big":{"N":"123456789012345678901234567890"},"pi":{"N":"3.1415926535897932384626433832795028841"},"fine":{"N":"1E+20"}}`,
			`{"fine":1e+20}`, `{"big":"123456789012345678901234567890","pi":"3.1415926535897932384626433832795028841"}`},
		{"big number nested moves the whole attribute", `{"m":{"M":{"a":{"N":"1"},"b":{"N":"99999999999999999999"}}}}`,
			`{}`, `{"m":{"a":1,"b":"99999999999999999999"}}`},
		{"mixed list goes to aux", `{"mixed":{"L":[{"N":"1"},{"S":"a"}]},"ok":{"L":[{"N":"1"},{"NULL":true},{"N":"2.5"}]}}`,
			`{"ok":[1,null,2.5]}`, `{"mixed":[1,"a"]}`},
		{"nested mixed list goes to aux", `{"deep":{"M":{"l":{"L":[{"L":[{"N":"1"}]},{"L":[{"S":"x"}]}]}}}}`,
			`{}`, `{"deep":{"l":[[1],["x"]]}}`},
		{"names CrateDB refuses go to aux", `{"a.b":{"S":"x"},"m":{"M":{"c[0]":{"N":"1"}}},"plain":{"S":"y"}}`,
			`{"plain":"y"}`, `{"a.b":"x","m":{"c[0]":1}}`},
		{"escapes survive", `{"s":{"S":"line\nbreak \"q\" \u00e9 \/"},"k\u00e9y":{"S":"v"}}`,
			`{"k\u00e9y":"v","s":"line\nbreak \"q\" \u00e9 \/"}`, `{}`},
		{"empty containers", `{"m":{"M":{}},"l":{"L":[]}}`, `{"l":[],"m":{}}`, `{}`},
	}
	d := testDynamo(t, Base64)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := d.Decode(rec(ddbEvent("INSERT", keyFoo, tt.image, 1720740233012995), fmt.Sprint(100+i)))
			if err != nil {
				t.Fatal(err)
			}
			c := ev.Change
			if c == nil || c.Op != Upsert {
				t.Fatalf("event %+v", ev)
			}
			if string(c.Data) != tt.data || string(c.Aux) != tt.aux {
				t.Errorf("data %s aux %s\nwant %s aux %s", c.Data, c.Aux, tt.data, tt.aux)
			}
			if !json.Valid(c.Data) || !json.Valid(c.Aux) {
				t.Error("invalid JSON produced")
			}
			if string(c.KeyObject()) != `{"device":"foo","ts":1720740233}` {
				t.Errorf("key %s", c.KeyObject())
			}
			if c.EventTime != time.UnixMicro(1720740233012995).UTC() {
				t.Errorf("event time %s", c.EventTime)
			}
		})
	}
}

func TestDynamoDBRemoveAndVersion(t *testing.T) {
	d := testDynamo(t, Base64)
	ev, err := d.Decode(rec(ddbEvent("REMOVE", keyFoo, "", 5), "49590338271490256608559692538361571095921575989136588898"))
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Change
	if c.Op != Delete || c.Data != nil || c.Aux != nil {
		t.Fatalf("%+v", c)
	}
	want := Version{Micros: 5, Seq: "49590338271490256608559692538361571095921575989136588898"}
	if c.Version != want {
		t.Errorf("version %+v", c.Version)
	}
}

func TestDynamoDBBinaryHex(t *testing.T) {
	d := testDynamo(t, Hex)
	ev, err := d.Decode(rec(ddbEvent("MODIFY", keyFoo, `{"b":{"B":"AAEC/w=="},"bs":{"BS":["AQ=="]}}`, 1), "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ev.Change.Data); got != `{"b":"000102ff","bs":["01"]}` {
		t.Errorf("data %s", got)
	}
}

func TestDynamoDBDeclaredTypes(t *testing.T) {
	d := testDynamo(t, Base64, Column{Name: "price", Type: Double}, Column{Name: "qty", Type: BigInt}, Column{Name: "name", Type: Text})
	ok := `{"price":{"N":"10"},"qty":{"N":"3"},"name":{"S":"x"}}`
	if _, err := d.Decode(rec(ddbEvent("INSERT", keyFoo, ok, 1), "1")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"qty":{"N":"1.5"}}`, `{"price":{"S":"10"}}`, `{"name":{"N":"1"}}`} {
		if _, err := d.Decode(rec(ddbEvent("INSERT", keyFoo, bad, 1), "1")); err == nil || !strings.Contains(err.Error(), "declared type") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

func TestDynamoDBPrecision(t *testing.T) {
	for _, tt := range []struct {
		value, precision string
		micros           int64
	}{
		{"1720740233012995", "MICROSECOND", 1720740233012995},
		{"1720740233012", "MILLISECOND", 1720740233012000},
		{"1720740233012", "", 1720740233012000},
		{"1720740233.5", "", 1720740233500000},
		{"1720740233012995", "", 1720740233012995},
	} {
		got, err := changeMicros([]byte(tt.value), []byte(`"`+tt.precision+`"`))
		if err != nil || got != tt.micros {
			t.Errorf("%s/%s = %d, %v; want %d", tt.value, tt.precision, got, err, tt.micros)
		}
	}
}

func TestDynamoDBMalformed(t *testing.T) {
	d := testDynamo(t, Base64)
	img := `{"a":{"S":"x"}}`
	tests := []struct {
		name string
		data string
		want string
	}{
		{"not json", `{"eventName":`, "not a DynamoDB change record"},
		{"other source", `{"eventSource":"aws:s3","eventName":"INSERT"}`, "eventSource"},
		{"unknown event", strings.Replace(string(ddbEvent("INSERT", keyFoo, img, 1)), `"INSERT"`, `"TRUNCATE"`, 1), "unknown eventName"},
		{"no dynamodb", `{"eventSource":"aws:dynamodb","eventName":"INSERT"}`, "no dynamodb"},
		{"no time", strings.Replace(string(ddbEvent("INSERT", keyFoo, img, 1)), `"ApproximateCreationDateTime":1,`, ``, 1), "ApproximateCreationDateTime is missing"},
		{"missing key", string(ddbEvent("INSERT", `{"device":{"S":"foo"}}`, img, 1)), `"ts" is missing`},
		{"extra key", string(ddbEvent("INSERT", `{"device":{"S":"foo"},"ts":{"N":"1"},"x":{"S":"y"}}`, img, 1)), `"x" is not configured`},
		{"key type", string(ddbEvent("INSERT", `{"device":{"S":"foo"},"ts":{"S":"1"}}`, img, 1)), "has type S, configured N"},
		{"fractional numeric key", string(ddbEvent("INSERT", `{"device":{"S":"foo"},"ts":{"N":"1.5"}}`, img, 1)), "does not fit the BIGINT key"},
		{"no new image", string(ddbEvent("MODIFY", keyFoo, "", 1)), "no NewImage"},
		{"unknown tag", string(ddbEvent("INSERT", keyFoo, `{"a":{"X":"1"}}`, 1)), "unknown type tag"},
		{"two tags", string(ddbEvent("INSERT", keyFoo, `{"a":{"S":"1","N":"1"}}`, 1)), "more than one type tag"},
		{"bad number", string(ddbEvent("INSERT", keyFoo, `{"a":{"N":"12abc"}}`, 1)), "not a number"},
		{"bad base64", string(ddbEvent("INSERT", keyFoo, `{"a":{"B":"!!"}}`, 1)), "base64"},
		{"bad bool", string(ddbEvent("INSERT", keyFoo, `{"a":{"BOOL":"yes"}}`, 1)), "BOOL"},
		{"value not typed", string(ddbEvent("INSERT", keyFoo, `{"a":"plain"}`, 1)), "not a {\"TYPE\": value}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Decode(rec([]byte(tt.data), "1"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseDynamoKeys(t *testing.T) {
	keys, err := ParseDynamoKeys(" pk:s , sort:key:N ")
	if err != nil || len(keys) != 2 || keys[0] != (DynamoKey{"pk", "S"}) || keys[1] != (DynamoKey{"sort:key", "N"}) {
		t.Fatalf("%v %v", keys, err)
	}
	for _, bad := range []string{"", "id", "id:X", "id:S,id:N", "a:S,b:S,c:S", ":S", " :S"} {
		if _, err := ParseDynamoKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseColumns(t *testing.T) {
	cols, err := ParseColumns(" price : double, a:b:TEXT ,")
	if err != nil || len(cols) != 2 || cols[0] != (Column{Name: "price", Type: Double}) || cols[1] != (Column{Name: "a:b", Type: Text}) {
		t.Fatalf("%v %v", cols, err)
	}
	for _, bad := range []string{"price", "price:MONEY", "a:TEXT,a:BIGINT", ":TEXT", " :TEXT"} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestVersionEncodingOrdersLikeCompare(t *testing.T) {
	vs := []Version{
		{Micros: 0, Seq: "1"},
		{Micros: 0, Seq: "9"},
		{Micros: 0, Seq: "10"},
		{Micros: 0, Seq: "10", Sub: 1},
		{Micros: 0, Seq: "10", Sub: 12},
		{Micros: 1, Seq: "1"},
		{Micros: 1720740233012995, Seq: "49590338271490256608559692538361571095921575989136588898"},
		{Micros: 1720740233012995, Seq: "49590338271490256608559692538361571095921575989136588899"},
		{Micros: 1720740233012996, Seq: "2"},
	}
	for i := range vs {
		for j := range vs {
			c := vs[i].Compare(vs[j])
			s := strings.Compare(vs[i].String(), vs[j].String())
			if c != s || (i < j) != (c < 0) {
				t.Errorf("%v vs %v: Compare %d, string order %d", vs[i], vs[j], c, s)
			}
		}
	}
}

func TestCompactKeepsNewestPerRow(t *testing.T) {
	d := testDynamo(t, Base64)
	mk := func(key string, micros int64, seq string, name string) Change {
		ev, err := d.Decode(rec(ddbEvent(name, key, `{"v":{"N":"`+fmt.Sprint(micros)+`"}}`, micros), seq))
		if err != nil {
			t.Fatal(err)
		}
		return *ev.Change
	}
	keyBar := `{"device":{"S":"bar"},"ts":{"N":"1720740233"}}`
	in := []Change{
		mk(keyFoo, 10, "1", "INSERT"),
		mk(keyBar, 5, "2", "INSERT"),
		mk(keyFoo, 30, "3", "MODIFY"),
		mk(keyFoo, 20, "4", "MODIFY"), // late, older
		mk(keyBar, 5, "5", "INSERT"),  // duplicate, same time: later seq wins
		mk(keyFoo, 30, "3", "REMOVE"), // same version: the later one in the batch wins
	}
	out := Compact(in)
	if len(out) != 2 {
		t.Fatalf("%d changes", len(out))
	}
	if out[0].Key[0] != "foo" || out[0].Op != Delete || out[0].Version.Micros != 30 {
		t.Errorf("foo: %+v", out[0])
	}
	if out[1].Key[0] != "bar" || out[1].Version.Seq != "5" {
		t.Errorf("bar: %+v", out[1])
	}
}

func TestDynamoDBSourceTable(t *testing.T) {
	d := testDynamo(t, Base64).WithSourceTable("readings")
	ev, err := d.Decode(rec(ddbEvent("INSERT", keyFoo, `{}`, 1), "1"))
	if err != nil || ev.Change == nil {
		t.Fatalf("own table: %+v %v", ev, err)
	}
	other := strings.Replace(string(ddbEvent("INSERT", keyFoo, `{}`, 1)), `"tableName":"readings"`, `"tableName":"orders"`, 1)
	ev, err = d.Decode(rec([]byte(other), "2"))
	if err != nil || ev.Change != nil || !strings.Contains(ev.Skipped, "orders") {
		t.Fatalf("other table: %+v %v", ev, err)
	}
}

func TestRoundsHoldEachRowOnce(t *testing.T) {
	d := testDynamo(t, Base64)
	mk := func(key string, micros int64, seq string) Change {
		ev, err := d.Decode(rec(ddbEvent("MODIFY", key, `{"v":{"N":"1"}}`, micros), seq))
		if err != nil {
			t.Fatal(err)
		}
		return *ev.Change
	}
	keyBar := `{"device":{"S":"bar"},"ts":{"N":"1720740233"}}`
	in := []Change{mk(keyFoo, 10, "1"), mk(keyBar, 5, "2"), mk(keyFoo, 30, "3"), mk(keyFoo, 20, "4"), mk(keyBar, 6, "5")}
	var got [][]string
	for _, r := range Rounds(in) {
		var seqs []string
		for _, c := range r {
			seqs = append(seqs, c.Source.SequenceNumber)
		}
		got = append(got, seqs)
	}
	want := [][]string{{"1", "2"}, {"3", "5"}, {"4"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rounds %v, want %v", got, want)
	}
	if len(Rounds(nil)) != 0 {
		t.Fatal("rounds of nothing")
	}
}
