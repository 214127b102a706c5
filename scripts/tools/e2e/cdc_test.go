package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// cdcTestdata is processor/cdc/testdata, seen from this package's folder
// (go test runs a package's tests in its folder).
const cdcTestdata = "../../../processor/cdc/testdata/"

// cdcCorpus is processor/cdc/testdata: a stream of change events and the
// source tables' state after it.
type cdcCorpus struct {
	lines  [][]byte
	rows   []json.RawMessage            // DynamoDB
	tables map[string][]json.RawMessage // DMS, by source table name
	dead   int                          // dead letters per pass over the stream
}

func readCDCCorpus(t *testing.T, dir, expected string) cdcCorpus {
	t.Helper()
	f, err := os.Open(cdcTestdata + dir + "/stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c cdcCorpus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			c.lines = append(c.lines, []byte(line))
		}
	}
	b, err := os.ReadFile(cdcTestdata + dir + "/" + expected)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Rows        []json.RawMessage            `json:"rows"`
		Tables      map[string][]json.RawMessage `json:"tables"`
		DeadLetters []json.RawMessage            `json:"dead_letters"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	c.rows, c.tables, c.dead = e.Rows, e.Tables, len(e.DeadLetters)
	return c
}

// waitForState polls until every view holds exactly its expected rows and
// the dead-letter table has dead rows. Rows and expectations are compared as
// jsonb text (pgtest.LiveRows, pgtest.CanonicalJSON).
//
// With merged, data and aux are compared as one object per row: on CrateDB
// the order in which changes arrive decides which value makes a sub-column
// and so which attributes land in aux (README "Type conflicts"); an
// attribute in both is a difference.
func waitForState(t *testing.T, db pgtest.DB, deadLetters string, views map[string][]json.RawMessage, dead int, merged bool) {
	t.Helper()
	eventually(t, 4*time.Minute, "the target tables to equal the source tables", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			return false, err.Error()
		}
		defer conn.Close(ctx)
		if !db.Crate() { // CrateDB's session time zone is always UTC
			if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
				return false, err.Error()
			}
		}
		var state []string
		ok := true
		for view, want := range views {
			if db.Crate() {
				if _, err := conn.Exec(ctx, "REFRESH TABLE "+strings.TrimSuffix(view, "_live")); err != nil {
					return false, err.Error()
				}
			}
			exp, err := pgtest.CanonicalJSON(ctx, conn, db, want)
			if err != nil {
				return false, err.Error()
			}
			got, err := pgtest.LiveRows(ctx, conn, db, view)
			if err != nil {
				return false, err.Error()
			}
			if merged {
				got, exp = pgtest.MergeDataAux(got), pgtest.MergeDataAux(exp)
			}
			if !slices.Equal(got, exp) {
				ok = false
				state = append(state, fmt.Sprintf("%s has\n  %s\nwant\n  %s", view, strings.Join(got, "\n  "), strings.Join(exp, "\n  ")))
			}
		}
		if db.Crate() {
			if _, err := conn.Exec(ctx, "REFRESH TABLE "+deadLetters); err != nil {
				return false, err.Error()
			}
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+deadLetters).Scan(&n); err != nil {
			return false, err.Error()
		}
		if n != dead {
			ok = false
			state = append(state, fmt.Sprintf("%d dead letters, want %d", n, dead))
		}
		return ok, strings.Join(state, "\n")
	})
}

// TestE2ECDCDynamoDB publishes the DynamoDB golden corpus as raw records
// (the format of DynamoDB's Kinesis destination) through the real daemon:
// once in order and once more shuffled, spread over two shards by event, so
// duplicates and out-of-order MODIFYs reach the table from both shards. The
// table must end up equal to the source table.
func TestE2ECDCDynamoDB(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testE2ECDCDynamoDB(t, s, db) })
}

func testE2ECDCDynamoDB(t *testing.T, s *stack, db pgtest.DB) {
	corpus := readCDCCorpus(t, "dynamodb", "expected.json")
	a := s.newSinkApp(t, 2, db, "sink.format = dynamodb-cdc", "sink.dynamodb.keys = id:S,rev:N")
	d := s.startDaemon(t, a.props)

	order := make([]int, len(corpus.lines))
	for i := range order {
		order[i] = i
	}
	shuffled := slices.Clone(order)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for pass, seq := range [][]int{order, shuffled} {
		for _, i := range seq {
			putRaw(t, s.kc, a.stream, fmt.Sprintf("event-%d-%d", pass, i), corpus.lines[i])
		}
	}
	waitForState(t, a.db, a.table+"_deadletter", map[string][]json.RawMessage{a.table + "_live": corpus.rows}, 2*corpus.dead, db.Crate())
	d.stop()
}

// TestE2ECDCDMS publishes the DMS golden corpus as DMS's Kinesis target
// does with partition-key-type schema-table (one partition key per table,
// so each table's changes stay in order), into the direct layout with
// control records applied. It then publishes the stream's second half
// again, as DMS does after a task restart.
func TestE2ECDCDMS(t *testing.T) {
	s := requireStack(t)
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { testE2ECDCDMS(t, s, db) })
}

func testE2ECDCDMS(t *testing.T, s *stack, db pgtest.DB) {
	corpus := readCDCCorpus(t, "dms", "expected_direct.json")
	prefix := fmt.Sprintf("public.e2e_dms_%d_", time.Now().UnixNano()%1e9)
	a := s.newSinkApp(t, 2, db,
		"sink.format = dms",
		"sink.dms.tables = public.orders:id; public.customers:id",
		"sink.dms.columnTypes = public.orders.id:BIGINT, public.orders.customer:TEXT, public.orders.total:DOUBLE, "+
			"public.orders.placed:TIMESTAMP, public.orders.paid:BOOLEAN, public.orders.meta:OBJECT, public.orders.note:TEXT, "+
			"public.customers.id:BIGINT, public.customers.name:TEXT, public.customers.email:TEXT",
		"sink.dms.tableMapping = public.orders="+prefix+"orders, public.customers="+prefix+"customers",
		"sink.dms.mapping = direct",
		"sink.dms.control = apply")
	d := s.startDaemon(t, a.props)

	publish := func(lines [][]byte) {
		for _, line := range lines {
			var m struct {
				Metadata struct {
					Schema string `json:"schema-name"`
					Table  string `json:"table-name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			putRaw(t, s.kc, a.stream, m.Metadata.Schema+"."+m.Metadata.Table, line)
		}
	}
	publish(corpus.lines)
	publish(corpus.lines[len(corpus.lines)/2:])
	dead := 2 * corpus.dead // both bad records (lines 14 and 15) are in the second half
	views := map[string][]json.RawMessage{}
	for name, rows := range corpus.tables {
		views[prefix+name+"_live"] = rows
	}
	waitForState(t, a.db, a.table+"_deadletter", views, dead, false)
	d.stop()
}
