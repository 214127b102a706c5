package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// TestCDCStreamDynamoDB runs generated DynamoDB change streams (see
// cdcstream_gen_test.go) through the real Processor into PostgreSQL
// (TEST_DATABASE_URL) and CrateDB (TEST_CRATEDB_URL). Afterwards the
// table's live view must hold exactly the source table's final state and
// nothing may be dead-lettered.
//
// The documented rule (processor/cdc/README.md, "Type conflicts"): an
// attribute's value is in data, or, where CrateDB's data column cannot hold
// it as it is, in aux at the same path. So data and aux merged must equal
// the item. Values compare exactly: strings, booleans and nulls as they
// are, numbers as exact decimals (a number may be a JSON number, or a
// string holding the exact decimal when it fits neither int64 nor float64).
//
// CDC_STREAM_SEED=n runs one seed; the default runs a few.
func TestCDCStreamDynamoDB(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if s := os.Getenv("CDC_STREAM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{n}
	}
	keys, err := cdc.ParseDynamoKeys("id:S,rev:N")
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				s := generateStream(seed, 300, 2000)
				base := randomName(t, "stream_ddb")
				table := "public." + base + "_inventory"
				dec, err := cdc.NewDynamoDB(table, keys, nil, cdc.Base64)
				if err != nil {
					t.Fatal(err)
				}
				g := newGoldenRunChunk(t, db, base, dec, 50)
				at := 0
				for _, n := range s.batches {
					batch := s.delivered[at : at+n]
					at += n
					if err := g.p.ProcessRecords(context.Background(), kcl.ProcessRecordsInput{Records: batch}); err != nil {
						t.Fatalf("batch at %d: %v", at-n, err)
					}
				}
				dead := g.deadLetterCount()
				got := g.readLive(table)
				mism, inAux := compareStream(s, got)
				t.Logf("%s seed %d: %d events over 300 items (%d live at the end), %d records delivered in %d batches "+
					"(%d published again, %d redelivered, %d moved across batches, %d replayed); "+
					"%d dead letters, %d mismatches; %d attribute paths in aux",
					db.Name, seed, len(s.events), len(s.final), len(s.delivered), len(s.batches),
					s.republished, s.redelivered, s.moved, s.replayed, dead, len(mism), inAux)
				if dead > 0 {
					t.Errorf("%d dead letters, want none; first: %s", dead, g.firstDeadLetters(5))
				}
				if len(mism) > 0 {
					t.Errorf("%d rows differ from the source table, first:\n  %s", len(mism), strings.Join(mism[:min(len(mism), 10)], "\n  "))
				}
			})
		}
	})
}

func (g *goldenRun) deadLetterTable() string { return "public." + g.base + "_deadletter" }

func (g *goldenRun) deadLetterCount() int {
	g.t.Helper()
	g.db.Refresh(g.t, g.conn, g.deadLetterTable())
	var n int
	if err := g.conn.QueryRow(context.Background(), `SELECT count(*) FROM `+g.deadLetterTable()).Scan(&n); err != nil {
		g.t.Fatal(err)
	}
	return n
}

func (g *goldenRun) firstDeadLetters(n int) string {
	rows, err := g.conn.Query(context.Background(), `SELECT error FROM `+g.deadLetterTable()+` LIMIT `+strconv.Itoa(n))
	if err != nil {
		g.t.Fatal(err)
	}
	errs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		g.t.Fatal(err)
	}
	return strings.Join(errs, " | ")
}

// storedRow is one row of a live view: pk, data and aux as JSON text.
type storedRow struct{ pk, data, aux string }

func (g *goldenRun) readLive(table string) []storedRow {
	g.t.Helper()
	g.db.Refresh(g.t, g.conn, table)
	rows, err := g.conn.Query(context.Background(), `SELECT pk, data, aux FROM `+table+`_live`)
	if err != nil {
		g.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedRow, error) {
		var s storedRow
		var data, aux *string
		err := r.Scan(&s.pk, &data, &aux)
		if data != nil {
			s.data = *data
		}
		if aux != nil {
			s.aux = *aux
		}
		return s, err
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

// compareStream lists the differences between the live view and the
// model, and counts the attribute paths found in aux.
func compareStream(s *genStream, got []storedRow) (mismatches []string, inAux int) {
	seen := map[streamKey]bool{}
	for _, r := range got {
		pk, err := parseJSON(r.pk)
		if err != nil {
			mismatches = append(mismatches, fmt.Sprintf("pk %s: %v", r.pk, err))
			continue
		}
		pkm, _ := pk.(map[string]any)
		id, _ := pkm["id"].(string)
		revNum, _ := pkm["rev"].(json.Number)
		rev, err := strconv.ParseInt(string(revNum), 10, 64)
		if err != nil || len(pkm) != 2 {
			mismatches = append(mismatches, fmt.Sprintf("pk %s is not {id, rev}", r.pk))
			continue
		}
		k := streamKey{id: id, rev: rev}
		seen[k] = true
		want, ok := s.final[k]
		if !ok {
			mismatches = append(mismatches, fmt.Sprintf("%v: in the table, not in the source (data %s aux %s)", k, r.data, r.aux))
			continue
		}
		data, err1 := parseJSON(orEmpty(r.data))
		aux, err2 := parseJSON(orEmpty(r.aux))
		if err1 != nil || err2 != nil {
			mismatches = append(mismatches, fmt.Sprintf("%v: data/aux not JSON: %v %v", k, err1, err2))
			continue
		}
		inAux += countLeaves(aux)
		merged, err := mergeJSON(data, aux, "")
		if err != nil {
			mismatches = append(mismatches, fmt.Sprintf("%v: %v (data %s aux %s)", k, err, r.data, r.aux))
			continue
		}
		attrs := map[string]ddbValue{}
		for name, v := range want {
			if name != "id" && name != "rev" {
				attrs[name] = v
			}
		}
		if d := diffValue(ddbValue{tag: "M", m: attrs}, merged, ""); d != "" {
			mismatches = append(mismatches, fmt.Sprintf("%v: %s (data %s aux %s)", k, d, r.data, r.aux))
		}
	}
	for _, k := range s.finalKeys() {
		if !seen[k] {
			mismatches = append(mismatches, fmt.Sprintf("%v: in the source, missing from the table", k))
		}
	}
	return mismatches, inAux
}

func orEmpty(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

func parseJSON(s string) (any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func countLeaves(v any) int {
	m, ok := v.(map[string]any)
	if !ok {
		return 1
	}
	n := 0
	for _, x := range m {
		n += countLeaves(x)
	}
	return n
}

// mergeJSON merges aux into data: objects member by member, anything else
// only where data has nothing at that path.
func mergeJSON(data, aux any, path string) (any, error) {
	dm, ok1 := data.(map[string]any)
	am, ok2 := aux.(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s is both in data and in aux", path)
	}
	out := map[string]any{}
	for k, v := range dm {
		out[k] = v
	}
	for k, v := range am {
		if d, ok := out[k]; ok {
			m, err := mergeJSON(d, v, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = m
			continue
		}
		out[k] = v
	}
	return out, nil
}

// diffValue compares a stored value with the source's; "" when equal.
func diffValue(want ddbValue, got any, path string) string {
	bad := func() string { return fmt.Sprintf("%s: got %s, want %s", orRoot(path), show(got), show(want)) }
	switch want.tag {
	case "S", "B":
		if s, ok := got.(string); !ok || s != want.s {
			return bad()
		}
	case "BOOL":
		if b, ok := got.(bool); !ok || b != want.b {
			return bad()
		}
	case "NULL":
		if got != nil {
			return bad()
		}
	case "N":
		if !numberEqual(want.s, got) {
			return bad()
		}
	case "T": // a declared TIMESTAMP: RFC 3339 text, or epoch milliseconds (CrateDB)
		wt, err := time.Parse(time.RFC3339Nano, want.s)
		if err != nil {
			return err.Error()
		}
		switch x := got.(type) {
		case string:
			if gt, err := time.Parse(time.RFC3339Nano, x); err != nil || !gt.Equal(wt) {
				return bad()
			}
		case json.Number:
			if ms, err := x.Int64(); err != nil || !time.UnixMilli(ms).Equal(wt) {
				return bad()
			}
		default:
			return bad()
		}
	case "M":
		m, ok := got.(map[string]any)
		if !ok {
			return bad()
		}
		names := map[string]bool{}
		for k := range m {
			names[k] = true
		}
		for k := range want.m {
			names[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(names)) {
			w, inWant := want.m[k]
			g, inGot := m[k]
			switch {
			case !inWant:
				return fmt.Sprintf("%s.%s: not in the source, stored %s", orRoot(path), k, show(g))
			case !inGot:
				return fmt.Sprintf("%s.%s: missing, want %s", orRoot(path), k, show(w))
			}
			if d := diffValue(w, g, path+"."+k); d != "" {
				return d
			}
		}
	case "L", "SS", "NS", "BS":
		l, ok := got.([]any)
		elems := want.l
		if want.tag != "L" {
			elems = nil
			for _, s := range want.set {
				elems = append(elems, ddbValue{tag: want.tag[:1], s: s})
			}
		}
		if !ok || len(l) != len(elems) {
			return bad()
		}
		for i := range elems {
			if d := diffValue(elems[i], l[i], path+"["+strconv.Itoa(i)+"]"); d != "" {
				return d
			}
		}
	default:
		return "unknown tag " + want.tag
	}
	return ""
}

func orRoot(p string) string {
	if p == "" {
		return "item"
	}
	return p
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// numberEqual: a stored number equals the source's decimal exactly. It may
// be a JSON number, or a string holding the exact decimal only when the
// number fits neither int64 nor float64 (README, Numbers rule 3).
func numberEqual(want string, got any) bool {
	switch x := got.(type) {
	case json.Number:
		return exactDecimal(string(x)).Cmp(exactDecimal(want)) == 0
	case string:
		n, ok := cdc.ParseNumber(want)
		return ok && n.Kind == cdc.Big && exactDecimal(x).Cmp(exactDecimal(want)) == 0
	}
	return false
}

func exactDecimal(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat).SetFrac64(-1<<62, 3) // never equal to a real value
	}
	return r
}

// TestCDCTypeConflictExample pins the worked example of README "Type
// conflicts": the same three records on PostgreSQL and CrateDB.
func TestCDCTypeConflictExample(t *testing.T) {
	recs := [][]byte{
		[]byte(`{"eventSource":"aws:dynamodb","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1720740233000001,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":{"id":{"S":"alpha"},"rev":{"N":"1"}},"NewImage":{"id":{"S":"alpha"},"rev":{"N":"1"},"qty":{"N":"3"},"color":{"S":"red"},"dims":{"M":{"w":{"N":"10"}}}}}}`),
		[]byte(`{"eventSource":"aws:dynamodb","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1720740233000002,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":{"id":{"S":"bravo"},"rev":{"N":"1"}},"NewImage":{"id":{"S":"bravo"},"rev":{"N":"1"},"qty":{"S":"three"},"color":{"S":"blue"},"dims":{"M":{"w":{"S":"wide"}}},"note":{"NULL":true}}}}`),
		[]byte(`{"eventSource":"aws:dynamodb","eventName":"MODIFY","dynamodb":{"ApproximateCreationDateTime":1720740233000003,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":{"id":{"S":"alpha"},"rev":{"N":"1"}},"NewImage":{"id":{"S":"alpha"},"rev":{"N":"1"},"qty":{"N":"2.5"},"color":{"S":"red"},"dims":{"M":{"w":{"N":"12"},"h":{"N":"4"}}}}}}`),
	}
	want := map[string]map[string][2]string{ // database → id → data, aux
		pgtest.PostgreSQL: {
			"alpha": {`{"color":"red","dims":{"h":4,"w":12},"qty":2.5}`, `{}`},
			"bravo": {`{"color":"blue","dims":{"w":"wide"},"note":null,"qty":"three"}`, `{}`},
		},
		pgtest.CrateDB: {
			"alpha": {`{"color":"red","dims":{"h":4,"w":12}}`, `{"qty":2.5}`},
			"bravo": {`{"color":"blue"}`, `{"dims":{"w":"wide"},"note":null,"qty":"three"}`},
		},
	}
	keys, err := cdc.ParseDynamoKeys("id:S,rev:N")
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		base := randomName(t, "conflict")
		table := "public." + base + "_inventory"
		dec, err := cdc.NewDynamoDB(table, keys, nil, cdc.Base64)
		if err != nil {
			t.Fatal(err)
		}
		g := newGoldenRunChunk(t, db, base, dec, 50)
		for i, r := range records(recs) { // one batch each, as they arrive over time
			if err := g.p.ProcessRecords(context.Background(), kcl.ProcessRecordsInput{Records: []kcl.Record{r}}); err != nil {
				t.Fatalf("record %d: %v", i+1, err)
			}
		}
		if n := g.deadLetterCount(); n != 0 {
			t.Errorf("%d dead letters", n)
		}
		for _, r := range g.readLive(table) {
			pk, _ := parseJSON(r.pk)
			id := pk.(map[string]any)["id"].(string)
			w := want[db.Name][id]
			if !sameJSON(r.data, w[0]) || !sameJSON(r.aux, w[1]) {
				t.Errorf("%s: data %s aux %s, want %s %s", id, r.data, r.aux, w[0], w[1])
			}
		}
	})
}

// sameJSON compares two JSON texts ignoring key order (numbers by text).
func sameJSON(a, b string) bool {
	x, err1 := parseJSON(a)
	y, err2 := parseJSON(b)
	return err1 == nil && err2 == nil && show(x) == show(y)
}
