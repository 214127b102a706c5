package sink

import (
	"context"
	"errors"
	"fmt"
)

// writeBisecting stores items with try until each one is written or
// dead-lettered. A part that fails for one item's data is split in two until
// the bad items stand alone (bisection); items a part reports as failed
// without a reason (runAlone) are run again one by one. Transient and
// configuration errors are retried, resending only the parts not yet done:
// progress survives a retry, so a part of many lone runs that outlasts one
// attempt timeout still finishes. Plain rows and change events share it.
func writeBisecting[T any](ctx context.Context, w *core, op string, items []T, res *Result,
	try func(context.Context, []T) (dead []DeadLetter, split bool, err error)) error {
	queue := [][]T{items}
	var dead []DeadLetter
	retries, err := w.retry.do(ctx, op, func(ctx context.Context) error {
		for len(queue) > 0 {
			part := queue[0]
			d, split, err := try(ctx, part)
			var alone runAlone
			if errors.As(err, &alone) && len(part) > 1 {
				// The part's other items are stored. The listed ones go
				// again as one part (a bulk killed or overloaded midway
				// fails rows that pass the next time); when every item
				// failed, each becomes a part of its own, to get its
				// error. Either goes before the rest, in order.
				var next [][]T
				if len(alone) < len(part) {
					again := make([]T, len(alone))
					for j, i := range alone {
						again[j] = part[i]
					}
					next = [][]T{again}
				} else {
					for _, i := range alone {
						next = append(next, part[i:i+1])
					}
				}
				queue = append(next, queue[1:]...)
				dead = append(dead, d...)
				continue
			}
			if err != nil {
				return err
			}
			queue = queue[1:]
			dead = append(dead, d...)
			if split {
				h := len(part) / 2
				queue = append([][]T{part[:h], part[h:]}, queue...)
			}
		}
		return nil
	})
	res.Retries += retries
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		retries, err := w.retry.do(ctx, "write dead letters", func(ctx context.Context) error {
			return w.insertDeadLetters(ctx, dead)
		})
		res.Retries += retries
		if err != nil {
			return err
		}
		res.DeadLettered = append(res.DeadLettered, dead...)
	}
	res.Written += len(items) - len(dead)
	return nil
}

// runAlone is how a try function of writeBisecting reports items of its part
// (by index) that failed without a reason: CrateDB tags a row that failed in
// a bulk "INSERT 0 -3", with no error text. writeBisecting then sends them
// again as one part, and once every item of a part failed, each alone,
// which gives the real error (or writes the row, if the failure was
// passing). The part's other items are stored.
type runAlone []int

func (r runAlone) Error() string {
	return fmt.Sprintf("%d items failed in a bulk without error text", len(r))
}

// partFailed sorts a failed attempt at a part of n items. An outage, or a
// configuration error of a single item, is returned to be retried as is. A
// part of several items the database refused is split, whatever the error:
// CrateDB checks values at Bind time, where one bad row fails every row of
// the batch (and may break pgx's pipeline doing so). A single item's
// refusal is the caller's to handle (refused).
func (w *core) partFailed(err error, n int) (split, refused bool, retry error) {
	class := classify(w.db, err)
	switch {
	case class == classTransient:
		return false, false, err
	case n > 1:
		return true, false, nil
	case class != classRow:
		return false, false, err
	}
	return false, true, nil
}
