package ingest

import (
	"context"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/decode"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// RowSink writes plain rows; *sink.Writer is the real one, Discard the
// dry-run one.
type RowSink interface {
	DeadLetterSink
	Write(ctx context.Context, rows []sink.Row) (sink.Result, error)
	ReplayDeadLetters(ctx context.Context, filter sink.ReplayFilter, decode func(sink.DeadLetter) (sink.Row, error)) (sink.ReplayResult, error)
}

// Rows stores each record as one row: its payload decoded by Decoder.
type Rows struct {
	Decoder decode.Decoder
	Sink    RowSink

	rows []sink.Row // reused by every batch: Store is called for one at a time
}

// Store implements Store.
func (s *Rows) Store(ctx context.Context, batch []record.Source) (int, error) {
	rows := s.rows[:0]
	defer func() { s.rows = rows[:0] }()
	var bad []sink.DeadLetter
	for _, src := range batch {
		row, err := s.decode(src)
		if err != nil {
			bad = append(bad, undecodable(src, err))
			continue
		}
		rows = append(rows, row)
	}
	if err := keepUndecodable(ctx, s.Sink, bad, "records"); err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return len(bad), nil
	}
	res, err := s.Sink.Write(ctx, rows)
	if err != nil {
		return 0, err
	}
	logDeadLettered(ctx, res.DeadLettered, "records refused by the database sent to the dead-letter table")
	return len(bad) + len(res.DeadLettered), nil
}

// Replay implements Store.
func (s *Rows) Replay(ctx context.Context, filter sink.ReplayFilter) (sink.ReplayResult, error) {
	return s.Sink.ReplayDeadLetters(ctx, filter, func(dl sink.DeadLetter) (sink.Row, error) {
		return s.decode(dl.Source)
	})
}

func (s *Rows) decode(src record.Source) (sink.Row, error) {
	payload, err := s.Decoder.Decode(src.Data)
	if err != nil {
		return sink.Row{}, err
	}
	return sink.Row{Source: src, Payload: payload}, nil
}
