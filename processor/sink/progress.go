package sink

import (
	"context"
	"fmt"
)

// Progress is the per-shard state recorded by UpdateProgress.
type Progress struct {
	ShardID               string
	LastSequence          string // last record handed to Write
	LastSubSequence       int64
	CheckpointSequence    string // last position checkpointed with the KCL
	CheckpointSubSequence int64
	MillisBehindLatest    int64 // -1 if unknown
	RecordsWritten        int64
	DeadLettered          int64
}

// UpdateProgress upserts the shard's row in the progress table and stamps
// updated_at with the database's clock.
func (w *Writer) UpdateProgress(ctx context.Context, p Progress) error {
	_, err := w.retry.do(ctx, "update progress", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
		defer cancel()
		_, err := w.pool.Exec(ctx, w.sql.upsertProgress, p.ShardID, p.LastSequence, p.LastSubSequence,
			p.CheckpointSequence, p.CheckpointSubSequence, p.MillisBehindLatest, p.RecordsWritten, p.DeadLettered)
		return err
	})
	if err != nil {
		return fmt.Errorf("sink: update progress of shard %s: %w", p.ShardID, err)
	}
	return nil
}
