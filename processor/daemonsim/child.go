package daemonsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// answerCheckpoint replies to one checkpoint request like the daemon.
func (c *Child) answerCheckpoint(action string, raw []byte, msg childMessage, deferred *error) error {
	var errName string
	switch {
	case action == ActionInitialize || action == ActionLeaseLost:
		// The daemon has no checkpointer here and answers this itself.
		errName = ErrInvalidState
		if *deferred == nil {
			*deferred = c.violate(action, raw, "checkpoint during "+action+" (answered InvalidStateException)")
		}
	case c.checkpointF != nil:
		errName = c.checkpointF(msg.seq, msg.subSeq)
	}
	if errName == "" {
		errName = c.cp.checkpoint(msg.seq, msg.subSeq)
	}
	c.checkpoints = append(c.checkpoints, CheckpointRequest{Action: action, SequenceNumber: msg.seq, SubSequenceNumber: msg.subSeq, Error: errName})
	reply := appendCheckpointReply(nil, msg.seq, msg.subSeq, errName)
	if _, err := c.stdin.Write(reply); err != nil {
		return fmt.Errorf("daemonsim: writing checkpoint reply: %w", err)
	}
	return nil
}

// checkQuiet reports output the child wrote between actions. The daemon
// would take a stray status as the answer to the next action.
func (c *Child) checkQuiet() error {
	for {
		select {
		case raw, ok := <-c.lines:
			if !ok {
				c.awaitStderr(time.Second)
				return fmt.Errorf("daemonsim: child closed stdout before the next action%s", c.stderrHint())
			}
			if err := c.strayLine(raw); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// strayLine records a line written outside any action; protocol-shaped
// lines are errors.
func (c *Child) strayLine(raw []byte) error {
	msg, err := parseChildLine(raw)
	switch {
	case err != nil:
		return c.violate("", raw, err.Error())
	case msg.kind == lineEmpty:
		return nil
	case msg.kind == lineNotJSON:
		c.violations = append(c.violations, Violation{Line: truncate(raw), Reason: "non-JSON line on stdout (the daemon skips it)"})
		return nil
	}
	return c.violate("", raw, "unsolicited message outside an action")
}

func (c *Child) violate(action string, raw []byte, reason string) error {
	v := Violation{Action: action, Line: truncate(raw), Reason: reason}
	c.violations = append(c.violations, v)
	return &ProtocolError{Violation: v}
}

func (c *Child) usable() error {
	switch {
	case c.closed:
		return errors.New("daemonsim: child already closed")
	case c.broken != nil:
		return fmt.Errorf("daemonsim: protocol out of sync after an earlier failure: %w", c.broken)
	case c.finished:
		return errors.New("daemonsim: no action may follow leaseLost or shardEnded")
	}
	return nil
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

// Exit describes how the child ended and what it used.
type Exit struct {
	Code   int  // exit code, -1 if killed by a signal
	Killed bool // the child did not exit within the timeout and was killed
	// MaxRSS is the child's peak resident set in bytes: VmHWM read from
	// /proc after each status and before its stdin is closed. ru_maxrss cannot be used on
	// Linux: a child spawned with CLONE_VM inherits the parent's high-water
	// mark, so it reports the driver's memory. It falls back to ru_maxrss
	// where /proc is missing. Only the direct child is counted: a wrapper
	// script must exec its program.
	MaxRSS   int64
	UserCPU  time.Duration
	SysCPU   time.Duration
	Duration time.Duration // from stdin close to exit
}

// CPU is user plus system CPU time.
func (e Exit) CPU() time.Duration { return e.UserCPU + e.SysCPU }

// Close closes the child's stdin, drains its output and waits for it to
// exit, killing it after the exit timeout. Protocol messages written after
// the last status are an error; non-JSON lines are recorded as violations.
func (c *Child) Close() (Exit, error) {
	if c.closed {
		return Exit{}, errors.New("daemonsim: child already closed")
	}
	c.closed = true
	hwm := max(c.peakRSS, PeakRSS(c.cmd.Process.Pid))
	began := time.Now()
	_ = c.stdin.Close()
	deadline := time.NewTimer(c.exitTimeout)
	defer deadline.Stop()
	var firstErr error
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = c.cmd.Process.Kill()
		}
	}
drain:
	for {
		select {
		case raw, ok := <-c.lines:
			if !ok {
				break drain
			}
			if err := c.strayLine(raw); err != nil && firstErr == nil {
				firstErr = err
			}
		case <-deadline.C:
			kill()
		}
	}
	select {
	case <-c.stderrDone:
	case <-deadline.C:
		kill()
	}
	waitErr := c.cmd.Wait()
	exit := exitInfo(c.cmd, began, killed)
	if hwm > 0 {
		exit.MaxRSS = hwm
	}
	if killed && firstErr == nil {
		firstErr = fmt.Errorf("daemonsim: child did not exit within %s after stdin EOF (the daemon waits forever)", c.exitTimeout)
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && firstErr == nil {
		firstErr = fmt.Errorf("daemonsim: waiting for the child: %w", waitErr)
	}
	return exit, firstErr
}

// Kill stops the child at once, e.g. after a protocol error; Close still
// has to be called to reap it.
func (c *Child) Kill() error { return c.cmd.Process.Kill() }

func exitInfo(cmd *exec.Cmd, began time.Time, killed bool) Exit {
	st := cmd.ProcessState
	e := Exit{Code: st.ExitCode(), Killed: killed, Duration: time.Since(began), UserCPU: st.UserTime(), SysCPU: st.SystemTime()}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		e.MaxRSS = maxRSSBytes(ru)
	}
	return e
}

// PeakRSS returns a live process's peak resident set in bytes (VmHWM in
// /proc/<pid>/status), the measure of Exit.MaxRSS; 0 when it cannot be read
// (the process is gone, or there is no /proc).
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// maxRSSBytes converts ru_maxrss, which Linux reports in KiB and macOS in
// bytes.
func maxRSSBytes(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

// readStdout splits stdout into lines with no length limit, like Java's
// readLine on an unbounded BufferedReader.
func (c *Child) readStdout(r io.Reader) {
	defer close(c.lines)
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			c.lines <- line
		}
		if err != nil {
			return
		}
	}
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			buf = buf[:len(buf)-1]
		}
		return buf, err
	}
}

// drainStderr copies stderr line by line for the child's whole life, so
// the child never blocks on a full stderr pipe.
func (c *Child) drainStderr(r io.Reader, w io.Writer) {
	defer close(c.stderrDone)
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			c.stderrTail.add(string(line))
			if w != nil {
				_, _ = w.Write(append(line, '\n'))
			}
		}
		if err != nil {
			return
		}
	}
}

// tail keeps the last max lines; it is shared with the stderr goroutine.
type tail struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 500 {
		s = s[:500]
	}
	t.buf = append(t.buf, s)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

func truncate(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
