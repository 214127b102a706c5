package sink

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// Example tables of both layouts for the golden files and checks.
func cdcTestSpecs() []*cdc.Table {
	return []*cdc.Table{
		{Name: "readings", Layout: cdc.Document,
			Key:     []cdc.Column{{Name: "device", Type: cdc.Text}, {Name: "ts", Type: cdc.BigInt}},
			Columns: []cdc.Column{{Name: "price", Type: cdc.Double}}},
		{Name: "shop.orders", Layout: cdc.Direct,
			Key: []cdc.Column{{Name: "id", Type: cdc.BigInt}},
			Columns: []cdc.Column{{Name: "total", Type: cdc.Double}, {Name: "note", Type: cdc.Text}, {Name: "meta", Type: cdc.Object},
				{Name: "placed", Type: cdc.Timestamp}, {Name: "paid", Type: cdc.Boolean}, {Name: "qty", Type: cdc.Integer}}},
		{Name: `o'brien."Odd Name"`, Layout: cdc.Document,
			Key: []cdc.Column{{Name: "it's", Type: cdc.Text}}},
		// typed columns from plain JSON (sink.columns)
		{Name: "readings_typed", Layout: cdc.Direct,
			Key: []cdc.Column{{Name: "shard_id", Type: cdc.Text}, {Name: "seq", Type: cdc.Text}, {Name: "sub_seq", Type: cdc.BigInt}},
			Columns: []cdc.Column{{Name: "note", Type: cdc.Text, IndexOff: true, NoColumnstore: true}, {Name: "payload", Type: cdc.IgnoredObject},
				{Name: "arrived_at", Type: cdc.Timestamp}},
			Partition: &cdc.Partition{Column: "arrived_at", Unit: "month"}, AppendOnly: true},
	}
}

func cdcTestState(t *testing.T, d Dialect) *cdcState {
	t.Helper()
	s, err := newCDCState(dialectOf(d), cdcTestSpecs())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCDCStatementsGolden(t *testing.T) {
	for _, d := range []Dialect{PostgreSQL, CrateDB} {
		t.Run(d.String(), func(t *testing.T) {
			var b strings.Builder
			for _, tgt := range cdcTestState(t, d).order {
				for _, ns := range namedCDCStatements(tgt.sql) {
					if ns[1] != "" {
						fmt.Fprintf(&b, "-- %s %s\n%s;\n\n", tgt.spec.Name, ns[0], ns[1])
					}
				}
			}
			checkGolden(t, "cdc_"+d.String()+".sql.golden", b.String())
		})
	}
}

func namedCDCStatements(s cdcStatements) [][2]string {
	return [][2]string{{"createTable", s.createTable}, {"createView", s.createView}, {"dropView", s.dropView},
		{"dropTable", s.dropTable}, {"upsertRow", s.upsertRow}, {"upsertUnnest", s.upsertUnnest}}
}

// The CrateDB upsert must keep the version guard without a WHERE clause
// (unsupported there), address the row by its full primary key, guard every
// assigned column, cast every parameter, and use nothing CrateDB lacks.
func TestCrateCDCUpsert(t *testing.T) {
	banned := regexp.MustCompile(`(?i)\b(ROLLBACK|BEGIN|COPY|JSONB|unnest|TEMP|COLLATE)\b|DO UPDATE SET .*\bWHERE\b`)
	for _, tgt := range cdcTestState(t, CrateDB).order {
		sql := tgt.sql.upsertRow
		if tgt.spec.AppendOnly {
			if !strings.HasSuffix(sql, ` ON CONFLICT (`+keyList(tgt.spec)+`) DO NOTHING`) {
				t.Errorf("%s: an append-only table's row is written once: %s", tgt.spec.Name, sql)
			}
			continue
		}
		if m := banned.FindString(sql); m != "" {
			t.Errorf("%s uses %q: %s", tgt.spec.Name, m, sql)
		}
		var want string
		if tgt.spec.Layout == cdc.Document {
			var keys []string
			for _, k := range tgt.spec.Key {
				keys = append(keys, `"pk"[`+sqlString(k.Name)+`]`)
			}
			want = "ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET "
		} else {
			want = `ON CONFLICT (` + keyList(tgt.spec) + `) DO UPDATE SET `
		}
		if !strings.Contains(sql, want) {
			t.Errorf("%s: no %q in %s", tgt.spec.Name, want, sql)
		}
		cols := cdcColumns(tgt.spec)
		if n := placeholders(sql); n != len(cols) || len(changeArgs(tgt, sampleChange(tgt.spec))) != n {
			t.Errorf("%s: %d placeholders for %d columns", tgt.spec.Name, n, len(cols))
		}
		if c := regexp.MustCompile(`\$\d+::`).FindAllString(sql, -1); len(c) != len(cols) {
			t.Errorf("%s: %d of %d parameters cast", tgt.spec.Name, len(c), len(cols))
		}
		_, sets, _ := strings.Cut(sql, "DO UPDATE SET ")
		for _, c := range cols {
			guarded := quoteIdent(c.name) + ` = CASE WHEN excluded."cdc_version" > coalesce("cdc_version", '') THEN excluded.` +
				quoteIdent(c.name) + ` ELSE ` + quoteIdent(c.name) + ` END`
			fixed := c.key || partitionSource(tgt.spec, c.name) // never updated
			if fixed == strings.Contains(sets, guarded) {
				t.Errorf("%s: column %s guarded=%v (fixed=%v)", tgt.spec.Name, c.name, !fixed, fixed)
			}
		}
		if !strings.HasSuffix(sql, crateDB{}.guarded(colVersion)) {
			t.Errorf("%s: the version must be assigned last: %s", tgt.spec.Name, sql)
		}
	}
}

func TestPostgresCDCUpsertGuard(t *testing.T) {
	for _, tgt := range cdcTestState(t, PostgreSQL).order {
		sql := tgt.sql.upsertUnnest
		if tgt.spec.AppendOnly {
			if !strings.HasSuffix(sql, ` DO NOTHING`) {
				t.Errorf("%s: an append-only table's row is written once: %s", tgt.spec.Name, sql)
			}
			continue
		}
		if !strings.HasSuffix(sql, `WHERE coalesce(t."cdc_version", '') COLLATE "C" < excluded."cdc_version" COLLATE "C"`) {
			t.Errorf("%s: no version guard: %s", tgt.spec.Name, sql)
		}
		if n := placeholders(sql); n != len(cdcColumns(tgt.spec)) {
			t.Errorf("%s: %d placeholders", tgt.spec.Name, n)
		}
	}
}

func TestCDCTableNames(t *testing.T) {
	s := cdcTestState(t, CrateDB)
	want := []string{`"doc"."readings"`, `"doc"."readings_live"`, `"shop"."orders"`, `"shop"."orders_live"`,
		`"o'brien"."Odd Name"`, `"o'brien"."Odd Name_live"`, `"doc"."readings_typed"`, `"doc"."readings_typed_live"`}
	for i, n := range s.tableNames() {
		if n.String() != want[i] {
			t.Errorf("table %d = %s, want %s", i, n, want[i])
		}
	}
	if _, err := newCDCState(crateDB{}, []*cdc.Table{{Name: "a", Layout: cdc.Document}, {Name: "doc.a", Layout: cdc.Document}}); err == nil {
		t.Error("the same table twice was accepted")
	}
}

func sampleChange(spec *cdc.Table) *cdc.Change {
	c := &cdc.Change{Table: spec, Op: cdc.Upsert, Version: cdc.Version{Micros: 1, Seq: "1"}, EventTime: time.Unix(1, 0)}
	for range spec.Key {
		c.Key = append(c.Key, "k")
	}
	c.Values = make([]any, len(spec.Columns))
	c.Data, c.Aux = []byte(`{}`), []byte(`{}`)
	return c
}

func TestChangeArgsTombstone(t *testing.T) {
	s := cdcTestState(t, CrateDB)
	doc, direct := s.order[0], s.order[1]
	c := sampleChange(doc.spec)
	c.Op = cdc.Delete
	args := changeArgs(doc, c)
	if args[0] != `{"device":"k","ts":"k"}` || args[1] != nil || args[2] != nil || args[4] != true {
		t.Errorf("document tombstone args %#v", args)
	}
	d := sampleChange(direct.spec)
	d.Values[0] = 1.5
	d.Op = cdc.Delete
	for i, a := range changeArgs(direct, d)[1 : 1+len(direct.spec.Columns)] {
		if a != nil {
			t.Errorf("direct tombstone column %d = %#v", i, a)
		}
	}
}
