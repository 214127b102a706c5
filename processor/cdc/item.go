package cdc

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// Item turns one DynamoDB item, as Scan returns it (attribute-value JSON,
// the shape of a change record's NewImage), into the upsert that a change
// record inserting it at version v makes: the same key, data and aux, by
// the same decoding as the stream's (an initial load and the change stream
// write identical rows).
//
// The Change's Source is that change record (see itemRecord), whose
// coordinates are v's sequence numbers; the caller adds a ShardID. Decode
// makes the same Change of it, so an item the database refuses can be
// dead-lettered and replayed like any change. On an error the returned
// Change still carries Source, for the dead-letter table.
func (d *DynamoDB) Item(item json.RawMessage, v Version) (Change, error) {
	keys := d.keysOf(item)
	rec := record.Source{SequenceNumber: v.Seq, SubSequenceNumber: v.Sub, Data: d.itemRecord(keys, item, v.Micros)}
	if rec.SequenceNumber == "" {
		rec.SequenceNumber = "0" // Decode reads "0" back as the empty Seq
	}
	c := Change{Table: d.table, Op: Upsert, Version: v, EventTime: time.UnixMicro(v.Micros).UTC(), Source: rec}
	if err := checkVersion(v); err != nil {
		return Change{Source: rec}, err
	}
	var err error
	if c.Key, err = d.key(keys); err != nil {
		return Change{Source: rec}, fmt.Errorf("item: %w", err)
	}
	if c.Data, c.Aux, err = d.image(item); err != nil {
		return Change{Source: rec}, fmt.Errorf("item: %w", err)
	}
	return c, nil
}

// Keys lists the configured key attributes (sink.dynamodb.keys), in
// primary-key order.
func (d *DynamoDB) Keys() []DynamoKey { return slices.Clone(d.keys) }

// SourceTable is the DynamoDB table whose records the decoder applies
// (sink.dynamodb.sourceTable); "" for any.
func (d *DynamoDB) SourceTable() string { return d.source }

// checkVersion refuses a version that no record could carry (Decode
// builds versions with versionOf).
func checkVersion(v Version) error {
	switch {
	case v.Micros < 0 || v.Sub < 0:
		return errors.New("item version: negative time or sub-sequence number")
	case strings.HasPrefix(v.Seq, "0") || strings.TrimLeft(v.Seq, "0123456789") != "" || len(v.Seq) > 999:
		return fmt.Errorf("item version: sequence %q is not a decimal without leading zeros", v.Seq)
	}
	return nil
}

// keysOf picks the configured key attributes out of an item, as a
// change record's dynamodb.Keys object. Missing ones are left out, for key
// to name.
func (d *DynamoDB) keysOf(item json.RawMessage) json.RawMessage {
	b := []byte{'{'}
	_ = eachMember(item, func(k, v []byte) error {
		name, err := unquote(k)
		if err != nil || !slices.ContainsFunc(d.keys, func(dk DynamoKey) bool { return dk.Name == name }) {
			return nil
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(append(append(b, k...), ':'), v...)
		return nil
	})
	return append(b, '}')
}

// itemRecord renders the change record of DynamoDB's Kinesis destination
// for inserting item at micros, with microsecond precision.
func (d *DynamoDB) itemRecord(keys, item json.RawMessage, micros int64) []byte {
	b := make([]byte, 0, len(item)+len(keys)+200)
	b = append(b, `{"eventSource":"aws:dynamodb","eventName":"INSERT",`...)
	if d.source != "" {
		b = append(appendJSONString(append(b, `"tableName":`...), d.source), ',')
	}
	b = append(b, `"dynamodb":{"ApproximateCreationDateTime":`...)
	b = strconv.AppendInt(b, micros, 10)
	b = append(b, `,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":`...)
	b = append(b, keys...)
	b = append(b, `,"NewImage":`...)
	b = append(b, item...)
	return append(b, "}}"...)
}
