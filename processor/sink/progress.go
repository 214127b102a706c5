package sink

import (
	"context"
	"fmt"
	"time"
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
	_, err := w.pool.Exec(ctx, w.sql.upsertProgress, w.target.schema+"."+w.target.name, p.ShardID, p.LastSequence, p.LastSubSequence,
		p.CheckpointSequence, p.CheckpointSubSequence, p.MillisBehindLatest, p.RecordsWritten, p.DeadLettered)
	if err != nil {
		return fmt.Errorf("sink: update progress of shard %s: %w", p.ShardID, err)
	}
	return nil
}

// progressTimeout bounds the one attempt of UpdateProgress.
const progressTimeout = 10 * time.Second
