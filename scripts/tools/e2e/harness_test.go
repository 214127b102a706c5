// Package e2e runs the real Java MultiLangDaemon (KCL jars from Maven
// Central) against kinesis-mock and dynalite, with our Go children, and a
// real PostgreSQL and CrateDB for the sink (each database test runs on both,
// pgtest.Each). scripts/test.sh starts the services and sets the
// environment; without it the tests skip, except under CI=true where they
// fail.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

type stack struct {
	repo    string
	kinesis string
	dynamo  string
	kc      *kinesis.Client
	dc      *dynamodb.Client
}

func requireStack(t *testing.T) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	s := &stack{
		repo:    os.Getenv("REPO_ROOT"),
		kinesis: os.Getenv("KINESIS_ENDPOINT"),
		dynamo:  os.Getenv("DYNAMODB_ENDPOINT"),
	}
	if s.repo == "" || s.kinesis == "" || s.dynamo == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REPO_ROOT, KINESIS_ENDPOINT and DYNAMODB_ENDPOINT must be set under CI (run scripts/test.sh)")
		}
		t.Skip("local stack not running: run `make test` (scripts/test.sh)")
	}
	ctx := context.Background()
	ep := localaws.Endpoints{Kinesis: s.kinesis, DynamoDB: s.dynamo}
	var err error
	if s.kc, err = ep.KinesisClient(ctx); err != nil {
		t.Fatal(err)
	}
	if s.dc, err = ep.DynamoDBClient(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// newApp creates a fresh stream and lease table named after the test.
func (s *stack) newApp(t *testing.T, shards int32) (app, stream string) {
	t.Helper()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	// Short enough that the sink's table names (app + "_deadletter") stay
	// within PostgreSQL's 63-byte identifiers.
	name := strings.ToLower(strings.NewReplacer("/postgresql", "-pg", "/cratedb", "-crate", "/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 36 {
		name = name[:36]
	}
	app = "e2e-" + name + "-" + suffix
	stream = app + "-stream"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localaws.CreateStream(ctx, s.kc, stream, shards); err != nil {
		t.Fatal(err)
	}
	// A pre-created lease table (with the GSI dynalite cannot add), KCL's
	// side tables and seeded leases spare 40-80 s of KCL start-up waits.
	if err := localaws.CreateLeaseTable(ctx, s.dc, app); err != nil {
		t.Fatal(err)
	}
	if err := localaws.CreateCoordinatorTables(ctx, s.dc, app); err != nil {
		t.Fatal(err)
	}
	if _, err := localaws.SeedLeases(ctx, s.dc, s.kc, app, stream, "TRIM_HORIZON"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		localaws.DeleteStream(ctx, s.kc, stream)
		localaws.DeleteLeaseTables(ctx, s.dc, app)
	})
	return app, stream
}

// writeProperties writes a daemon properties file for the local stack.
func (s *stack) writeProperties(t *testing.T, dir, app, stream, executable string, extra ...string) string {
	t.Helper()
	lines := []string{
		"executableName = " + executable,
		"applicationName = " + app,
		// A stable workerId lets a restarted daemon reclaim its leases at
		// once; a new one waits about 2 minutes for KCL 3's leader lock.
		"workerId = " + app + "-worker",
		"streamName = " + stream,
		"regionName = us-east-1",
		"kinesisEndpoint = " + s.kinesis,
		"dynamoDBEndpoint = " + s.dynamo,
		"AwsCredentialsProvider = DefaultCredentialsProvider",
		"retrievalMode = POLLING",
		"maxRecords = 500",
		"idleTimeBetweenReadsInMillis = 200",
		"initialPositionInStream = TRIM_HORIZON",
		"metricsLevel = NONE",
		"disableWorkerMetrics = true",
		"failoverTimeMillis = 5000",
		"leaseAssignmentIntervalMillis = 2000",
		"shardSyncIntervalMillis = 2000",
		"parentShardPollIntervalMillis = 1000",
		"shutdownGraceMillis = 30000",
	}
	lines = append(lines, extra...)
	path := filepath.Join(dir, app+".properties")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// daemon is one running MultiLangDaemon JVM.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startDaemon launches the daemon with the command line scripts/launch.sh
// prints, as a user would with $(sh scripts/launch.sh ...).
func (s *stack) startDaemon(t *testing.T, props string) *daemon {
	t.Helper()
	out, err := exec.Command("sh", filepath.Join(s.repo, "scripts/launch.sh"), "--print_command",
		"--properties", props, "--log-configuration", filepath.Join(s.repo, "properties/logback.xml")).Output()
	if err != nil {
		t.Fatalf("launch.sh: %v", err)
	}
	argv := strings.Fields(string(out))
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.repo
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+localaws.DummyAccessKeyID, "AWS_SECRET_ACCESS_KEY="+localaws.DummySecretAccessKey, "AWS_REGION=us-east-1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("daemon log tail (%s):\n%s", logPath, tail(logPath, 60))
		}
	})
	return d
}

// stop asks for a graceful shutdown (SIGTERM, as Ctrl-C would) and waits.
func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err // for the next waiter (the cleanup's kill)
	case <-time.After(90 * time.Second):
		d.t.Fatal("daemon did not stop within 90 s of SIGTERM")
	}
}

// kill ends the daemon's whole process group, children included.
func (d *daemon) kill() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(10 * time.Second):
	}
}

// waitExit waits for the daemon to exit by itself.
func (d *daemon) waitExit(timeout time.Duration) error {
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(timeout):
		d.t.Fatalf("daemon still running after %s", timeout)
		return nil
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last state: %s)", timeout, what, state)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// seqLess compares two Kinesis sequence numbers as big integers.
func seqLess(a, b string) bool {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	if x == nil || y == nil {
		return a < b
	}
	return x.Cmp(y) < 0
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			lines = append(lines, string(line))
		}
	}
	return lines
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
