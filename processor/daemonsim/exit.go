package daemonsim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
