package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/leasetable"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logtext"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/status"
	"github.com/rs/zerolog"
)

// progressSource reads the progress table for status and the exporter. It
// connects on first use, and again after a failed attempt, so that the
// exporter and status --watch start while the database is down and recover
// when it is back. Its errors never carry the database's password.
type progressSource struct {
	url string
	cfg sink.Config

	mu sync.Mutex
	r  *sink.ProgressReader
}

func newProgressSource(s config.Settings, log zerolog.Logger) *progressSource {
	return &progressSource{url: s.DatabaseURL, cfg: sink.Config{
		Table: s.Table, DeadLetterTable: s.DeadLetterTable, ProgressTable: s.ProgressTable, Logger: log,
		// A look answers soon, or says the database cannot be reached.
		Retry:          sink.RetryPolicy{InitialBackoff: 200 * time.Millisecond, MaxBackoff: time.Second, MaxWait: 5 * time.Second},
		AttemptTimeout: 5 * time.Second,
	}}
}

// Read implements status.ProgressSource.
func (p *progressSource) Read(ctx context.Context) (sink.ProgressSnapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.r == nil {
		r, err := sink.OpenProgress(ctx, p.url, p.cfg)
		if err != nil {
			return sink.ProgressSnapshot{}, p.hide(err)
		}
		p.r = r
	}
	snap, err := p.r.Read(ctx)
	return snap, p.hide(err)
}

func (p *progressSource) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.r != nil {
		p.r.Close()
	}
}

// hide takes the password out of err's text.
func (p *progressSource) hide(err error) error {
	if err == nil {
		return nil
	}
	return &hiddenError{text: config.HidePassword(err.Error(), p.url), err: err}
}

// hiddenError is an error whose text has no secret; errors.Is and As still
// see the original.
type hiddenError struct {
	text string
	err  error
}

func (e *hiddenError) Error() string { return e.text }
func (e *hiddenError) Unwrap() error { return e.err }

// openReader is the status reader the settings and the command line
// describe, for status and the exporter, with a logger on stderr at level.
// code is non-zero when the settings have no database to read.
func openReader(s config.Settings, inv invocation, stderr io.Writer, level zerolog.Level) (r *status.Reader, log zerolog.Logger, closeFn func(), code int) {
	if s.Mode != config.ModeWrite {
		fmt.Fprintf(stderr, "kinesis-cratedb: %s needs a database (sink.mode = write): the progress table is where the shards report\n", inv.command)
		return nil, log, nil, exitConfig
	}
	log = zerolog.New(logtext.New(stderr)).Level(level).With().Timestamp().Logger()
	src := newProgressSource(s, log)
	leases, why := leaseReader(s, log)
	r = &status.Reader{Progress: src, Leases: leases, NoLeases: why, Thresholds: status.Thresholds{Stale: inv.stale, MaxBehind: inv.maxBehind}}
	return r, log, src.Close, 0
}

// leaseReader reads the daemon's lease table (applicationName) where the
// daemon does; nil, and why, when the settings name none. A lease table
// that cannot be reached is no reason to stop: status and the exporter
// then show the progress table alone and say why.
func leaseReader(s config.Settings, log zerolog.Logger) (status.LeaseReader, string) {
	if s.ApplicationName == "" {
		return nil, "no applicationName in the properties file"
	}
	c, err := dynamoClient(s, log)
	if err != nil {
		return nil, err.Error()
	}
	// A look waits for the leases briefly: they are extra.
	c.Retry = dynamodb.Retry{MaxAttempts: 2, AttemptTimeout: 5 * time.Second}
	return &leasetable.Reader{Client: c, Table: s.ApplicationName}, ""
}
