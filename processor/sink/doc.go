// Package sink writes decoded Kinesis records to CrateDB or PostgreSQL
// idempotently, keeps what the database refuses in a dead-letter table, and
// records per-shard progress.
//
// Two writers share one core (pool, dialect, dead letters, progress,
// retries): Open returns a Writer for plain rows, each keyed by the
// record's identity (shard_id, seq, sub_seq) and inserted with
// ON CONFLICT DO NOTHING, so replays after a crash leave one row each;
// OpenChanges returns a ChangeWriter that applies change events
// (processor/cdc) as version-guarded upserts with tombstones.
//
// How rows travel is the dialect's choice (dialect.go; crate.go and
// postgres.go are the two):
//
//   - CrateDB: one INSERT … SELECT FROM UNNEST per chunk (unnest_crate.go).
//     CrateDB drops a refused row there silently, so a short count sends
//     the chunk again as a bulk of single-row statements (bulk.go), which
//     CrateDB answers row by row; a negative count ("INSERT 0 -3") is a
//     failed row without error text, run again alone to learn the error.
//     No transactions, no ROLLBACK, no COPY: CrateDB supports none of them.
//   - PostgreSQL: binary COPY straight into the table, or, after a
//     conflict, into a session-local temporary table and on with
//     INSERT … SELECT … ON CONFLICT DO NOTHING (postgres_copy.go). A
//     statement fails as a whole, so a data error splits the chunk in
//     halves until the bad rows stand alone (bisect.go).
//
// Errors are sorted by classify into transient (retried with capped,
// jittered exponential backoff), row (dead-lettered) and configuration
// (retried like transient but logged at error level, never dead-lettered,
// because a missing table or permission would otherwise discard every row).
//
// The progress table has one row per target table and shard: positions,
// counts that add up across the shard's processes, the rate of the last
// interval, the checkpoint's time and two histograms (progress.go).
// OpenProgress returns a ProgressReader, which reads those rows for the
// status command and the metrics exporter and changes nothing; a table
// made by an earlier version gets the added columns at Open (columns.go).
//
// Files call downwards only: replay.go → write.go (rows) and cdc.go
// (changes) → the ways a chunk travels (rows.go, unnest_crate.go,
// postgres_copy.go, cdc_args.go, cdc_crate.go) → bisect.go → deadletter.go
// → bulk.go, retry.go, errors.go; the dialects and the SQL text (sql.go,
// cdc_sql.go; rendered in testdata/*.sql.golden) sit beside them.
package sink
