package sink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// restartAfter starts the stopped cluster again after d, in the background.
func restartAfter(c *pgtest.Server, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		c.Restart()
	}()
	return done
}

func assertExactly(t *testing.T, w *Writer, n int) {
	t.Helper()
	var total, distinct int
	refresh(t, w, w.target)
	err := w.pool.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT `+rowKeyText+`) FROM `+w.target.sql()).Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if total != n || distinct != n {
		t.Fatalf("target has %d rows (%d distinct), want exactly %d", total, distinct, n)
	}
}

func TestWriteSurvivesServerRestart(t *testing.T) {
	pgtest.Each(t, testWriteSurvivesServerRestart)
}

func testWriteSurvivesServerRestart(t *testing.T, db pgtest.DB) {
	c := pgtest.StartServer(t, db.Name)
	for _, m := range methodsFor(db) {
		t.Run(m.String(), func(t *testing.T) {
			w := openTest(t, c.URL(), func(cfg *Config) {
				cfg.ChunkSize = 1000
				// One deadline covers a whole Write: 55 chunks and a
				// restart (CrateDB's takes ~10 s, then shard recovery).
				cfg.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxWait: 3 * time.Minute}
			})
			w.method = m
			ctx := context.Background()
			rows := makeRows("shardId-000000000010", 61000, 300)
			if _, err := w.Write(ctx, rows[:1000]); err != nil {
				t.Fatal(err)
			}

			// Server down before the write starts.
			c.Stop()
			restarted := restartAfter(c, 2*time.Second)
			res, err := w.Write(ctx, rows[1000:6000])
			<-restarted
			if err != nil {
				t.Fatalf("write while server was down: %v", err)
			}
			if res.Retries == 0 || res.Written != 5000 {
				t.Fatalf("result %+v, want retries and 5000 written", res)
			}
			assertExactly(t, w, 6000)

			// Server stopped while a multi-chunk write is in flight: stop as
			// soon as the first new chunk is visible.
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := w.Write(ctx, rows[6000:])
				done <- outcome{res, err}
			}()
			waitForRows(t, c.DB(), w.target, 6000)
			c.Stop()
			restarted = restartAfter(c, 2*time.Second)
			out := <-done
			<-restarted
			if out.err != nil {
				t.Fatalf("write interrupted by restart: %v", out.err)
			}
			if out.res.Retries == 0 || out.res.Written != 55000 {
				t.Fatalf("result %+v, want retries and 55000 written", out.res)
			}
			assertExactly(t, w, 61000)
			t.Logf("%s: retries %d (down before write), %d (down mid-write)", m, res.Retries, out.res.Retries)
		})
	}
}

func TestWriteGivesUpWhenServerStaysDown(t *testing.T) {
	pgtest.Each(t, testWriteGivesUpWhenServerStaysDown)
}

func testWriteGivesUpWhenServerStaysDown(t *testing.T, db pgtest.DB) {
	c := pgtest.StartServer(t, db.Name)
	w := openTest(t, c.URL(), func(cfg *Config) {
		cfg.Retry = RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxWait: time.Minute}
	})
	// MaxWait bounds Open's CREATE TABLEs too, which take CrateDB seconds:
	// give up after 1 s only for the write.
	w.retry.policy.MaxWait = time.Second
	c.Stop()
	start := time.Now()
	_, err := w.Write(context.Background(), makeRows("shardId-000000000011", 10, 50))
	if err == nil {
		t.Fatal("Write succeeded with the server down")
	}
	if !errors.Is(err, ErrDeadline) || time.Since(start) > 10*time.Second {
		t.Fatalf("error %q after %s, want giving up after about 1s", err, time.Since(start))
	}
	// No restart: the server and its tables are removed when the test ends.
}

// waitForRows polls over its own connection until table has more than n rows.
func waitForRows(t *testing.T, db pgtest.DB, table tableName, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var got int
		db.Refresh(t, conn, table.sql())
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table.sql()).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got > n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
