package sink

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBackoffDoublesWithJitterAndCap(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.InitialBackoff != 200*time.Millisecond || p.MaxBackoff != 10*time.Second || p.MaxWait != 0 {
		t.Fatalf("defaults %+v", p)
	}
	for n, full := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 3: 800 * time.Millisecond, 7: 10 * time.Second, 60: 10 * time.Second} {
		for range 200 {
			if d := p.backoff(n); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", n, d, full/2, full)
			}
		}
	}
	if got := (RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}).withDefaults().MaxBackoff; got != time.Second {
		t.Errorf("MaxBackoff below InitialBackoff not raised: %s", got)
	}
}

func fastRetrier() retrier {
	return retrier{policy: RetryPolicy{InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}.withDefaults(), log: zerolog.Nop()}
}

func TestRetrierRetriesTransientAndConfig(t *testing.T) {
	errs := []error{pgErr("57P03", "starting up"), pgErr("42P01", "missing"), nil}
	calls := 0
	resets := 0
	r := fastRetrier()
	r.resetPool = func() { resets++ }
	retries, err := r.do(context.Background(), "op", func(context.Context) error {
		calls++
		return errs[calls-1]
	})
	if err != nil || retries != 2 || calls != 3 || resets != 1 {
		t.Fatalf("retries %d calls %d resets %d err %v", retries, calls, resets, err)
	}
}

func TestRetrierStopsOnRowError(t *testing.T) {
	calls := 0
	_, err := fastRetrier().do(context.Background(), "op", func(context.Context) error {
		calls++
		return pgErr("22P02", "bad")
	})
	if err == nil || calls != 1 {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

func TestRetrierFailFastOnConfig(t *testing.T) {
	r := fastRetrier()
	r.failFastOnConfig = true
	calls := 0
	_, err := r.do(context.Background(), "op", func(context.Context) error {
		calls++
		return pgErr("28P01", "password authentication failed")
	})
	if err == nil || calls != 1 {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

func TestRetrierGivesUpAfterMaxWait(t *testing.T) {
	r := fastRetrier()
	r.policy.MaxWait = 50 * time.Millisecond
	cause := pgErr("08006", "connection failure")
	start := time.Now()
	_, err := r.do(context.Background(), "op", func(context.Context) error { return cause })
	if !errors.Is(err, cause) || !errors.Is(err, ErrDeadline) {
		t.Fatalf("err %v", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Fatalf("gave up after %s", el)
	}
}

func TestRetrierHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := fastRetrier().do(ctx, "op", func(context.Context) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return pgErr("08006", "connection failure")
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

func TestRetrierStopsWhenClosed(t *testing.T) {
	var closed atomic.Bool
	r := fastRetrier()
	r.closed = &closed
	calls := 0
	_, err := r.do(context.Background(), "op", func(context.Context) error {
		calls++
		if calls == 2 {
			closed.Store(true)
		}
		return pgErr("08006", "connection failure")
	})
	if !errors.Is(err, ErrClosed) || calls != 2 {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

// TestRetrierOneDeadlineIncludesAttempts: MaxWait is one deadline for the
// whole call, attempt timeouts included. An attempt that hangs (its own
// timeout far beyond the deadline) ends at the deadline, and slow failing
// attempts plus waits never add up past it.
func TestRetrierOneDeadlineIncludesAttempts(t *testing.T) {
	t.Run("hung attempt", func(t *testing.T) {
		r := fastRetrier()
		r.policy.MaxWait = 300 * time.Millisecond
		start := time.Now()
		_, err := r.do(context.Background(), "op", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Minute) // like Config.AttemptTimeout
			defer cancel()
			<-ctx.Done()
			return ctx.Err()
		})
		el := time.Since(start)
		if !errors.Is(err, ErrDeadline) || el < 300*time.Millisecond || el > 450*time.Millisecond {
			t.Fatalf("gave up after %s with %v", el, err)
		}
	})
	t.Run("slow failures", func(t *testing.T) {
		r := fastRetrier()
		r.policy = RetryPolicy{InitialBackoff: 80 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, MaxWait: 500 * time.Millisecond}
		start := time.Now()
		calls := 0
		_, err := r.do(context.Background(), "op", func(ctx context.Context) error {
			calls++
			select {
			case <-time.After(150 * time.Millisecond):
			case <-ctx.Done():
			}
			return pgErr("08006", "connection failure")
		})
		el := time.Since(start)
		if !errors.Is(err, ErrDeadline) || el > 550*time.Millisecond || calls < 2 {
			t.Fatalf("%d calls, gave up after %s with %v", calls, el, err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		r := fastRetrier()
		r.policy = RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		calls := 0
		_, err := r.do(ctx, "op", func(context.Context) error {
			calls++
			return pgErr("08006", "connection failure")
		})
		// The next attempt could only start after the deadline: fail now,
		// with time left to say so, instead of at the deadline.
		if el := time.Since(start); !errors.Is(err, ErrDeadline) || calls != 1 || el > 100*time.Millisecond {
			t.Fatalf("%d calls, gave up after %s with %v", calls, el, err)
		}
	})
}

// retryLevels runs errs through a retrier and returns the level of each
// retry's log line and how often the pool was reset.
func retryLevels(t *testing.T, errs []error) (levels []string, resets int) {
	t.Helper()
	var buf strings.Builder
	r := fastRetrier()
	r.db = crateDB{}
	r.log = zerolog.New(&buf)
	r.resetPool = func() { resets++ }
	calls := 0
	if _, err := r.do(context.Background(), "op", func(context.Context) error {
		calls++
		if calls > len(errs) {
			return nil
		}
		return errs[calls-1]
	}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e struct{ Level string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		levels = append(levels, e.Level)
	}
	return levels, resets
}

func TestRetrierLogLevelsAndPoolResets(t *testing.T) {
	stale := pgErr("42P01", "Relation 'Relation not found for oid=1' unknown")
	missing := pgErr("42P01", "Relation 'doc.t' unknown")
	blocked := pgErr("XX000", "blocked by: [RELATION_READ_AND_DDL_ONLY/8/index write (api)];")
	levels, resets := retryLevels(t, []error{stale, missing, blocked})
	if want := []string{"warn", "error", "error"}; strings.Join(levels, ",") != strings.Join(want, ",") || resets != 1 {
		t.Fatalf("levels %v resets %d, want %v and one reset (for the stale statement)", levels, resets, want)
	}

	defer func(d time.Duration) { escalateAfter = d }(escalateAfter)
	escalateAfter = 0
	levels, _ = retryLevels(t, []error{pgErr("XX000", "Job killed. statement_timeout (1ms/parse)")})
	if len(levels) != 1 || levels[0] != "error" {
		t.Fatalf("levels %v, want a lasting transient error logged as error", levels)
	}
}

// When the deadline cuts an attempt short, the error names what the
// retries were waiting out, not the cut itself.
func TestRetrierDeadlineNamesTheErrorItWaitedOut(t *testing.T) {
	r := fastRetrier()
	r.policy = RetryPolicy{InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxWait: 300 * time.Millisecond}
	calls := 0
	_, err := r.do(context.Background(), "op", func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return pgErr("42P01", "relation does not exist")
		}
		<-ctx.Done() // hangs until the deadline
		return ctx.Err()
	})
	if !errors.Is(err, ErrDeadline) || !strings.Contains(err.Error(), "42P01") {
		t.Fatalf("error %v, want the deadline and the missing relation", err)
	}
}
