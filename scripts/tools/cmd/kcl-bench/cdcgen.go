package main

import (
	"math/rand/v2"
	"strconv"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

// CDCKeys is the sink.dynamodb.keys setting for dynamoChangeStream's items.
const CDCKeys = "device:S,ts:N"

// dynamoChangeStream replaces the payloads of records with a DynamoDB
// change stream as DynamoDB's Kinesis destination writes it (view type
// NEW_AND_OLD_IMAGES, microsecond precision): the records touch items of a
// key space half as large as the stream, chosen at random, so most items
// change about twice and some many times; an item's first change is an
// INSERT, later ones are MODIFY (90 %) or REMOVE (10 %), and a removed item
// comes back with an INSERT. Each event is padded to about size bytes with
// a "note" attribute of the new (or old) image.
func dynamoChangeStream(records []daemonsim.Record, seed int64, size int) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xd1b54a32d192ed03))
	items := max(1, len(records)/2)
	state := make([]uint8, items) // 0 absent, 1 present
	version := make([]int32, items)
	for i := range records {
		item := rng.IntN(items)
		event := "INSERT"
		if state[item] == 1 {
			event = "MODIFY"
			if rng.IntN(10) == 0 {
				event = "REMOVE"
			}
		}
		if event == "REMOVE" {
			state[item] = 0
		} else {
			state[item] = 1
		}
		version[item]++
		micros := *records[i].ApproximateArrivalTimestamp*1000 + int64(rng.IntN(1000))
		records[i].Data = dynamoEvent(rng, i, item, int(version[item]), event, micros, size)
		records[i].PartitionKey = dynamoPartitionKey(item)
	}
}

func dynamoPartitionKey(item int) string {
	return "device-" + strconv.Itoa(item%1000) + "|" + strconv.Itoa(1700000000+item/1000)
}

func dynamoEvent(rng *rand.Rand, i, item, version int, event string, micros int64, size int) []byte {
	b := make([]byte, 0, size+64)
	b = append(b, `{"awsRegion":"eu-central-1","eventID":"`...)
	b = strconv.AppendUint(b, rng.Uint64(), 16)
	b = append(b, `-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","eventName":"`...)
	b = append(b, event...)
	b = append(b, `","userIdentity":null,"recordFormat":"application/json","tableName":"readings","eventSource":"aws:dynamodb",`+
		`"dynamodb":{"ApproximateCreationDateTime":`...)
	b = strconv.AppendInt(b, micros, 10)
	b = append(b, `,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":`...)
	b = appendKeys(b, item)
	// Two images for a MODIFY, the old one alone for a REMOVE; the padding
	// goes to the last one.
	start := len(b)
	switch event {
	case "INSERT":
		b = append(b, `,"NewImage":`...)
		b = appendImage(b, rng, item, version, size-start-40)
	case "MODIFY":
		b = append(b, `,"OldImage":`...)
		b = appendImage(b, rng, item, version-1, 0)
		b = append(b, `,"NewImage":`...)
		b = appendImage(b, rng, item, version, size-start-(len(b)-start)-40)
	case "REMOVE":
		b = append(b, `,"OldImage":`...)
		b = appendImage(b, rng, item, version-1, size-start-40)
	}
	b = append(b, `,"SizeBytes":`...)
	b = strconv.AppendInt(b, int64(len(b)-start), 10)
	b = append(b, `}}`...)
	return b
}

func appendKeys(b []byte, item int) []byte {
	b = append(b, `{"device":{"S":"device-`...)
	b = strconv.AppendInt(b, int64(item%1000), 10)
	b = append(b, `"},"ts":{"N":"`...)
	b = strconv.AppendInt(b, int64(1700000000+item/1000), 10)
	return append(b, `"}}`...)
}

// appendImage writes an item image: the keys, readings, a string set, a
// nested map with a list, and a note padded so that the image is about pad
// bytes long.
func appendImage(b []byte, rng *rand.Rand, item, version, pad int) []byte {
	start := len(b)
	b = append(b, `{"device":{"S":"device-`...)
	b = strconv.AppendInt(b, int64(item%1000), 10)
	b = append(b, `"},"ts":{"N":"`...)
	b = strconv.AppendInt(b, int64(1700000000+item/1000), 10)
	b = append(b, `"},"version":{"N":"`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, `"},"temperature":{"N":"`...)
	b = strconv.AppendInt(b, int64(15+rng.IntN(20)), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(10+rng.IntN(90)), 10)
	b = append(b, `"},"humidity":{"N":"`...)
	b = strconv.AppendInt(b, int64(20+rng.IntN(70)), 10)
	b = append(b, `"},"status":{"S":"`...)
	b = append(b, []string{"ok", "ok", "ok", "degraded", "offline"}[rng.IntN(5)]...)
	b = append(b, `"},"online":{"BOOL":`...)
	b = strconv.AppendBool(b, rng.IntN(4) != 0)
	b = append(b, `},"tags":{"SS":["site-`...)
	b = strconv.AppendInt(b, int64(rng.IntN(50)), 10)
	b = append(b, `","rack-`...)
	b = strconv.AppendInt(b, int64(rng.IntN(500)), 10)
	b = append(b, `"]},"meta":{"M":{"firmware":{"S":"1.2.`...)
	b = strconv.AppendInt(b, int64(rng.IntN(10)), 10)
	b = append(b, `"},"battery":{"N":"0.`...)
	b = strconv.AppendInt(b, int64(10+rng.IntN(90)), 10)
	b = append(b, `"},"readings":{"L":[{"N":"`...)
	b = strconv.AppendInt(b, int64(rng.IntN(1000)), 10)
	b = append(b, `"},{"N":"`...)
	b = strconv.AppendInt(b, int64(rng.IntN(1000)), 10)
	b = append(b, `"}]}}},"note":{"S":"`...)
	for n := pad - (len(b) - start) - len(`"}}`); n > 0; n-- {
		b = append(b, 'a'+byte(rng.IntN(26)))
	}
	return append(b, `"}}`...)
}
