package kcl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// readParts reads one line with the stream reader through a bufio buffer of
// the given size, splitting at partBytes, and returns every part.
func readParts(line []byte, bufSize, partBytes int) ([]message, error) {
	s := streamReader{
		br:        bufio.NewReaderSize(bytes.NewReader(line), bufSize),
		partBytes: partBytes,
		take:      func() *batchMemory { return &batchMemory{} },
		give:      func(*batchMemory) {},
	}
	var parts []message
	m, err := s.read(func(p message) { parts = append(parts, p) })
	return append(parts, m), err
}

// TestStreamSplitsBatches reads random batches through a 16-byte buffer (so
// that every value is cut across chunks, escapes included) with part sizes
// from one record to no limit: the parts together are the batch, each but
// the last is marked More, and none passes the limit unless one record does.
func TestStreamSplitsBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		batch := randomBatch(rng)
		line, err := json.Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		partBytes := []int{-1, 1, 64, 400, 4096}[i%5]
		parts, err := readParts(append(line, '\n'), 16, partBytes)
		if err != nil {
			t.Fatalf("batch %d: %v\n%s", i, err, line)
		}
		var all []Record
		for j, p := range parts {
			if p.Action != ActionProcessRecords || p.more != (j < len(parts)-1) {
				t.Fatalf("batch %d part %d: action %q more %v of %d parts", i, j, p.Action, p.more, len(parts))
			}
			if size := payloadBytes(p.Records); partBytes > 0 && len(p.Records) > 1 && size > partBytes {
				t.Errorf("batch %d part %d: %d payload bytes in %d records, limit %d", i, j, size, len(p.Records), partBytes)
			}
			if p.more && p.MillisBehindLatest != nil {
				t.Errorf("batch %d part %d: millisBehindLatest before the end of the line", i, j)
			}
			all = append(all, p.Records...)
		}
		if len(all) != len(batch.Records) {
			t.Fatalf("batch %d: %d records in %d parts, want %d", i, len(all), len(parts), len(batch.Records))
		}
		for j, want := range batch.Records {
			compareRecord(t, all[j], want)
		}
		if last := parts[len(parts)-1]; !equalPtr(last.MillisBehindLatest, batch.MillisBehindLatest) {
			t.Fatalf("batch %d: millisBehindLatest %v, want %v", i, last.MillisBehindLatest, batch.MillisBehindLatest)
		}
	}
}

func payloadBytes(recs []Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Data)
	}
	return n
}

func equalPtr(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// TestStreamReadsLineAfterLine checks the reader's line handling: messages
// follow each other, empty lines are skipped, CRLF is accepted, and a bad
// line is skipped whole so that the next one still decodes.
func TestStreamReadsLineAfterLine(t *testing.T) {
	in := "{\"action\":\"initialize\",\"shardId\":\"s\"}\r\n\n" +
		"{\"action\":\"leaseLost\"} x\n" +
		"{\"action\":\"processRecords\",\"records\":[{\"data\":\"aGk=\",\"sequenceNumber\":\"1\"}]}\n" +
		"{\"action\":\"processRecords\",\"records\":[{\"data\":\"aGk=\",\"sequenceNumber\":\"1\"},\n" +
		"{\"action\":\"shutdownRequested\"}"
	s := streamReader{br: bufio.NewReaderSize(strings.NewReader(in), 16), partBytes: -1,
		take: func() *batchMemory { return &batchMemory{} }, give: func(*batchMemory) {}}
	var got []string
	for {
		if _, err := s.br.Peek(1); err != nil {
			break
		}
		m, err := s.read(func(message) { t.Fatal("split a batch without a limit") })
		switch {
		case err != nil:
			got = append(got, "error")
		case m.Action != "":
			got = append(got, m.Action)
		}
	}
	want := []string{"initialize", "error", "processRecords", "error", "shutdownRequested"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestProcessDeliversPartsBeforeOneStatus runs the loop with a tiny
// PartBytes: the processor gets the batch in parts, cannot checkpoint before
// the last, and the daemon sees one status for the line.
func TestProcessDeliversPartsBeforeOneStatus(t *testing.T) {
	var parts [][]string
	var refused []error
	p := &Process{PartBytes: 10, Processor: &funcProcessor{processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
		var seqs []string
		for _, r := range in.Records {
			seqs = append(seqs, r.SequenceNumber)
		}
		parts = append(parts, seqs)
		if in.More {
			refused = append(refused, in.Checkpointer.Checkpoint(ctx))
			return nil
		}
		return in.Checkpointer.CheckpointAt(ctx, "4", 0)
	}}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("12345678", "k", "1", 0), recordJSON("12345678", "k", "2", 0),
		recordJSON("1", "k", "3", 0), recordJSON("12345678901", "k", "4", 0)))
	d.expect(`{"action":"checkpoint","sequenceNumber":"4","subSequenceNumber":0}`)
	d.send(`{"action":"checkpoint","sequenceNumber":"4","subSequenceNumber":0,"error":null}`)
	d.expect(statusRecs)
	d.send(leaseLostMsg)
	d.expect(statusLost)
	if err := d.expectExit(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := [][]string{{"1"}, {"2", "3"}, {"4"}}
	if !slices.EqualFunc(parts, want, slices.Equal) {
		t.Fatalf("parts %v, want %v", parts, want)
	}
	for _, err := range refused {
		if !errors.Is(err, ErrCheckpointNotAllowed) {
			t.Errorf("checkpoint during a part: %v, want ErrCheckpointNotAllowed", err)
		}
	}
}
