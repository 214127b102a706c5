package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// tombstoneMargin is added to the stream's retention and the observed lag
// before a tombstone may go: clocks and the lag's last report are not exact.
const tombstoneMargin = time.Hour

// retention drops the partitions past sink.retention and purges the
// tombstones no older change can pass any more. It only deletes what is
// past both horizons, so running it from cron, twice, or on several hosts
// at once is safe.
func retention(ctx context.Context, s config.Settings, dryRun bool, out io.Writer, log zerolog.Logger) int {
	if s.Mode != config.ModeWrite || s.CDC == nil {
		fmt.Fprintln(os.Stderr, "kinesis-cratedb: retention needs a database (sink.mode = write) and a table with sink.columns or a change format")
		return exitConfig
	}
	w, err := sink.OpenChanges(ctx, s.DatabaseURL, sinkConfig(s, log), s.CDC.Tables())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	defer w.Close()
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	now := time.Now().UTC()
	if s.Retention > 0 {
		expired, err := w.Expire(ctx, now.Add(-s.Retention), dryRun)
		for _, e := range expired {
			fmt.Fprintf(out, "%s partition %s %s: %d rows\n", verb, e.Table, e.Start.Format(time.RFC3339), e.Rows)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kinesis-cratedb: retention: %v\n", err)
			return exitFailure
		}
	}
	lag, err := w.MaxLag(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: retention: %v\n", err)
		return exitFailure
	}
	horizon := now.Add(-s.StreamRetention - lag - tombstoneMargin)
	purged, err := w.PurgeTombstones(ctx, horizon, dryRun)
	for _, e := range purged {
		fmt.Fprintf(out, "%s %d tombstones of %s older than %s (stream retention %s + lag %s + %s)\n",
			verb, e.Rows, e.Table, horizon.Format(time.RFC3339), s.StreamRetention, lag.Round(time.Second), tombstoneMargin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: retention: %v\n", err)
		return exitFailure
	}
	return 0
}
