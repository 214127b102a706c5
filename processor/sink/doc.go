// Package sink writes decoded Kinesis records to CrateDB or PostgreSQL
// idempotently, keeps rows the database refuses in a dead-letter table, and
// records per-shard progress.
//
// Every row is keyed by (shard_id, seq, sub_seq) and inserted with
// ON CONFLICT DO NOTHING, so replays after a crash leave one row each.
//
// How rows travel (one chunk of Config.ChunkSize rows per round trip):
//
//   - CrateDB: a pgx.Batch of the same single-row INSERT. CrateDB runs it as
//     one bulk operation and answers each row with its own command tag; a
//     negative count ("INSERT 0 -3") is a failed row without error text, so
//     such rows are re-run alone to learn the error. No transactions, no
//     ROLLBACK, no COPY: CrateDB supports none of them.
//   - PostgreSQL: COPY into a session-local temporary table, then
//     INSERT … SELECT … ON CONFLICT DO NOTHING in the same transaction (the
//     fastest idempotent method measured, see bench_test.go). A statement
//     fails as a whole, so a data error splits the chunk in halves until the
//     bad rows stand alone (O(k log n) statements for k bad rows).
//
// Errors are sorted by classify into transient (retried with capped,
// jittered exponential backoff), row (dead-lettered) and configuration
// (retried like transient but logged at error level, never dead-lettered,
// because a missing table or permission would otherwise discard every row).
//
// All SQL text is in sql.go; testdata/*.sql.golden shows it per dialect.
package sink
