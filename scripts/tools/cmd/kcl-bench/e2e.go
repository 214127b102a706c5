package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// e2eConfig is the "e2e" subcommand: records published to kinesis-mock go
// through the real Java daemon and our child into PostgreSQL.
type e2eConfig struct {
	name       string
	kinesis    string
	dynamo     string
	database   string
	repo       string
	child      string
	table      string
	logDir     string
	jsonOut    string
	shards     int
	records    int
	latRecords int
	latRate    float64
	size       int
	seed       int64
	maxRecords int
	poll       time.Duration
	timeout    time.Duration
	watch      []watchSpec
	extra      []string
}

// watchSpec names a process whose CPU is sampled over the throughput phase.
type watchSpec struct{ name, pidFile string }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseE2EFlags(args []string) (e2eConfig, error) {
	var c e2eConfig
	var watch, extra multiFlag
	fs := flag.NewFlagSet("kcl-bench e2e", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kcl-bench e2e --kinesis URL --dynamodb URL --database URL [flags]\n\n"+
			"Creates a stream and a pre-seeded lease table, starts the real MultiLangDaemon\n"+
			"(scripts/launch.sh) with our child writing to --table, then publishes records with\n"+
			"PutRecords in two phases: --latency-records at --latency-rate (PutRecords-to-visible\n"+
			"latency), and --records as fast as possible (end-to-end rate). A record is visible\n"+
			"when a poller finds its row by primary key.")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.name, "name", "e2e", "label of this run in the result")
	fs.StringVar(&c.kinesis, "kinesis", os.Getenv("KINESIS_ENDPOINT"), "Kinesis endpoint (default $KINESIS_ENDPOINT)")
	fs.StringVar(&c.dynamo, "dynamodb", os.Getenv("DYNAMODB_ENDPOINT"), "DynamoDB endpoint (default $DYNAMODB_ENDPOINT)")
	fs.StringVar(&c.database, "database", os.Getenv("BENCH_DATABASE_URL"), "PostgreSQL URL (default $BENCH_DATABASE_URL)")
	fs.StringVar(&c.repo, "repo", ".", "repository root (scripts/launch.sh, jars/lib, properties/logback.xml)")
	fs.StringVar(&c.child, "child", "bin/kinesis-cratedb", "our child binary (relative to --repo)")
	fs.StringVar(&c.table, "table", "public.bench_e2e", "target table; it must not hold rows")
	fs.StringVar(&c.logDir, "log-dir", "", "properties, daemon and child logs go here (default: a temporary directory)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the result as JSON to this file")
	fs.IntVar(&c.shards, "shards", 2, "shards of the stream (one child each)")
	fs.IntVar(&c.records, "records", 10000, "records of the throughput phase")
	fs.IntVar(&c.latRecords, "latency-records", 1000, "records of the latency phase")
	fs.Float64Var(&c.latRate, "latency-rate", 100, "records/s of the latency phase (keep it below the stack's capacity)")
	fs.IntVar(&c.size, "size", 1024, "JSON payload bytes per record")
	fs.Int64Var(&c.seed, "seed", 1, "record generator seed")
	fs.IntVar(&c.maxRecords, "max-records", 1000, "the daemon's maxRecords (kinesis-mock drops HTTP/2 connections on large GetRecords)")
	fs.DurationVar(&c.poll, "poll", 20*time.Millisecond, "pause between visibility polls")
	fs.DurationVar(&c.timeout, "timeout", 20*time.Minute, "abort the whole run after this long")
	fs.Var(&watch, "watch", "NAME=PIDFILE: also report the CPU of that process and its children over the throughput phase (repeatable)")
	fs.Var(&extra, "property", "extra line for the properties file, e.g. 'sink.batchMaxRecords = 1000' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, w := range watch {
		name, file, ok := strings.Cut(w, "=")
		if !ok || name == "" || file == "" {
			return c, fmt.Errorf("--watch %q: want NAME=PIDFILE", w)
		}
		c.watch = append(c.watch, watchSpec{name, file})
	}
	c.extra = extra
	switch {
	case c.kinesis == "" || c.dynamo == "" || c.database == "":
		return c, errors.New("--kinesis, --dynamodb and --database (or their environment variables) are required")
	case c.records <= 0 || c.latRecords < 0 || c.latRate <= 0 || c.shards <= 0 || c.size <= 0:
		return c, errors.New("--records, --shards, --size and --latency-rate must be positive")
	}
	return c, nil
}

// E2EResult is what the e2e subcommand measured; report.py reads its JSON.
type E2EResult struct {
	Name           string  `json:"name"`
	Shards         int     `json:"shards"`
	RecordSize     int     `json:"record_size"`
	MaxRecords     int     `json:"daemon_max_records"`
	StartupSeconds float64 `json:"startup_s"` // daemon launch to the first records visible
	PollMs         float64 `json:"poll_interval_ms"`
	Latency        struct {
		Records   int       `json:"records"`
		Rate      float64   `json:"rate_per_s"` // asked for
		PutMs     Latencies `json:"put_ms"`     // PutRecords call duration
		VisibleMs Latencies `json:"visible_ms"` // PutRecords call start to row visible
	} `json:"latency"`
	Throughput struct {
		Records         int                 `json:"records"`
		PublishSeconds  float64             `json:"publish_s"`
		PublishPerSec   float64             `json:"publish_records_per_s"` // PutRecords alone
		EndToEndSeconds float64             `json:"end_to_end_s"`          // first PutRecords to last row visible
		RecordsPerSec   float64             `json:"records_per_s"`
		DrainSeconds    float64             `json:"drain_s"` // last PutRecords to last row visible
		VisibleMs       Latencies           `json:"visible_ms"`
		CPU             map[string]CPUShare `json:"cpu"`
		ChildPeakRSSMiB float64             `json:"child_peak_rss_mib"`
		ChildrenSeen    int                 `json:"children"`
	} `json:"throughput"`
	Rows      int64     `json:"rows"`
	LogDir    string    `json:"log_dir"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// CPUShare is CPU time over a phase and the cores that means on average.
type CPUShare struct {
	Seconds float64 `json:"cpu_s"`
	Cores   float64 `json:"cores"`
}

func e2e(ctx context.Context, c e2eConfig) (*E2EResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res := &E2EResult{Name: c.name, Shards: c.shards, RecordSize: c.size, MaxRecords: c.maxRecords,
		PollMs: float64(c.poll.Microseconds()) / 1000, StartedAt: time.Now().UTC()}
	repo, err := filepath.Abs(c.repo)
	if err != nil {
		return nil, err
	}
	if c.logDir == "" {
		if c.logDir, err = os.MkdirTemp("", "kcl-bench-e2e-"); err != nil {
			return nil, err
		}
	}
	if c.logDir, err = filepath.Abs(c.logDir); err != nil {
		return nil, err
	}
	res.LogDir = c.logDir
	// Warm-up records, latency phase, throughput phase: one generated set,
	// so every payload is distinct.
	warm := 2 * c.shards
	records, err := daemonsim.Generator{Seed: c.seed, Size: c.size}.Records(warm + c.latRecords + c.records)
	if err != nil {
		return nil, err
	}
	ep := localaws.Endpoints{Kinesis: c.kinesis, DynamoDB: c.dynamo}
	kc, err := ep.KinesisClient(ctx)
	if err != nil {
		return nil, err
	}
	dc, err := ep.DynamoDBClient(ctx)
	if err != nil {
		return nil, err
	}
	app := fmt.Sprintf("bench-e2e-%d", time.Now().UnixNano()%1e9)
	stream := app + "-stream"
	if err := localaws.CreateStream(ctx, kc, stream, int32(c.shards)); err != nil {
		return nil, err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer ccancel()
		_ = localaws.DeleteStream(cctx, kc, stream)
		_ = localaws.DeleteLeaseTables(cctx, dc, app)
	}()
	// A pre-created lease table (with the index dynalite cannot add), KCL's
	// side tables and seeded leases, as the end-to-end tests do.
	if err := localaws.CreateLeaseTable(ctx, dc, app); err != nil {
		return nil, err
	}
	if err := localaws.CreateCoordinatorTables(ctx, dc, app); err != nil {
		return nil, err
	}
	if _, err := localaws.SeedLeases(ctx, dc, kc, app, stream, "TRIM_HORIZON"); err != nil {
		return nil, err
	}
	props, err := writeE2EProperties(c, repo, app, stream)
	if err != nil {
		return nil, err
	}
	child := c.child
	if !filepath.IsAbs(child) {
		child = filepath.Join(repo, child)
	}
	// The child's own DDL creates the table, so the layout is the sink's.
	if out, err := exec.CommandContext(ctx, child, "check", "--properties", props).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s check: %v: %s", child, err, out)
	}
	conn, err := pgx.Connect(ctx, c.database)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	table := pgx.Identifier(strings.Split(c.table, "."))
	if err := expectEmpty(ctx, conn, table, false); err != nil {
		return nil, err
	}

	tr := newTracker()
	d, err := startDaemon(ctx, repo, props, filepath.Join(c.logDir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	defer d.stop()
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() { pollDone <- tr.poll(pollCtx, conn, table, c.poll) }()
	defer func() { stopPoll(); <-pollDone }()
	pub := publisher{kc: kc, stream: stream}

	wait := func(phase string, n int, extra time.Duration) error {
		wctx, wcancel := context.WithTimeout(ctx, extra)
		defer wcancel()
		if err := tr.waitVisible(wctx, n, d.exited); err != nil {
			return fmt.Errorf("%s: %w (daemon log: %s)", phase, err, d.log)
		}
		return nil
	}

	// Warm-up: the daemon takes its leases and starts the children.
	if _, err := pub.publish(ctx, tr, records[:warm], 0); err != nil {
		return res, err
	}
	if err := wait("warm-up", warm, 3*time.Minute); err != nil {
		return res, err
	}
	res.StartupSeconds = time.Since(d.started).Seconds()

	// Latency at a rate the stack sustains.
	lat := records[warm : warm+c.latRecords]
	if len(lat) > 0 {
		if _, err := pub.publish(ctx, tr, lat, c.latRate); err != nil {
			return res, err
		}
		if err := wait("latency phase", warm+len(lat), 2*time.Minute); err != nil {
			return res, err
		}
		res.Latency.Records = len(lat)
		res.Latency.Rate = c.latRate
		res.Latency.PutMs, res.Latency.VisibleMs = tr.phaseLatencies(warm, warm+len(lat))
	}

	// Throughput: publish as fast as kinesis-mock accepts, measure until the
	// last row is visible, and what each process spent meanwhile.
	first := warm + len(lat)
	cpu0 := sampleCPU(c.watch, d.pid())
	start := time.Now()
	pubElapsed, err := pub.publish(ctx, tr, records[first:], 0)
	if err != nil {
		return res, err
	}
	pubEnd := time.Now()
	if err := wait("throughput phase", len(records), c.timeout); err != nil {
		return res, err
	}
	last := tr.lastVisible()
	cpu1 := sampleCPU(c.watch, d.pid())
	wall := last.Sub(start)
	tp := &res.Throughput
	tp.Records = len(records) - first
	tp.PublishSeconds = pubElapsed.Seconds()
	tp.PublishPerSec = float64(tp.Records) / pubElapsed.Seconds()
	tp.EndToEndSeconds = wall.Seconds()
	tp.RecordsPerSec = float64(tp.Records) / wall.Seconds()
	tp.DrainSeconds = last.Sub(pubEnd).Seconds()
	_, tp.VisibleMs = tr.phaseLatencies(first, len(records))
	tp.CPU = cpuShares(cpu0, cpu1, time.Since(start))
	tp.ChildPeakRSSMiB, tp.ChildrenSeen = childrenPeakRSS(d.pid())

	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table.Sanitize()).Scan(&res.Rows); err != nil {
		return res, err
	}
	if res.Rows != int64(len(records)) {
		return res, fmt.Errorf("%d rows in %s after %d records", res.Rows, table.Sanitize(), len(records))
	}
	return res, nil
}

func writeE2EProperties(c e2eConfig, repo, app, stream string) (string, error) {
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return "", err
	}
	props := filepath.Join(c.logDir, "e2e.properties")
	child := c.child
	if !filepath.IsAbs(child) {
		child = filepath.Join(repo, child)
	}
	lines := []string{
		"executableName = " + child + " --properties " + props,
		"applicationName = " + app,
		"streamName = " + stream,
		"regionName = " + localaws.DefaultRegion,
		"kinesisEndpoint = " + c.kinesis,
		"dynamoDBEndpoint = " + c.dynamo,
		"AwsCredentialsProvider = DefaultCredentialsProvider",
		"retrievalMode = POLLING",
		fmt.Sprintf("maxRecords = %d", c.maxRecords),
		"idleTimeBetweenReadsInMillis = 200",
		"initialPositionInStream = TRIM_HORIZON",
		"metricsLevel = NONE",
		"disableWorkerMetrics = true",
		"failoverTimeMillis = 10000",
		"leaseAssignmentIntervalMillis = 2000",
		"shardSyncIntervalMillis = 10000",
		"shutdownGraceMillis = 30000",
		"sink.databaseUrl = " + c.database,
		"sink.table = " + c.table,
		"sink.logFile = " + filepath.Join(c.logDir, "record_processor.log"),
	}
	lines = append(lines, c.extra...)
	return props, os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// daemonProc is the running MultiLangDaemon JVM, in its own process group.
type daemonProc struct {
	cmd     *exec.Cmd
	log     string
	started time.Time
	exited  chan struct{}
}

// startDaemon launches the command line scripts/launch.sh prints, from the
// repository root, as a user would.
func startDaemon(ctx context.Context, repo, props, logPath string) (*daemonProc, error) {
	out, err := exec.CommandContext(ctx, "sh", filepath.Join(repo, "scripts/launch.sh"), "--print_command",
		"--properties", props, "--log-configuration", filepath.Join(repo, "properties/logback.xml")).Output()
	if err != nil {
		return nil, fmt.Errorf("launch.sh: %w", err)
	}
	argv := strings.Fields(string(out))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+localaws.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+localaws.DummySecretAccessKey, "AWS_REGION="+localaws.DefaultRegion)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	d := &daemonProc{cmd: cmd, log: logPath, started: time.Now(), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(d.exited) }()
	return d, nil
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

// stop shuts the daemon down gracefully (SIGTERM: children get
// shutdownRequested) and kills its whole process group if that takes more
// than a minute.
func (d *daemonProc) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
	}
}

// publisher sends records with PutRecords, 500 per call (the API maximum)
// or, with a rate, in small calls ten times a second.
type publisher struct {
	kc     *kinesis.Client
	stream string
}

func (p publisher) publish(ctx context.Context, tr *tracker, recs []daemonsim.Record, rate float64) (time.Duration, error) {
	per := localaws.MaxBatch
	if rate > 0 {
		per = max(1, min(per, int(rate/10)))
	}
	start := time.Now()
	for sent := 0; sent < len(recs); sent += per {
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(wait):
				}
			}
		}
		if err := p.put(ctx, tr, recs[sent:min(sent+per, len(recs))]); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// put sends one batch, and again the entries PutRecords reports as failed.
func (p publisher) put(ctx context.Context, tr *tracker, recs []daemonsim.Record) error {
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 10 {
			return fmt.Errorf("put: %d records still failing after 10 attempts", len(pending))
		}
		entries := make([]types.PutRecordsRequestEntry, len(pending))
		for i, j := range pending {
			entries[i] = types.PutRecordsRequestEntry{Data: recs[j].Data, PartitionKey: aws.String(recs[j].PartitionKey)}
		}
		t0 := time.Now()
		out, err := p.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &p.stream, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		t1 := time.Now()
		if len(out.Records) != len(entries) {
			return fmt.Errorf("put records: %d results for %d records", len(out.Records), len(entries))
		}
		var failed []int
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, pending[i])
				continue
			}
			tr.add(aws.ToString(r.ShardId), aws.ToString(r.SequenceNumber), t0, t1)
		}
		pending = failed
		if len(pending) > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
	}
	return nil
}
