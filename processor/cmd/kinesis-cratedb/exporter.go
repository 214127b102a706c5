package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/exporter"
	"github.com/rs/zerolog"
)

// export serves /metrics and /healthz on --listen until interrupted. It
// starts whether or not the database can be reached (up is 0 meanwhile).
func export(ctx context.Context, s config.Settings, inv invocation, stderr io.Writer) int {
	// A service logs to stderr, which systemd or Kubernetes keep.
	r, log, closeReader, code := openReader(s, inv, stderr, zerolog.InfoLevel)
	if code != 0 {
		return code
	}
	defer closeReader()
	e := &exporter.Exporter{Looker: r, HasLeases: r.Leases != nil, Log: log}
	ln, err := net.Listen("tcp", inv.listen)
	if err != nil {
		fmt.Fprintf(stderr, "kinesis-cratedb: exporter: %v\n", err)
		return exitFailure
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	// The address line is for people and for tests that listen on port 0.
	log.Info().Str("address", "http://"+ln.Addr().String()).Str("table", s.Table).Str("database", config.Redact(s.DatabaseURL)).
		Msg("serving /metrics and /healthz")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "kinesis-cratedb: exporter: %v\n", err)
		return exitFailure
	}
	return 0
}
