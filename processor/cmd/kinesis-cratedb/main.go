// Command kinesis-cratedb is the KCL MultiLang child that writes Kinesis
// records to CrateDB (or PostgreSQL). The daemon starts it once per shard:
//
//	executableName = bin/kinesis-cratedb --properties properties/record_processor.properties
//
// Other uses:
//
//	kinesis-cratedb check  --properties FILE          check settings, connect, create tables
//	kinesis-cratedb replay --properties FILE [--shard ID]   retry dead-lettered records
//	kinesis-cratedb status --properties FILE [--watch]      one line per shard; exit 2 when one is stale or behind
//	kinesis-cratedb exporter --properties FILE [--listen ADDR]   /metrics and /healthz
//	kinesis-cratedb backfill --properties FILE --dynamodb-table NAME   load a DynamoDB table's items
//
// kinesis-cratedb -h lists them. Exit codes: 0 done, 1 runtime failure
// (records are redelivered after the daemon restarts), 64 wrong command
// line, 78 invalid settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/ingest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logfile"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/logtext"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

const (
	exitFailure = 1
	exitAlert   = 2  // status: a shard needs someone
	exitUsage   = 64 // EX_USAGE
	exitConfig  = 78 // EX_CONFIG
)

// defaultMemoryLimit is the Go runtime's soft limit unless GOMEMLIMIT says
// otherwise; the daemon runs one child per shard. At full load a child
// holds two decoded batches (sink.pipeline: one being stored, the next one
// decoded; ~11 MB each for 10,000 1 KB records, reused through Release) and
// the rows of the chunk being written; the protocol line itself is never
// held (kcl decodes it as it streams in), and a batch larger than
// sink.batchMaxBytes is held in parts of that size. Without a limit the
// heap doubles past that before the collector runs. 54 MiB measured: peak
// RSS 53-58 MiB with 1 KB records into either database (scripts/bench).
const defaultMemoryLimit = 54 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	inv, code, ok := parseArgs(args, os.Stderr)
	if !ok {
		return code
	}
	if inv.command == "check" { // what the daemon makes of the file comes first: it starts before any child
		if code := checkDaemonProperties(inv.properties, os.Args[0], os.Stderr); code != 0 {
			return code
		}
	}
	settings, err := config.Load(inv.properties, os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitConfig
	}
	logFile := &logfile.File{Path: settings.LogFile, MaxBytes: int64(settings.LogMaxSizeMB) << 20, Backups: settings.LogMaxBackups}
	defer logFile.Close()
	log := newLogger(logtext.Select(settings.LogFormat, logFile), os.Stderr, settings.LogLevel)
	for _, w := range settings.Warnings {
		// stderr: the daemon copies it into its log, and check shows it.
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: warning: %s\n", w)
		log.Warn().Msg(w)
	}

	ctx := context.Background()
	switch inv.command {
	case "check":
		return check(ctx, settings, log)
	case "replay":
		return replay(ctx, settings, inv.shard, log)
	case "backfill":
		return runBackfill(ctx, settings, inv.backfill, inv.dryRun, log)
	case "retention":
		return retention(ctx, settings, inv.dryRun, os.Stdout, log)
	case "status":
		return showStatus(ctx, settings, inv, os.Stdout, os.Stderr)
	case "exporter":
		return export(ctx, settings, inv, os.Stderr)
	}
	return serve(ctx, settings, log)
}

// commands are what the binary does; the first, without a name, is what the
// daemon starts.
var commands = []struct{ name, args, what string }{
	{"", "--properties FILE", "the daemon's child for one shard: set executableName to this"},
	{"check", "--properties FILE", "check the settings, connect to the database, create the tables"},
	{"replay", "--properties FILE [--shard ID]", "write the dead-lettered records again (after a fix)"},
	{"backfill", "--properties FILE --dynamodb-table NAME", "load the items a DynamoDB table holds (sink.format = dynamodb-cdc)"},
	{"retention", "--properties FILE [--dry-run]", "drop partitions past sink.retention, purge old tombstones (cron-safe)"},
	{"status", "--properties FILE [--watch] [--stale D] [--max-behind D]", "one line per shard; exit 2 when a shard is stale or behind (cron, probes)"},
	{"exporter", "--properties FILE [--listen ADDR] [--stale D]", "serve /metrics (Prometheus) and /healthz from the progress table"},
}

// flagOwners names the commands a flag belongs to; nil: every command.
func flagOwners(name string) []string {
	switch name {
	case "shard":
		return []string{"replay"}
	case "dry-run":
		return []string{"retention", "backfill"}
	case "watch", "interval":
		return []string{"status"}
	case "stale", "max-behind":
		return []string{"status", "exporter"}
	case "listen":
		return []string{"exporter"}
	}
	return nil
}

// invocation is a parsed command line.
type invocation struct {
	command, properties, shard string
	dryRun                     bool
	watch                      bool
	interval, stale, maxBehind time.Duration
	listen                     string
	backfill                   backfillArgs
}

// parseArgs reads the command line. ok is false when the program should
// exit with code at once: help was asked for (0) or the line is wrong.
func parseArgs(args []string, stderr io.Writer) (inv invocation, code int, ok bool) {
	inv.command = "child"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		inv.command, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("kinesis-cratedb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&inv.properties, "properties", "", "the daemon's properties file, which also holds the sink.* settings")
	fs.StringVar(&inv.shard, "shard", "", "replay: only this shard's dead-lettered records")
	fs.BoolVar(&inv.dryRun, "dry-run", false, "retention: list what would be deleted, delete nothing; "+
		"backfill: count the items (Select=COUNT) and print the DDL, write nothing")
	inv.backfill.define(fs)
	fs.BoolVar(&inv.watch, "watch", false, "status: show it again every --interval until interrupted")
	fs.DurationVar(&inv.interval, "interval", 2*time.Second, "status --watch: time between two looks")
	fs.DurationVar(&inv.stale, "stale", 5*time.Minute, "status, exporter: a shard whose progress row is older is stale (0: never)")
	fs.DurationVar(&inv.maxBehind, "max-behind", 0, "status, exporter: a shard further behind the stream's tip is behind (0: not checked)")
	fs.StringVar(&inv.listen, "listen", "127.0.0.1:9108", "exporter: the address to serve on")
	fs.Usage = func() { usage(fs) }
	known := inv.command == "child"
	for _, c := range commands[1:] {
		known = known || c.name == inv.command
	}
	if !known {
		fmt.Fprintf(stderr, "kinesis-cratedb: unknown command %q\n", inv.command)
		fs.Usage()
		return inv, exitUsage, false
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return inv, 0, false
		}
		return inv, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kinesis-cratedb %s: unexpected argument %q\n", inv.command, fs.Arg(0))
		fs.Usage()
		return inv, exitUsage, false
	}
	var misplaced []string
	fs.Visit(func(f *flag.Flag) {
		if owners := flagOwners(f.Name); owners != nil && !slices.Contains(owners, inv.command) {
			misplaced = append(misplaced, fmt.Sprintf("--%s belongs to %s", f.Name, strings.Join(owners, " and ")))
		}
	})
	if len(misplaced) > 0 {
		fmt.Fprintf(stderr, "kinesis-cratedb: %s\n", strings.Join(misplaced, "; "))
		return inv, exitUsage, false
	}
	if msg := inv.backfill.check(fs, inv.command == "backfill"); msg != "" {
		fmt.Fprintf(stderr, "kinesis-cratedb: %s\n", msg)
		return inv, exitUsage, false
	}
	if inv.interval <= 0 || inv.stale < 0 || inv.maxBehind < 0 {
		fmt.Fprintf(stderr, "kinesis-cratedb: --interval must be positive, --stale and --max-behind not negative\n")
		return inv, exitUsage, false
	}
	return inv, 0, true
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: kinesis-cratedb [command] --properties FILE [flags]\n\ncommands:\n")
	for _, c := range commands {
		name := c.name
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(w, "  %-9s %-60s %s\n", name, c.args, c.what)
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nexit codes: 0 done, %d runtime failure (the daemon redelivers from the last checkpoint; status: the progress table cannot be read), "+
		"%d a shard stale or behind (status), %d wrong command line, %d invalid settings\n",
		exitFailure, exitAlert, exitUsage, exitConfig)
}

// newLogger logs to the file at the configured level and copies errors to
// stderr, which the daemon writes into its own log.
func newLogger(file io.Writer, stderr io.Writer, level zerolog.Level) zerolog.Logger {
	console := logtext.New(stderr) // one line per event, as the daemon logs each line
	w := zerolog.MultiLevelWriter(file, &zerolog.FilteredLevelWriter{
		Writer: zerolog.LevelWriterAdapter{Writer: console}, Level: zerolog.ErrorLevel,
	})
	return zerolog.New(w).Level(level).With().Timestamp().Int("pid", os.Getpid()).Logger()
}

func serve(ctx context.Context, s config.Settings, log zerolog.Logger) int {
	st, err := openStore(ctx, s, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot open the database sink")
		return exitFailure
	}
	defer st.close()
	p := &ingest.Processor{
		Store: st.Store, Progress: st.progress, Log: log,
		CheckpointInterval: s.CheckpointInterval,
		ProgressInterval:   s.ProgressInterval,
		Pipeline:           s.Pipeline,
		// One deadline per batch and action, so that the daemon's
		// timeoutInSeconds never runs out first (config derives it).
		BatchTimeout: s.RetryMaxWait,
		CheckpointRetry: kcl.Retry{OnRetry: func(attempt int, err error) {
			log.Warn().Err(err).Int("attempt", attempt).Msg("checkpoint retry")
		}},
	}
	// A batch larger than BatchMaxBytes reaches p in parts, so that the
	// child's memory does not follow the daemon's line.
	err = (&kcl.Process{Processor: p, PartBytes: s.BatchMaxBytes}).Serve(ctx)
	p.Close()
	if err != nil {
		log.Error().Err(err).Msg("stopping without acknowledging the current action; the daemon will redeliver from the last checkpoint")
		return exitFailure
	}
	return 0
}

// store is the one Store the settings choose, with what else its sink
// provides.
type store struct {
	ingest.Store
	progress ingest.ProgressSink
	dialect  fmt.Stringer // the database's, "discard" without one
	close    func()
}

// openStore chooses, once, where records go: plain rows or changes, into
// the database or nowhere (sink.mode = discard).
func openStore(ctx context.Context, s config.Settings, log zerolog.Logger) (store, error) {
	if s.Mode == config.ModeDiscard {
		st := store{progress: ingest.Discard{}, dialect: discardName{}, close: func() {}}
		st.Store = &ingest.Rows{Decoder: s.Decoder, Sink: ingest.Discard{}}
		if s.CDC != nil {
			st.Store = &ingest.Changes{Decoder: s.CDC, Sink: ingest.Discard{}}
		}
		return st, nil
	}
	cfg := sinkConfig(s, log)
	if s.CDC != nil {
		w, err := sink.OpenChanges(ctx, s.DatabaseURL, cfg, s.CDC.Tables())
		if err != nil {
			return store{}, err
		}
		return store{Store: &ingest.Changes{Decoder: s.CDC, Sink: w}, progress: w, dialect: w.Dialect(), close: w.Close}, nil
	}
	w, err := sink.Open(ctx, s.DatabaseURL, cfg)
	if err != nil {
		return store{}, err
	}
	return store{Store: &ingest.Rows{Decoder: s.Decoder, Sink: w}, progress: w, dialect: w.Dialect(), close: w.Close}, nil
}

// sinkConfig is the sink's part of the settings.
func sinkConfig(s config.Settings, log zerolog.Logger) sink.Config {
	return sink.Config{
		Table:           s.Table,
		DeadLetterTable: s.DeadLetterTable,
		ProgressTable:   s.ProgressTable,
		ObjectPolicy:    s.ObjectPolicy,
		CreateTables:    s.CreateTables,
		ChunkSize:       s.BatchMaxRecords,
		Logger:          log,
		Retry: sink.RetryPolicy{
			InitialBackoff: s.RetryInitialBackoff,
			MaxBackoff:     s.RetryMaxBackoff,
			MaxWait:        s.RetryMaxWait,
		},
	}
}

type discardName struct{}

func (discardName) String() string { return "discard" }

func check(ctx context.Context, s config.Settings, log zerolog.Logger) int {
	if s.Mode == config.ModeDiscard {
		fmt.Fprintln(os.Stderr, "settings ok (sink.mode = discard: no database)")
		return 0
	}
	if s.RetryMaxWait == 0 {
		s.RetryMaxWait = 15 * time.Second // a check answers, it does not wait for the database forever
	}
	st, err := openStore(ctx, s, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	defer st.close()
	fmt.Fprintf(os.Stderr, "settings ok: %s database, table %s\n", st.dialect, s.Table)
	return 0
}

func replay(ctx context.Context, s config.Settings, shard string, log zerolog.Logger) int {
	if s.Mode != config.ModeWrite {
		fmt.Fprintln(os.Stderr, "kinesis-cratedb: replay needs sink.mode = write")
		return exitConfig
	}
	st, err := openStore(ctx, s, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	defer st.close()
	res, err := st.Replay(ctx, sink.ReplayFilter{ShardID: shard})
	fmt.Fprintf(os.Stderr, "replayed: %+v\n", res)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: replay: %v\n", err)
		return exitFailure
	}
	return 0
}
