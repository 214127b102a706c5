package daemonsim

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
)

// Defaults of the record generator.
const (
	DefaultShardID       = "shardId-000000000000"
	DefaultFirstSequence = "49590338271490256608559692538361571095921575989136588898"
	// DefaultStartMillis is 2023-11-14T22:13:20Z.
	DefaultStartMillis = 1700000000000
)

// Generator makes deterministic, realistic records: JSON objects with ids,
// strings (some non-ASCII), numbers and a nested object, padded to Size
// bytes. The zero value generates 1 KiB records with seed 0.
type Generator struct {
	Seed int64
	// Size is the JSON payload size in bytes; a payload is never smaller
	// than its unpadded object (about 330 bytes).
	Size int
	// FirstSequence is the first record's sequence number (digits).
	FirstSequence string
	// StartMillis is the first record's arrival timestamp.
	StartMillis int64
	// SubRecords > 1 makes groups of that many records share a sequence
	// number with sub-sequence numbers 0..n-1, as after KPL de-aggregation.
	SubRecords int
}

// Records generates n records.
func (g Generator) Records(n int) ([]Record, error) {
	size := g.Size
	if size <= 0 {
		size = 1024
	}
	first := g.FirstSequence
	if first == "" {
		first = DefaultFirstSequence
	}
	seq, ok := new(big.Int).SetString(first, 10)
	if !ok || !isDigits(first) {
		return nil, fmt.Errorf("daemonsim: first sequence number %q is not digits", first)
	}
	millis := g.StartMillis
	if millis == 0 {
		millis = DefaultStartMillis
	}
	rng := rand.New(rand.NewPCG(uint64(g.Seed), 0x9e3779b97f4a7c15))
	step := new(big.Int)
	records := make([]Record, n)
	var sub int64
	for i := range records {
		if i > 0 {
			if g.SubRecords > 1 && int(sub)+1 < g.SubRecords {
				sub++
			} else {
				sub = 0
				// Kinesis sequence numbers grow by irregular, large steps.
				seq.Add(seq, step.SetUint64(1+rng.Uint64N(1<<40)))
				millis += int64(rng.IntN(3))
			}
		}
		ts := millis
		records[i] = Record{
			Data:                        payload(rng, i, size),
			PartitionKey:                partitionKey(rng, i),
			SequenceNumber:              seq.String(),
			ApproximateArrivalTimestamp: &ts,
			SubSequenceNumber:           sub,
		}
	}
	return records, nil
}

var (
	firstNames = []string{"Anna", "Jürgen", "Zoë", "Maria", "Olaf", "Chloé", "Søren", "Ivan", "Mei", "José"}
	lastNames  = []string{"Müller", "Smith", "Nakamura", "García", "Øberg", "Kowalski", "O'Brien", "Dubois", "Rossi", "Novák"}
	events     = []string{"order.created", "order.updated", "order.shipped", "order.cancelled"}
	currencies = []string{"EUR", "USD", "GBP", "JPY"}
	tiers      = []string{"bronze", "silver", "gold"}
)

// payload builds one JSON object of exactly size bytes (or its natural size
// if that is larger), padding with a "note" string.
func payload(rng *rand.Rand, i, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"event":`...)
	b = appendString(b, events[rng.IntN(len(events))])
	b = append(b, `,"order_id":"ord-`...)
	b = strconv.AppendUint(b, rng.Uint64N(1e12), 10)
	customer := rng.IntN(100000)
	b = append(b, `","customer":{"id":"cust-`...)
	b = strconv.AppendInt(b, int64(customer), 10)
	b = append(b, `","name":`...)
	b = appendString(b, firstNames[rng.IntN(len(firstNames))]+" "+lastNames[rng.IntN(len(lastNames))])
	b = append(b, `,"email":"c`...)
	b = strconv.AppendInt(b, int64(customer), 10)
	b = append(b, `@example.com","tier":`...)
	b = appendString(b, tiers[rng.IntN(len(tiers))])
	b = append(b, `},"amount":{"value":`...)
	b = strconv.AppendFloat(b, float64(rng.IntN(10000000))/100, 'f', 2, 64)
	b = append(b, `,"currency":`...)
	b = appendString(b, currencies[rng.IntN(len(currencies))])
	b = append(b, `},"items":`...)
	b = strconv.AppendInt(b, int64(1+rng.IntN(20)), 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, rng.IntN(2) == 0)
	b = append(b, `,"updated_at":"2023-11-14T22:13:20.`...)
	b = strconv.AppendInt(b, int64(100+rng.IntN(900)), 10)
	b = append(b, `Z","note":"`...)
	for pad := size - len(b) - len(`"}`); pad > 0; pad-- {
		b = append(b, 'a'+byte(rng.IntN(26)))
	}
	return append(b, `"}`...)
}

// partitionKey returns mostly ASCII keys with an occasional non-ASCII one,
// which the daemon writes as raw UTF-8.
func partitionKey(rng *rand.Rand, i int) string {
	n := rng.IntN(1000)
	if i%101 == 100 {
		return "kunde-ä-" + strconv.Itoa(n)
	}
	return "pk-" + strconv.Itoa(n)
}

// Batch is a pre-encoded processRecords message, so that encoding is not
// measured when it is sent.
type Batch struct {
	Line    []byte // the full message, '\n' included
	Count   int
	Largest Position // the largest position among the records
}

// NewBatch encodes one processRecords message.
func NewBatch(records []Record, millisBehindLatest *int64) Batch {
	b := Batch{Line: AppendProcessRecords(nil, records, millisBehindLatest), Count: len(records)}
	for i, r := range records {
		p := Position{Sequence: r.SequenceNumber, SubSequence: r.SubSequenceNumber}
		if i == 0 || p.Compare(b.Largest) > 0 {
			b.Largest = p
		}
	}
	return b
}

// Batches splits records into pre-encoded batches of at most size records.
func Batches(records []Record, size int, millisBehindLatest *int64) []Batch {
	if size <= 0 {
		size = len(records)
	}
	var out []Batch
	for start := 0; start < len(records); start += size {
		end := min(start+size, len(records))
		out = append(out, NewBatch(records[start:end], millisBehindLatest))
	}
	return out
}
