package ingest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// The golden corpus (processor/cdc/testdata) is a stream of change events
// and, written by hand, the source tables' state after it. These tests run
// the stream through the real Processor (decode → compact → apply →
// dead-letter) into PostgreSQL and CrateDB and compare the live views with that state:
// in order, replayed twice, and shuffled with duplicates.

type goldenExpect struct {
	Rows        []json.RawMessage            `json:"rows"`   // DynamoDB: one table
	Tables      map[string][]json.RawMessage `json:"tables"` // DMS: by source table name
	DeadLetters []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"dead_letters"`
}

func readCorpus(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			lines = append(lines, []byte(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// readExpect reads an expected*.json file; on CrateDB its _cratedb variant
// when there is one: CrateDB keeps some attributes in aux (README "Type
// conflicts") and prints declared doubles and timestamps its own way.
func readExpect(t *testing.T, path string, db pgtest.DB) goldenExpect {
	t.Helper()
	if db.Crate() {
		if p := strings.TrimSuffix(path, ".json") + "_cratedb.json"; fileExists(p) {
			path = p
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e goldenExpect
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// seqOf is the Kinesis sequence number of corpus record i (i from 1 up).
func seqOf(i int) string { return fmt.Sprintf("4959%046d", i) }

func records(lines [][]byte) []kcl.Record {
	recs := make([]kcl.Record, len(lines))
	for i, l := range lines {
		recs[i] = kcl.Record{Data: l, PartitionKey: "p", SequenceNumber: seqOf(i + 1), ApproximateArrivalTimestamp: time.Unix(1720740233, 0).UTC()}
	}
	return recs
}

func randomName(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "_" + hex.EncodeToString(b)
}

// goldenRun is one fresh set of tables with a Processor writing into them.
type goldenRun struct {
	t    *testing.T
	db   pgtest.DB
	p    *Processor
	w    *sink.ChangeWriter
	conn *pgx.Conn
	base string
	dec  cdc.Decoder
}

func newGoldenRun(t *testing.T, db pgtest.DB, base string, dec cdc.Decoder) *goldenRun {
	t.Helper()
	return newGoldenRunChunk(t, db, base, dec, 4)
}

// newGoldenRunChunk is newGoldenRun with chunks of up to chunk changes.
func newGoldenRunChunk(t *testing.T, db pgtest.DB, base string, dec cdc.Decoder, chunk int) *goldenRun {
	t.Helper()
	url := db.URL
	ctx := context.Background()
	w, err := sink.OpenChanges(ctx, url, sink.Config{
		Table: "public." + base, CreateTables: true, ChunkSize: chunk,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		// A minute: on a loaded 2-core machine one CrateDB ALTER TABLE took
		// 20 s (the whole suite, a CI run and other suites at once).
		Retry: sink.RetryPolicy{InitialBackoff: 10 * time.Millisecond, MaxWait: time.Minute},
	}, dec.Tables())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if !db.Crate() { // CrateDB's session time zone is always UTC
		if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, tb := range dec.Tables() {
			conn.Exec(ctx, `DROP VIEW IF EXISTS `+tb.Name+`_live`)
			conn.Exec(ctx, `DROP TABLE IF EXISTS `+tb.Name)
		}
		conn.Exec(ctx, `DROP TABLE IF EXISTS public.`+base+`_deadletter`)
		conn.Exec(ctx, `DELETE FROM public.kinesis_progress WHERE shard_id = 'shardId-golden'`)
		conn.Close(ctx)
		w.Close()
	})
	p := &Processor{Store: &Changes{Decoder: dec, Sink: w}, Progress: w, Log: zerolog.Nop(), CheckpointInterval: time.Hour, ProgressInterval: time.Hour}
	if err := p.Initialize(ctx, kcl.InitializeInput{ShardID: "shardId-golden"}); err != nil {
		t.Fatal(err)
	}
	return &goldenRun{t: t, db: db, p: p, w: w, conn: conn, base: base, dec: dec}
}

// feed delivers recs in batches of size n, as the daemon would.
func (g *goldenRun) feed(recs []kcl.Record, n int) {
	g.t.Helper()
	for start := 0; start < len(recs); start += n {
		batch := recs[start:min(start+n, len(recs))]
		if err := g.p.ProcessRecords(context.Background(), kcl.ProcessRecordsInput{Records: batch}); err != nil {
			g.t.Fatalf("batch at %d: %v", start, err)
		}
	}
}

// check compares the live view of table with the expected rows, both
// rendered as PostgreSQL's jsonb output (so 1 and 1.0 differ, key order
// does not; see pgtest.LiveRows for CrateDB).
func (g *goldenRun) check(what, table string, want []json.RawMessage) {
	g.t.Helper()
	ctx := context.Background()
	exp, err := pgtest.CanonicalJSON(ctx, g.conn, g.db, want)
	if err != nil {
		g.t.Fatal(err)
	}
	g.db.Refresh(g.t, g.conn, table)
	got, err := pgtest.LiveRows(ctx, g.conn, g.db, table+`_live`)
	if err != nil {
		g.t.Fatal(err)
	}
	if !slices.Equal(got, exp) {
		g.t.Errorf("%s: %s differs from the source table\n got:\n  %s\nwant:\n  %s", what, table,
			strings.Join(got, "\n  "), strings.Join(exp, "\n  "))
	}
}

// checkMerged is check with data and aux merged into one object per row
// and numbers compared by value: what the source table holds, wherever
// the type-conflict rule put each attribute.
func (g *goldenRun) checkMerged(what, table string, want []json.RawMessage) {
	g.t.Helper()
	g.db.Refresh(g.t, g.conn, table)
	gotRows, err := pgtest.LiveRows(context.Background(), g.conn, g.db, table+`_live`)
	if err != nil {
		g.t.Fatal(err)
	}
	merged := func(rows []string) []string {
		var out []string
		for _, r := range rows {
			v, err := parseJSON(r)
			if err != nil {
				g.t.Fatal(err)
			}
			row := v.(map[string]any)
			data, _ := row["data"].(map[string]any)
			item := map[string]any{}
			for k, x := range data {
				item[k] = x
			}
			aux, _ := row["aux"].(map[string]any)
			for k, x := range aux {
				if _, dup := item[k]; dup {
					g.t.Errorf("%s: %s: attribute %q in data and in aux", what, r, k)
				}
				item[k] = x
			}
			out = append(out, pgtest.JSONBText(byValue(map[string]any{"pk": row["pk"], "item": item})))
		}
		slices.Sort(out)
		return out
	}
	var wantRows []string
	for _, w := range want {
		wantRows = append(wantRows, string(w))
	}
	got, exp := merged(gotRows), merged(wantRows)
	if !slices.Equal(got, exp) {
		g.t.Errorf("%s: %s differs from the source table (data and aux merged)\n got:\n  %s\nwant:\n  %s", what, table,
			strings.Join(got, "\n  "), strings.Join(exp, "\n  "))
	}
}

// byValue replaces every number by its exact value as a fraction, so that
// 1, 1.0 and 1E+0 compare equal.
func byValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return json.Number(exactDecimal(string(x)).RatString())
	case map[string]any:
		for k, e := range x {
			x[k] = byValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = byValue(e)
		}
	}
	return v
}

func (g *goldenRun) checkDeadLetters(e goldenExpect) {
	g.t.Helper()
	g.db.Refresh(g.t, g.conn, `public.`+g.base+`_deadletter`)
	rows, err := g.conn.Query(context.Background(), `SELECT seq, error FROM public.`+g.base+`_deadletter ORDER BY seq`)
	if err != nil {
		g.t.Fatal(err)
	}
	type dl struct{ seq, err string }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dl, error) {
		var d dl
		return d, r.Scan(&d.seq, &d.err)
	})
	if err != nil {
		g.t.Fatal(err)
	}
	if len(got) != len(e.DeadLetters) {
		g.t.Fatalf("%d dead letters, want %d: %v", len(got), len(e.DeadLetters), got)
	}
	for i, want := range e.DeadLetters {
		if got[i].seq != seqOf(want.Line) || !strings.Contains(got[i].err, want.Error) {
			g.t.Errorf("dead letter %d: %s %q, want line %d with %q", i, got[i].seq, got[i].err, want.Line, want.Error)
		}
	}
}

func TestCDCGoldenDynamoDB(t *testing.T) { pgtest.Each(t, testCDCGoldenDynamoDB) }

func testCDCGoldenDynamoDB(t *testing.T, db pgtest.DB) {
	lines := readCorpus(t, "../cdc/testdata/dynamodb/stream.jsonl")
	exp := readExpect(t, "../cdc/testdata/dynamodb/expected.json", db)
	keys, err := cdc.ParseDynamoKeys("id:S,rev:N")
	if err != nil {
		t.Fatal(err)
	}
	newRun := func() (*goldenRun, string) {
		base := randomName(t, "golden_ddb")
		table := "public." + base + "_inventory"
		dec, err := cdc.NewDynamoDB(table, keys, nil, cdc.Base64)
		if err != nil {
			t.Fatal(err)
		}
		return newGoldenRun(t, db, base, dec), table
	}
	recs := records(lines)

	g, table := newRun()
	g.feed(recs, 4)
	g.check("in order", table, exp.Rows)
	g.checkDeadLetters(exp)
	g.feed(append(slices.Clone(recs), recs...), 5)
	g.check("replayed twice", table, exp.Rows)

	// DynamoDB's Kinesis destination may publish an event again (a new
	// Kinesis record, so a later sequence number) and deliver in any order;
	// the KCL may deliver a record again (same sequence number).
	r := mrand.New(mrand.NewPCG(1, 2))
	for round := range 5 {
		mixed := slices.Clone(recs)
		for i := range recs {
			if r.IntN(2) == 0 {
				dup := recs[i]
				if r.IntN(2) == 0 {
					dup.SequenceNumber = seqOf(1000 + round*100 + i)
				}
				mixed = append(mixed, dup)
			}
		}
		r.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
		g, table := newRun()
		g.feed(mixed, 1+r.IntN(6))
		what := fmt.Sprintf("shuffled with duplicates, round %d", round)
		if db.Crate() {
			// The order decides which value creates a sub-column, so which
			// attributes land in aux (README "Type conflicts").
			g.checkMerged(what, table, exp.Rows)
		} else {
			g.check(what, table, exp.Rows)
		}
	}
}

func TestCDCGoldenDMS(t *testing.T) { pgtest.Each(t, testCDCGoldenDMS) }

func testCDCGoldenDMS(t *testing.T, db pgtest.DB) {
	lines := readCorpus(t, "../cdc/testdata/dms/stream.jsonl")
	recs := records(lines)
	for _, tt := range []struct {
		layout  cdc.Layout
		control cdc.ControlMode
		expect  string
	}{
		{cdc.Direct, cdc.ControlApply, "expected_direct.json"},
		{cdc.Document, cdc.ControlIgnore, "expected_universal.json"},
	} {
		t.Run(tt.layout.String(), func(t *testing.T) {
			exp := readExpect(t, "../cdc/testdata/dms/"+tt.expect, db)
			newRun := func() (*goldenRun, string) {
				base := randomName(t, "golden_dms")
				sources, err := cdc.ParseDMSTables("public.orders:id; public.customers:id", tt.layout)
				if err != nil {
					t.Fatal(err)
				}
				types := "public.orders.id:BIGINT, public.orders.customer:TEXT, public.orders.total:DOUBLE, public.orders.placed:TIMESTAMP, " +
					"public.orders.paid:BOOLEAN, public.orders.meta:OBJECT, public.orders.note:TEXT, " +
					"public.customers.id:BIGINT, public.customers.name:TEXT, public.customers.email:TEXT"
				if err := cdc.ApplyColumnTypes(sources, types); err != nil {
					t.Fatal(err)
				}
				prefix := "public." + base + "_"
				if err := cdc.ApplyTableMapping(sources, "public.orders="+prefix+"orders, public.customers="+prefix+"customers"); err != nil {
					t.Fatal(err)
				}
				return newGoldenRun(t, db, base, cdc.NewDMS(sources, tt.control)), prefix
			}
			check := func(g *goldenRun, what, prefix string) {
				for name, rows := range exp.Tables {
					g.check(what, prefix+name, rows)
				}
			}

			g, prefix := newRun()
			g.feed(recs, 4)
			check(g, "in order", prefix)
			g.checkDeadLetters(exp)
			g.feed(append(slices.Clone(recs), recs...), 3)
			check(g, "replayed twice", prefix)
			// DMS restarting a task publishes a suffix of the stream again as
			// new records, in order.
			again := slices.Clone(recs[5:])
			for i := range again {
				again[i].SequenceNumber = seqOf(500 + i)
			}
			g.feed(again, 4)
			check(g, "suffix published again", prefix)

			// The KCL redelivers records (same sequence number) after their
			// first delivery; DMS orders by the stream, so duplicates can only
			// come later, never earlier.
			r := mrand.New(mrand.NewPCG(3, 4))
			for round := range 5 {
				later := make([][]kcl.Record, len(recs)) // duplicates delivered after record i
				for i := range recs {
					if r.IntN(2) == 0 {
						at := i + r.IntN(len(recs)-i)
						later[at] = append(later[at], recs[i])
					}
				}
				var mixed []kcl.Record
				for i := range recs {
					mixed = append(mixed, recs[i])
					mixed = append(mixed, later[i]...)
				}
				g, prefix := newRun()
				g.feed(mixed, 1+r.IntN(6))
				check(g, fmt.Sprintf("duplicates shuffled in, round %d", round), prefix)
			}
		})
	}
}
