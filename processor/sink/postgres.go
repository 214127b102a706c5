package sink

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
)

// postgres is PostgreSQL's dialect: jsonb payloads, transactions, binary
// COPY, and statements that fail as a whole.
type postgres struct{}

func (postgres) kind() Dialect          { return PostgreSQL }
func (postgres) defaultSchema() string  { return "public" }
func (postgres) rowMethod() writeMethod { return methodCopy }

// chunkRows: the most the daemon delivers at once, so a batch is one COPY.
func (postgres) chunkRows() int                  { return defaultChunkSize }
func (postgres) chunkBytes() int                 { return 0 }
func (postgres) typedSubColumns() bool           { return false }
func (postgres) firstFit() fitLevel              { return fitAsIs }
func (postgres) payloadRules(string) shape.Rules { return shape.PostgreSQL }
func (postgres) cdcSQL() cdcDialect              { return postgres{} }
func (postgres) encodeRaw(b []byte) any          { return b }

func (postgres) decodeRaw(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw is %T, not bytea", v)
	}
	return b, nil
}

// Byte order, whatever the database's collation: versions are compared as
// strings (cdc.Version.String).
func (postgres) versionColumn() string { return `TEXT COLLATE "C" NOT NULL` }
func (postgres) upsertAlias() string   { return " AS t" }

// checkName refuses names PostgreSQL would silently truncate: the table
// would be created and written under a shorter name than the one looked up
// (the dead-letter table's "_deadletter" suffix makes that easy to hit).
func (postgres) checkName(part string) error {
	if len(part) > maxPostgresIdent {
		return fmt.Errorf("name %q is %d bytes, longer than PostgreSQL's %d-byte identifiers (shorten it or set the table names explicitly)",
			part, len(part), maxPostgresIdent)
	}
	return nil
}

// classify: program_limit_exceeded for one value, e.g. an index row or
// jsonb value that is too large, or statement_too_complex: a value nested
// deeper than the server's max_stack_depth.
func (postgres) classify(e *pgconn.PgError) (errClass, bool) {
	if e.Code == "54000" || e.Code == "54001" {
		return classRow, true
	}
	return 0, false
}

func (postgres) statements(target, deadLetter, progress tableName, _ string) statements {
	types := progressTypes{text: "TEXT", bigint: "BIGINT", timestamptz: "TIMESTAMPTZ"}
	return statements{
		createTarget: recordTableDDL(target, "TIMESTAMPTZ",
			`"payload" JSONB`, `"payload_aux" JSONB`, `"payload_text" TEXT`, `"written_at" TIMESTAMPTZ DEFAULT now()`),
		createDeadLetter: recordTableDDL(deadLetter, "TIMESTAMPTZ",
			`"raw" BYTEA`, `"stage" TEXT`, `"error" TEXT`, `"failed_at" TIMESTAMPTZ`, `"attempts" INTEGER`),
		createProgress: progressDDL(progress, types),
		tableExists:    tableExistsSQL,

		insertRow: `INSERT INTO ` + target.sql() + ` (` + insertColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::JSONB, $7::JSONB, $8::TEXT) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		insertRowNoAux: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::JSONB) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		addAuxColumn:  `ALTER TABLE ` + target.sql() + ` ADD COLUMN IF NOT EXISTS "payload_aux" JSONB`,
		addTextColumn: `ALTER TABLE ` + target.sql() + ` ADD COLUMN IF NOT EXISTS "payload_text" TEXT`,
		selectColumns: selectColumnsSQL,
		// The payload travels as text and is cast per row, so a value that
		// jsonb rejects fails the statement with a data error we can bisect.
		insertUnnest: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`SELECT u.s, u.q, u.ss, u.pk, u.a, u.p::JSONB ` +
			`FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::TEXT[]) AS u(s, q, ss, pk, a, p) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		// The stage is per session and emptied at COMMIT. It has the
		// target's column types, whatever they are (a user may have made
		// the table), so rows move over without casts. Both strings are
		// multi-statement simple-protocol queries to save round trips.
		stageBegin: `BEGIN; CREATE TEMP TABLE IF NOT EXISTS ` + stageTable + ` (LIKE ` + target.sql() + `) ON COMMIT DELETE ROWS`,
		stageCommit: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`SELECT ` + targetColumns + ` FROM ` + stageTable + ` ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING; COMMIT`,
		rollback:       `ROLLBACK`,
		copyTarget:     `COPY ` + target.sql() + ` (` + targetColumns + `) FROM STDIN (FORMAT binary)`,
		copyStage:      `COPY ` + stageTable + ` (` + targetColumns + `) FROM STDIN (FORMAT binary)`,
		describeTarget: `SELECT ` + targetColumns + ` FROM ` + target.sql() + ` LIMIT 0`,
		describeStage:  `SELECT ` + targetColumns + ` FROM ` + stageTable + ` LIMIT 0`,

		// Callers de-duplicate keys first: DO UPDATE may not touch a row twice.
		upsertDeadLetterUnnest: `INSERT INTO ` + deadLetter.sql() + ` AS d (` + deadLetterColumns + `) ` +
			`SELECT u.s, u.q, u.ss, u.pk, u.a, u.r, u.st, u.e, now(), 1 ` +
			`FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::BYTEA[], $7::TEXT[], $8::TEXT[]) AS u(s, q, ss, pk, a, r, st, e) ` +
			deadLetterConflict("d."),
		selectDeadLetters: selectDeadLettersSQL(deadLetter),
		deleteDeadLetterUnnest: `DELETE FROM ` + deadLetter.sql() + ` AS d USING ` +
			`unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[]) AS u(s, q, ss) ` +
			`WHERE d."shard_id" = u.s AND d."seq" = u.q AND d."sub_seq" = u.ss`,

		upsertProgress:      upsertProgressSQL(progress, " AS p", "p.", false),
		upsertProgressBasic: upsertProgressSQL(progress, " AS p", "p.", true),
		addProgressColumns:  addProgressColumnsSQL(progress, types, "IF NOT EXISTS "),
		selectProgress:      selectProgressSQL(progress),
		selectHistograms:    selectHistogramsSQL(progress),
		selectNow:           selectNowSQL,
		maxLag:              maxLagSQL(progress),
	}
}

// documentColumns: one jsonb primary key (PostgreSQL has no object
// columns; jsonb equality ignores key order and number spelling, and the
// decoder writes keys canonically anyway).
func (postgres) documentColumns(*cdc.Table) []string {
	return []string{`"pk" JSONB NOT NULL PRIMARY KEY`, `"data" JSONB`, `"aux" JSONB`}
}

// guarded assigns the proposed value only when the change is newer;
// PostgreSQL calls a bare column ambiguous and needs the table alias (and
// byte order for the comparison).
func (postgres) guarded(col string) string {
	q, v := quoteIdent(col), quoteIdent(colVersion)
	return q + ` = CASE WHEN excluded.` + v + ` COLLATE "C" > coalesce(t.` + v + `, '') COLLATE "C" ` +
		`THEN excluded.` + q + ` ELSE t.` + q + ` END`
}

func (postgres) conflictTarget(spec *cdc.Table) string {
	if spec.Layout == cdc.Direct {
		return keyList(spec)
	}
	return `"pk"`
}

// upsertUnnest takes every column as text[] (booleans and times as their
// own array types) and casts per row, so one Go encoding serves all column
// types; a value the cast rejects fails the statement with a data error
// that the writer bisects down to the row.
func (d postgres) upsertUnnest(table tableName, spec *cdc.Table, cols []cdcColumn) string {
	names, arrays, exprs, sets := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols)), []string{}
	for i, c := range cols {
		n := strconv.Itoa(i + 1)
		names[i] = quoteIdent(c.name)
		switch c.name {
		case colDeleted:
			arrays[i], exprs[i] = "$"+n+"::BOOLEAN[]", "u.c"+n
		case colEventTime:
			arrays[i], exprs[i] = "$"+n+"::TIMESTAMPTZ[]", "u.c"+n
		default:
			arrays[i], exprs[i] = "$"+n+"::TEXT[]", "u.c"+n+"::"+d.castType(c.typ)
		}
		if !c.key && !partitionSource(spec, c.name) {
			sets = append(sets, names[i]+" = excluded."+names[i])
		}
	}
	aliases := make([]string, len(cols))
	for i := range cols {
		aliases[i] = "c" + strconv.Itoa(i+1)
	}
	v := quoteIdent(colVersion)
	guard := ` WHERE coalesce(t.` + v + `, '') COLLATE "C" < excluded.` + v + ` COLLATE "C"`
	if spec.AppendOnly {
		guard = ""
	}
	return `INSERT INTO ` + table.sql() + ` AS t (` + strings.Join(names, ", ") + `) ` +
		`SELECT ` + strings.Join(exprs, ", ") + ` FROM unnest(` + strings.Join(arrays, ", ") + `) AS u(` + strings.Join(aliases, ", ") + `) ` +
		onConflict(d.conflictTarget(spec), spec, sets) + guard
}

func (postgres) columnType(t cdc.Type) string {
	switch t {
	case cdc.Timestamp:
		return "TIMESTAMPTZ"
	case cdc.Object, cdc.IgnoredObject:
		return "JSONB"
	}
	return commonColumnType(t)
}

func (d postgres) castType(t cdc.Type) string {
	if t == cdc.Timestamp {
		return "TIMESTAMPTZ"
	}
	return d.columnType(t)
}

// columnOptions: PostgreSQL indexes nothing unasked and stores long text
// out of line by itself.
func (postgres) columnOptions(cdc.Column) string { return "" }

// partitionColumn: date_trunc of a timestamptz depends on the session's time
// zone, which a generated column may not; the UTC wall clock does not.
func (postgres) partitionColumn(p *cdc.Partition) string {
	return quoteIdent(p.Name()) + ` TIMESTAMPTZ GENERATED ALWAYS AS ((date_trunc(` + sqlString(p.Unit) + `, ` +
		quoteIdent(p.Column) + ` AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')) STORED`
}

// partitionedBy: PostgreSQL's declarative partitions must be created ahead
// of the rows; the table stays one, and retention deletes by the column.
func (postgres) partitionedBy(*cdc.Partition) string { return "" }

func (postgres) refresh(tableName) string { return "" }
