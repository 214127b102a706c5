package sink

import (
	"context"
	"fmt"
	"time"
)

// Expired is one partition older than a retention, or the tombstones of a
// table older than the purge horizon (Start is then zero).
type Expired struct {
	Table string
	Start time.Time // the partition's start
	Rows  int64
}

// Expire finds, and unless dryRun deletes, the rows of every partition of
// the writer's tables that starts before cutoff's partition: a partition is
// dropped only when all of it is past the retention. CrateDB drops such
// partitions whole; PostgreSQL deletes the rows (its table is not
// partitioned, see postgres.go).
func (w *ChangeWriter) Expire(ctx context.Context, cutoff time.Time, dryRun bool) ([]Expired, error) {
	var out []Expired
	for _, t := range w.order {
		if t.spec.Partition == nil {
			continue
		}
		before := t.spec.Partition.Start(cutoff)
		found, err := w.expiredPartitions(ctx, t, before)
		if err != nil {
			return out, err
		}
		out = append(out, found...)
		if dryRun || len(found) == 0 {
			continue
		}
		if err := w.execRetrying(ctx, "delete expired partitions", t.sql.deleteExpired, before); err != nil {
			return out, fmt.Errorf("sink: delete partitions of %s before %s: %w", t.name, before.Format(time.RFC3339), err)
		}
		w.log.Info().Str("table", t.name.String()).Time("before", before).Int("partitions", len(found)).Msg("expired partitions deleted")
	}
	return out, nil
}

func (w *ChangeWriter) expiredPartitions(ctx context.Context, t *cdcTarget, before time.Time) ([]Expired, error) {
	var out []Expired
	_, err := w.retry.do(ctx, "read expired partitions", func(ctx context.Context) error {
		out = out[:0]
		if err := w.refresh(ctx, t); err != nil {
			return err
		}
		rows, err := w.pool.Query(ctx, t.sql.expiredPartitions, before)
		if err != nil {
			return err
		}
		for rows.Next() {
			e := Expired{Table: t.name.String()}
			if err := rows.Scan(&e.Start, &e.Rows); err != nil {
				rows.Close()
				return err
			}
			e.Start = e.Start.UTC()
			out = append(out, e)
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sink: partitions of %s: %w", t.name, err)
	}
	return out, nil
}

// PurgeTombstones finds, and unless dryRun deletes, the tombstones whose
// event is older than before. A tombstone only matters while a change older
// than it can still arrive: once nothing that old is left in the stream
// (its retention) or in the processors' backlog (their lag), it can go.
func (w *ChangeWriter) PurgeTombstones(ctx context.Context, before time.Time, dryRun bool) ([]Expired, error) {
	var out []Expired
	for _, t := range w.order {
		var n int64
		_, err := w.retry.do(ctx, "count tombstones", func(ctx context.Context) error {
			if err := w.refresh(ctx, t); err != nil {
				return err
			}
			return w.pool.QueryRow(ctx, t.sql.countTombstones, before).Scan(&n)
		})
		if err != nil {
			return out, fmt.Errorf("sink: tombstones of %s: %w", t.name, err)
		}
		if n == 0 {
			continue
		}
		out = append(out, Expired{Table: t.name.String(), Rows: n})
		if dryRun {
			continue
		}
		if err := w.execRetrying(ctx, "purge tombstones", t.sql.purgeTombstones, before); err != nil {
			return out, fmt.Errorf("sink: purge tombstones of %s: %w", t.name, err)
		}
		w.log.Info().Str("table", t.name.String()).Time("before", before).Int64("tombstones", n).Msg("tombstones purged")
	}
	return out, nil
}

// MaxLag is how far the target's shards were behind the stream's tip at
// their last progress report, at most (0 when none reported).
func (w *core) MaxLag(ctx context.Context) (time.Duration, error) {
	var ms *int64
	_, err := w.retry.do(ctx, "read the shards' lag", func(ctx context.Context) error {
		return w.pool.QueryRow(ctx, w.sql.maxLag, w.target.schema+"."+w.target.name).Scan(&ms)
	})
	if err != nil || ms == nil {
		return 0, err
	}
	return time.Duration(max(*ms, 0)) * time.Millisecond, nil
}

// refresh makes CrateDB's recent writes to t visible to the counts.
func (w *ChangeWriter) refresh(ctx context.Context, t *cdcTarget) error {
	if t.sql.refresh == "" {
		return nil
	}
	_, err := w.pool.Exec(ctx, t.sql.refresh)
	return err
}

func (w *ChangeWriter) execRetrying(ctx context.Context, op, sql string, args ...any) error {
	_, err := w.retry.do(ctx, op, func(ctx context.Context) error {
		_, err := w.pool.Exec(ctx, sql, args...)
		return err
	})
	return err
}
