package sink

import "strings"

// All SQL text of the package lives in this file so that it can be checked
// against a real CrateDB in one place. Identifiers are always quoted;
// parameters always carry explicit casts because CrateDB describes untyped
// parameters as "unknown" and pgx then cannot encode non-string values.

// statements is the SQL for one Writer: one dialect, one set of tables.
type statements struct {
	createTarget     string
	createDeadLetter string
	createProgress   string
	tableExists      string

	// insertRow is the single-row insert used for CrateDB bulk batches and
	// for re-running a failed row on its own; it fills payload_aux and
	// payload_text, which the PostgreSQL bulk paths leave NULL.
	insertRow string
	// insertRowNoAux is insertRow for a table without those columns.
	insertRowNoAux string
	// addAuxColumn and addTextColumn add payload_aux and payload_text to a
	// target table made by an earlier version.
	addAuxColumn  string
	addTextColumn string
	// selectColumns lists a table's columns and their types.
	selectColumns string
	// insertUnnest inserts whole columns as arrays in one statement; on
	// CrateDB with payload_aux and payload_text, insertUnnestNoAux without.
	insertUnnest      string
	insertUnnestNoAux string
	// stageBegin and stageCommit wrap a COPY into a temporary table
	// (PostgreSQL only; CrateDB has no COPY and no ROLLBACK).
	stageBegin  string
	stageCommit string
	rollback    string
	// copyTarget and copyStage stream rows in binary COPY format (copy.go);
	// describeTarget and describeStage tell the column types, which the
	// binary rows must match.
	copyTarget     string
	copyStage      string
	describeTarget string
	describeStage  string

	upsertDeadLetterRow    string // CrateDB batches
	upsertDeadLetterUnnest string // PostgreSQL
	selectDeadLetters      string
	deleteDeadLetterRow    string // CrateDB batches
	deleteDeadLetterUnnest string // PostgreSQL
	refreshDeadLetters     string // CrateDB only: reads are not real-time otherwise

	upsertProgress      string
	upsertProgressBasic string // the first version's columns only
	addProgressColumns  []columnDDL
	selectProgress      string
	selectHistograms    string
	selectNow           string
	maxLag              string // the largest millis_behind_latest of the target's shards
}

// stageTable is session-local (TEMP) and therefore needs no schema.
const (
	stageTableName = "kinesis_sink_stage"
	stageTable     = `"` + stageTableName + `"`
)

// copyColumns are targetColumns for pgx CopyFrom, in the same order.
var copyColumns = []string{"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"}

const targetColumns = `"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "payload"`

// insertColumns are targetColumns plus what a fitted payload may need.
const insertColumns = targetColumns + `, "payload_aux", "payload_text"`

// recordTableDDL creates a table keyed by the record's identity: the
// record's columns (arrival typed as timestamp), then columns, then the key.
func recordTableDDL(table tableName, timestamp string, columns ...string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table.sql() + ` (` +
		`"shard_id" TEXT NOT NULL, "seq" TEXT NOT NULL, "sub_seq" BIGINT NOT NULL, "partition_key" TEXT, ` +
		`"arrived_at" ` + timestamp + `, ` + strings.Join(columns, ", ") + `, PRIMARY KEY (` + pkColumns + `))`
}

const deadLetterColumns = `"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "raw", "stage", "error", "failed_at", "attempts"`
const pkColumns = `"shard_id", "seq", "sub_seq"`

// deadLetterConflict keeps the first failure's raw bytes and counts attempts.
// existing names the stored row: CrateDB resolves the bare column to it (its
// documented "visits = visits + 1" idiom), PostgreSQL calls that ambiguous
// and needs the table alias.
func deadLetterConflict(existing string) string {
	return `ON CONFLICT (` + pkColumns + `) DO UPDATE SET ` +
		`"stage" = excluded."stage", "error" = excluded."error", "failed_at" = excluded."failed_at", ` +
		`"attempts" = ` + existing + `"attempts" + 1`
}

// selectColumnsSQL lists the columns of table $2 in schema $1; CrateDB
// names an object's sub-columns payload['a']['b'].
const selectColumnsSQL = `SELECT column_name, data_type FROM information_schema.columns ` +
	`WHERE table_schema = $1::TEXT AND table_name = $2::TEXT`

// tableExistsSQL works on both: CrateDB implements information_schema.tables.
const tableExistsSQL = `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1::TEXT AND table_name = $2::TEXT`

// progressDDL keys the table by target table and shard: several
// applications may write into one schema, and shard ids repeat across
// streams.
func progressDDL(progress tableName, types progressTypes) string {
	cols := []string{`"target_table" ` + types.text, `"shard_id" ` + types.text}
	for _, c := range progressColumns(types) {
		cols = append(cols, quoteIdent(c[0])+" "+c[1])
	}
	return `CREATE TABLE IF NOT EXISTS ` + progress.sql() + ` (` + strings.Join(cols, ", ") +
		`, PRIMARY KEY ("target_table", "shard_id"))`
}

// progressTypes are a dialect's names of the progress table's types.
type progressTypes struct{ text, bigint, timestamptz string }

// progressColumns are the progress table's columns after its key, as name
// and type. The first version's columns come first; addedProgressColumns
// counts the ones after them, which Open adds to a table made before them.
func progressColumns(t progressTypes) [][2]string {
	return [][2]string{
		{"last_seq", t.text}, {"last_sub_seq", t.bigint},
		{"checkpoint_seq", t.text}, {"checkpoint_sub_seq", t.bigint},
		{"millis_behind_latest", t.bigint}, {"records_written", t.bigint}, {"dead_lettered", t.bigint},
		{"updated_at", t.timestamptz},
		// Added for the status command and the metrics exporter.
		{"bytes_written", t.bigint},
		{"window_records", t.bigint}, {"window_bytes", t.bigint}, {"window_millis", t.bigint},
		{"checkpointed_at", t.timestamptz},
		{"write_latency", t.text}, {"freshness", t.text},
	}
}

const addedProgressColumns = 7

// columnDDL is the statement that adds one column to a table.
type columnDDL struct{ column, ddl string }

// addProgressColumnsSQL adds each column after the first version's;
// ifNotExists is PostgreSQL's guard, which CrateDB lacks (a column added
// meanwhile by another process is an error there, and ignored).
func addProgressColumnsSQL(progress tableName, types progressTypes, ifNotExists string) []columnDDL {
	cols := progressColumns(types)
	var out []columnDDL
	for _, c := range cols[len(cols)-addedProgressColumns:] {
		out = append(out, columnDDL{c[0], `ALTER TABLE ` + progress.sql() + ` ADD COLUMN ` + ifNotExists + quoteIdent(c[0]) + ` ` + c[1]})
	}
	return out
}

// upsertProgressSQL adds the counts ($8, $9 and $10 are increments since
// the last update) so they survive restarts of the shard's process;
// existing names the stored row as in deadLetterConflict. checkpointed_at
// arrives as an age ($14, in ms) and is placed on the database's clock,
// like updated_at, so that ages read later do not depend on the child's
// clock; NULL (no checkpoint by this process yet) keeps the stored one.
// basic is the first version's statement ($1-$9), for a table that lacks
// the added columns and may not be altered.
func upsertProgressSQL(progress tableName, alias, existing string, basic bool) string {
	cols := `"target_table", "shard_id", "last_seq", "last_sub_seq", "checkpoint_seq", "checkpoint_sub_seq", ` +
		`"millis_behind_latest", "records_written", "dead_lettered"`
	values := `$1::TEXT, $2::TEXT, $3::TEXT, $4::BIGINT, $5::TEXT, $6::BIGINT, $7::BIGINT, $8::BIGINT, $9::BIGINT`
	set := `"last_seq" = excluded."last_seq", "last_sub_seq" = excluded."last_sub_seq", ` +
		`"checkpoint_seq" = excluded."checkpoint_seq", "checkpoint_sub_seq" = excluded."checkpoint_sub_seq", ` +
		`"millis_behind_latest" = excluded."millis_behind_latest", ` +
		`"records_written" = ` + existing + `"records_written" + excluded."records_written", ` +
		`"dead_lettered" = ` + existing + `"dead_lettered" + excluded."dead_lettered", "updated_at" = excluded."updated_at"`
	if !basic {
		cols += `, "bytes_written", "window_records", "window_bytes", "window_millis", "checkpointed_at", "write_latency", "freshness"`
		values += `, $10::BIGINT, $11::BIGINT, $12::BIGINT, $13::BIGINT, ` +
			`CURRENT_TIMESTAMP - ($14::BIGINT * INTERVAL '1 millisecond'), $15::TEXT, $16::TEXT`
		// A row from before bytes_written holds NULL there.
		set += `, "bytes_written" = coalesce(` + existing + `"bytes_written", 0) + excluded."bytes_written", ` +
			`"window_records" = excluded."window_records", "window_bytes" = excluded."window_bytes", "window_millis" = excluded."window_millis", ` +
			`"checkpointed_at" = coalesce(excluded."checkpointed_at", ` + existing + `"checkpointed_at"), ` +
			`"write_latency" = excluded."write_latency", "freshness" = excluded."freshness"`
	}
	return `INSERT INTO ` + progress.sql() + alias + ` (` + cols + `, "updated_at") VALUES (` + values + `, CURRENT_TIMESTAMP) ` +
		`ON CONFLICT ("target_table", "shard_id") DO UPDATE SET ` + set
}

// selectProgressSQL reads a target's progress rows whole: the reader
// takes the columns by name, so a table made by an earlier version (without
// the added columns) reads too. selectHistogramsSQL is a lookup by the full
// primary key, which CrateDB answers in real time.
func selectProgressSQL(progress tableName) string {
	return `SELECT * FROM ` + progress.sql() + ` WHERE "target_table" = $1::TEXT ORDER BY "shard_id"`
}

func selectHistogramsSQL(progress tableName) string {
	return `SELECT coalesce("write_latency", ''), coalesce("freshness", '') FROM ` + progress.sql() + ` WHERE "target_table" = $1::TEXT AND "shard_id" = $2::TEXT`
}

// selectNowSQL is the database's clock, which stamps updated_at.
const selectNowSQL = `SELECT CURRENT_TIMESTAMP`

// selectDeadLettersSQL pages by primary key (keyset pagination). Row-value
// comparison is spelled out because CrateDB does not support (a, b) > (c, d).
// $1 = shard filter (empty = all), $2..$4 = last key seen, $5 = page size
// (uncast: older CrateDB grammars accept only a bare parameter in LIMIT).
func selectDeadLettersSQL(deadLetter tableName) string {
	return `SELECT "shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "raw", "stage", "error" ` +
		`FROM ` + deadLetter.sql() + ` ` +
		`WHERE ($1::TEXT = '' OR "shard_id" = $1::TEXT) ` +
		`AND ("shard_id" > $2::TEXT OR ("shard_id" = $2::TEXT AND ("seq" > $3::TEXT OR ("seq" = $3::TEXT AND "sub_seq" > $4::BIGINT)))) ` +
		`ORDER BY "shard_id", "seq", "sub_seq" LIMIT $5`
}

// maxLagSQL reads how far the target's shards were behind, at most.
func maxLagSQL(progress tableName) string {
	return `SELECT max("millis_behind_latest") FROM ` + progress.sql() + ` WHERE "target_table" = $1::TEXT`
}
