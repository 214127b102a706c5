package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// A generated AWS DMS stream (universal layout) for one source table
// public.orders (id BIGINT). A relational source keeps one type per
// column, but not per value: an unconfigured NUMERIC column arrives as
// integers and fractions (and as strings when DMS sends them so), a JSON
// column configured as OBJECT holds documents whose members change type,
// and numbers beyond int64 occur. DMS orders by the stream, so the delivery
// keeps the order and adds what may happen to it: KCL redeliveries (same
// sequence number, later) and a suffix DMS publishes again after a task
// restart (new sequence numbers, in order).

type dmsEvent struct {
	op  string // load, insert, update, delete
	id  int64
	row map[string]any // column → JSON value as DMS sends it; nil for delete
}

func (e dmsEvent) record() []byte {
	data := map[string]any{"id": e.id}
	for k, v := range e.row {
		data[k] = v
	}
	b, err := json.Marshal(map[string]any{
		"data": data,
		"metadata": map[string]any{"timestamp": "2024-07-21T15:04:05.000000Z", "record-type": "data", "operation": e.op,
			"partition-key-type": "primary-key", "schema-name": "public", "table-name": "orders"},
	})
	if err != nil {
		panic(err)
	}
	return b
}

type dmsStream struct {
	events      []dmsEvent
	delivered   []kcl.Record
	batches     []int
	final       map[int64]map[string]any
	redelivered int
	again       int
}

// jsonValue draws a member of the OBJECT column's documents.
func (g gen) jsonValue(depth int) any {
	switch g.r.IntN(9) {
	case 0:
		return g.pick(strings_)
	case 1, 2:
		return json.Number(g.pick(numbers[:17]))
	case 3:
		return g.r.IntN(2) == 0
	case 4:
		return nil
	case 5:
		var l []any
		for range g.r.IntN(3) {
			l = append(l, json.Number(g.pick(numbers[:10])))
		}
		if l == nil {
			return []any{}
		}
		return l
	default:
		if depth >= 2 {
			return g.pick(strings_)
		}
		m := map[string]any{}
		for range g.r.IntN(4) {
			m[g.pick(nestedNames)] = g.jsonValue(depth + 1)
		}
		return m
	}
}

func (g gen) dmsRow() map[string]any {
	row := map[string]any{
		"customer": g.pick([]string{"ann", "bob", "cat", "dan", ""}),
		"placed":   time.UnixMilli(1719828000000 + g.r.Int64N(1e9)).UTC().Format("2006-01-02 15:04:05.000"),
		"paid":     g.r.IntN(2) == 0,
	}
	switch g.r.IntN(5) { // NUMERIC(20,2): integers, fractions, sometimes as text
	case 0:
		row["total"] = json.Number(strconv.Itoa(g.r.IntN(1000)))
	case 1:
		row["total"] = strconv.Itoa(g.r.IntN(1000)) + ".50"
	case 2:
		row["total"] = nil
	default:
		row["total"] = json.Number(fmt.Sprintf("%d.%02d", g.r.IntN(1000), 1+g.r.IntN(99)))
	}
	if g.r.IntN(3) > 0 {
		row["note"] = g.pick(strings_)
	} else {
		row["note"] = nil
	}
	row["qty"] = json.Number(g.pick([]string{"1", "7", "9223372036854775806", "18446744073709551615"}))
	if g.r.IntN(4) > 0 {
		doc := map[string]any{}
		for range 1 + g.r.IntN(4) {
			doc[g.pick(nestedNames)] = g.jsonValue(0)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			panic(err)
		}
		row["meta"] = string(b) // DMS sends JSON columns as text
	}
	return row
}

// dmsDirectRow is a row for the direct layout, where every column has a
// configured type: numbers that fit DOUBLE and BIGINT, and a JSON column
// whose members keep their type (a direct OBJECT column has no aux) but
// appear over time, sometimes null.
func (g gen) dmsDirectRow() map[string]any {
	row := g.dmsRow()
	switch g.r.IntN(3) {
	case 0:
		row["total"] = json.Number(strconv.Itoa(g.r.IntN(1000)))
	case 1:
		row["total"] = nil
	default:
		row["total"] = json.Number(fmt.Sprintf("%d.%02d", g.r.IntN(1000), 1+g.r.IntN(99)))
	}
	row["qty"] = json.Number(g.pick([]string{"1", "7", "9223372036854775806"}))
	doc := map[string]any{}
	for range g.r.IntN(5) {
		k := g.r.IntN(24)
		name := fmt.Sprintf("k%d", k)
		var v any
		switch k % 4 {
		case 0:
			v = json.Number(strconv.Itoa(g.r.IntN(100)))
		case 1:
			v = g.pick(strings_)
		case 2:
			v = map[string]any{"level": json.Number(strconv.Itoa(g.r.IntN(9))), fmt.Sprintf("sub%d", g.r.IntN(4)): g.r.IntN(2) == 0}
		default:
			v = []any{json.Number("1.5"), json.Number("2")}
		}
		if g.r.IntN(6) == 0 {
			v = nil
		}
		doc[name] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	row["meta"] = string(b)
	return row
}

func generateDMSStream(seed uint64, ids, n int, direct bool) *dmsStream {
	g := gen{r: mrand.New(mrand.NewPCG(seed, seed^0x51ed270b))}
	row := g.dmsRow
	if direct {
		row = g.dmsDirectRow
	}
	s := &dmsStream{final: map[int64]map[string]any{}}
	apply := func(e dmsEvent) {
		if e.row == nil {
			delete(s.final, e.id)
		} else {
			s.final[e.id] = e.row
		}
		s.events = append(s.events, e)
	}
	for id := range int64(ids / 2) { // full load
		apply(dmsEvent{op: "load", id: id + 1, row: row()})
	}
	for range n {
		id := 1 + g.r.Int64N(int64(ids))
		switch _, live := s.final[id]; {
		case !live:
			apply(dmsEvent{op: "insert", id: id, row: row()})
		case g.r.IntN(6) == 0:
			apply(dmsEvent{op: "delete", id: id})
		default:
			apply(dmsEvent{op: "update", id: id, row: row()})
		}
	}
	seq := 0
	rec := func(data []byte) kcl.Record {
		seq++
		return kcl.Record{Data: data, PartitionKey: "p", SequenceNumber: seqOf(seq), ApproximateArrivalTimestamp: time.Unix(1720740233, 0).UTC()}
	}
	var published []kcl.Record
	for _, e := range s.events {
		published = append(published, rec(e.record()))
	}
	// A task restart publishes a suffix again, in order, as new records.
	from := len(published) / 2
	for _, r := range slices.Clone(published[from:]) {
		published = append(published, rec(r.Data))
		s.again++
	}
	// The KCL redelivers records after their first delivery.
	later := make([][]kcl.Record, len(published))
	for i, r := range published {
		if g.r.IntN(10) == 0 {
			at := i + g.r.IntN(min(50, len(published)-i))
			later[at] = append(later[at], r)
			s.redelivered++
		}
	}
	for i, r := range published {
		s.delivered = append(s.delivered, r)
		s.delivered = append(s.delivered, later[i]...)
	}
	for left := len(s.delivered); left > 0; {
		n := min(left, 1+g.r.IntN(60))
		s.batches = append(s.batches, n)
		left -= n
	}
	return s
}

// dmsExpected is the row as the universal layout stores it: the declared
// columns converted, the others as DMS sent them, in the ddbValue model.
func dmsExpected(row map[string]any) ddbValue {
	out := map[string]ddbValue{}
	for _, k := range slices.Sorted(maps.Keys(row)) {
		v := row[k]
		switch k {
		case "placed":
			t, err := time.Parse("2006-01-02 15:04:05.000", v.(string))
			if err != nil {
				panic(err)
			}
			out[k] = ddbValue{tag: "T", s: t.UTC().Format(time.RFC3339Nano)}
		case "meta":
			var doc any
			d := json.NewDecoder(strings.NewReader(v.(string)))
			d.UseNumber()
			if err := d.Decode(&doc); err != nil {
				panic(err)
			}
			out[k] = jsonModel(doc)
		default:
			out[k] = jsonModel(v)
		}
	}
	return ddbValue{tag: "M", m: out}
}

// jsonModel is a plain JSON value in the ddbValue model.
func jsonModel(v any) ddbValue {
	switch x := v.(type) {
	case nil:
		return ddbValue{tag: "NULL"}
	case bool:
		return ddbValue{tag: "BOOL", b: x}
	case string:
		return ddbValue{tag: "S", s: x}
	case json.Number:
		return ddbValue{tag: "N", s: string(x)}
	case []any:
		l := []ddbValue{}
		for _, e := range x {
			l = append(l, jsonModel(e))
		}
		return ddbValue{tag: "L", l: l}
	case map[string]any:
		m := map[string]ddbValue{}
		for k, e := range x {
			m[k] = jsonModel(e)
		}
		return ddbValue{tag: "M", m: m}
	}
	panic(fmt.Sprintf("jsonModel: %T", v))
}

// runDMSStream sends a generated DMS stream of table public.orders (layout,
// column types) through the processor into a fresh table and returns the
// stream, the run, the table and its dead-letter count.
func runDMSStream(t *testing.T, db pgtest.DB, seed uint64, layout cdc.Layout, prefix, columnTypes string) (*dmsStream, *goldenRun, string, int) {
	t.Helper()
	s := generateDMSStream(seed, 200, 1500, layout == cdc.Direct)
	base := randomName(t, prefix)
	sources, err := cdc.ParseDMSTables("public.orders:id", layout)
	if err != nil {
		t.Fatal(err)
	}
	if err := cdc.ApplyColumnTypes(sources, columnTypes); err != nil {
		t.Fatal(err)
	}
	table := "public." + base + "_orders"
	if err := cdc.ApplyTableMapping(sources, "public.orders="+table); err != nil {
		t.Fatal(err)
	}
	g := newGoldenRunChunk(t, db, base, cdc.NewDMS(sources, cdc.ControlIgnore), 50)
	at := 0
	for _, n := range s.batches {
		if err := g.p.ProcessRecords(context.Background(), kcl.ProcessRecordsInput{Records: s.delivered[at : at+n]}); err != nil {
			t.Fatalf("batch at %d: %v", at, err)
		}
		at += n
	}
	return s, g, table, g.deadLetterCount()
}

// TestCDCStreamDMS runs generated DMS streams (universal layout) into both
// databases; like TestCDCStreamDynamoDB, the live view must be the source
// table with data and aux merged, and nothing may be dead-lettered.
func TestCDCStreamDMS(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				s, g, table, dead := runDMSStream(t, db, seed, cdc.Document, "stream_dms", "public.orders.id:BIGINT, public.orders.customer:TEXT, "+
					"public.orders.placed:TIMESTAMP, public.orders.paid:BOOLEAN, public.orders.meta:OBJECT")
				var mism []string
				seen := map[int64]bool{}
				inAux := 0
				for _, r := range g.readLive(table) {
					pk, _ := parseJSON(r.pk)
					idNum, _ := pk.(map[string]any)["id"].(json.Number)
					id, _ := strconv.ParseInt(string(idNum), 10, 64)
					seen[id] = true
					want, ok := s.final[id]
					if !ok {
						mism = append(mism, fmt.Sprintf("%d: not in the source", id))
						continue
					}
					data, _ := parseJSON(orEmpty(r.data))
					aux, _ := parseJSON(orEmpty(r.aux))
					inAux += countLeaves(aux)
					merged, err := mergeJSON(data, aux, "")
					if err != nil {
						mism = append(mism, fmt.Sprintf("%d: %v", id, err))
						continue
					}
					if d := diffValue(dmsExpected(want), merged, ""); d != "" {
						mism = append(mism, fmt.Sprintf("%d: %s (data %s aux %s)", id, d, r.data, r.aux))
					}
				}
				for id := range s.final {
					if !seen[id] {
						mism = append(mism, fmt.Sprintf("%d: missing", id))
					}
				}
				t.Logf("%s seed %d: %d events over 200 ids (%d live at the end), %d records delivered in %d batches "+
					"(%d published again, %d redelivered); %d dead letters, %d mismatches; %d attribute paths in aux",
					db.Name, seed, len(s.events), len(s.final), len(s.delivered), len(s.batches), s.again, s.redelivered, dead, len(mism), inAux)
				if dead > 0 {
					t.Errorf("%d dead letters; first: %s", dead, g.firstDeadLetters(5))
				}
				if len(mism) > 0 {
					slices.Sort(mism)
					t.Errorf("%d rows differ, first:\n  %s", len(mism), strings.Join(mism[:min(10, len(mism))], "\n  "))
				}
			})
		}
	})
}

// TestCDCStreamDMSDirect runs generated DMS streams in the direct layout
// (real, typed columns) into both databases.
func TestCDCStreamDMSDirect(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				s, g, table, dead := runDMSStream(t, db, seed, cdc.Direct, "stream_dmsd", "public.orders.id:BIGINT, public.orders.customer:TEXT, public.orders.total:DOUBLE, "+
					"public.orders.placed:TIMESTAMP, public.orders.paid:BOOLEAN, public.orders.meta:OBJECT, public.orders.note:TEXT, public.orders.qty:BIGINT")
				g.db.Refresh(t, g.conn, table)
				rows, err := g.conn.Query(context.Background(), `SELECT id, customer, total, placed, paid, meta, note, qty FROM `+table+`_live`)
				if err != nil {
					t.Fatal(err)
				}
				var mism []string
				seen := map[int64]bool{}
				for rows.Next() {
					var id int64
					var customer, meta, note *string
					var total *float64
					var placed *time.Time
					var paid *bool
					var qty *int64
					if err := rows.Scan(&id, &customer, &total, &placed, &paid, &meta, &note, &qty); err != nil {
						t.Fatal(err)
					}
					seen[id] = true
					want, ok := s.final[id]
					if !ok {
						mism = append(mism, fmt.Sprintf("%d: not in the source", id))
						continue
					}
					got := map[string]any{"customer": deref(customer), "paid": deref(paid), "note": deref(note), "meta": nil, "total": nil, "qty": nil, "placed": nil}
					if total != nil {
						got["total"] = json.Number(strconv.FormatFloat(*total, 'f', -1, 64))
					}
					if qty != nil {
						got["qty"] = json.Number(strconv.FormatInt(*qty, 10))
					}
					if placed != nil {
						got["placed"] = placed.UTC().Format(time.RFC3339Nano)
					}
					if meta != nil {
						if got["meta"], err = parseJSON(*meta); err != nil {
							t.Fatal(err)
						}
					}
					if d := diffValue(dmsExpected(want), got, ""); d != "" {
						mism = append(mism, fmt.Sprintf("%d: %s (meta %s)", id, d, show(got["meta"])))
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				for id := range s.final {
					if !seen[id] {
						mism = append(mism, fmt.Sprintf("%d: missing", id))
					}
				}
				t.Logf("%s seed %d: %d events over 200 ids (%d live at the end), %d records delivered in %d batches "+
					"(%d published again, %d redelivered); %d dead letters, %d mismatches",
					db.Name, seed, len(s.events), len(s.final), len(s.delivered), len(s.batches), s.again, s.redelivered, dead, len(mism))
				if dead > 0 {
					t.Errorf("%d dead letters; first: %s", dead, g.firstDeadLetters(5))
				}
				if len(mism) > 0 {
					slices.Sort(mism)
					t.Errorf("%d rows differ, first:\n  %s", len(mism), strings.Join(mism[:min(10, len(mism))], "\n  "))
				}
			})
		}
	})
}

// deref is *p, or nil (an untyped nil) for a nil pointer.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
