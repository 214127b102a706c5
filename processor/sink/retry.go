package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// RetryPolicy bounds how the sink waits out transient errors. The zero value
// retries forever starting at 200ms and capping at 10s.
type RetryPolicy struct {
	InitialBackoff time.Duration // first wait; default 200ms
	MaxBackoff     time.Duration // cap on one wait; default 10s
	MaxWait        time.Duration // give up after failing this long; 0 = never
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
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retrier runs an operation until it succeeds, fails permanently, outlives
// the policy's MaxWait, or the context ends.
type retrier struct {
	policy  RetryPolicy
	dialect Dialect
	log     zerolog.Logger
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

// do calls fn until it returns nil or an error that retrying cannot fix
// (classRow). fn must be safe to repeat (idempotent). It returns how many
// retries were made.
func (r retrier) do(ctx context.Context, op string, fn func(context.Context) error) (retries int, err error) {
	var firstFailure time.Time
	for attempt := 1; ; attempt++ {
		if r.closed != nil && r.closed.Load() {
			return attempt - 1, fmt.Errorf("%s: %w", op, ErrClosed)
		}
		err := fn(ctx)
		if err == nil {
			return attempt - 1, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return attempt - 1, fmt.Errorf("%s: %w (last error: %v)", op, ctxErr, err)
		}
		class := classify(r.dialect, err)
		if class == classRow || (class == classConfig && r.failFastOnConfig) {
			return attempt - 1, fmt.Errorf("%s: %w", op, err)
		}
		now := time.Now()
		if firstFailure.IsZero() {
			firstFailure = now
		}
		wait := r.policy.backoff(attempt)
		if r.policy.MaxWait > 0 && now.Sub(firstFailure)+wait > r.policy.MaxWait {
			return attempt - 1, fmt.Errorf("%s: giving up after %d attempts in %s (max wait %s): %w",
				op, attempt, now.Sub(firstFailure).Round(time.Millisecond), r.policy.MaxWait, err)
		}
		// An outage that lasts is an incident too: it stops looking
		// transient after escalateAfter.
		level := zerolog.WarnLevel
		if class == classConfig || now.Sub(firstFailure) >= escalateAfter {
			level = zerolog.ErrorLevel
		}
		r.log.WithLevel(level).Err(err).Str("op", op).Str("class", class.String()).
			Int("attempt", attempt).Dur("failing_for", now.Sub(firstFailure).Round(time.Millisecond)).
			Dur("backoff", wait).Msg("database error, retrying")
		if needsPoolReset(err) && r.resetPool != nil {
			r.resetPool()
		}
		if sleepErr := sleep(ctx, wait); sleepErr != nil {
			return attempt, fmt.Errorf("%s: %w (last error: %v)", op, sleepErr, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
