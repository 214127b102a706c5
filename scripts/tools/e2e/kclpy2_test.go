package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonconf"
	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

// TestE2EKclpy2File runs the real daemon with a properties file written
// the way kclpy 2.x users wrote theirs (processor/daemonconf/testdata/kclpy2.properties)
// and credentials in the SDK v1 variables older kclpy guides export,
// started the seed's way, $(sh scripts/launch.sh FILE):
//
//   - as written (only executableName changed), the daemon stops at
//     start-up on the SDK v1 provider name, as check says it will;
//   - with the lines check proposes written in, check accepts the file and
//     the daemon starts, gets AWS_ACCESS_KEY/AWS_SECRET_KEY through
//     launch.sh (no other credentials are reachable here), and records
//     published meanwhile reach our child and are checkpointed.
//
// The file's stream and application names become the test's, and the
// lines that point the daemon at the local emulators are appended; sink.mode
// is discard (this is about the daemon, not the database).
func TestE2EKclpy2File(t *testing.T) {
	s := requireStack(t)
	app, stream := s.newApp(t, 2)
	dir := t.TempDir()
	childLog := filepath.Join(dir, "record_processor.log")
	child := filepath.Join(s.repo, "bin/kinesis-cratedb")

	original, err := os.ReadFile(filepath.Join(s.repo, "processor/daemonconf/testdata/kclpy2.properties"))
	if err != nil {
		t.Fatal(err)
	}
	kclpy2 := setProperty(t, setProperty(t, string(original), "streamName", stream), "applicationName", app)
	local := strings.Join([]string{"",
		"# the local emulators (test only)",
		"kinesisEndpoint = " + s.kinesis, "dynamoDBEndpoint = " + s.dynamo,
		"workerId = " + app + "-worker", "retrievalMode = POLLING", "idleTimeBetweenReadsInMillis = 200",
		"metricsLevel = NONE", "disableWorkerMetrics = true", "failoverTimeMillis = 5000",
		"leaseAssignmentIntervalMillis = 2000", "shardSyncIntervalMillis = 2000", "parentShardPollIntervalMillis = 1000",
		"shutdownGraceMillis = 30000",
		"sink.mode = discard", "sink.logFile = " + childLog, "sink.logLevel = debug", "sink.checkpointIntervalMillis = 1000", "sink.progressIntervalMillis = 1000",
		""}, "\n")

	asWritten := filepath.Join(dir, "as-written.properties")
	fixed := filepath.Join(dir, "fixed.properties")
	findings := daemonconf.Check(daemonconf.Input{Path: fixed, Entries: kclpy2Entries(t, kclpy2), Self: child})
	var executableOnly []daemonconf.Finding
	for _, f := range findings {
		if f.Key == "executableName" {
			executableOnly = append(executableOnly, f)
		}
	}
	writeText(t, asWritten, strings.Replace(daemonconf.ApplyFixes(kclpy2, executableOnly), fixed, asWritten, 1)+local)
	writeText(t, fixed, daemonconf.ApplyFixes(kclpy2, findings)+local)

	// Only the SDK v1 names carry credentials; nothing else could supply any.
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY=" + kclpy2AccessKey, "AWS_SECRET_KEY=" + kclpy2SecretKey}
	if v := os.Getenv("KCL_JARS_DIR"); v != "" {
		env = append(env, "KCL_JARS_DIR="+v)
	}
	if v := os.Getenv("JAVA_HOME"); v != "" {
		env = append(env, "JAVA_HOME="+v)
	}

	t.Run("check", func(t *testing.T) {
		for _, c := range []struct {
			props string
			code  int
			says  string
		}{
			{asWritten, 78, "change line 17 to: AwsCredentialsProvider = DefaultCredentialsProvider"},
			{fixed, 0, "settings ok"},
		} {
			cmd := exec.Command(child, "check", "--properties", c.props)
			cmd.Env = env
			out, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != c.code || !strings.Contains(string(out), c.says) {
				t.Errorf("check %s: exit %d, want %d saying %q:\n%s", filepath.Base(c.props), cmd.ProcessState.ExitCode(), c.code, c.says, out)
			}
		}
	})

	t.Run("as written, the daemon stops", func(t *testing.T) {
		d := startSeedStyle(t, s.repo, asWritten, env)
		d.waitExit(2 * time.Minute)
		if log, _ := os.ReadFile(d.log); !bytes.Contains(log, []byte("No credential providers were specified")) {
			t.Errorf("the daemon stopped for another reason:\n%s", tail(d.log, 40))
		}
	})

	t.Run("fixed, the daemon runs", func(t *testing.T) {
		d := startSeedStyle(t, s.repo, fixed, env)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child log tail:\n%s", tail(childLog, 30))
			}
		})
		eventually(t, 3*time.Minute, "a child per shard", func() (bool, string) {
			lines := strings.Join(readLines(childLog), "\n")
			return strings.Count(lines, " shard initialized ") >= 2, tail(childLog, 2)
		})
		// Records keep coming for a while, as on a live stream: a batch is
		// counted as stored, and checkpointed, at the action after it.
		feed := startFeed(s, stream, 1, 150, 10)
		eventually(t, 3*time.Minute, "both shards checkpointed past TRIM_HORIZON", func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			leases, err := localaws.Leases(ctx, s.dc, app)
			if err != nil {
				return false, err.Error()
			}
			var state []string
			done := 0
			for _, l := range leases {
				state = append(state, l.LeaseKey+"="+l.Checkpoint)
				if isSequence(l.Checkpoint) {
					done++
				}
			}
			return done == 2, strings.Join(state, " ")
		})
		feed.wait(t)
		d.stop()
		log, _ := os.ReadFile(d.log)
		for _, want := range []string{"passing it on as AWS_ACCESS_KEY_ID", "passing it on as AWS_SECRET_ACCESS_KEY"} {
			if !bytes.Contains(log, []byte(want)) {
				t.Errorf("the daemon's output does not say %q", want)
			}
		}
		if bytes.Contains(log, []byte(kclpy2SecretKey)) {
			t.Errorf("the secret is printed:\n%s", tail(d.log, 40))
		}
		// The child's log, in the text format people tail.
		lines := strings.Join(readLines(childLog), "\n")
		for _, want := range []string{" INFO  shardId-000000000000 shard initialized ", " DEBUG shardId-000000000001 batch stored records=", " INFO  shardId-000000000001 shutdown requested "} {
			if !strings.Contains(lines, want) {
				t.Errorf("the child's log has no %q:\n%s", want, tail(childLog, 20))
			}
		}
	})
}

// Credentials for the emulators, which take any; distinct enough that
// finding the secret in a log means it was printed.
const kclpy2AccessKey, kclpy2SecretKey = "AKIAKCLPY2TEST000000", "kclpy2-test-secret-not-printed"

// startSeedStyle runs $(sh scripts/launch.sh FILE) from the repository, as
// the README says, in its own process group. The shell execs the printed
// command, so that the daemon's stop (SIGTERM, as from systemd) reaches
// the JVM as it would from a terminal's Ctrl-C.
func startSeedStyle(t *testing.T, repo, props string, env []string) *daemon {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `exec $(sh scripts/launch.sh "$0")`, props)
	cmd.Dir = repo
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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

// setProperty replaces the value of key's line in a properties text.
func setProperty(t *testing.T, text, key, value string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if k, _, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no %s line", key)
	return ""
}

func kclpy2Entries(t *testing.T, text string) []config.Entry {
	t.Helper()
	es, err := config.ParsePropertyEntries(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
