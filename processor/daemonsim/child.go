package daemonsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Daemon holds the settings of a simulated MultiLangDaemon. The zero value
// discards the child's stderr, validates checkpoints like KCL and waits 10 s
// for the child to exit after its stdin is closed.
type Daemon struct {
	// Stderr receives every line the child writes to stderr, as the daemon
	// drains it continuously. Nil discards it.
	Stderr io.Writer
	// Checkpoint, if set, is consulted before the default validation of
	// every checkpoint request.
	Checkpoint CheckpointFunc
	// ExitTimeout bounds Close's wait for the child to exit.
	ExitTimeout time.Duration
}

// Start spawns argv with the zero Daemon's settings.
func Start(ctx context.Context, argv []string, env []string, dir string) (*Child, error) {
	return Daemon{}.Start(ctx, argv, env, dir)
}

// Start spawns argv with three pipes, as the daemon does for each shard. A
// nil env inherits this process's environment (the daemon passes the JVM's);
// an empty dir uses the current directory. Cancelling ctx kills the child.
func (d Daemon) Start(ctx context.Context, argv []string, env []string, dir string) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("daemonsim: empty child command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	// Close must not hang on a grandchild that inherited a pipe.
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("daemonsim: stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("daemonsim: stdout pipe: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("daemonsim: stderr pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("daemonsim: start %q: %w", argv[0], err)
	}
	c := &Child{
		cmd:         cmd,
		stdin:       stdin,
		lines:       make(chan []byte, 64),
		stderrDone:  make(chan struct{}),
		checkpointF: d.Checkpoint,
		exitTimeout: d.ExitTimeout,
		stderrTail:  &tail{max: 20},
	}
	if c.exitTimeout <= 0 {
		c.exitTimeout = 10 * time.Second
	}
	go c.readStdout(stdout)
	go c.drainStderr(stderr, d.Stderr)
	return c, nil
}

// Child is one running child process seen from the daemon. Its methods must
// be called from one goroutine at a time.
type Child struct {
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	lines       chan []byte // stdout lines; closed at EOF or read error
	stderrDone  chan struct{}
	stderrTail  *tail
	checkpointF CheckpointFunc
	exitTimeout time.Duration

	cp          checkpointer
	initialized bool
	finished    bool  // leaseLost or shardEnded was answered
	broken      error // set once the protocol is out of sync
	closed      bool

	checkpoints []CheckpointRequest
	violations  []Violation
	peakRSS     int64 // largest VmHWM seen after an action
}

// CheckpointRequest is one checkpoint the child asked for and the error
// name it was answered with ("" for success).
type CheckpointRequest struct {
	Action            string // the daemon action during which it was sent
	SequenceNumber    *string
	SubSequenceNumber *int64
	Error             string
}

// Violation is one thing the child wrote that a correct child never writes.
type Violation struct {
	Action string // the daemon action being answered, or "" between actions
	Line   string // the offending line, truncated
	Reason string
}

// ProtocolError reports a child line that would make the real daemon hang
// or kill the worker.
type ProtocolError struct {
	Violation
}

func (e *ProtocolError) Error() string {
	where := "between actions"
	if e.Action != "" {
		where = "while waiting for the " + e.Action + " status"
	}
	return fmt.Sprintf("protocol violation %s: %s: %q", where, e.Reason, e.Line)
}

// SetCheckpointFunc replaces the checkpoint hook for the following calls.
func (c *Child) SetCheckpointFunc(f CheckpointFunc) { c.checkpointF = f }

// Violations returns everything the child wrote that breaks the protocol,
// including lines the real daemon would merely skip.
func (c *Child) Violations() []Violation { return append([]Violation(nil), c.violations...) }

// CheckpointRequests counts checkpoint requests received, failed ones included.
func (c *Child) CheckpointRequests() int { return len(c.checkpoints) }

// CheckpointLog returns every checkpoint request in order with its answer.
func (c *Child) CheckpointLog() []CheckpointRequest {
	return append([]CheckpointRequest(nil), c.checkpoints...)
}

// LastCheckpoint returns the last successful checkpoint; ok is false if
// none succeeded. After a null checkpoint during shardEnded it is SHARD_END.
func (c *Child) LastCheckpoint() (p Position, ok bool) { return c.cp.last, c.cp.hasCheckpoint }

// LargestDelivered returns the largest position handed to the child so far.
func (c *Child) LargestDelivered() Position { return c.cp.largest }

// StderrTail returns the last lines the child wrote to stderr, for error
// messages.
func (c *Child) StderrTail() []string { return c.stderrTail.lines() }

// Initialize sends initialize with the lease's checkpoint, which also
// becomes the lower bound for checkpoints.
func (c *Child) Initialize(ctx context.Context, shardID string, seq *string, subSeq *int64) error {
	if c.initialized {
		return errors.New("daemonsim: initialize sent twice")
	}
	start := Position{}
	if seq != nil {
		start.Sequence = *seq
	}
	if subSeq != nil {
		start.SubSequence = *subSeq
	}
	c.cp = checkpointer{last: start, largest: start}
	c.initialized = true
	return c.call(ctx, ActionInitialize, AppendInitialize(nil, shardID, seq, subSeq))
}

// ProcessRecords encodes and sends one batch.
func (c *Child) ProcessRecords(ctx context.Context, records []Record, millisBehindLatest *int64) error {
	return c.SendBatch(ctx, NewBatch(records, millisBehindLatest))
}

// SendBatch sends a pre-encoded processRecords message.
func (c *Child) SendBatch(ctx context.Context, b Batch) error {
	if !c.initialized {
		return errors.New("daemonsim: processRecords before initialize")
	}
	// KCL raises the largest permitted checkpoint before calling the processor.
	if b.Count > 0 {
		c.cp.deliver(b.Largest)
	}
	return c.call(ctx, ActionProcessRecords, b.Line)
}

// LeaseLost sends leaseLost; the child may not checkpoint and should exit
// once Close closes its stdin.
func (c *Child) LeaseLost(ctx context.Context) error {
	err := c.call(ctx, ActionLeaseLost, appendBare(nil, ActionLeaseLost))
	c.finished = true
	return err
}

// ShardEnded sends shardEnded; the child must checkpoint (null means
// SHARD_END) before its status, otherwise an error is returned because KCL
// would never complete the shard.
func (c *Child) ShardEnded(ctx context.Context) error {
	c.cp.endShard()
	err := c.call(ctx, ActionShardEnded, appendBare(nil, ActionShardEnded))
	c.finished = true
	if err != nil {
		return err
	}
	if last, ok := c.LastCheckpoint(); !ok || last.Sequence != SentinelShardEnd {
		return fmt.Errorf("daemonsim: child did not checkpoint at SHARD_END during shardEnded (last checkpoint %v): KCL never completes the shard", last)
	}
	return nil
}

// ShutdownRequested sends shutdownRequested; the child should checkpoint.
func (c *Child) ShutdownRequested(ctx context.Context) error {
	return c.call(ctx, ActionShutdownRequested, appendBare(nil, ActionShutdownRequested))
}

// call writes one action and waits for its status, answering checkpoint
// requests on the way.
func (c *Child) call(ctx context.Context, action string, line []byte) error {
	if err := c.usable(); err != nil {
		return err
	}
	if err := c.checkQuiet(); err != nil {
		return c.fail(err)
	}
	w := c.startWrite(action, line)
	var deferred error // a violation the daemon survives, reported with the status
	for {
		select {
		case <-ctx.Done():
			return c.fail(fmt.Errorf("daemonsim: waiting for the %s status: %w", action, ctx.Err()))
		case err := <-w.done:
			if err := w.finish(err); err != nil {
				return c.fail(fmt.Errorf("%w%s", err, c.stderrHint()))
			}
		case raw, ok := <-c.lines:
			if !ok {
				c.awaitStderr(time.Second)
				return c.fail(fmt.Errorf("daemonsim: child closed stdout while the daemon waited for the %s status (the daemon exits the worker)%s", action, c.stderrHint()))
			}
			statusSeen, err := c.handleLine(ctx, action, raw, w, &deferred)
			if err != nil {
				return c.fail(err)
			}
			if statusSeen {
				// The child may exit right after leaseLost or shardEnded,
				// taking its /proc entry along: sample its peak now.
				c.peakRSS = max(c.peakRSS, PeakRSS(c.cmd.Process.Pid))
				return deferred
			}
		}
	}
}

// handleLine processes one stdout line during an action; it reports
// whether the line was the action's status.
func (c *Child) handleLine(ctx context.Context, action string, raw []byte, w *pendingWrite, deferred *error) (bool, error) {
	msg, err := parseChildLine(raw)
	if err != nil {
		return false, c.violate(action, raw, err.Error())
	}
	switch msg.kind {
	case lineNotJSON:
		c.violations = append(c.violations, Violation{Action: action, Line: truncate(raw), Reason: "non-JSON line on stdout (the daemon skips it)"})
	case lineCheckpoint:
		// The reply must not overtake the action on the same pipe.
		if err := w.wait(ctx); err != nil {
			return false, err
		}
		return false, c.answerCheckpoint(action, raw, msg, deferred)
	case lineStatus:
		if msg.responseFor != action {
			return false, c.violate(action, raw, fmt.Sprintf("status responseFor %q, want %q (the daemon exits the worker)", msg.responseFor, action))
		}
		return true, w.wait(ctx)
	}
	return false, nil
}

// pendingWrite is an action line being written to the child's stdin. The
// daemon writes on an executor thread while another one reads, so a child
// that talks before it has read the whole line cannot deadlock it.
type pendingWrite struct {
	action string
	done   chan error // nil once the result was received
}

func (c *Child) startWrite(action string, line []byte) *pendingWrite {
	w := &pendingWrite{action: action, done: make(chan error, 1)}
	go func() {
		_, err := c.stdin.Write(line)
		w.done <- err
	}()
	return w
}

// finish records the write's result; receiving from a nil channel blocks,
// so the caller's select stops watching it.
func (w *pendingWrite) finish(err error) error {
	w.done = nil
	if err != nil {
		return fmt.Errorf("daemonsim: writing %s to the child: %w", w.action, err)
	}
	return nil
}

func (w *pendingWrite) wait(ctx context.Context) error {
	if w.done == nil {
		return nil
	}
	select {
	case err := <-w.done:
		return w.finish(err)
	case <-ctx.Done():
		return fmt.Errorf("daemonsim: writing %s: %w", w.action, ctx.Err())
	}
}

// fail marks the protocol as out of sync: after a lost or unexpected
// message the daemon would hang or exit, so no further action is sent.
func (c *Child) fail(err error) error {
	c.broken = err
	return err
}

// awaitStderr gives a dying child's last stderr lines time to arrive, so
// the error can show them.
func (c *Child) awaitStderr(d time.Duration) {
	select {
	case <-c.stderrDone:
	case <-time.After(d):
	}
}

func (c *Child) stderrHint() string {
	if t := c.stderrTail.lines(); len(t) > 0 {
		return fmt.Sprintf("; child stderr tail: %q", t)
	}
	return ""
}
