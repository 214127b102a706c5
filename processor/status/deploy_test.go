package status_test

// The integration tests run the real bin/kinesis-cratedb: as the daemon's
// child for a shard under daemonsim (which writes the progress rows), and
// as the status and exporter commands that read them.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

var binary string

func TestMain(m *testing.M) { testenv.RunWithProgram(m, "../cmd/kinesis-cratedb", &binary) }

// deployment is one target table and the properties file that its
// children, status and the exporter share.
type deployment struct {
	db                   pgtest.DB
	dir, props           string
	table, progress, log string
	settings             map[string]string
}

// set changes settings (key, value, key, value, ...) and writes the
// properties file again.
func (d *deployment) set(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		d.settings[kv[i]] = kv[i+1]
	}
	var lines []string
	for k, v := range d.settings {
		lines = append(lines, k+" = "+v)
	}
	if err := os.WriteFile(d.props, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newDeployment(t *testing.T, db pgtest.DB) *deployment {
	t.Helper()
	schema := "public"
	if db.Crate() {
		schema = "doc"
	}
	name := fmt.Sprintf("status_%d", time.Now().UnixNano())
	d := &deployment{db: db, dir: t.TempDir(), table: schema + "." + name, progress: schema + "." + name + "_progress"}
	d.log = filepath.Join(d.dir, "record_processor.log")
	d.settings = map[string]string{
		"sink.databaseUrl": db.URL, "sink.table": d.table, "sink.progressTable": d.progress, "sink.logFile": d.log,
		// A progress row at every action, a checkpoint after every batch.
		"sink.progressIntervalMillis": "0", "sink.checkpointIntervalMillis": "0",
	}
	d.props = filepath.Join(d.dir, "app.properties")
	d.set(t)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("children's log:\n%s", b)
		}
		d.exec(t, "DROP TABLE IF EXISTS "+d.table, "DROP TABLE IF EXISTS "+d.table+"_deadletter", "DROP TABLE IF EXISTS "+d.progress)
	})
	return d
}

func (d *deployment) exec(t *testing.T, sql ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// refresh makes the progress rows visible to status's query on CrateDB,
// where only lookups by primary key are real-time.
func (d *deployment) refresh(t *testing.T) {
	if d.db.Crate() {
		d.exec(t, "REFRESH TABLE "+d.progress)
	}
}

// shard runs one process of the shard through a batch per element of
// batches (each its records and millisBehindLatest), then ends it as end
// says: "shutdown" (a lease handed over) or "shard end".
func (d *deployment) shard(t *testing.T, id string, end string, batches ...[]daemonsim.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	child, err := daemonsim.Daemon{ExitTimeout: 20 * time.Second}.Start(ctx, []string{binary, "--properties", d.props}, os.Environ(), d.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Kill()
	start := "TRIM_HORIZON"
	if err := child.Initialize(ctx, id, &start, new(int64)); err != nil {
		t.Fatal(err)
	}
	behind := int64(1500)
	for _, b := range batches {
		if err := child.ProcessRecords(ctx, b, &behind); err != nil {
			t.Fatal(err)
		}
	}
	switch end {
	case "shard end":
		err = child.ShardEnded(ctx)
	default:
		if err = child.ShutdownRequested(ctx); err == nil {
			err = child.LeaseLost(ctx)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if exit, err := child.Close(); err != nil || exit.Code != 0 {
		t.Fatalf("child exit %+v, %v", exit, err)
	}
}

// records are n JSON records after sequence number base, which arrived in
// Kinesis age ago; every tenth is not JSON (dead-lettered).
func records(base, n int, age time.Duration) []daemonsim.Record {
	arrival := time.Now().Add(-age).UnixMilli()
	recs := make([]daemonsim.Record, n)
	for i := range recs {
		data := fmt.Sprintf(`{"id":%d}`, base+i)
		if (base+i)%10 == 9 {
			data = "not json"
		}
		recs[i] = daemonsim.Record{Data: []byte(data), PartitionKey: "pk", ApproximateArrivalTimestamp: &arrival,
			SequenceNumber: fmt.Sprintf("4959%046d", base+i)}
	}
	return recs
}

// run runs a command of the binary on the deployment's properties, with
// extra environment; it returns the exit code and what it printed.
func (d *deployment) run(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{args[0], "--properties", d.props}, args[1:]...)...)
	cmd.Dir, cmd.Env = d.dir, append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

var servingAt = regexp.MustCompile(`address=(http://\S+)`)

// exporter starts the exporter on a free port and returns its URL; it is
// stopped (SIGTERM, exit 0) when the test ends.
func (d *deployment) exporter(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"exporter", "--properties", d.props, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir, cmd.Env = d.dir, append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("exporter stopped with %v", err)
		}
	})
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the exporter exited before serving")
			}
			if m := servingAt.FindStringSubmatch(line); m != nil {
				go func() { // keep draining
					for range lines {
					}
				}()
				return m[1]
			}
		case <-timeout:
			t.Fatal("the exporter did not say where it serves")
		}
	}
}

// regexpLine reports whether a line of text matches expr.
func regexpLine(text, expr string) bool {
	return regexp.MustCompile(`(?m)^` + expr).MatchString(text)
}
