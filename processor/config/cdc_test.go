package config

import (
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

func TestCDCSettings(t *testing.T) {
	s, err := FromProperties(Properties{
		"sink.databaseUrl": "postgres://x", "sink.format": "dynamodb-cdc", "sink.table": "doc.readings",
		"sink.dynamodb.keys": "device:S, ts:N", "sink.dynamodb.columnTypes": "price:DOUBLE", "sink.dynamodb.binary": "hex",
		"sink.dynamodb.sourceTable": "readings",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tables := s.CDC.Tables()
	if s.Format != FormatDynamoDBCDC || len(tables) != 1 || tables[0].Name != "doc.readings" || tables[0].Layout != cdc.Document ||
		len(tables[0].Key) != 2 || tables[0].Key[1] != (cdc.Column{Name: "ts", Type: cdc.BigInt}) || len(tables[0].Columns) != 1 {
		t.Fatalf("dynamodb settings: %+v %+v", s, tables)
	}
	ev, err := s.CDC.Decode(record.Source{SequenceNumber: "1", Data: []byte(`{"eventSource":"aws:dynamodb","eventName":"INSERT","tableName":"other"}`)})
	if err != nil || ev.Skipped == "" {
		t.Fatalf("sourceTable not applied: %+v %v", ev, err)
	}

	s, err = FromProperties(Properties{"sink.databaseUrl": "postgres://x", "sink.format": "DMS"}, []string{
		"SINK_DMS_TABLES=public.orders:id; public.lines:order_id,line_no",
		"SINK_DMS_COLUMN_TYPES=public.orders.id:BIGINT, public.orders.total:DOUBLE",
		"SINK_DMS_TABLE_MAPPING=public.lines=doc.order_lines",
		"SINK_DMS_MAPPING=direct", "SINK_DMS_CONTROL=apply",
	})
	if err != nil {
		t.Fatal(err)
	}
	tables = s.CDC.Tables()
	if len(tables) != 2 || tables[0].Name != "doc.order_lines" || tables[1].Name != "public.orders" || tables[1].Layout != cdc.Direct ||
		tables[1].Key[0].Type != cdc.BigInt || len(tables[1].Columns) != 1 {
		t.Fatalf("dms tables: %+v %+v", tables[0], tables[1])
	}

	s, err = FromProperties(Properties{"sink.databaseUrl": "postgres://x"}, nil)
	if err != nil || s.CDC != nil {
		t.Fatalf("plain format has a change decoder: %v %v", s.CDC, err)
	}
}

func TestInvalidCDCSettingsNameTheKey(t *testing.T) {
	dynamo := map[string]string{"sink.format": "dynamodb-cdc", "sink.dynamodb.keys": "id:S"}
	dms := map[string]string{"sink.format": "dms", "sink.dms.tables": "public.orders:id"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		set     map[string]string
		wantKey string
		want    string
	}{
		{"keys missing", with(dynamo, "sink.dynamodb.keys", ""), "sink.dynamodb.keys", "required"},
		{"key type", with(dynamo, "sink.dynamodb.keys", "id:X"), "sink.dynamodb.keys", "not S, N or B"},
		{"three keys", with(dynamo, "sink.dynamodb.keys", "a:S,b:S,c:S"), "sink.dynamodb.keys", "at most two"},
		{"column type", with(dynamo, "sink.dynamodb.columnTypes", "price:MONEY"), "sink.dynamodb.columnTypes", "unknown type"},
		{"column type on key", with(dynamo, "sink.dynamodb.columnTypes", "id:TEXT"), "sink.dynamodb.columnTypes", "key attribute"},
		{"timestamp attribute", with(dynamo, "sink.dynamodb.columnTypes", "at:TIMESTAMP"), "sink.dynamodb.columnTypes", "cannot hold"},
		{"binary", with(dynamo, "sink.dynamodb.binary", "base32"), "sink.dynamodb.binary", "base64 or hex"},
		{"dms key on dynamodb", with(dynamo, "sink.dms.tables", "a.b:id"), "sink.dms.tables", "does not apply"},
		{"dynamodb key on json", map[string]string{"sink.dynamodb.keys": "id:S"}, "sink.dynamodb.keys", "does not apply to sink.format = json"},
		{"tables missing", with(dms, "sink.dms.tables", ""), "sink.dms.tables", "required"},
		{"tables syntax", with(dms, "sink.dms.tables", "public.orders"), "sink.dms.tables", "schema.table:pk1,pk2"},
		{"types unknown table", with(dms, "sink.dms.columnTypes", "public.x.id:TEXT"), "sink.dms.columnTypes", "not listed"},
		{"mapping syntax", with(dms, "sink.dms.tableMapping", "public.orders"), "sink.dms.tableMapping", "schema.table=target"},
		{"mapping layout", with(dms, "sink.dms.mapping", "flat"), "sink.dms.mapping", "universal or direct"},
		{"control", with(dms, "sink.dms.control", "obey"), "sink.dms.control", "ignore or apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Properties{"sink.databaseUrl": "postgres://x"}
			for k, v := range tt.set {
				p[k] = v
			}
			_, err := FromProperties(p, nil)
			if !IsInvalid(err) || !strings.Contains(err.Error(), "invalid setting "+tt.wantKey+" ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, tt.wantKey, tt.want)
			}
		})
	}
}
