package sink

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

// WriteDeadLetters stores records that could not be processed. Writing the
// same coordinates again updates stage, error and failure time and counts
// the attempt. Transient errors are retried like in Write.
func (w *core) WriteDeadLetters(ctx context.Context, dls []DeadLetter) error {
	ctx, cancel := w.retry.policy.withMaxWait(ctx)
	defer cancel()
	for start := 0; start < len(dls); start += w.chunkSize {
		chunk := dls[start:min(start+w.chunkSize, len(dls))]
		if _, err := w.retry.do(ctx, "write dead letters", func(ctx context.Context) error {
			return w.insertDeadLetters(ctx, chunk)
		}); err != nil {
			return fmt.Errorf("sink: write %d dead letters to %s: %w", len(chunk), w.deadLetter, err)
		}
	}
	return nil
}

func (w *core) insertDeadLetters(ctx context.Context, dls []DeadLetter) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	dls = lastPerKey(dls)
	if w.sql.upsertDeadLetterUnnest != "" {
		return w.insertDeadLettersUnnest(ctx, dls)
	}
	return w.insertDeadLettersBatch(ctx, dls)
}

func (w *core) insertDeadLettersUnnest(ctx context.Context, dls []DeadLetter) error {
	n := len(dls)
	shard, seq, pkey, stage, msg := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	subSeq, arrived, raw := make([]int64, n), make([]pgtype.Timestamptz, n), make([][]byte, n)
	for i, d := range dls {
		shard[i], seq[i], subSeq[i] = cleanText(d.ShardID, 0), cleanText(d.SequenceNumber, 0), d.SubSequenceNumber
		pkey[i], stage[i], msg[i] = cleanText(d.PartitionKey, 0), d.Stage, cleanText(d.Err, maxErrorText)
		arrived[i] = pgtype.Timestamptz{Time: d.ArrivedAt, Valid: !d.ArrivedAt.IsZero()}
		raw[i] = d.Data
	}
	_, err := w.pool.Exec(ctx, w.sql.upsertDeadLetterUnnest, shard, seq, subSeq, pkey, arrived, raw, stage, msg)
	return err
}

// insertDeadLettersBatch is the CrateDB path: a bulk of single-row upserts;
// rows reported as failed are re-run alone to surface their error.
func (w *core) insertDeadLettersBatch(ctx context.Context, dls []DeadLetter) error {
	stmts := make([]statement, len(dls))
	for i := range dls {
		d := &dls[i]
		stmts[i] = statement{w.sql.upsertDeadLetterRow, []any{cleanText(d.ShardID, 0), cleanText(d.SequenceNumber, 0), d.SubSequenceNumber,
			cleanText(d.PartitionKey, 0), nullTime(d.ArrivedAt), w.db.encodeRaw(d.Data),
			d.Stage, cleanText(d.Err, maxErrorText)}}
	}
	_, err := w.bulk.sendRetryingFailed(ctx, stmts, "dead letter", func(i int) record.Key { return dls[i].Key() })
	return err
}

// keySet holds the keys of dls.
func keySet(dls []DeadLetter) map[record.Key]bool {
	set := make(map[record.Key]bool, len(dls))
	for i := range dls {
		set[dls[i].Key()] = true
	}
	return set
}

// lastPerKey drops all but the last entry per primary key: PostgreSQL's
// ON CONFLICT DO UPDATE refuses to touch one row twice in a statement.
func lastPerKey(dls []DeadLetter) []DeadLetter {
	last := make(map[record.Key]int, len(dls))
	for i, d := range dls {
		last[d.Key()] = i
	}
	if len(last) == len(dls) {
		return dls
	}
	out := make([]DeadLetter, 0, len(last))
	for i, d := range dls {
		if last[d.Key()] == i {
			out = append(out, d)
		}
	}
	return out
}

func (w *core) readDeadLetters(ctx context.Context, shard string, after record.Key, limit int) ([]DeadLetter, error) {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	rows, err := w.pool.Query(ctx, w.sql.selectDeadLetters, shard, after.ShardID, after.SequenceNumber, after.SubSequenceNumber, int64(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var pkey, stage, msg pgtype.Text
		var arrived pgtype.Timestamptz
		var stored any
		if err := rows.Scan(&d.ShardID, &d.SequenceNumber, &d.SubSequenceNumber, &pkey, &arrived, &stored, &stage, &msg); err != nil {
			return nil, err
		}
		raw, err := w.db.decodeRaw(stored)
		if err != nil {
			return nil, fmt.Errorf("dead letter %s: %w", d.Key(), err)
		}
		d.PartitionKey, d.Stage, d.Err, d.Data = pkey.String, stage.String, msg.String, raw
		if arrived.Valid {
			d.ArrivedAt = arrived.Time.UTC()
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// deleteDeadLetters deletes the dead letters of keys and returns how many
// rows it really removed. On an error, remaining are the keys whose outcome
// is unknown (to be tried again); the others are settled: removed, or
// already gone.
func (w *core) deleteDeadLetters(ctx context.Context, keys []record.Key) (removed int, remaining []record.Key, err error) {
	if len(keys) == 0 {
		return 0, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	if w.sql.deleteDeadLetterUnnest != "" {
		shard, seq, subSeq := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			shard[i], seq[i], subSeq[i] = k.ShardID, k.SequenceNumber, k.SubSequenceNumber
		}
		// One statement: all keys or none. The row count is what it
		// removed; a concurrent replay's DELETE waits for ours and then
		// finds nothing.
		tag, err := w.pool.Exec(ctx, w.sql.deleteDeadLetterUnnest, shard, seq, subSeq)
		if err != nil {
			return 0, keys, err
		}
		return int(tag.RowsAffected()), nil, nil
	}
	// CrateDB runs the batch as one bulk and tags each key: "DELETE 1"
	// removed, "DELETE -3" a bulk failure, which is what a key that is
	// already gone gets (DocumentMissingException), but also any other
	// failure. Each -3 key is deleted again alone, where a missing row is
	// "DELETE 0" and a real failure an error.
	stmts := make([]statement, len(keys))
	for i, k := range keys {
		stmts[i] = statement{w.sql.deleteDeadLetterRow, []any{k.ShardID, k.SequenceNumber, k.SubSequenceNumber}}
	}
	counts, err := w.bulk.send(ctx, stmts)
	if err != nil {
		return 0, keys, err
	}
	var alone []int
	for i, n := range counts {
		if n < 0 {
			alone = append(alone, i)
		}
		removed += int(max(n, 0))
	}
	for j, i := range alone {
		n, err := w.bulk.alone(ctx, stmts[i], "delete dead letter", keys[i])
		if err != nil {
			rest := make([]record.Key, 0, len(alone)-j)
			for _, i := range alone[j:] {
				rest = append(rest, keys[i])
			}
			return removed, rest, err
		}
		removed += int(n)
	}
	return removed, nil, nil
}

func (w *core) deadLetterFor(src record.Source, err error) DeadLetter {
	dl := DeadLetter{Source: src, Stage: StageWrite, Err: errorText(err)}
	w.log.Warn().Stringer("record", src.Key()).Str("error", dl.Err).Msg("row refused by database, dead-lettering")
	return dl
}
