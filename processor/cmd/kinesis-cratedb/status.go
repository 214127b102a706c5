package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
	"github.com/rs/zerolog"
)

// showStatus prints one line per shard, once or (--watch) every
// --interval until interrupted. Exit code: 0 every shard fine, exitAlert
// a shard stale or behind, exitFailure the progress table unreadable; with
// --watch, that of the last look.
func showStatus(ctx context.Context, s config.Settings, inv invocation, stdout, stderr io.Writer) int {
	// Only errors, on stderr: a status run by cron must not fill the log.
	r, _, closeReader, code := openReader(s, inv, stderr, zerolog.ErrorLevel)
	if code != 0 {
		return code
	}
	defer closeReader()
	if !inv.watch {
		return look(ctx, r, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	redraw := isTerminal(stdout)
	for {
		// The whole screen at once, so that it does not flicker.
		var screen bytes.Buffer
		if redraw {
			screen.WriteString("\x1b[H\x1b[2J")
		}
		fmt.Fprintf(&screen, "every %s: kinesis-cratedb status (Ctrl-C to stop)\n\n", inv.interval)
		code := look(ctx, r, &screen, &screen)
		if _, err := stdout.Write(screen.Bytes()); err != nil {
			return exitFailure
		}
		select {
		case <-ctx.Done():
			return code
		case <-time.After(inv.interval):
		}
	}
}

// look prints one report and returns its exit code.
func look(ctx context.Context, r *status.Reader, out, errOut io.Writer) int {
	rep, err := r.Read(ctx)
	if err != nil {
		fmt.Fprintf(errOut, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	if err := rep.WriteTable(out); err != nil {
		return exitFailure
	}
	if len(rep.Alerts()) > 0 {
		return exitAlert
	}
	return 0
}

// isTerminal reports whether w is a terminal, where --watch redraws the
// screen (elsewhere, a file or a pipe, it appends).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
