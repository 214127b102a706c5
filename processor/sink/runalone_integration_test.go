package sink

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/rs/zerolog"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// testCrateDBURL returns TEST_CRATEDB_URL; the test skips without it, or
// fails under CI=true.
func testCrateDBURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("TEST_CRATEDB_URL")
	if url == "" {
		testenv.Missing(t, "TEST_CRATEDB_URL not set: run scripts/test.sh, or scripts/cratedb.sh start")
	}
	return url
}

// TestEveryRowRefusedFinishesDespiteTimeouts: CrateDB refuses every row of
// a batch in its bulk ("INSERT 0 -3", here a check constraint), so each row
// runs again alone to get its error. Over a slow network those lone runs
// together take far longer than one attempt may (3 s), and the database
// hangs for longer than that in the middle of them: the write still
// finishes, every row dead-lettered, continuing after the timed-out
// attempt where it was instead of starting the batch over.
func TestEveryRowRefusedFinishesDespiteTimeouts(t *testing.T) {
	url := testCrateDBURL(t)
	n, delay := 600, 2*time.Millisecond
	if s := os.Getenv("TEST_REFUSED_ROWS"); s != "" { // e.g. 10000, on a fast network, to measure
		n, _ = strconv.Atoi(s)
		delay = 0
	}
	proxy := pgtest.StartProxy(t, url)
	var refused atomic.Int64
	froze := make(chan struct{})
	w := openTest(t, proxy.URL(url), func(c *Config) {
		c.Retry = RetryPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
		// Hang the database for 4 s once a third of the lone runs are done.
		c.Logger = zerolog.New(io.Discard).Level(zerolog.WarnLevel).Hook(zerolog.HookFunc(func(_ *zerolog.Event, _ zerolog.Level, msg string) {
			if msg == "row refused by database, dead-lettering" && refused.Add(1) == int64(n/3) {
				proxy.Freeze()
				go func() {
					defer close(froze)
					time.Sleep(4 * time.Second)
					proxy.Thaw()
				}()
			}
		}))
	})
	w.attemptTimeout = 3 * time.Second
	ctx := context.Background()
	// A check constraint refuses the rows at run time: in a bulk each gets
	// the tag "INSERT 0 -3" and no error text. (The sink's own DDL, with
	// the constraint added.)
	ddl := strings.Replace(w.sql.createTarget, "PRIMARY KEY (", `CONSTRAINT refuse CHECK ("partition_key" <> 'refused'), PRIMARY KEY (`, 1)
	if ddl == w.sql.createTarget {
		t.Fatalf("no PRIMARY KEY clause in %s", ddl)
	}
	mustExec(t, w, `DROP TABLE `+w.target.sql())
	mustExec(t, w, ddl)
	rows := make([]Row, n+1)
	for i := range rows {
		p := []byte(fmt.Sprintf(`{"i":%d}`, i))
		rows[i] = Row{Source: record.Source{ShardID: "shardId-000000000002", SequenceNumber: fmt.Sprintf("4959%056d", i), PartitionKey: "refused", Data: p}, Payload: p}
	}
	rows[0].PartitionKey = "fine"
	proxy.SetDelay(delay)
	start := time.Now()
	res, err := w.Write(ctx, rows)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after %s: %v", took, err)
	}
	t.Logf("%d rows, every one refused in the bulk: done in %s, %d retries, %d lone runs refused", n, took.Round(time.Millisecond), res.Retries, refused.Load())
	if res.Written != 1 || len(res.DeadLettered) != n {
		t.Fatalf("written %d, dead-lettered %d, want 1 and %d", res.Written, len(res.DeadLettered), n)
	}
	select {
	case <-froze:
	default:
		t.Fatal("the database never hung")
	}
	if res.Retries == 0 {
		t.Error("no attempt timed out during the hang")
	}
	// Each row was refused alone once, plus the one whose lone run the
	// hang cut off (run again after the retry): nothing started over.
	if got := refused.Load(); got != int64(n) {
		t.Errorf("%d lone runs refused, want %d", got, n)
	}
	proxy.SetDelay(0)
	mustExec(t, w, "REFRESH TABLE "+w.deadLetter.sql())
	if got := count(t, w, w.deadLetter); got != n {
		t.Fatalf("%d rows in the dead-letter table, want %d", got, n)
	}
}
