// Command kcl-bench plays the Java MultiLangDaemon's side of the KCL
// multilang protocol against any child command and measures it:
//
//	kcl-bench [flags] -- <child argv...>
//	kcl-bench null-child        (a minimal child that only answers statuses)
//	kcl-bench pgx-bulk [flags]  (the same rows COPYed straight into PostgreSQL)
//	kcl-bench e2e [flags]       (through the real daemon and the local stack)
//
// A child run sends initialize, a stream of pre-encoded processRecords batches,
// shutdownRequested (the child should checkpoint) and leaseLost, closes the
// child's stdin and reports throughput, batch latency and the child's
// resource usage. It exits non-zero on any protocol violation.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
)

type config struct {
	name       string
	records    int
	size       int
	batch      int
	seed       int64
	subRecords int
	format     string
	shard      string
	jsonOut    string
	stderrPath string
	timeout    time.Duration
	exitWait   time.Duration
	child      []string
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "null-child":
			if err := nullChild(os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "null-child:", err)
				os.Exit(1)
			}
			return
		case "pgx-bulk":
			os.Exit(mainPgxBulk(os.Args[2:]))
		case "e2e":
			os.Exit(mainE2E(os.Args[2:]))
		}
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg)
	if res != nil {
		printTable(os.Stdout, res)
		if cfg.jsonOut != "" {
			if werr := writeJSON(cfg.jsonOut, res); werr != nil {
				fmt.Fprintln(os.Stderr, "kcl-bench:", werr)
				os.Exit(1)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench:", err)
		os.Exit(1)
	}
	if res.Violations > 0 {
		fmt.Fprintf(os.Stderr, "kcl-bench: %d protocol violations\n", res.Violations)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("kcl-bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kcl-bench [flags] -- <child argv...>\n       kcl-bench null-child\n"+
			"       kcl-bench pgx-bulk --help\n       kcl-bench e2e --help")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.name, "name", "", "label of this run in the result (default: the child's argv[0])")
	fs.IntVar(&cfg.records, "records", 200000, "records to send")
	fs.IntVar(&cfg.size, "size", 1024, "JSON payload bytes per record")
	fs.IntVar(&cfg.batch, "batch", 10000, "records per processRecords message (KCL's maxRecords)")
	fs.Int64Var(&cfg.seed, "seed", 1, "record generator seed")
	fs.IntVar(&cfg.subRecords, "sub-records", 0, "records sharing one sequence number, as after KPL de-aggregation (0: none)")
	fs.StringVar(&cfg.format, "format", "json", "record payloads: json (order events) or dynamodb-cdc (a DynamoDB change stream: INSERT, MODIFY, REMOVE)")
	fs.StringVar(&cfg.shard, "shard", daemonsim.DefaultShardID, "shard id sent in initialize")
	fs.StringVar(&cfg.jsonOut, "json", "", "also write the result as JSON to this file")
	fs.StringVar(&cfg.stderrPath, "child-stderr", "", "write the child's stderr to this file instead of ours")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "abort the whole run after this long")
	fs.DurationVar(&cfg.exitWait, "exit-timeout", 30*time.Second, "how long the child may take to exit after stdin EOF")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.child = fs.Args()
	switch {
	case len(cfg.child) == 0:
		return cfg, errors.New("no child command: kcl-bench [flags] -- <child argv...>")
	case cfg.records <= 0 || cfg.batch <= 0 || cfg.size <= 0:
		return cfg, errors.New("--records, --batch and --size must be positive")
	case cfg.format != "json" && cfg.format != "dynamodb-cdc":
		return cfg, fmt.Errorf("--format %q: must be json or dynamodb-cdc", cfg.format)
	}
	if cfg.name == "" {
		cfg.name = cfg.child[0]
	}
	return cfg, nil
}

// Result is what one run measured; its JSON form is read by
// scripts/bench/report.py.
type Result struct {
	Name           string   `json:"name"`
	Format         string   `json:"format,omitempty"`
	Child          []string `json:"child"`
	Records        int      `json:"records"`
	RecordSize     int      `json:"record_size"`
	BatchSize      int      `json:"batch_size"`
	Batches        int      `json:"batches"`
	InputBytes     int64    `json:"input_bytes"`
	StartupSeconds float64  `json:"startup_s"`
	// WallSeconds runs from the first processRecords line to the status
	// of shutdownRequested: a pipelining child stores its last batch after
	// that batch's status, and checkpoints only when it is stored.
	WallSeconds float64 `json:"wall_s"`
	// StreamSeconds ends at the last processRecords status (the clock of
	// earlier reports).
	StreamSeconds   float64   `json:"stream_s"`
	RecordsPerSec   float64   `json:"records_per_s"`
	MBPerSec        float64   `json:"mb_per_s"`
	LatencyMs       Latencies `json:"batch_latency_ms"`
	ShutdownSeconds float64   `json:"shutdown_s"`
	PeakRSSMiB      float64   `json:"child_peak_rss_mib"`
	CPUSeconds      float64   `json:"child_cpu_s"`
	ExitCode        int       `json:"child_exit_code"`
	Checkpoints     int       `json:"checkpoints"`
	LastCheckpoint  string    `json:"last_checkpoint"`
	CheckpointAtEnd bool      `json:"checkpoint_at_end"`
	Violations      int       `json:"violations"`
	ViolationLines  []string  `json:"violation_samples,omitempty"`
	Error           string    `json:"error,omitempty"`
	StartedAt       time.Time `json:"started_at"`
}

// Latencies are batch round trips: from writing a processRecords line to
// reading its status.
type Latencies struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func run(ctx context.Context, cfg config) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	records, err := daemonsim.Generator{Seed: cfg.seed, Size: cfg.size, SubRecords: cfg.subRecords}.Records(cfg.records)
	if err != nil {
		return nil, err
	}
	if cfg.format == "dynamodb-cdc" {
		dynamoChangeStream(records, cfg.seed, cfg.size)
	}
	zero := int64(0)
	batches := daemonsim.Batches(records, cfg.batch, &zero)
	records = nil // only the encoded lines are needed from here on
	runtime.GC()  // so that collecting them does not land in the timed stream
	res := &Result{Name: cfg.name, Format: cfg.format, Child: cfg.child, Records: cfg.records, RecordSize: cfg.size, BatchSize: cfg.batch,
		Batches: len(batches), StartedAt: time.Now().UTC()}
	for _, b := range batches {
		res.InputBytes += int64(len(b.Line))
	}
	stderr, closeStderr, err := stderrSink(cfg.stderrPath)
	if err != nil {
		return nil, err
	}
	defer closeStderr()
	d := daemonsim.Daemon{Stderr: stderr, ExitTimeout: cfg.exitWait}
	err = session(ctx, d, cfg, batches, res)
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

// session runs the child through a whole lease and fills res, also when it
// fails half-way.
func session(ctx context.Context, d daemonsim.Daemon, cfg config, batches []daemonsim.Batch, res *Result) (err error) {
	began := time.Now()
	var peakRSS float64 // MiB
	child, err := d.Start(ctx, cfg.child, nil, "")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = child.Kill()
		}
		exit, cerr := child.Close()
		res.ShutdownSeconds = exit.Duration.Seconds()
		res.PeakRSSMiB = float64(exit.MaxRSS) / (1 << 20)
		if peakRSS > 0 {
			res.PeakRSSMiB = peakRSS
		}
		res.CPUSeconds = exit.CPU().Seconds()
		res.ExitCode = exit.Code
		res.Checkpoints = child.CheckpointRequests()
		if last, ok := child.LastCheckpoint(); ok {
			res.LastCheckpoint = last.Sequence
			res.CheckpointAtEnd = last.Compare(batches[len(batches)-1].Largest) >= 0
		}
		for _, v := range child.Violations() {
			res.Violations++
			if len(res.ViolationLines) < 5 {
				res.ViolationLines = append(res.ViolationLines, v.Reason+": "+v.Line)
			}
		}
		if err == nil && cerr != nil {
			err = cerr
		}
	}()
	trim := daemonsim.SentinelTrimHorizon
	zero := int64(0)
	if err := child.Initialize(ctx, cfg.shard, &trim, &zero); err != nil {
		return err
	}
	res.StartupSeconds = time.Since(began).Seconds()
	lat := make([]time.Duration, 0, len(batches))
	streamStart := time.Now()
	for i, b := range batches {
		t0 := time.Now()
		if err := child.SendBatch(ctx, b); err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
	}
	res.StreamSeconds = time.Since(streamStart).Seconds()
	res.LatencyMs = latencies(lat)
	// The clock stops at shutdownRequested's status: by then every record
	// is stored and checkpointed.
	if err := child.ShutdownRequested(ctx); err != nil {
		return err
	}
	wall := time.Since(streamStart)
	res.WallSeconds = wall.Seconds()
	res.RecordsPerSec = float64(res.Records) / wall.Seconds()
	res.MBPerSec = float64(res.InputBytes) / 1e6 / wall.Seconds()
	// The child exits as soon as it has answered leaseLost, and a zombie
	// has no VmHWM any more: read it now. (daemonsim reads it in Close,
	// after leaseLost, and then falls back to ru_maxrss, which on Linux
	// reports this driver's own high-water mark.)
	if peak, n := childrenPeakRSS(os.Getpid()); n == 1 && peak > 0 {
		peakRSS = peak
	}
	return child.LeaseLost(ctx)
}

func stderrSink(path string) (io.Writer, func(), error) {
	if path == "" {
		return os.Stderr, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("child stderr file: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

func writeJSON(path string, res any) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func mainPgxBulk(args []string) int {
	cfg, err := parsePgxBulkFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench pgx-bulk:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := pgxBulk(ctx, cfg)
	if res != nil {
		if err != nil {
			res.Error = err.Error()
		}
		printBulk(os.Stdout, res)
		if cfg.jsonOut != "" {
			if werr := writeJSON(cfg.jsonOut, res); werr != nil {
				fmt.Fprintln(os.Stderr, "kcl-bench pgx-bulk:", werr)
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench pgx-bulk:", err)
		return 1
	}
	return 0
}

func mainE2E(args []string) int {
	cfg, err := parseE2EFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench e2e:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := e2e(ctx, cfg)
	if res != nil {
		if err != nil {
			res.Error = err.Error()
		}
		printE2E(os.Stdout, res)
		if cfg.jsonOut != "" {
			if werr := writeJSON(cfg.jsonOut, res); werr != nil {
				fmt.Fprintln(os.Stderr, "kcl-bench e2e:", werr)
				return 1
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcl-bench e2e:", err)
		return 1
	}
	return 0
}
