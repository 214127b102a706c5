package sink

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current SQL")

// namedStatements lists every statement for golden files and checks.
func namedStatements(s statements) [][2]string {
	v := reflect.ValueOf(s)
	var out [][2]string
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if f := v.Field(i); f.Kind() == reflect.Slice {
			for j := range f.Len() { // []columnDDL
				out = append(out, [2]string{name + "[" + f.Index(j).Field(0).String() + "]", f.Index(j).Field(1).String()})
			}
			continue
		}
		out = append(out, [2]string{name, v.Field(i).String()})
	}
	return out
}

func testStatements(d Dialect, policy string) statements {
	schema := dialectOf(d).defaultSchema()
	target := tableName{schema, "kinesis_events"}
	return dialectOf(d).statements(target, target.withSuffix("_deadletter"), tableName{schema, "kinesis_progress"}, policy)
}

// The golden files hold all SQL per dialect in one readable place, so a
// change shows up in review and can be replayed against a real CrateDB.
func TestStatementsGolden(t *testing.T) {
	for _, d := range []Dialect{PostgreSQL, CrateDB} {
		t.Run(d.String(), func(t *testing.T) {
			var b strings.Builder
			for _, ns := range namedStatements(testStatements(d, "")) {
				if ns[1] != "" {
					fmt.Fprintf(&b, "-- %s\n%s;\n\n", ns[0], ns[1])
				}
			}
			checkGolden(t, d.String()+".sql.golden", b.String())
		})
	}
}

// checkGolden compares got with testdata/name, which -update rewrites.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("SQL differs from %s (run with -update after checking):\n%s", path, got)
	}
}

func TestCrateInsertRow(t *testing.T) {
	want := `INSERT INTO "doc"."kinesis_events" ("shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload", "payload_aux", "payload_text") ` +
		`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::OBJECT, $7::OBJECT, $8::TEXT) ` +
		`ON CONFLICT ("shard_id", "seq", "sub_seq") DO NOTHING`
	if got := testStatements(CrateDB, "").insertRow; got != want {
		t.Errorf("insertRow\n got %s\nwant %s", got, want)
	}
}

func TestObjectPolicy(t *testing.T) {
	for policy, want := range map[string]string{"": "OBJECT(DYNAMIC)", "dynamic": "OBJECT(DYNAMIC)", "IGNORED": "OBJECT(IGNORED)", "ignored": "OBJECT(IGNORED)"} {
		if got := testStatements(CrateDB, policy).createTarget; !strings.Contains(got, `"payload" `+want) {
			t.Errorf("policy %q: %s", policy, got)
		}
		if got := testStatements(PostgreSQL, policy).createTarget; !strings.Contains(got, `"payload" JSONB`) {
			t.Errorf("postgres policy %q: %s", policy, got)
		}
	}
}

// CrateDB has no ROLLBACK, no COPY from the client, no jsonb type, no
// column aliases on a table function (PostgreSQL's unnest(…) AS u(…)) and no
// row-value comparison; none of it may leak into its statements.
func TestCrateStatementsAvoidUnsupportedSQL(t *testing.T) {
	banned := regexp.MustCompile(`(?i)\b(ROLLBACK|BEGIN|COPY|JSONB|TEMP)\b|\)\s+AS\s+\w+\s*\(|\(\s*"shard_id"\s*,\s*"seq"\s*,\s*"sub_seq"\s*\)\s*[<>]`)
	for _, ns := range namedStatements(testStatements(CrateDB, "")) {
		if m := banned.FindString(ns[1]); m != "" {
			t.Errorf("CrateDB %s uses %q: %s", ns[0], m, ns[1])
		}
	}
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

func placeholders(sql string) int {
	n := 0
	for _, m := range placeholder.FindAllStringSubmatch(sql, -1) {
		var k int
		fmt.Sscan(m[1], &k)
		n = max(n, k)
	}
	return n
}

// The argument lists built in Go must match the placeholders in the SQL.
func TestPlaceholderCounts(t *testing.T) {
	args := len(rowArgs(&Row{}, fitted{}))
	for _, d := range []Dialect{PostgreSQL, CrateDB} {
		s := testStatements(d, "")
		checks := map[string][2]int{
			"insertRow":         {placeholders(s.insertRow), args},
			"insertRowNoAux":    {placeholders(s.insertRowNoAux), args - 2},
			"upsertProgress":    {placeholders(s.upsertProgress), 16},
			"upsertBasic":       {placeholders(s.upsertProgressBasic), 9},
			"selectHistograms":  {placeholders(s.selectHistograms), 2},
			"selectDeadLetters": {placeholders(s.selectDeadLetters), 5},
			"tableExists":       {placeholders(s.tableExists), 2},
		}
		if d == PostgreSQL {
			checks["insertUnnest"] = [2]int{placeholders(s.insertUnnest), 6}
			checks["upsertDeadLetterUnnest"] = [2]int{placeholders(s.upsertDeadLetterUnnest), 8}
			checks["deleteDeadLetterUnnest"] = [2]int{placeholders(s.deleteDeadLetterUnnest), 3}
			checks["stageCommit"] = [2]int{placeholders(s.stageCommit), 0}
		} else {
			checks["upsertDeadLetterRow"] = [2]int{placeholders(s.upsertDeadLetterRow), 8}
			checks["deleteDeadLetterRow"] = [2]int{placeholders(s.deleteDeadLetterRow), 3}
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s %s has %d placeholders, Go passes %d", d, name, c[0], c[1])
			}
		}
	}
}

func TestStatementsQuoteConfiguredNames(t *testing.T) {
	target := tableName{"My Schema", `ev"il`}
	s := crateDB{}.statements(target, target.withSuffix("_dl"), tableName{"My Schema", "p"}, "")
	for _, want := range []string{`INSERT INTO "My Schema"."ev""il" (`, `CREATE TABLE IF NOT EXISTS "My Schema"."ev""il_dl" (`, `"My Schema"."p"`} {
		found := false
		for _, ns := range namedStatements(s) {
			found = found || strings.Contains(ns[1], want)
		}
		if !found {
			t.Errorf("no statement contains %s", want)
		}
	}
}

func TestChunkEnd(t *testing.T) {
	rows := func(sizes ...int) []Row {
		out := make([]Row, len(sizes))
		for i, n := range sizes {
			out[i].Payload = make([]byte, n)
		}
		return out
	}
	tests := []struct {
		name             string
		chunkSize, bytes int
		rows             []Row
		start, wantEnd   int
	}{
		{"rows bound", 2, 0, rows(1, 1, 1), 0, 2},
		{"bytes bound", 10, 100, rows(60, 60, 1), 0, 1},
		{"one row past the bytes still goes", 10, 100, rows(500, 1), 0, 1},
		{"from the middle", 10, 100, rows(1, 50, 50, 50), 1, 3},
		{"the end", 10, 100, rows(1, 1), 1, 2},
	}
	for _, tt := range tests {
		w := &Writer{core: &core{chunkSize: tt.chunkSize, chunkBytes: tt.bytes}}
		if got := w.chunkEnd(tt.rows, tt.start); got != tt.wantEnd {
			t.Errorf("%s: chunkEnd = %d, want %d", tt.name, got, tt.wantEnd)
		}
	}
}
