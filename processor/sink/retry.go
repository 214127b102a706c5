package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backoff"
	"github.com/rs/zerolog"
)

// RetryPolicy bounds how the sink waits out transient errors. The zero value
// retries forever starting at 200ms and capping at 10s.
type RetryPolicy struct {
	InitialBackoff time.Duration // first wait; default 200ms
	MaxBackoff     time.Duration // cap on one wait; default 10s
	// MaxWait is one deadline for a whole call (Write, Apply,
	// WriteDeadLetters, one step of Open or of a replay): its attempts,
	// their timeouts and the waits between them all count, and the call
	// fails cleanly when the next attempt could not start before it; 0 =
	// no deadline. A deadline of the caller's context is honoured the same
	// way.
	MaxWait time.Duration
}

const (
	defaultInitialBackoff = 200 * time.Millisecond
	defaultMaxBackoff     = 10 * time.Second
)

// escalateAfter is how long transient errors are logged as warnings before
// every further retry is logged as an error (a variable for tests).
var escalateAfter = time.Minute

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = defaultInitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = defaultMaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	return p
}

// backoff is the wait after the n-th consecutive failure (n >= 1): doubling
// from InitialBackoff, capped at MaxBackoff, with "equal jitter" (half fixed,
// half random) so that many shard processes do not retry in lockstep.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := backoff.Exponential(p.InitialBackoff, p.MaxBackoff, n)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retrier runs an operation until it succeeds, fails permanently, reaches
// its deadline (the policy's MaxWait, the context's), or the context ends.
type retrier struct {
	policy RetryPolicy
	db     dialect
	log    zerolog.Logger
	// resetPool is called before waiting when the error means the pooled
	// connections are likely dead or hold stale prepared statements
	// (needsPoolReset).
	resetPool func()
	// failFastOnConfig returns configuration errors at once instead of
	// retrying them (used at Open, where an operator is watching).
	failFastOnConfig bool
	// closed, when set, ends retrying once the Writer is closed.
	closed *atomic.Bool
}

// ErrClosed is returned by calls on (or still retrying when) a closed Writer.
var ErrClosed = errors.New("sink: writer closed")

// ErrDeadline is wrapped by the error of an operation that gave up at its
// deadline (RetryPolicy.MaxWait or the context's) while the database kept
// failing. It also matches context.DeadlineExceeded.
var ErrDeadline error = deadlineError{}

type deadlineError struct{}

func (deadlineError) Error() string        { return "deadline reached" }
func (deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// withMaxWait bounds ctx by the policy's MaxWait: one deadline for a whole
// call, whatever it retries inside.
func (p RetryPolicy) withMaxWait(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.MaxWait > 0 {
		return context.WithTimeout(ctx, p.MaxWait)
	}
	return ctx, func() {}
}

// do calls fn until it returns nil or an error that retrying cannot fix
// (classRow). fn must be safe to repeat (idempotent). Every attempt runs
// under the one deadline (fn's own timeouts end there at the latest), and
// no attempt is started that the deadline would cut short before its wait
// is over. It returns how many retries were made.
func (r retrier) do(ctx context.Context, op string, fn func(context.Context) error) (retries int, err error) {
	ctx, cancel := r.policy.withMaxWait(ctx)
	defer cancel()
	started := time.Now()
	var previous error // the last attempt's error, before this one
	for attempt := 1; ; attempt++ {
		if r.closed != nil && r.closed.Load() {
			return attempt - 1, fmt.Errorf("%s: %w", op, ErrClosed)
		}
		err := fn(ctx)
		if err == nil {
			return attempt - 1, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				cause := err
				if previous != nil && (errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)) {
					// The deadline cut this attempt short: the error before
					// it says what the retries were waiting out.
					cause = previous
				}
				return attempt - 1, fmt.Errorf("%s: %w after %d attempts in %s (last error: %w)",
					op, ErrDeadline, attempt, time.Since(started).Round(time.Millisecond), cause)
			}
			return attempt - 1, fmt.Errorf("%s: %w (last error: %v)", op, ctxErr, err)
		}
		class := classify(r.db, err)
		if class == classRow || (class == classConfig && r.failFastOnConfig) {
			return attempt - 1, fmt.Errorf("%s: %w", op, err)
		}
		wait := r.policy.backoff(attempt)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return attempt - 1, fmt.Errorf("%s: %w: %d attempts in %s, and the next one would start after it (%s left): %w",
				op, ErrDeadline, attempt, time.Since(started).Round(time.Millisecond), time.Until(deadline).Round(time.Millisecond), err)
		}
		// An outage that lasts is an incident too: it stops looking
		// transient after escalateAfter.
		failingFor := time.Since(started)
		level := zerolog.WarnLevel
		if class == classConfig || failingFor >= escalateAfter {
			level = zerolog.ErrorLevel
		}
		r.log.WithLevel(level).Err(err).Str("op", op).Str("class", class.String()).
			Int("attempt", attempt).Dur("failing_for", failingFor.Round(time.Millisecond)).
			Dur("backoff", wait).Msg("database error, retrying")
		if needsPoolReset(err) && r.resetPool != nil {
			r.resetPool()
		}
		previous = err
		if sleepErr := backoff.Sleep(ctx, wait); sleepErr != nil {
			return attempt, fmt.Errorf("%s: %w (last error: %v)", op, sleepErr, err)
		}
	}
}
