package sink

import (
	"context"
	"fmt"
	"time"
)

// ProgressReader reads one target's rows of the progress table: what the
// status command and the metrics exporter show. It creates and changes
// nothing.
type ProgressReader struct {
	c *core
}

// OpenProgress connects to databaseURL and resolves the table names of cfg
// as Open does (cfg.Table names the rows, cfg.ProgressTable the table);
// cfg.Retry.MaxWait bounds how long an unreachable database is waited for.
func OpenProgress(ctx context.Context, databaseURL string, cfg Config) (*ProgressReader, error) {
	c, err := openCore(ctx, databaseURL, cfg)
	if err != nil {
		return nil, err
	}
	return &ProgressReader{c: c}, nil
}

// ProgressSnapshot is a target's progress rows at one moment.
type ProgressSnapshot struct {
	Target   string    // the target table, as the rows name it (schema.table)
	Table    string    // the progress table (schema.table)
	Dialect  Dialect   // the database's
	Now      time.Time // the database's clock, which stamps the rows
	Rows     []ProgressRow
	Complete bool // the table has every column (else: made by an earlier version, not yet altered)
}

// ProgressRow is one shard's row. Columns a table made by an earlier
// version lacks read as zero; CheckpointedAt is zero until a process
// checkpoints after the column exists.
type ProgressRow struct {
	ShardID                      string
	LastSequence                 string
	LastSubSequence              int64
	CheckpointSequence           string
	CheckpointSubSequence        int64
	MillisBehindLatest           int64 // -1: unknown
	RecordsWritten, DeadLettered int64
	BytesWritten                 int64
	Window                       time.Duration
	WindowRecords, WindowBytes   int64
	UpdatedAt, CheckpointedAt    time.Time
	WriteLatency, Freshness      string // histogram text (package histogram)
}

// Read returns the target's rows, by shard, and the database's clock.
func (r *ProgressReader) Read(ctx context.Context) (ProgressSnapshot, error) {
	c := r.c
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	snap := ProgressSnapshot{Target: c.target.schema + "." + c.target.name, Table: c.progress.schema + "." + c.progress.name, Dialect: c.db.kind()}
	if err := c.pool.QueryRow(ctx, c.sql.selectNow).Scan(&snap.Now); err != nil {
		return snap, fmt.Errorf("sink: read the database's clock: %w", err)
	}
	rows, err := c.pool.Query(ctx, c.sql.selectProgress, snap.Target)
	if err != nil {
		return snap, fmt.Errorf("sink: read progress table %s: %w", c.progress, err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	seen := 0
	for _, f := range fields {
		if progressField(&ProgressRow{}, f.Name, nil) {
			seen++
		}
	}
	snap.Complete = seen == len(progressColumns(progressTypes{}))+1 // and shard_id
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			return snap, fmt.Errorf("sink: read progress table %s: %w", c.progress, err)
		}
		row := ProgressRow{MillisBehindLatest: -1}
		for i, v := range values {
			progressField(&row, fields[i].Name, v)
		}
		snap.Rows = append(snap.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("sink: read progress table %s: %w", c.progress, err)
	}
	return snap, nil
}

// progressField sets row's field of column name to v (nil leaves it) and
// reports whether the column is one of the progress table's.
func progressField(row *ProgressRow, name string, v any) bool {
	var text *string
	var number *int64
	var at *time.Time
	switch name {
	case "shard_id":
		text = &row.ShardID
	case "last_seq":
		text = &row.LastSequence
	case "last_sub_seq":
		number = &row.LastSubSequence
	case "checkpoint_seq":
		text = &row.CheckpointSequence
	case "checkpoint_sub_seq":
		number = &row.CheckpointSubSequence
	case "millis_behind_latest":
		number = &row.MillisBehindLatest
	case "records_written":
		number = &row.RecordsWritten
	case "dead_lettered":
		number = &row.DeadLettered
	case "bytes_written":
		number = &row.BytesWritten
	case "window_records":
		number = &row.WindowRecords
	case "window_bytes":
		number = &row.WindowBytes
	case "window_millis":
		if ms, ok := v.(int64); ok {
			row.Window = time.Duration(ms) * time.Millisecond
		}
		return true
	case "updated_at":
		at = &row.UpdatedAt
	case "checkpointed_at":
		at = &row.CheckpointedAt
	case "write_latency":
		text = &row.WriteLatency
	case "freshness":
		text = &row.Freshness
	default:
		return false // target_table, or a column of a later version
	}
	switch v := v.(type) {
	case string:
		if text != nil {
			*text = v
		}
	case int64:
		if number != nil {
			*number = v
		}
	case time.Time:
		if at != nil {
			*at = v
		}
	}
	return true
}

// Close closes the connections.
func (r *ProgressReader) Close() { r.c.Close() }
