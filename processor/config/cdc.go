package config

import (
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Settings of the change-event formats (processor/cdc/README.md):
//
//	sink.format = dynamodb-cdc
//	sink.table = doc.orders                    target table
//	sink.dynamodb.keys = customer:S,order:N    key attributes, primary-key order
//	sink.dynamodb.columnTypes = total:DOUBLE   optional types of data attributes
//	sink.dynamodb.binary = base64              base64 | hex
//	sink.dynamodb.sourceTable = orders         optional: skip other tables' records
//
//	sink.format = dms
//	sink.dms.tables = public.orders:id; public.lines:order_id,line_no
//	sink.dms.columnTypes = public.orders.id:BIGINT, public.orders.total:DOUBLE
//	sink.dms.tableMapping = public.lines=doc.order_lines
//	sink.dms.mapping = universal               universal (pk/data/aux) | direct
//	sink.dms.control = ignore                  ignore | apply (create/drop table)
var (
	dynamoDBKeys = []string{"sink.dynamodb.keys", "sink.dynamodb.columnTypes", "sink.dynamodb.binary", "sink.dynamodb.sourceTable"}
	dmsKeys      = []string{"sink.dms.tables", "sink.dms.columnTypes", "sink.dms.tableMapping", "sink.dms.mapping", "sink.dms.control"}
)

// changeDecoder builds the decoder for a change-event format, or nil for the
// plain formats. Settings of the other format are refused, so a forgotten
// sink.format does not silently write change events as plain JSON.
func (r *reader) changeDecoder(format, table string) cdc.Decoder {
	switch format {
	case FormatDynamoDBCDC:
		r.unused(dmsKeys, format)
		return r.dynamoDB(table)
	case FormatDMS:
		r.unused(dynamoDBKeys, format)
		return r.dms()
	}
	r.unused(dynamoDBKeys, format)
	r.unused(dmsKeys, format)
	return nil
}

func (r *reader) unused(keys []string, format string) {
	for _, k := range keys {
		if v, ok := r.raw(k); ok && v != "" {
			r.fail(k, v, "does not apply to sink.format = "+format)
		}
	}
}

func (r *reader) dynamoDB(table string) cdc.Decoder {
	keysText, ok := r.raw("sink.dynamodb.keys")
	if !ok || keysText == "" {
		r.fail("sink.dynamodb.keys", "", "required for sink.format = dynamodb-cdc (e.g. id:S or device:S,ts:N)")
		return nil
	}
	keys, err := cdc.ParseDynamoKeys(keysText)
	if err != nil {
		r.fail("sink.dynamodb.keys", keysText, err.Error())
		return nil
	}
	colsText := r.str("sink.dynamodb.columnTypes", "")
	cols, err := cdc.ParseColumns(colsText)
	if err != nil {
		r.fail("sink.dynamodb.columnTypes", colsText, err.Error())
		return nil
	}
	binText := r.str("sink.dynamodb.binary", "base64")
	binary, err := cdc.ParseBinary(binText)
	if err != nil {
		r.fail("sink.dynamodb.binary", binText, err.Error())
		return nil
	}
	d, err := cdc.NewDynamoDB(table, keys, cols, binary)
	if err != nil {
		r.fail("sink.dynamodb.columnTypes", colsText, err.Error())
		return nil
	}
	if source := r.str("sink.dynamodb.sourceTable", ""); source != "" {
		return d.WithSourceTable(source)
	}
	return d
}

func (r *reader) dms() cdc.Decoder {
	mappingText := r.str("sink.dms.mapping", "universal")
	layout, err := cdc.ParseLayout(mappingText)
	if err != nil {
		r.fail("sink.dms.mapping", mappingText, err.Error())
		return nil
	}
	controlText := r.str("sink.dms.control", "ignore")
	control, err := cdc.ParseControlMode(controlText)
	if err != nil {
		r.fail("sink.dms.control", controlText, err.Error())
		return nil
	}
	tables := r.str("sink.dms.tables", "")
	if strings.TrimSpace(tables) == "" {
		r.fail("sink.dms.tables", "", "required for sink.format = dms (e.g. public.orders:id; public.lines:order_id,line_no)")
		return nil
	}
	sources, err := cdc.ParseDMSTables(tables, layout)
	if err != nil {
		r.fail("sink.dms.tables", tables, err.Error())
		return nil
	}
	types := r.str("sink.dms.columnTypes", "")
	if err := cdc.ApplyColumnTypes(sources, types); err != nil {
		r.fail("sink.dms.columnTypes", types, err.Error())
		return nil
	}
	mapping := r.str("sink.dms.tableMapping", "")
	if err := cdc.ApplyTableMapping(sources, mapping); err != nil {
		r.fail("sink.dms.tableMapping", mapping, err.Error())
		return nil
	}
	return cdc.NewDMS(sources, control)
}
