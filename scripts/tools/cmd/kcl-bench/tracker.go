package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// tracker follows every published record from its PutRecords call to the
// moment its row is visible in the target table.
type tracker struct {
	mu       sync.Mutex
	all      []*entry // in publish order
	shards   map[string]*shardLog
	nVisible int
}

type entry struct {
	put, acked, visible time.Time // PutRecords call start and return; first poll that saw the row
}

// shardLog holds one shard's records in sequence order. A child writes a
// shard's records in that order and commits batches one after the other, so
// the visible rows of a shard are always a prefix of its log.
type shardLog struct {
	id      string
	seqs    []string
	entries []*entry
	visible int
}

func newTracker() *tracker { return &tracker{shards: map[string]*shardLog{}} }

func (t *tracker) add(shard, seq string, put, acked time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := &entry{put: put, acked: acked}
	t.all = append(t.all, e)
	s := t.shards[shard]
	if s == nil {
		s = &shardLog{id: shard}
		t.shards[shard] = s
	}
	s.seqs = append(s.seqs, seq)
	s.entries = append(s.entries, e)
}

// pending is a shard's unseen range, copied under the lock.
type pending struct {
	shard         string
	seqs          []string
	visible, upTo int
}

func (t *tracker) pending() []pending {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []pending
	for _, s := range t.shards {
		if s.visible < len(s.seqs) {
			out = append(out, pending{shard: s.id, seqs: s.seqs[:len(s.seqs):len(s.seqs)], visible: s.visible, upTo: len(s.seqs)})
		}
	}
	return out
}

func (t *tracker) markVisible(shard string, upTo int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.shards[shard]
	for i := s.visible; i < upTo; i++ {
		s.entries[i].visible = at
	}
	t.nVisible += upTo - s.visible
	s.visible = upTo
}

// poll finds, every interval, how far each shard's visible prefix reaches
// (visiblePrefix, probing rows by primary key). A row counts as visible at
// the end of the probe round that found it, so the resolution is the
// interval plus a round.
func (t *tracker) poll(ctx context.Context, conn *pgx.Conn, table pgx.Identifier, every time.Duration) error {
	query := "SELECT EXISTS (SELECT 1 FROM " + table.Sanitize() + " WHERE shard_id = $1 AND seq = $2)"
	exists := func(shard, seq string) (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, query, shard, seq).Scan(&ok)
		return ok, err
	}
	for {
		for _, p := range t.pending() {
			upTo, err := visiblePrefix(p.visible, p.upTo, func(i int) (bool, error) { return exists(p.shard, p.seqs[i]) })
			if err != nil {
				return ignoreCancel(err)
			}
			if upTo > p.visible {
				t.markVisible(p.shard, upTo, time.Now())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// visiblePrefix returns the length of the visible prefix of a shard's log,
// knowing that the first from entries are visible and that there are upTo
// entries: one probe if all are visible, a binary search otherwise.
func visiblePrefix(from, upTo int, visible func(i int) (bool, error)) (int, error) {
	if upTo <= from {
		return from, nil
	}
	ok, err := visible(upTo - 1)
	if err != nil {
		return from, err
	}
	if ok {
		return upTo, nil
	}
	lo, hi := from-1, upTo-1 // lo is visible (or -1), hi is not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if ok, err = visible(mid); err != nil {
			return from, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1, nil
}

func ignoreCancel(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// waitVisible waits until the first n published records are all visible.
func (t *tracker) waitVisible(ctx context.Context, n int, daemonExited <-chan struct{}) error {
	for {
		t.mu.Lock()
		seen, total := t.nVisible, len(t.all)
		t.mu.Unlock()
		if seen >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d published records visible: %w", seen, total, ctx.Err())
		case <-daemonExited:
			return fmt.Errorf("the daemon exited; %d of %d published records visible", seen, total)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// phaseLatencies summarises the PutRecords call durations and the
// call-start-to-visible times of records [from, to) in publish order.
func (t *tracker) phaseLatencies(from, to int) (put, visible Latencies) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var p, v []time.Duration
	for _, e := range t.all[from:to] {
		p = append(p, e.acked.Sub(e.put))
		v = append(v, e.visible.Sub(e.put))
	}
	return latencies(p), latencies(v)
}

func (t *tracker) lastVisible() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, e := range t.all {
		if e.visible.After(last) {
			last = e.visible
		}
	}
	return last
}
