package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kill ends the server as a crash would: SIGKILL to CrateDB's JVM, or to
// PostgreSQL's postmaster. A killed postmaster's backends notice its death
// and exit; those still there after 10 s are killed too, since they would
// keep the restart from attaching to the shared memory. Restart brings the
// server back, through crash recovery. A PostgreSQL started without
// Durable cannot be killed: it would lose acknowledged commits, which no
// client could be blamed for.
func (s *Server) Kill() error {
	if s.db == PostgreSQL && !s.durable {
		return errors.New("kill -9 of a PostgreSQL with synchronous_commit off loses acknowledged commits: start it with pgtest.Durable")
	}
	pid, err := s.mainPID()
	if err != nil {
		return err
	}
	orphans := s.children(pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %s (pid %d): %w", s.db, pid, err)
	}
	if !waitGone(10*time.Second, pid) {
		return fmt.Errorf("%s (pid %d) still runs 10 s after SIGKILL", s.db, pid)
	}
	if !waitGone(10*time.Second, orphans...) {
		var left []int
		for _, p := range orphans {
			if Alive(p) {
				left = append(left, p)
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		s.t.Logf("pgtest: %d of %d backends outlived the killed postmaster by 10 s; killed them", len(left), len(orphans))
		if !waitGone(10*time.Second, left...) {
			return fmt.Errorf("backends %v of the killed postmaster do not exit", left)
		}
	}
	return nil
}

// Freeze stops the server with SIGSTOP: it still accepts TCP connections
// (the kernel completes them) but answers nothing until Thaw. On
// PostgreSQL the postmaster goes first, so that it forks no new backend,
// then every backend and auxiliary process.
func (s *Server) Freeze() error {
	pid, err := s.mainPID()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %s (pid %d): %w", s.db, pid, err)
	}
	s.frozen = append(s.frozen, pid)
	for _, p := range s.children(pid) {
		if err := syscall.Kill(p, syscall.SIGSTOP); err == nil {
			s.frozen = append(s.frozen, p)
		}
	}
	return nil
}

// Thaw resumes what Freeze stopped (SIGCONT), the processes in reverse
// order, the postmaster last.
func (s *Server) Thaw() error {
	var errs []error
	for i := len(s.frozen) - 1; i >= 0; i-- {
		if err := syscall.Kill(s.frozen[i], syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("SIGCONT %d: %w", s.frozen[i], err))
		}
	}
	s.frozen = nil
	return errors.Join(errs...)
}

// mainPID is CrateDB's JVM (scripts/cratedb.sh pid) or PostgreSQL's
// postmaster (the first line of postmaster.pid).
func (s *Server) mainPID() (int, error) {
	var text []byte
	var err error
	if s.db == CrateDB {
		text, err = s.command("pid").Output()
	} else {
		text, err = os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	}
	if err != nil {
		return 0, fmt.Errorf("%s's pid: %w (is it running?)", s.db, err)
	}
	first, _, _ := bytes.Cut(text, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(first)))
	if err != nil || !Alive(pid) {
		return 0, fmt.Errorf("%s's pid %q: not a running process", s.db, first)
	}
	return pid, nil
}

// children lists the processes whose parent is pid (a postmaster's
// backends and auxiliary processes; none for CrateDB's JVM).
func (s *Server) children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, parent := ProcStat(p); parent == pid {
			out = append(out, p)
		}
	}
	return out
}

// waitGone waits until none of pids runs; false on timeout.
func waitGone(timeout time.Duration, pids ...int) bool {
	deadline := time.Now().Add(timeout)
	for {
		running := false
		for _, p := range pids {
			running = running || Alive(p)
		}
		if !running {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alive reports whether the process exists and is not a zombie: a killed
// process orphaned by its starter may wait a while for init to reap it.
func Alive(pid int) bool {
	state, _ := ProcStat(pid)
	return state != "" && state != "Z"
}

// ProcStat reads a process's state and parent pid from /proc.
func ProcStat(pid int) (state string, parent int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 2 {
		return "", 0
	}
	parent, _ = strconv.Atoi(fields[1])
	return fields[0], parent
}
