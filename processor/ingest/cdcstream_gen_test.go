package ingest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
)

// A generator of realistic DynamoDB change streams (Kinesis destination
// format), deterministic from a seed, and the model of the source table's
// final state. DynamoDB is schemaless beyond the key: the same attribute
// may hold a number in one item, a string in the next and a map in a later
// version of the first, and maps nest attributes that change type too.
// The delivered stream adds what Kinesis and the KCL do to it: duplicates
// (redelivered with the same sequence number, or published again with a new
// one), reordering within and across batches, and a replay of a slice.

// ddbValue is a DynamoDB attribute value.
type ddbValue struct {
	tag string // S N B BOOL NULL M L SS NS BS
	s   string // S, N (decimal text), B (base64)
	b   bool
	m   map[string]ddbValue
	l   []ddbValue
	set []string // SS, NS, BS
}

func (v ddbValue) MarshalJSON() ([]byte, error) {
	var inner any
	switch v.tag {
	case "S", "N", "B":
		inner = v.s
	case "BOOL":
		inner = v.b
	case "NULL":
		inner = true
	case "M":
		inner = v.m
	case "L":
		inner = v.l
		if v.l == nil {
			inner = []ddbValue{}
		}
	case "SS", "NS", "BS":
		inner = v.set
	default:
		return nil, fmt.Errorf("ddbValue: unknown tag %q", v.tag)
	}
	return json.Marshal(map[string]any{v.tag: inner})
}

type ddbItem map[string]ddbValue

// streamKey is the source table's key: partition key id (S), sort key rev (N).
type streamKey struct {
	id  string
	rev int64
}

func (k streamKey) keys() ddbItem {
	return ddbItem{"id": {tag: "S", s: k.id}, "rev": {tag: "N", s: strconv.FormatInt(k.rev, 10)}}
}

// genEvent is one change in source order.
type genEvent struct {
	name   string // INSERT, MODIFY, REMOVE
	key    streamKey
	micros int64
	image  ddbItem // new image, nil for REMOVE
	old    ddbItem
}

func (e genEvent) record() []byte {
	ddb := map[string]any{
		"ApproximateCreationDateTime":          e.micros,
		"ApproximateCreationDateTimePrecision": "MICROSECOND",
		"Keys":                                 e.key.keys(),
		"SizeBytes":                            100,
	}
	if e.image != nil {
		ddb["NewImage"] = e.image
	}
	if e.old != nil {
		ddb["OldImage"] = e.old
	}
	b, err := json.Marshal(map[string]any{
		"awsRegion": "eu-central-1", "eventID": fmt.Sprintf("%s-%d", e.key.id, e.micros), "eventName": e.name,
		"eventSource": "aws:dynamodb", "recordFormat": "application/json", "tableName": "inventory",
		"userIdentity": nil, "dynamodb": ddb,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// genStream is a generated stream: the events in source order, the
// records as delivered, and the source table's final state.
type genStream struct {
	events    []genEvent
	delivered []kcl.Record
	batches   []int // sizes of the batches the daemon delivers
	final     map[streamKey]ddbItem
	// what the delivery did, for the report
	redelivered, republished, moved, replayed int
}

// Attribute names: a small pool, so that the same attribute meets many
// types (and CrateDB's column count stays far below its limit).
var (
	topNames    = []string{"status", "price", "qty", "tags", "meta", "flag", "note", "score", "extra", "items", "count", "payload", "ratio", "when", "blob"}
	nestedNames = []string{"x", "y", "z", "kind", "level"}
	numbers     = []string{
		"0", "1", "-1", "42", "100.0", "1E+2", "-7", "2147483648", "9007199254740993", "9223372036854775807", "-9223372036854775808",
		"12.5", "0.1", "-3.25", "1E+100", "1.5E-7", "0.30000000000000004",
		"9223372036854775808", "123456789012345678901234567890", "3.1415926535897932384626433832795028841", "-0.000000000000000000000000000001234567890123",
	}
	strings_ = []string{"", "on", "off", "12", "true", "{\"a\":1}", "Grüße", "line\nbreak", "tab\there", "a.b", "[0]", "null"}
)

type gen struct{ r *mrand.Rand }

func (g gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// value draws a random attribute value; depth bounds nesting.
func (g gen) value(depth int) ddbValue {
	kinds := []string{"S", "N", "N", "BOOL", "NULL", "SS", "NS", "B", "L", "M", "M", "LM"}
	if depth >= 3 {
		kinds = kinds[:8]
	}
	switch k := kinds[g.r.IntN(len(kinds))]; k {
	case "S":
		return ddbValue{tag: "S", s: g.pick(strings_)}
	case "N":
		return ddbValue{tag: "N", s: g.pick(numbers)}
	case "BOOL":
		return ddbValue{tag: "BOOL", b: g.r.IntN(2) == 0}
	case "NULL":
		return ddbValue{tag: "NULL"}
	case "B":
		return ddbValue{tag: "B", s: base64.StdEncoding.EncodeToString([]byte(g.pick(strings_) + "\x00\xff"))}
	case "SS", "NS":
		src := strings_
		if k == "NS" {
			src = numbers[:17] // DynamoDB sets hold distinct values; keep them exact-friendly and mixed int/decimal
		}
		seen := map[string]bool{}
		var set []string
		for range 1 + g.r.IntN(4) {
			v := g.pick(src)
			if !seen[v] && (k == "SS" || !seenNumber(seen, v)) {
				seen[v] = true
				set = append(set, v)
			}
		}
		return ddbValue{tag: k, set: set}
	case "L":
		// a list of one element type (sometimes mixed, which DynamoDB allows)
		var l []ddbValue
		n := g.r.IntN(4)
		mixed := g.r.IntN(5) == 0
		var first ddbValue
		for i := range n {
			var e ddbValue
			if i == 0 || mixed {
				e = g.value(depth + 1)
				first = e
			} else {
				e = g.sameKind(first, depth+1)
			}
			l = append(l, e)
		}
		return ddbValue{tag: "L", l: l}
	case "LM":
		// a list of maps whose inner attributes vary in type
		var l []ddbValue
		for range 1 + g.r.IntN(3) {
			l = append(l, g.mapValue(depth+1))
		}
		return ddbValue{tag: "L", l: l}
	default:
		return g.mapValue(depth)
	}
}

func seenNumber(seen map[string]bool, v string) bool {
	for s := range seen {
		if exactDecimal(s).Cmp(exactDecimal(v)) == 0 {
			return true
		}
	}
	return false
}

func (g gen) mapValue(depth int) ddbValue {
	m := map[string]ddbValue{}
	for range g.r.IntN(4) {
		name := g.pick(nestedNames)
		if g.r.IntN(40) == 0 {
			name = "dotted.key" // refused as a CrateDB column name
		}
		m[name] = g.value(depth + 1)
	}
	return ddbValue{tag: "M", m: m}
}

// sameKind draws another value of v's kind (for homogeneous lists).
func (g gen) sameKind(v ddbValue, depth int) ddbValue {
	for range 50 {
		w := g.value(depth)
		if w.tag == v.tag {
			return w
		}
	}
	return v
}

// mutate returns the next version of an item: most attributes keep their
// kind, some change kind, some appear or disappear.
func (g gen) mutate(item ddbItem) ddbItem {
	next := ddbItem{}
	for _, k := range slices.Sorted(maps.Keys(item)) { // map order is random; the stream must not be
		v := item[k]
		switch r := g.r.IntN(10); {
		case k == "id" || k == "rev":
			next[k] = v
		case r == 0: // removed attribute
		case r <= 4: // new value, same kind
			next[k] = g.sameKind(v, 1)
		case r <= 6: // kind changes
			next[k] = g.value(1)
		default:
			next[k] = v
		}
	}
	for range g.r.IntN(3) {
		next[g.pick(topNames)] = g.value(1)
	}
	return next
}

func (g gen) newItem(k streamKey) ddbItem {
	item := k.keys()
	for range 1 + g.r.IntN(6) {
		item[g.pick(topNames)] = g.value(1)
	}
	return item
}

// generateStream builds a stream of about n events over about items
// items, and delivers it with duplicates, reordering and a replay.
func generateStream(seed uint64, items, n int) *genStream {
	g := gen{r: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var keys []streamKey
	for i := range (items + 2) / 3 {
		for rev := range int64(3) {
			keys = append(keys, streamKey{id: fmt.Sprintf("item-%03d", i), rev: rev + 1})
		}
	}
	keys = keys[:items]
	s := &genStream{final: map[streamKey]ddbItem{}}
	micros := int64(1720740233000000)
	for range n {
		micros += 1 + g.r.Int64N(5000) // distinct change times (MICROSECOND precision)
		k := keys[g.r.IntN(len(keys))]
		cur, live := s.final[k]
		e := genEvent{key: k, micros: micros}
		switch {
		case !live:
			e.name, e.image = "INSERT", g.newItem(k)
		case g.r.IntN(6) == 0:
			e.name, e.old = "REMOVE", cur
		default:
			e.name, e.image, e.old = "MODIFY", g.mutate(cur), cur
		}
		if e.image != nil {
			s.final[k] = e.image
		} else {
			delete(s.final, k)
		}
		s.events = append(s.events, e)
	}

	// Kinesis records in publication order.
	seq := 0
	nextSeq := func() string { seq++; return seqOf(seq) }
	rec := func(data []byte) kcl.Record {
		return kcl.Record{Data: data, PartitionKey: "p", SequenceNumber: nextSeq(), ApproximateArrivalTimestamp: time.Unix(1720740233, 0).UTC()}
	}
	// DynamoDB publishes some events again, a little later, as new Kinesis
	// records.
	var published []kcl.Record
	type later struct {
		due  int
		data []byte
	}
	var again []later
	for i, e := range s.events {
		published = append(published, rec(e.record()))
		for len(again) > 0 && again[0].due <= i {
			published = append(published, rec(again[0].data))
			again = again[1:]
		}
		if g.r.IntN(12) == 0 {
			s.republished++
			again = append(again, later{due: i + 1 + g.r.IntN(30), data: e.record()})
			slices.SortStableFunc(again, func(a, b later) int { return a.due - b.due })
		}
	}
	for _, a := range again {
		published = append(published, rec(a.data))
	}
	// Reorder: shuffle within windows, and move some records across batch
	// boundaries (up to ~100 records later).
	out := slices.Clone(published)
	for start := 0; start < len(out); start += 8 {
		w := out[start:min(start+8, len(out))]
		g.r.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
	}
	for i := 0; i < len(out); i++ {
		if g.r.IntN(15) == 0 {
			j := min(len(out)-1, i+1+g.r.IntN(100))
			r := out[i]
			copy(out[i:j], out[i+1:j+1])
			out[j] = r
			s.moved++
		}
	}
	// The KCL redelivers some records (same sequence number) later.
	var delivered []kcl.Record
	for i, r := range out {
		delivered = append(delivered, r)
		if g.r.IntN(10) == 0 && i > 0 {
			delivered = append(delivered, out[g.r.IntN(i)])
			s.redelivered++
		}
	}
	// A worker restarted from an old checkpoint: a slice is delivered again.
	from := g.r.IntN(len(delivered) / 2)
	slice := delivered[from : from+len(delivered)/4]
	s.replayed = len(slice)
	delivered = append(delivered, slices.Clone(slice)...)
	s.delivered = delivered
	for left := len(delivered); left > 0; {
		n := min(left, 1+g.r.IntN(60))
		s.batches = append(s.batches, n)
		left -= n
	}
	return s
}

// finalKeys lists the live items in key order.
func (s *genStream) finalKeys() []streamKey {
	ks := slices.Collect(maps.Keys(s.final))
	slices.SortFunc(ks, func(a, b streamKey) int {
		if a.id != b.id {
			if a.id < b.id {
				return -1
			}
			return 1
		}
		return int(a.rev - b.rev)
	})
	return ks
}
