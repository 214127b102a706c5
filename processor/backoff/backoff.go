// Package backoff provides the waits of the retry loops: the sink's
// database retries, the checkpoint retries of the protocol library and the
// DynamoDB client's. Each loop keeps its own policy and jitter; the
// doubling and the cancellable wait are the same everywhere.
package backoff

import (
	"context"
	"time"
)

// Exponential is the wait before retry n (n >= 1): base doubled n-1 times,
// never more than limit.
func Exponential(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Sleep waits d, or less when ctx ends first; it returns ctx.Err() then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
