package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Progress is the per-shard state recorded by UpdateProgress.
type Progress struct {
	ShardID               string
	LastSequence          string // last record handed to Write
	LastSubSequence       int64
	CheckpointSequence    string // last position checkpointed with the KCL
	CheckpointSubSequence int64
	MillisBehindLatest    int64 // -1 if unknown
	RecordsWritten        int64 // added to the stored count: records written since the last update
	DeadLettered          int64 // added likewise
	BytesWritten          int64 // added likewise: the Kinesis data bytes of the records stored (target or dead letters)

	// Window is the time since the previous update, and WindowRecords and
	// WindowBytes what the shard stored in it (dead letters included): a
	// reader gets the shard's current rates from one row.
	Window        time.Duration
	WindowRecords int64
	WindowBytes   int64
	// CheckpointedAt is when this process last checkpointed; zero: not
	// yet, and the stored time stays.
	CheckpointedAt time.Time
	// WriteLatency and Freshness are cumulative histograms as their text
	// (package histogram); they replace the stored ones.
	WriteLatency, Freshness string
}

// UpdateProgress upserts the shard's row in the progress table and stamps
// updated_at with the database's clock. It makes one attempt: progress is
// for people watching, and must never hold up the records themselves.
func (w *core) UpdateProgress(ctx context.Context, p Progress) error {
	if w.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	var checkpointAge *int64 // NULL keeps the stored checkpointed_at
	if !p.CheckpointedAt.IsZero() {
		ms := max(time.Since(p.CheckpointedAt).Milliseconds(), 0)
		checkpointAge = &ms
	}
	args := []any{w.target.schema + "." + w.target.name, p.ShardID, p.LastSequence, p.LastSubSequence,
		p.CheckpointSequence, p.CheckpointSubSequence, p.MillisBehindLatest, p.RecordsWritten, p.DeadLettered,
		p.BytesWritten, p.WindowRecords, p.WindowBytes, p.Window.Milliseconds(), checkpointAge, p.WriteLatency, p.Freshness}
	sql := w.sql.upsertProgress
	if w.basicProgress {
		sql, args = w.sql.upsertProgressBasic, args[:9]
	}
	if _, err := w.pool.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("sink: update progress of shard %s: %w", p.ShardID, err)
	}
	return nil
}

// ProgressHistograms reads the histograms stored in the shard's row, so
// that a process taking the shard over carries them on (a new shard, or a
// table without the columns, has none: ""). One attempt, like
// UpdateProgress.
func (w *core) ProgressHistograms(ctx context.Context, shardID string) (writeLatency, freshness string, err error) {
	if w.basicProgress {
		return "", "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	err = w.pool.QueryRow(ctx, w.sql.selectHistograms, w.target.schema+"."+w.target.name, shardID).Scan(&writeLatency, &freshness)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", "", nil
	case err != nil:
		return "", "", fmt.Errorf("sink: read the progress histograms of shard %s: %w", shardID, err)
	}
	return writeLatency, freshness, nil
}

// progressTimeout bounds the one attempt of UpdateProgress.
const progressTimeout = 10 * time.Second

// ensureProgressColumns adds the columns of the status command and the
// exporter to a progress table made before them. When tables may not be
// changed, progress keeps to the first version's columns and the log says
// how to add the others.
func (c *core) ensureProgressColumns(ctx context.Context, add bool) error {
	return c.ensureColumns(ctx, c.progress, c.sql.addProgressColumns, add, func(col columnDDL) {
		c.basicProgress = true
		c.log.Warn().Str("table", c.progress.String()).Str("missing", col.column).Str("add_with", col.ddl).
			Msg("the progress table lacks a column of the status command and the exporter; progress keeps to the columns it has")
	})
}
