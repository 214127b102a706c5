package kcl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// funcProcessor lets each test script the processor's reactions.
type funcProcessor struct {
	initialize        func(context.Context, InitializeInput) error
	processRecords    func(context.Context, ProcessRecordsInput) error
	leaseLost         func(context.Context, LeaseLostInput) error
	shardEnded        func(context.Context, ShardEndedInput) error
	shutdownRequested func(context.Context, ShutdownRequestedInput) error
}

func (p *funcProcessor) Initialize(ctx context.Context, in InitializeInput) error {
	if p.initialize == nil {
		return nil
	}
	return p.initialize(ctx, in)
}

func (p *funcProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if p.processRecords == nil {
		return nil
	}
	return p.processRecords(ctx, in)
}

func (p *funcProcessor) LeaseLost(ctx context.Context, in LeaseLostInput) error {
	if p.leaseLost == nil {
		return nil
	}
	return p.leaseLost(ctx, in)
}

func (p *funcProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	if p.shardEnded == nil {
		return nil
	}
	return p.shardEnded(ctx, in)
}

func (p *funcProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	if p.shutdownRequested == nil {
		return nil
	}
	return p.shutdownRequested(ctx, in)
}

// syncBuffer collects stderr written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pipeDaemon plays the daemon's side over two pipes, as the Java daemon does
// with the child's stdin and stdout.
type pipeDaemon struct {
	t      *testing.T
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	stderr *syncBuffer
	done   chan error
}

func startPipeDaemon(t *testing.T, p *Process) *pipeDaemon {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	d := &pipeDaemon{t: t, stdin: inW, stdout: bufio.NewReaderSize(outR, 1<<20), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.In, p.Out, p.Err = inR, outW, d.stderr
	go func() {
		err := p.Run(context.Background())
		outW.Close()
		d.done <- err
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return d
}

func (d *pipeDaemon) send(line string) {
	d.t.Helper()
	if _, err := io.WriteString(d.stdin, line+"\n"); err != nil {
		d.t.Fatalf("writing to the child: %v", err)
	}
}

// expect reads the child's next non-empty line and compares it byte for byte.
func (d *pipeDaemon) expect(want string) {
	d.t.Helper()
	got, err := d.nextLine()
	if err != nil {
		d.t.Fatalf("reading the child's reply (want %s): %v; stderr: %s", want, err, d.stderr)
	}
	if got != want {
		d.t.Fatalf("child wrote %s\nwant        %s", got, want)
	}
}

func (d *pipeDaemon) nextLine() (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			line, err := d.stdout.ReadString('\n')
			line = strings.TrimSuffix(line, "\n")
			if line != "" || err != nil {
				ch <- result{line, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(10 * time.Second):
		return "", errors.New("timed out")
	}
}

// expectExit waits for Run to return and checks that the child wrote nothing
// more.
func (d *pipeDaemon) expectExit() error {
	d.t.Helper()
	select {
	case err := <-d.done:
		if rest, _ := io.ReadAll(d.stdout); strings.TrimSpace(string(rest)) != "" {
			d.t.Fatalf("child wrote %q after its last message", rest)
		}
		return err
	case <-time.After(10 * time.Second):
		d.t.Fatal("child did not exit")
		return nil
	}
}

const (
	initLine     = `{"action":"initialize","shardId":"shardId-000000000007","sequenceNumber":"TRIM_HORIZON","subSequenceNumber":0}`
	statusInit   = `{"action":"status","responseFor":"initialize"}`
	statusRecs   = `{"action":"status","responseFor":"processRecords"}`
	statusLost   = `{"action":"status","responseFor":"leaseLost"}`
	statusEnded  = `{"action":"status","responseFor":"shardEnded"}`
	statusShut   = `{"action":"status","responseFor":"shutdownRequested"}`
	cpLatest     = `{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null}`
	cpReplyOK    = `{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":null}`
	leaseLostMsg = `{"action":"leaseLost"}`
)

func recordsLine(records ...string) string {
	return `{"action":"processRecords","records":[` + strings.Join(records, ",") + `],"millisBehindLatest":42}`
}

func recordJSON(data, key, seq string, sub int) string {
	return `{"data":"` + base64.StdEncoding.EncodeToString([]byte(data)) + `","partitionKey":"` + key + `","sequenceNumber":"` + seq +
		`","approximateArrivalTimestamp":1700000000000,"subSequenceNumber":` + strconv.Itoa(sub) + `,"action":"record"}`
}

func TestFullLifecycle(t *testing.T) {
	var got []Record
	var shard string
	var behind int64
	p := &Process{Processor: &funcProcessor{
		initialize: func(_ context.Context, in InitializeInput) error { shard = in.ShardID; return nil },
		processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
			got = append(got, in.Records...)
			behind = *in.MillisBehindLatest
			last := in.Records[len(in.Records)-1]
			return in.Checkpointer.CheckpointAt(ctx, last.SequenceNumber, last.SubSequenceNumber)
		},
		shutdownRequested: func(ctx context.Context, in ShutdownRequestedInput) error { return in.Checkpointer.Checkpoint(ctx) },
	}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("a", "k\u00e4", "11", 0), recordJSON("b", "k2", "12", 3)))
	d.expect(`{"action":"checkpoint","sequenceNumber":"12","subSequenceNumber":3}`)
	d.send(`{"action":"checkpoint","sequenceNumber":"12","subSequenceNumber":3,"error":null}`)
	d.expect(statusRecs)
	d.send(`{"action":"shutdownRequested"}`)
	d.expect(cpLatest)
	d.send(cpReplyOK)
	d.expect(statusShut)
	d.send(leaseLostMsg)
	d.expect(statusLost)
	if err := d.expectExit(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if shard != "shardId-000000000007" || behind != 42 || len(got) != 2 || string(got[1].Data) != "b" || got[0].PartitionKey != "kä" {
		t.Fatalf("processor saw shard %q behind %d records %+v", shard, behind, got)
	}
}

func TestStatusIsSentWhenProcessorFails(t *testing.T) {
	p := &Process{Processor: &funcProcessor{
		initialize:     func(context.Context, InitializeInput) error { return errors.New("boom") },
		processRecords: func(context.Context, ProcessRecordsInput) error { panic("kaputt") },
	}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("a", "k", "1", 0)))
	d.expect(statusRecs)
	d.send(leaseLostMsg)
	d.expect(statusLost)
	if err := d.expectExit(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"initialize: boom", "processRecords: panic: kaputt", "process_test.go"} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, d.stderr)
		}
	}
}

func TestShardEndedCheckpointsByDefault(t *testing.T) {
	tests := []struct {
		name     string
		proc     *funcProcessor
		manual   bool
		exchange []string // alternating: expected from child, sent by daemon
	}{
		{"processor does nothing", &funcProcessor{}, false, []string{cpLatest, cpReplyOK}},
		{"processor checkpointed itself", &funcProcessor{shardEnded: func(ctx context.Context, in ShardEndedInput) error {
			return in.Checkpointer.Checkpoint(ctx)
		}}, false, []string{cpLatest, cpReplyOK}},
		{"manual mode", &funcProcessor{}, true, nil},
		{"first attempt throttled", &funcProcessor{}, false, []string{
			cpLatest, `{"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":"ThrottlingException"}`,
			cpLatest, cpReplyOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Process{Processor: tt.proc, ManualShardEndCheckpoint: tt.manual, ShardEndRetry: Retry{Backoff: time.Millisecond}}
			d := startPipeDaemon(t, p)
			d.send(initLine)
			d.expect(statusInit)
			d.send(`{"action":"shardEnded"}`)
			for i := 0; i < len(tt.exchange); i += 2 {
				d.expect(tt.exchange[i])
				d.send(tt.exchange[i+1])
			}
			d.expect(statusEnded)
			if err := d.expectExit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckpointErrors(t *testing.T) {
	tests := []struct {
		reply     string
		wantName  string
		retryable bool
	}{
		{"ThrottlingException", ThrottlingException, true},
		{"KinesisClientLibDependencyException", KinesisClientLibDependencyException, true},
		{"ShutdownException", ShutdownException, false},
		{"InvalidStateException", InvalidStateException, false},
		{"IllegalArgumentException", IllegalArgumentException, false},
		{"NullPointerException", "NullPointerException", false},
	}
	for _, tt := range tests {
		t.Run(tt.reply, func(t *testing.T) {
			var cpErr error
			p := &Process{Processor: &funcProcessor{processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
				cpErr = in.Checkpointer.CheckpointAt(ctx, "5", 0)
				return nil
			}}}
			d := startPipeDaemon(t, p)
			d.send(initLine)
			d.expect(statusInit)
			d.send(recordsLine(recordJSON("a", "k", "5", 0)))
			d.expect(`{"action":"checkpoint","sequenceNumber":"5","subSequenceNumber":0}`)
			d.send(`{"action":"checkpoint","sequenceNumber":"5","subSequenceNumber":0,"error":"` + tt.reply + `"}`)
			d.expect(statusRecs)
			var ce *CheckpointError
			if !errors.As(cpErr, &ce) || ce.Name != tt.wantName || ce.Retryable() != tt.retryable || !IsCheckpointError(cpErr, tt.wantName) {
				t.Fatalf("checkpoint error %v (%#v), want %s retryable=%v", cpErr, ce, tt.wantName, tt.retryable)
			}
		})
	}
}

func TestNonCheckpointReplyIsInvalidState(t *testing.T) {
	var cpErr error
	p := &Process{Processor: &funcProcessor{processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
		cpErr = in.Checkpointer.Checkpoint(ctx)
		return nil
	}}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("a", "k", "5", 0)))
	d.expect(cpLatest)
	d.send(leaseLostMsg)
	d.expect(statusRecs)
	if !IsCheckpointError(cpErr, InvalidStateException) {
		t.Fatalf("got %v, want InvalidStateException", cpErr)
	}
}

func TestRetry(t *testing.T) {
	throttled := &CheckpointError{Name: ThrottlingException}
	shutdown := &CheckpointError{Name: ShutdownException}
	tests := []struct {
		name      string
		errs      []error
		attempts  int
		wantCalls int
		wantErr   error
	}{
		{"succeeds at once", []error{nil}, 5, 1, nil},
		{"throttled then ok", []error{throttled, throttled, nil}, 5, 3, nil},
		{"gives up after attempts", []error{throttled, throttled, throttled}, 3, 3, throttled},
		{"stops on shutdown", []error{throttled, shutdown, nil}, 5, 2, shutdown},
		{"stops on other errors", []error{ErrDaemonGone, nil}, 5, 1, ErrDaemonGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, retries := 0, 0
			r := Retry{Attempts: tt.attempts, Backoff: time.Microsecond, OnRetry: func(int, error) { retries++ }}
			err := r.Do(context.Background(), func(context.Context) error {
				calls++
				return tt.errs[calls-1]
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("calls %d err %v, want %d %v", calls, err, tt.wantCalls, tt.wantErr)
			}
			if retries != calls-1 && tt.wantErr != throttled && tt.wantErr != shutdown && tt.wantErr != ErrDaemonGone {
				t.Fatalf("OnRetry called %d times for %d calls", retries, calls)
			}
		})
	}
}

func TestRetryDefaultsAndContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry{}.Do(ctx, func(context.Context) error {
		calls++
		cancel()
		return &CheckpointError{Name: ThrottlingException}
	})
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("calls %d err %v: the default 5 s backoff must yield to the context", calls, err)
	}
}

func TestHugeLine(t *testing.T) {
	payload := strings.Repeat("x", 50<<20)
	var got int
	p := &Process{Processor: &funcProcessor{processRecords: func(_ context.Context, in ProcessRecordsInput) error {
		got = len(in.Records[0].Data)
		return nil
	}}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON(payload, "k", "1", 0)))
	d.expect(statusRecs)
	if got != len(payload) {
		t.Fatalf("payload of %d bytes arrived as %d", len(payload), got)
	}
}

func TestLineEndingsAndEmptyLines(t *testing.T) {
	p := &Process{Processor: &funcProcessor{}}
	d := startPipeDaemon(t, p)
	d.send("")
	d.send(initLine + "\r")
	d.expect(statusInit)
	d.send("\r")
	d.send(leaseLostMsg + "\r")
	d.expect(statusLost)
	if err := d.expectExit(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownAndLegacyActions(t *testing.T) {
	t.Run("unknown action gets a status", func(t *testing.T) {
		d := startPipeDaemon(t, &Process{Processor: &funcProcessor{}})
		d.send(initLine)
		d.expect(statusInit)
		d.send(`{"action":"somethingNew","x":1}`)
		d.expect(`{"action":"status","responseFor":"somethingNew"}`)
		d.send(leaseLostMsg)
		d.expect(statusLost)
		d.expectExit()
	})
	t.Run("legacy shutdown TERMINATE checkpoints", func(t *testing.T) {
		ended := false
		d := startPipeDaemon(t, &Process{Processor: &funcProcessor{shardEnded: func(context.Context, ShardEndedInput) error { ended = true; return nil }}})
		d.send(initLine)
		d.expect(statusInit)
		d.send(`{"action":"shutdown","reason":"TERMINATE"}`)
		d.expect(cpLatest)
		d.send(cpReplyOK)
		d.expect(`{"action":"status","responseFor":"shutdown"}`)
		if err := d.expectExit(); err != nil || !ended {
			t.Fatalf("exit %v, shardEnded called %v", err, ended)
		}
	})
	t.Run("legacy shutdown ZOMBIE is a lost lease", func(t *testing.T) {
		lost := false
		d := startPipeDaemon(t, &Process{Processor: &funcProcessor{leaseLost: func(context.Context, LeaseLostInput) error { lost = true; return nil }}})
		d.send(initLine)
		d.expect(statusInit)
		d.send(`{"action":"shutdown","reason":"ZOMBIE"}`)
		d.expect(`{"action":"status","responseFor":"shutdown"}`)
		if err := d.expectExit(); err != nil || !lost {
			t.Fatalf("exit %v, leaseLost called %v", err, lost)
		}
	})
}

func TestFatalErrorIsNotAcknowledged(t *testing.T) {
	d := startPipeDaemon(t, &Process{Processor: &funcProcessor{processRecords: func(context.Context, ProcessRecordsInput) error {
		return Fatal(errors.New("database gone"))
	}}})
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("a", "k", "1", 0)))
	err := d.expectExit()
	if !IsFatal(err) || !strings.Contains(err.Error(), "database gone") {
		t.Fatalf("Run returned %v, want the fatal error", err)
	}
}

func TestMalformedLineStopsTheChild(t *testing.T) {
	d := startPipeDaemon(t, &Process{Processor: &funcProcessor{}})
	d.send(`{"action":"initialize"`)
	if err := d.expectExit(); err == nil {
		t.Fatal("Run accepted a malformed line")
	}
}

func TestCheckpointerOutsideItsAction(t *testing.T) {
	var kept *Checkpointer
	p := &Process{Processor: &funcProcessor{processRecords: func(_ context.Context, in ProcessRecordsInput) error {
		kept = in.Checkpointer
		return nil
	}}}
	d := startPipeDaemon(t, p)
	d.send(initLine)
	d.expect(statusInit)
	d.send(recordsLine(recordJSON("a", "k", "1", 0)))
	d.expect(statusRecs)
	if err := kept.Checkpoint(context.Background()); !errors.Is(err, ErrCheckpointNotAllowed) {
		t.Fatalf("late checkpoint: %v", err)
	}
}

// TestEndOfStdin closes stdin in every state the child can be in: the child
// must return promptly and never write a status for an action it was not sent.
func TestEndOfStdin(t *testing.T) {
	blocked := make(chan struct{})
	tests := []struct {
		name    string
		proc    *funcProcessor
		script  func(d *pipeDaemon)
		wantErr bool
	}{
		{"before initialize", &funcProcessor{}, func(d *pipeDaemon) {}, false},
		{"after initialize", &funcProcessor{}, func(d *pipeDaemon) { d.send(initLine); d.expect(statusInit) }, false},
		{"after shutdownRequested", &funcProcessor{}, func(d *pipeDaemon) {
			d.send(initLine)
			d.expect(statusInit)
			d.send(`{"action":"shutdownRequested"}`)
			d.expect(statusShut)
		}, false},
		{"in the middle of a line", &funcProcessor{}, func(d *pipeDaemon) { io.WriteString(d.stdin, `{"action":"initia`) }, true},
		{"while the processor works", &funcProcessor{processRecords: func(ctx context.Context, _ ProcessRecordsInput) error {
			close(blocked)
			<-ctx.Done()
			if !errors.Is(context.Cause(ctx), ErrDaemonGone) {
				return errors.New("context ended for another reason")
			}
			return Fatal(context.Cause(ctx))
		}}, func(d *pipeDaemon) {
			d.send(initLine)
			d.expect(statusInit)
			d.send(recordsLine(recordJSON("a", "k", "1", 0)))
			<-blocked
		}, true},
		{"while waiting for a checkpoint reply", &funcProcessor{processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
			if err := in.Checkpointer.Checkpoint(ctx); !errors.Is(err, ErrDaemonGone) {
				return errors.New("checkpoint did not report the daemon gone")
			}
			return Fatal(ErrDaemonGone)
		}}, func(d *pipeDaemon) {
			d.send(initLine)
			d.expect(statusInit)
			d.send(recordsLine(recordJSON("a", "k", "1", 0)))
			d.expect(cpLatest)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startPipeDaemon(t, &Process{Processor: tt.proc})
			tt.script(d)
			d.stdin.Close()
			err := d.expectExit()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run returned %v, want error: %v", err, tt.wantErr)
			}
			if strings.Contains(d.stderr.String(), "did not report") || strings.Contains(d.stderr.String(), "another reason") {
				t.Fatal(d.stderr.String())
			}
		})
	}
}

// TestReleaseReusesRecordMemory checks ProcessRecordsInput.Release: a
// released batch's memory serves a later batch, an unreleased batch stays
// intact, and the strings never change.
func TestReleaseReusesRecordMemory(t *testing.T) {
	for _, tt := range []struct {
		name string
		lag  int // release batch n while processing batch n+lag; -1: never
	}{
		{"never released", -1},
		{"released at once", 0},
		{"released by the next batch", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				in   ProcessRecordsInput
				recs []Record // the slice itself is reused too
				want []string // Data when the batch arrived
			}
			var batches []seen
			p := &Process{Processor: &funcProcessor{
				processRecords: func(ctx context.Context, in ProcessRecordsInput) error {
					if len(in.Records) == 0 {
						if in.Records == nil || cap(in.Records) != 0 {
							return fmt.Errorf("empty batch records %v (cap %d), want an empty slice of its own", in.Records, cap(in.Records))
						}
						return nil
					}
					for b, s := range batches {
						if tt.lag >= 0 && b < len(batches)-tt.lag {
							continue // released
						}
						for i, r := range s.recs {
							if string(r.Data) != s.want[i] {
								return fmt.Errorf("unreleased batch %d record %d changed: %q", b, i, r.Data)
							}
						}
					}
					s := seen{in: in, recs: slices.Clone(in.Records)}
					for _, r := range in.Records {
						s.want = append(s.want, string(r.Data))
					}
					batches = append(batches, s)
					if n := len(batches) - 1 - tt.lag; tt.lag >= 0 && n >= 0 {
						batches[n].in.Release()
						batches[n].in.Release() // only the first call counts
					}
					last := in.Records[len(in.Records)-1]
					return in.Checkpointer.CheckpointAt(ctx, last.SequenceNumber, 0)
				},
			}}
			d := startPipeDaemon(t, p)
			d.send(initLine)
			d.expect(statusInit)
			const n = 6
			for b := range n {
				if b == 3 { // an empty batch in between lends and takes nothing
					d.send(`{"action":"processRecords","records":[],"millisBehindLatest":0}`)
					d.expect(statusRecs)
				}
				seq := strconv.Itoa(100 + b)
				d.send(recordsLine(recordJSON(fmt.Sprintf("batch %d record 0", b), "key-"+seq, seq, 0),
					recordJSON(fmt.Sprintf("batch %d record 1", b), "key-"+seq, seq, 0)))
				d.expect(`{"action":"checkpoint","sequenceNumber":"` + seq + `","subSequenceNumber":0}`)
				d.send(`{"action":"checkpoint","sequenceNumber":"` + seq + `","subSequenceNumber":0,"error":null}`)
				d.expect(statusRecs)
			}
			d.send(leaseLostMsg)
			d.expect(statusLost)
			if err := d.expectExit(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			for b, s := range batches {
				seq := strconv.Itoa(100 + b)
				for _, r := range s.recs {
					if r.SequenceNumber != seq || r.PartitionKey != "key-"+seq {
						t.Errorf("batch %d: strings changed to %q, %q", b, r.SequenceNumber, r.PartitionKey)
					}
				}
				if tt.lag < 0 && string(s.recs[0].Data) != s.want[0] {
					t.Errorf("batch %d changed without being released", b)
				}
				prev := b - max(tt.lag, 0) - 1 // the batch whose memory b may reuse
				if prev < 0 {
					continue
				}
				shared := unsafe.SliceData(s.recs[0].Data) == unsafe.SliceData(batches[prev].recs[0].Data)
				if shared != (tt.lag >= 0) {
					t.Errorf("batch %d shares the payload memory of batch %d: %v", b, prev, shared)
				}
			}
		})
	}
}
