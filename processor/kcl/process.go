package kcl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
)

// Process runs the protocol loop for one RecordProcessor over a pair of
// streams. The zero value reads os.Stdin and writes os.Stdout and os.Stderr;
// most programs call Run instead, which also guards stdout and signals.
type Process struct {
	Processor RecordProcessor
	In        io.Reader // daemon → child; default os.Stdin
	Out       io.Writer // child → daemon; default os.Stdout
	Err       io.Writer // diagnostics; default os.Stderr

	// ManualShardEndCheckpoint turns off the SHARD_END checkpoint the loop
	// makes after ShardEnded when the processor did not. Without that
	// checkpoint the closed shard's children are never processed.
	ManualShardEndCheckpoint bool
	// ShardEndRetry retries that checkpoint; the zero value is kclpy's 5 × 5 s.
	ShardEndRetry Retry
	// PartBytes bounds the memory of one batch: a processRecords line whose
	// decoded payloads pass it is handed to ProcessRecords in parts of about
	// this size as it is read (ProcessRecordsInput.More), so that the child's
	// memory does not grow with the daemon's line. 0 means DefaultPartBytes,
	// which no batch from one GetRecords call reaches; < 0 never splits.
	PartBytes int

	errMu sync.Mutex
}

// Fatal wraps an error so that the loop does not acknowledge the action and
// Run returns at once. Use it when the action could not be completed safely
// (records could not be stored): the daemon then stops the worker, and the
// records are delivered again, from the last checkpoint, after a restart. An
// acknowledged batch is never delivered again.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

type fatalError struct{ err error }

func (e *fatalError) Error() string { return "fatal: " + e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// IsFatal reports whether err was marked with Fatal.
func IsFatal(err error) bool {
	var fe *fatalError
	return errors.As(err, &fe)
}

// Run serves actions until the daemon ends the conversation: it returns nil
// after leaseLost, shardEnded or a legacy shutdown has been answered, or when
// stdin ends, and an error if a message cannot be read or answered or the
// processor returned a Fatal error.
func (p *Process) Run(ctx context.Context) error {
	if p.Processor == nil {
		return errors.New("kcl: Process has no Processor")
	}
	in, out := p.In, p.Out
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	c := newConn(in, out, p.PartBytes)
	for {
		m, err := c.next(ctx)
		if errors.Is(err, ErrDaemonGone) {
			if c.readErr != nil {
				return c.readErr
			}
			return nil
		}
		if err != nil {
			return err
		}
		done, err := p.dispatch(ctx, c, m)
		if err != nil || done {
			return err
		}
	}
}

// dispatch handles one message and reports whether the conversation is over.
func (p *Process) dispatch(ctx context.Context, c *conn, m message) (bool, error) {
	actx, cancel := withDaemonGone(ctx, c)
	defer cancel()
	cp := &Checkpointer{conn: c}
	var err error
	done := false
	switch m.Action {
	case ActionInitialize:
		in := InitializeInput{ShardID: m.ShardID}
		if m.SequenceNumber != nil {
			in.SequenceNumber = *m.SequenceNumber
		}
		if m.SubSequenceNumber != nil {
			in.SubSequenceNumber = *m.SubSequenceNumber
		}
		err = p.call(m.Action, func() error { return p.Processor.Initialize(actx, in) })
	case ActionProcessRecords:
		in := ProcessRecordsInput{Records: m.Records, MillisBehindLatest: m.MillisBehindLatest, More: m.more, Checkpointer: cp, release: m.release}
		if m.more {
			// The daemon answers a checkpoint only after it wrote the whole
			// line, which is still being read: the checkpointer stays off.
			err = p.call(m.Action, func() error { return p.Processor.ProcessRecords(actx, in) })
			if IsFatal(err) {
				return true, fmt.Errorf("kcl: %s not acknowledged: %w", m.Action, err)
			}
			return false, nil
		}
		err = p.withCheckpointer(cp, m.Action, func() error { return p.Processor.ProcessRecords(actx, in) })
	case ActionShutdownRequested:
		err = p.withCheckpointer(cp, m.Action, func() error {
			return p.Processor.ShutdownRequested(actx, ShutdownRequestedInput{Checkpointer: cp})
		})
	case ActionShardEnded:
		err, done = p.shardEnded(actx, cp, m.Action), true
	case ActionLeaseLost:
		err, done = p.call(m.Action, func() error { return p.Processor.LeaseLost(actx, LeaseLostInput{}) }), true
	case ActionShutdown:
		err, done = p.legacyShutdown(actx, cp, m), true
	case ActionCheckpoint:
		p.logf("kcl: ignoring a checkpoint reply that answers no request")
		return false, nil
	default:
		p.logf("kcl: unknown action %q: answering with a status and carrying on", m.Action)
	}
	if IsFatal(err) {
		return true, fmt.Errorf("kcl: %s not acknowledged: %w", m.Action, err)
	}
	if err := c.write(appendStatus(nil, m.Action)); err != nil {
		return true, err
	}
	return done, nil
}

// legacyShutdown maps the KCL 1.x/2.0 shutdown message onto the current
// actions: TERMINATE/SHARD_END mean the shard ended, anything else that the
// lease was lost.
func (p *Process) legacyShutdown(ctx context.Context, cp *Checkpointer, m message) error {
	switch m.Reason {
	case "TERMINATE", "SHARD_END":
		return p.shardEnded(ctx, cp, m.Action)
	default:
		return p.call(m.Action, func() error { return p.Processor.LeaseLost(ctx, LeaseLostInput{}) })
	}
}

func (p *Process) shardEnded(ctx context.Context, cp *Checkpointer, action string) error {
	cp.inShard = true
	return p.withCheckpointer(cp, action, func() error {
		err := p.Processor.ShardEnded(ctx, ShardEndedInput{Checkpointer: cp})
		if IsFatal(err) || p.ManualShardEndCheckpoint || cp.checkpointedShardEnd() {
			return err
		}
		if cerr := p.ShardEndRetry.Do(ctx, cp.Checkpoint); cerr != nil {
			p.logf("kcl: checkpoint at SHARD_END failed: %v", cerr)
		}
		return err
	})
}

func (p *Process) withCheckpointer(cp *Checkpointer, action string, fn func() error) error {
	cp.setActive(true)
	defer cp.setActive(false)
	return p.call(action, fn)
}

// call runs processor code, turning a panic into an error so that the
// action is still answered, and logs what went wrong.
func (p *Process) call(action string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		if err != nil {
			p.logf("kcl: %s: %v", action, err)
		}
	}()
	return fn()
}

func (p *Process) logf(format string, args ...any) {
	w := p.Err
	if w == nil {
		w = os.Stderr
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	fmt.Fprintf(w, format+"\n", args...)
}

// withDaemonGone returns a context that ends when stdin ends, so that a
// processor stuck retrying a database gives up once nobody waits for it.
func withDaemonGone(ctx context.Context, c *conn) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-c.gone:
			cancel(ErrDaemonGone)
		case <-actx.Done():
		}
	}()
	return actx, func() { cancel(nil) }
}
