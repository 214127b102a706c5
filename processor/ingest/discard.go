package ingest

import (
	"context"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// Discard is the dry-run sink (sink.mode = discard): records are decoded and
// checkpointed but stored nowhere. It measures the protocol and decoding
// alone, and checks a stream's payloads without a database.
type Discard struct{}

func (Discard) Write(_ context.Context, rows []sink.Row) (sink.Result, error) {
	return sink.Result{Written: len(rows)}, nil
}

func (Discard) WriteDeadLetters(context.Context, []sink.DeadLetter) error { return nil }

func (Discard) UpdateProgress(context.Context, sink.Progress) error { return nil }

// Apply counts changes as applied (sink.mode = discard with a change format).
func (Discard) Apply(_ context.Context, changes []cdc.Change) (sink.Result, error) {
	return sink.Result{Written: len(changes)}, nil
}

func (Discard) ApplyControl(context.Context, cdc.Control) error { return nil }
