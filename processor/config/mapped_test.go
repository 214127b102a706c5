package config

import (
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

func TestMappedSettings(t *testing.T) {
	s, err := FromProperties(Properties{
		"sink.databaseUrl": "postgres://x", "sink.table": "doc.readings",
		"sink.columns": "ts:TIMESTAMP=/ts, device:TEXT=/meta/device, temp:DOUBLE=/data/value, pk:TEXT=$partitionKey, " +
			"note:TEXT=/note index off columnstore off",
		"sink.key": "/meta/device", "sink.version": "/ts", "sink.deleteWhen": `/op == "delete"`, "sink.unmapped": "drop",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := s.CDC.Tables()[0]
	if s.Decoder != nil || tb.Layout != cdc.Direct || len(tb.Key) != 1 || tb.Key[0].Name != "device" || len(tb.Columns) != 4 ||
		tb.Columns[3] != (cdc.Column{Name: "note", Type: cdc.Text, IndexOff: true, NoColumnstore: true}) {
		t.Fatalf("table %+v", tb)
	}
	ev, err := s.CDC.Decode(record.Source{SequenceNumber: "1", Data: []byte(`{"ts":"2026-11-30T00:00:00Z","meta":{"device":"d"},"op":"delete"}`)})
	if err != nil || ev.Change.Op != cdc.Delete || ev.Change.Key[0] != "d" {
		t.Fatalf("%+v %v", ev.Change, err)
	}
}

func TestInvalidMappedSettingsNameTheKey(t *testing.T) {
	cols := "id:TEXT=/id"
	for _, tt := range []struct {
		set           map[string]string
		wantKey, want string
	}{
		{map[string]string{"sink.columns": "id=/id"}, "sink.columns", "name:TYPE=/json/pointer"},
		{map[string]string{"sink.columns": "id:MONEY=/id"}, "sink.columns", "unknown type"},
		{map[string]string{"sink.columns": "id:TEXT=id"}, "sink.columns", "not a JSON pointer"},
		{map[string]string{"sink.columns": "id:TEXT=$color"}, "sink.columns", "unknown metadata"},
		{map[string]string{"sink.columns": "id:TEXT=/id SPARSE"}, "sink.columns", "unknown option"},
		{map[string]string{"sink.columns": cols, "sink.format": "raw"}, "sink.columns", "sink.format = json only"},
		{map[string]string{"sink.columns": cols, "sink.key": "nope"}, "sink.columns", `key "nope" is not a configured column`},
		{map[string]string{"sink.columns": cols, "sink.version": "/v"}, "sink.key", "need sink.key"},
		{map[string]string{"sink.columns": cols, "sink.key": "id", "sink.deleteWhen": "/op = 1"}, "sink.deleteWhen", "want /json/pointer =="},
		{map[string]string{"sink.columns": cols, "sink.key": "id", "sink.deleteWhen": "/op == {}"}, "sink.deleteWhen", "is not a JSON string"},
		{map[string]string{"sink.columns": cols, "sink.unmapped": "keep"}, "sink.unmapped", "ignored"},
		{map[string]string{"sink.key": "id"}, "sink.key", "does not apply"},
		{map[string]string{"sink.partitionBy": "day", "sink.format": "dynamodb-cdc", "sink.dynamodb.keys": "id:S"}, "sink.partitionBy", "does not apply to sink.format = dynamodb-cdc"},
	} {
		p := Properties{"sink.databaseUrl": "postgres://x"}
		for k, v := range tt.set {
			p[k] = v
		}
		_, err := FromProperties(p, nil)
		if !IsInvalid(err) || !strings.Contains(err.Error(), "invalid setting "+tt.wantKey+" ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %s and saying %q", tt.set, err, tt.wantKey, tt.want)
		}
	}
}
