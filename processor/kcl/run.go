package kcl

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Run serves the daemon on the process's stdin and stdout until the daemon
// ends the conversation (see Process.Run).
//
// Before it starts it moves the real stdout to a private file descriptor and
// points descriptor 1 at stderr, so a stray fmt.Println anywhere in the
// program cannot corrupt the protocol. It ignores SIGINT and SIGTERM (the
// daemon drives shutdown) and SIGPIPE (a vanished daemon shows up as a write
// error instead of killing the process).
func Run(ctx context.Context, p RecordProcessor) error {
	return (&Process{Processor: p}).Serve(ctx)
}

// Serve is Run for a Process with settings of its own (PartBytes, …): it
// guards stdout and signals as Run does, then runs p on the process's stdin
// and stdout. In and Out are ignored; Err defaults to os.Stderr.
func (p *Process) Serve(ctx context.Context) error {
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	out, err := reserveStdout()
	if err != nil {
		return err
	}
	defer out.Close()
	p.In, p.Out = os.Stdin, out
	return p.Run(ctx)
}

// reserveStdout returns a private handle on the original stdout and makes
// descriptor 1 (and os.Stdout) refer to stderr from then on.
func reserveStdout() (*os.File, error) {
	fd, err := syscall.Dup(int(os.Stdout.Fd()))
	if err != nil {
		return nil, fmt.Errorf("kcl: duplicating stdout: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := dup2(int(os.Stderr.Fd()), int(os.Stdout.Fd())); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("kcl: redirecting stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "kcl-protocol"), nil
}
