package daemonsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the child under test: with DAEMONSIM_HELPER
// set it becomes a protocol peer whose behaviour is chosen by that mode.
// It tests the driver, not any processor of the product.
func TestMain(m *testing.M) {
	if mode := os.Getenv("DAEMONSIM_HELPER"); mode != "" {
		os.Exit(helperChild(mode, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type helperMessage struct {
	Action  string `json:"action"`
	Records []struct {
		SequenceNumber    string `json:"sequenceNumber"`
		SubSequenceNumber int64  `json:"subSequenceNumber"`
	} `json:"records"`
}

// helperChild speaks the child side; checkpoint replies it receives are
// echoed to stderr as "reply: <line>" so tests can check their bytes.
func helperChild(mode string, in io.Reader, out, errOut io.Writer) int {
	r := bufio.NewReaderSize(in, 1<<20)
	send := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	checkpoint := func(seq, sub string) {
		send(`{"action":"checkpoint","sequenceNumber":%s,"subSequenceNumber":%s}`, seq, sub)
		reply, err := readLine(r)
		if err != nil {
			fmt.Fprintln(errOut, "no checkpoint reply:", err)
			os.Exit(3)
		}
		fmt.Fprintf(errOut, "reply: %s\n", reply)
	}
	for {
		line, err := readLine(r)
		if err != nil {
			if mode == "no-exit" {
				time.Sleep(time.Minute)
			}
			return 0
		}
		if mode == "bench" {
			send(`{"action":"status","responseFor":%q}`, PeekAction(line))
			continue
		}
		var m helperMessage
		if err := json.Unmarshal(line, &m); err != nil {
			fmt.Fprintln(errOut, "bad input line:", err)
			return 2
		}
		fmt.Fprintln(errOut, "got", m.Action)
		status := fmt.Sprintf(`{"action":"status","responseFor":%q}`, m.Action)
		switch {
		case mode == "extra-field" && m.Action == ActionInitialize:
			status = `{"action":"status","responseFor":"initialize","extra":1}`
		case mode == "wrong-response" && m.Action == ActionProcessRecords:
			status = `{"action":"status","responseFor":"initialize"}`
		case mode == "non-ascii" && m.Action == ActionInitialize:
			status = `{"action":"status","responseFor":"initialize","note":"ä"}`
		case mode == "trailing" && m.Action == ActionInitialize:
			status += " ok"
		case mode == "garbage" && m.Action == ActionInitialize:
			send("hello from print()")
			status = "\n" + status + "\n" // kclpy's framing
		case mode == "double-status" && m.Action == ActionLeaseLost:
			send("%s", status)
		case mode == "checkpoint-in-init" && m.Action == ActionInitialize:
			checkpoint("null", "null")
		case mode == "exit-early" && m.Action == ActionProcessRecords:
			fmt.Fprintln(errOut, "Traceback: simulated crash")
			return 1
		case mode == "explicit" && m.Action == ActionProcessRecords:
			last := m.Records[len(m.Records)-1]
			checkpoint(fmt.Sprintf("%q", last.SequenceNumber), fmt.Sprint(last.SubSequenceNumber))
			checkpoint(fmt.Sprintf("%q", last.SequenceNumber+"0"), "null") // beyond delivered
		case mode == "good" && (m.Action == ActionShutdownRequested || m.Action == ActionShardEnded):
			checkpoint("null", "null")
		case mode == "retry" && m.Action == ActionShutdownRequested:
			for i := 0; i < 3; i++ {
				checkpoint("null", "null")
			}
		}
		send("%s", status)
	}
}

// lockedBuffer collects the child's stderr, written by the drain goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startHelper(t *testing.T, mode string, d Daemon) (*Child, *lockedBuffer) {
	t.Helper()
	stderr := &lockedBuffer{}
	d.Stderr = stderr
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DAEMONSIM_HELPER="+mode)
	c, err := d.Start(context.Background(), []string{exe}, env, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.closed {
			_ = c.Kill()
			_, _ = c.Close()
		}
	})
	return c, stderr
}

func testRecords(t *testing.T, n int) []Record {
	t.Helper()
	recs, err := Generator{Seed: 1, Size: 200}.Records(n)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestChildGoodSession(t *testing.T) {
	ctx := context.Background()
	c, stderr := startHelper(t, "good", Daemon{})
	recs := testRecords(t, 50)
	if err := c.Initialize(ctx, DefaultShardID, ptr(SentinelTrimHorizon), ptr[int64](0)); err != nil {
		t.Fatal(err)
	}
	for _, b := range Batches(recs, 20, ptr[int64](0)) {
		if err := c.SendBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if got, ok := c.LastCheckpoint(); !ok || got != (Position{last.SequenceNumber, 0}) {
		t.Fatalf("last checkpoint %v %v, want the last record", got, ok)
	}
	if err := c.ShardEnded(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 0 || exit.MaxRSS <= 0 || exit.CPU() <= 0 {
		t.Fatalf("exit %+v: want code 0 with rusage", exit)
	}
	if n := len(c.Violations()); n != 0 {
		t.Fatalf("violations: %+v", c.Violations())
	}
	if c.CheckpointRequests() != 2 {
		t.Fatalf("checkpoint requests %d, want 2", c.CheckpointRequests())
	}
	wantReply := `reply: {"action":"checkpoint","sequenceNumber":null,"subSequenceNumber":null,"error":null}`
	if !strings.Contains(stderr.String(), wantReply) || !strings.Contains(stderr.String(), "got shardEnded") {
		t.Fatalf("stderr lacks %s:\n%s", wantReply, stderr.String())
	}
	if got, _ := c.LastCheckpoint(); got.Sequence != SentinelShardEnd {
		t.Fatalf("after shardEnded the checkpoint is %v, want SHARD_END", got)
	}
}

func TestChildExplicitCheckpointValidation(t *testing.T) {
	ctx := context.Background()
	c, stderr := startHelper(t, "explicit", Daemon{})
	recs := testRecords(t, 10)
	if err := c.Initialize(ctx, DefaultShardID, ptr(SentinelTrimHorizon), ptr[int64](0)); err != nil {
		t.Fatal(err)
	}
	if err := c.ProcessRecords(ctx, recs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Close(); err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].SequenceNumber
	out := stderr.String()
	for _, want := range []string{
		fmt.Sprintf(`reply: {"action":"checkpoint","sequenceNumber":%q,"subSequenceNumber":0,"error":null}`, last),
		fmt.Sprintf(`reply: {"action":"checkpoint","sequenceNumber":%q,"subSequenceNumber":null,"error":"IllegalArgumentException"}`, last+"0"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %s:\n%s", want, out)
		}
	}
	if got, _ := c.LastCheckpoint(); got.Sequence != last {
		t.Errorf("last checkpoint %v, want %s", got, last)
	}
	log := c.CheckpointLog()
	if len(log) != 2 || log[0].Error != "" || log[1].Error != ErrIllegalArgument || log[1].Action != ActionProcessRecords ||
		*log[0].SequenceNumber != last || *log[0].SubSequenceNumber != 0 || log[1].SubSequenceNumber != nil {
		t.Errorf("checkpoint log %+v", log)
	}
}

func TestChildCheckpointHook(t *testing.T) {
	ctx := context.Background()
	calls := 0
	hook := func(seq *string, sub *int64) string {
		calls++
		if calls < 3 {
			return ErrThrottling
		}
		return ""
	}
	c, stderr := startHelper(t, "retry", Daemon{Checkpoint: hook})
	if err := c.Initialize(ctx, DefaultShardID, ptr(SentinelTrimHorizon), ptr[int64](0)); err != nil {
		t.Fatal(err)
	}
	if err := c.ProcessRecords(ctx, testRecords(t, 3), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ShutdownRequested(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr.String(), `"error":"ThrottlingException"`); n != 2 {
		t.Fatalf("%d throttled replies, want 2:\n%s", n, stderr.String())
	}
	if _, ok := c.LastCheckpoint(); !ok {
		t.Fatal("third attempt should have checkpointed")
	}
}

func TestChildProtocolErrors(t *testing.T) {
	tests := []struct {
		mode    string
		reason  string
		atClose bool // detected when draining stdout after the last status
	}{
		{mode: "extra-field", reason: `unknown field "extra"`},
		{mode: "wrong-response", reason: `responseFor "initialize", want "processRecords"`},
		{mode: "non-ascii", reason: "non-ASCII"},
		{mode: "trailing", reason: "trailing text"},
		{mode: "checkpoint-in-init", reason: "checkpoint during initialize"},
		{mode: "double-status", reason: "unsolicited message", atClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			err := runSession(t, tt.mode, Daemon{})
			var pe *ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("err = %v, want a ProtocolError about %q", err, tt.reason)
			}
			if tt.atClose != (pe.Action == "") {
				t.Fatalf("violation reported during %q, want at close: %v", pe.Action, tt.atClose)
			}
		})
	}
}

// runSession drives initialize, one batch, leaseLost and Close, stopping at
// the first error.
func runSession(t *testing.T, mode string, d Daemon) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, stderr := startHelper(t, mode, d)
	steps := []func() error{
		func() error { return c.Initialize(ctx, DefaultShardID, ptr(SentinelTrimHorizon), ptr[int64](0)) },
		func() error { return c.ProcessRecords(ctx, testRecords(t, 5), nil) },
		func() error { return c.LeaseLost(ctx) },
		func() error { _, err := c.Close(); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			if !c.closed {
				_, _ = c.Close()
			}
			if mode == "checkpoint-in-init" && !strings.Contains(stderr.String(), `"error":"InvalidStateException"`) {
				t.Errorf("child was not answered InvalidStateException:\n%s", stderr.String())
			}
			return err
		}
	}
	return nil
}

func TestChildNonJSONLinesAreViolations(t *testing.T) {
	ctx := context.Background()
	c, _ := startHelper(t, "garbage", Daemon{})
	if err := c.Initialize(ctx, DefaultShardID, nil, nil); err != nil {
		t.Fatalf("a printed line must not fail the call (the daemon skips it): %v", err)
	}
	v := c.Violations()
	if len(v) != 1 || v[0].Line != "hello from print()" || v[0].Action != ActionInitialize {
		t.Fatalf("violations %+v, want the printed line", v)
	}
}

func TestChildExitsEarly(t *testing.T) {
	err := runSession(t, "exit-early", Daemon{})
	if err == nil || !strings.Contains(err.Error(), "closed stdout") || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("err = %v, want stdout EOF with the stderr tail", err)
	}
}

func TestChildThatDoesNotExitIsKilled(t *testing.T) {
	ctx := context.Background()
	c, _ := startHelper(t, "no-exit", Daemon{ExitTimeout: 300 * time.Millisecond})
	if err := c.Initialize(ctx, DefaultShardID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.LeaseLost(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := c.Close()
	if err == nil || !exit.Killed || exit.Code != -1 {
		t.Fatalf("exit %+v err %v: want a kill after the timeout", exit, err)
	}
	if exit.Duration > 5*time.Second {
		t.Fatalf("close took %s", exit.Duration)
	}
}

func TestNoActionAfterLeaseLost(t *testing.T) {
	ctx := context.Background()
	c, _ := startHelper(t, "good", Daemon{})
	if err := c.Initialize(ctx, DefaultShardID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.LeaseLost(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ShutdownRequested(ctx); err == nil {
		t.Fatal("an action after leaseLost must be refused")
	}
	if _, err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSendBatch measures the driver plus a minimal Go peer: the
// ceiling any child can be measured against.
func BenchmarkSendBatch(b *testing.B) {
	recs, err := Generator{Seed: 1, Size: 1024}.Records(10000)
	if err != nil {
		b.Fatal(err)
	}
	batch := NewBatch(recs, ptr[int64](0))
	exe, _ := os.Executable()
	c, err := Start(context.Background(), []string{exe}, append(os.Environ(), "DAEMONSIM_HELPER=bench"), "")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Initialize(ctx, DefaultShardID, nil, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch.Line)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch.Count)/b.Elapsed().Seconds(), "records/s")
	_ = c.LeaseLost(ctx)
	if _, err := c.Close(); err != nil {
		b.Fatal(err)
	}
}

func TestPeakRSS(t *testing.T) {
	if PeakRSS(os.Getpid()) <= 0 {
		t.Fatal("no VmHWM for this process")
	}
	if got := PeakRSS(-1); got != 0 {
		t.Fatalf("PeakRSS of no process = %d, want 0", got)
	}
}
