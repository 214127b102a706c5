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

	upsertProgress string
	maxLag         string // the largest millis_behind_latest of the target's shards
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
func progressDDL(progress tableName, text, bigint, timestamptz string) string {
	return `CREATE TABLE IF NOT EXISTS ` + progress.sql() + ` (` +
		`"target_table" ` + text + `, ` +
		`"shard_id" ` + text + `, ` +
		`"last_seq" ` + text + `, ` +
		`"last_sub_seq" ` + bigint + `, ` +
		`"checkpoint_seq" ` + text + `, ` +
		`"checkpoint_sub_seq" ` + bigint + `, ` +
		`"millis_behind_latest" ` + bigint + `, ` +
		`"records_written" ` + bigint + `, ` +
		`"dead_lettered" ` + bigint + `, ` +
		`"updated_at" ` + timestamptz + `, ` +
		`PRIMARY KEY ("target_table", "shard_id"))`
}

// upsertProgressSQL adds the counts ($8, $9 are increments since the last
// update) so they survive restarts of the shard's process; existing names
// the stored row as in deadLetterConflict.
func upsertProgressSQL(progress tableName, alias, existing string) string {
	return `INSERT INTO ` + progress.sql() + alias + ` ("target_table", "shard_id", "last_seq", "last_sub_seq", "checkpoint_seq", "checkpoint_sub_seq", ` +
		`"millis_behind_latest", "records_written", "dead_lettered", "updated_at") ` +
		`VALUES ($1::TEXT, $2::TEXT, $3::TEXT, $4::BIGINT, $5::TEXT, $6::BIGINT, $7::BIGINT, $8::BIGINT, $9::BIGINT, CURRENT_TIMESTAMP) ` +
		`ON CONFLICT ("target_table", "shard_id") DO UPDATE SET ` +
		`"last_seq" = excluded."last_seq", "last_sub_seq" = excluded."last_sub_seq", ` +
		`"checkpoint_seq" = excluded."checkpoint_seq", "checkpoint_sub_seq" = excluded."checkpoint_sub_seq", ` +
		`"millis_behind_latest" = excluded."millis_behind_latest", ` +
		`"records_written" = ` + existing + `"records_written" + excluded."records_written", ` +
		`"dead_lettered" = ` + existing + `"dead_lettered" + excluded."dead_lettered", "updated_at" = excluded."updated_at"`
}

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
