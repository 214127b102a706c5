package ingest

import (
	"context"
	"errors"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// Discard is the dry-run sink (sink.mode = discard): records are decoded and
// checkpointed but stored nowhere. It measures the protocol and decoding
// alone, and checks a stream's payloads without a database. It serves as a
// RowSink, a ChangeSink and a ProgressSink.
type Discard struct{}

// errNoDatabase is what a replay without a database answers.
var errNoDatabase = errors.New("replay needs a database (sink.mode = write)")

func (Discard) Write(_ context.Context, rows []sink.Row) (sink.Result, error) {
	return sink.Result{Written: len(rows)}, nil
}

func (Discard) WriteDeadLetters(context.Context, []sink.DeadLetter) error { return nil }

func (Discard) UpdateProgress(context.Context, sink.Progress) error { return nil }

func (Discard) ProgressHistograms(context.Context, string) (string, string, error) {
	return "", "", nil
}

func (Discard) Apply(_ context.Context, changes []cdc.Change) (sink.Result, error) {
	return sink.Result{Written: len(changes)}, nil
}

func (Discard) ApplyControl(context.Context, cdc.Control) error { return nil }

func (Discard) ReplayDeadLetters(context.Context, sink.ReplayFilter, func(sink.DeadLetter) (sink.Row, error)) (sink.ReplayResult, error) {
	return sink.ReplayResult{}, errNoDatabase
}

func (Discard) ReplayChanges(context.Context, sink.ReplayFilter, func(sink.DeadLetter) (cdc.Event, error)) (sink.ReplayResult, error) {
	return sink.ReplayResult{}, errNoDatabase
}
