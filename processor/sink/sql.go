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

const deadLetterColumns = `"shard_id", "seq", "sub_seq", "partition_key", "arrived_at", "raw", "stage", "error", "failed_at", "attempts"`
const pkColumns = `"shard_id", "seq", "sub_seq"`

func buildStatements(d Dialect, target, deadLetter, progress tableName, objectPolicy string) statements {
	if d == CrateDB {
		return crateStatements(target, deadLetter, progress, objectPolicy)
	}
	return postgresStatements(target, deadLetter, progress)
}

func crateStatements(target, deadLetter, progress tableName, objectPolicy string) statements {
	policy := "DYNAMIC"
	if strings.EqualFold(objectPolicy, "ignored") {
		policy = "IGNORED"
	}
	return statements{
		createTarget: `CREATE TABLE IF NOT EXISTS ` + target.sql() + ` (` +
			`"shard_id" TEXT NOT NULL, ` +
			`"seq" TEXT NOT NULL, ` +
			`"sub_seq" BIGINT NOT NULL, ` +
			`"partition_key" TEXT, ` +
			`"arrived_at" TIMESTAMP WITH TIME ZONE, ` +
			`"payload" OBJECT(` + policy + `), ` +
			`"payload_aux" OBJECT(IGNORED), ` +
			`"payload_text" TEXT INDEX OFF STORAGE WITH (columnstore = false), ` +
			`"written_at" TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP, ` +
			`PRIMARY KEY (` + pkColumns + `))`,
		// raw holds base64 of arbitrary size, so it is neither indexed nor
		// column-stored (indexed strings are limited to 32766 bytes).
		createDeadLetter: `CREATE TABLE IF NOT EXISTS ` + deadLetter.sql() + ` (` +
			`"shard_id" TEXT NOT NULL, ` +
			`"seq" TEXT NOT NULL, ` +
			`"sub_seq" BIGINT NOT NULL, ` +
			`"partition_key" TEXT, ` +
			`"arrived_at" TIMESTAMP WITH TIME ZONE, ` +
			`"raw" TEXT INDEX OFF STORAGE WITH (columnstore = false), ` +
			`"stage" TEXT, ` +
			`"error" TEXT, ` +
			`"failed_at" TIMESTAMP WITH TIME ZONE, ` +
			`"attempts" INTEGER, ` +
			`PRIMARY KEY (` + pkColumns + `))`,
		createProgress: progressDDL(progress, "TEXT", "BIGINT", "TIMESTAMP WITH TIME ZONE"),
		tableExists:    tableExistsSQL,

		insertRow: `INSERT INTO ` + target.sql() + ` (` + insertColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::OBJECT, $7::OBJECT, $8::TEXT) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		insertRowNoAux: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::OBJECT) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		// Explicit array types: CrateDB cannot infer a parameter's type
		// inside UNNEST (crate/crate#10620).
		insertUnnest: `INSERT INTO ` + target.sql() + ` (` + insertColumns + `) ` +
			`SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], ` +
			`$6::ARRAY(OBJECT), $7::ARRAY(OBJECT), $8::TEXT[]) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		insertUnnestNoAux: `INSERT INTO ` + target.sql() + ` (` + targetColumns + `) ` +
			`SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::ARRAY(OBJECT)) ` +
			`ON CONFLICT (` + pkColumns + `) DO NOTHING`,
		addAuxColumn:  `ALTER TABLE ` + target.sql() + ` ADD COLUMN "payload_aux" OBJECT(IGNORED)`,
		addTextColumn: `ALTER TABLE ` + target.sql() + ` ADD COLUMN "payload_text" TEXT INDEX OFF STORAGE WITH (columnstore = false)`,
		selectColumns: selectColumnsSQL,

		upsertDeadLetterRow: `INSERT INTO ` + deadLetter.sql() + ` (` + deadLetterColumns + `) ` +
			`VALUES ($1::TEXT, $2::TEXT, $3::BIGINT, $4::TEXT, $5::TIMESTAMPTZ, $6::TEXT, $7::TEXT, $8::TEXT, CURRENT_TIMESTAMP, 1) ` +
			deadLetterConflict(""),
		selectDeadLetters:   selectDeadLettersSQL(deadLetter),
		deleteDeadLetterRow: `DELETE FROM ` + deadLetter.sql() + ` WHERE "shard_id" = $1::TEXT AND "seq" = $2::TEXT AND "sub_seq" = $3::BIGINT`,
		refreshDeadLetters:  `REFRESH TABLE ` + deadLetter.sql(),

		upsertProgress: upsertProgressSQL(progress, "", ""),
	}
}

func postgresStatements(target, deadLetter, progress tableName) statements {
	return statements{
		createTarget: `CREATE TABLE IF NOT EXISTS ` + target.sql() + ` (` +
			`"shard_id" TEXT NOT NULL, ` +
			`"seq" TEXT NOT NULL, ` +
			`"sub_seq" BIGINT NOT NULL, ` +
			`"partition_key" TEXT, ` +
			`"arrived_at" TIMESTAMPTZ, ` +
			`"payload" JSONB, ` +
			`"payload_aux" JSONB, ` +
			`"payload_text" TEXT, ` +
			`"written_at" TIMESTAMPTZ DEFAULT now(), ` +
			`PRIMARY KEY (` + pkColumns + `))`,
		createDeadLetter: `CREATE TABLE IF NOT EXISTS ` + deadLetter.sql() + ` (` +
			`"shard_id" TEXT NOT NULL, ` +
			`"seq" TEXT NOT NULL, ` +
			`"sub_seq" BIGINT NOT NULL, ` +
			`"partition_key" TEXT, ` +
			`"arrived_at" TIMESTAMPTZ, ` +
			`"raw" BYTEA, ` +
			`"stage" TEXT, ` +
			`"error" TEXT, ` +
			`"failed_at" TIMESTAMPTZ, ` +
			`"attempts" INTEGER, ` +
			`PRIMARY KEY (` + pkColumns + `))`,
		createProgress: progressDDL(progress, "TEXT", "BIGINT", "TIMESTAMPTZ"),
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

		upsertProgress: upsertProgressSQL(progress, " AS p", "p."),
	}
}

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
