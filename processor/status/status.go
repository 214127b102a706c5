// Package status tells how each shard is doing, from the progress table
// the shards' processes write (and the KCL lease table, when it can be
// read): rates, lag, the checkpoint's and the row's age, dead letters, the
// lease's owner, and whether the shard is stale or too far behind. The
// status command prints it and turns it into an exit code; the exporter
// serves it as metrics.
package status

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// ProgressSource reads a target's progress rows; *sink.ProgressReader is
// the one.
type ProgressSource interface {
	Read(ctx context.Context) (sink.ProgressSnapshot, error)
}

// Thresholds decide when a shard needs attention.
type Thresholds struct {
	// Stale: a shard whose row has not been updated for longer is stale
	// (its process is stuck, dead or gone, or, on a quiet stream, the
	// daemon does not call it: see callProcessRecordsEvenForEmptyRecordList).
	// 0: never.
	Stale time.Duration
	// MaxBehind: a shard further behind the stream's tip is behind. 0: not
	// checked.
	MaxBehind time.Duration
}

// State is what a shard needs.
type State string

// States. Only Stale and Behind are alerts.
const (
	OK         State = "ok"
	Stale      State = "stale"
	Behind     State = "behind"
	Ended      State = "ended"       // read to its end (SHARD_END): no more updates
	NoLease    State = "no lease"    // the lease table has none: no worker processes it
	NoProgress State = "no progress" // a lease, but no row yet
)

// Alert reports whether the state needs someone.
func (s State) Alert() bool { return s == Stale || s == Behind }

// Shard is one shard's status.
type Shard struct {
	ID       string
	Progress *sink.ProgressRow // nil: no row
	Lease    *Lease            // nil: none, or leases not read

	// Rates of the last interval its process reported (0 without one).
	RecordsPerSecond, BytesPerSecond float64
	Behind                           time.Duration // -1: unknown
	CheckpointAge, UpdateAge         time.Duration // -1: unknown
	State                            State
	Reason                           string // why the state, for people
}

// Report is one look at every shard of a target.
type Report struct {
	At            time.Time // the database's clock
	Target        string
	ProgressTable string
	Dialect       string
	// Complete: the progress table has every column (a table of an earlier
	// version has no rates, checkpoint times or histograms until a child
	// of this version has opened it).
	Complete    bool
	LeaseSource string // "" without a lease reader
	NoLeases    string // why there is no lease reader, if there is none
	LeaseErr    error  // the lease table could not be read
	Thresholds  Thresholds
	Shards      []Shard
	leasesRead  bool // leases were read: a row without one has no lease
}

// Alerts are the shards that need someone.
func (r Report) Alerts() []Shard {
	var out []Shard
	for _, s := range r.Shards {
		if s.State.Alert() {
			out = append(out, s)
		}
	}
	return out
}

// Reader looks at a target's shards.
type Reader struct {
	Progress   ProgressSource
	Leases     LeaseReader // nil: the progress table alone
	NoLeases   string      // why Leases is nil, for people
	Thresholds Thresholds
}

// Read takes one look. Only the progress table is needed: leases that
// cannot be read leave the owners unknown (Report.LeaseErr says why).
func (r *Reader) Read(ctx context.Context) (Report, error) {
	snap, err := r.Progress.Read(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("status: %w", err)
	}
	rep := Report{At: snap.Now, Target: snap.Target, ProgressTable: snap.Table, Dialect: snap.Dialect.String(),
		Complete: snap.Complete, Thresholds: r.Thresholds, NoLeases: r.NoLeases}
	var leases []Lease
	if r.Leases != nil {
		rep.LeaseSource = r.Leases.Source()
		if leases, err = r.readLeases(ctx); err != nil {
			rep.LeaseErr = err
		} else {
			rep.leasesRead = true
		}
	}
	rep.Shards = merge(snap.Rows, leases)
	for i := range rep.Shards {
		rep.Shards[i].evaluate(snap.Now, r.Thresholds, rep.leasesRead)
	}
	return rep, nil
}

// readLeases bounds the lease table's share of a look: the progress table
// alone answers, and a DynamoDB that is slow to answer must not hold up
// the status or a scrape.
func (r *Reader) readLeases(ctx context.Context) ([]Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, leaseWait)
	defer cancel()
	return r.Leases.Leases(ctx)
}

const leaseWait = 10 * time.Second

// merge pairs rows and leases by shard, in shard order.
func merge(rows []sink.ProgressRow, leases []Lease) []Shard {
	byID := map[string]*Shard{}
	get := func(id string) *Shard {
		if byID[id] == nil {
			byID[id] = &Shard{ID: id}
		}
		return byID[id]
	}
	for i := range rows {
		get(rows[i].ShardID).Progress = &rows[i]
	}
	for i := range leases {
		get(leases[i].ShardID()).Lease = &leases[i]
	}
	out := make([]Shard, 0, len(byID))
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// evaluate fills in the figures and the state as of now (the database's
// clock). leasesRead: the lease table was read, so a missing lease means
// no worker has the shard.
func (s *Shard) evaluate(now time.Time, th Thresholds, leasesRead bool) {
	s.Behind, s.CheckpointAge, s.UpdateAge = -1, -1, -1
	p := s.Progress
	if p != nil {
		if p.Window > 0 {
			s.RecordsPerSecond = float64(p.WindowRecords) / p.Window.Seconds()
			s.BytesPerSecond = float64(p.WindowBytes) / p.Window.Seconds()
		}
		if p.MillisBehindLatest >= 0 {
			s.Behind = time.Duration(p.MillisBehindLatest) * time.Millisecond
		}
		s.UpdateAge = age(now, p.UpdatedAt)
		s.CheckpointAge = age(now, p.CheckpointedAt)
	}
	switch {
	case p != nil && p.CheckpointSequence == shardEnd || s.Lease != nil && s.Lease.Checkpoint == shardEnd:
		s.State, s.Reason = Ended, "read to its end (SHARD_END)"
	case leasesRead && s.Lease == nil:
		s.State, s.Reason = NoLease, "no lease in the lease table: no worker processes it"
	case p == nil:
		s.State, s.Reason = NoProgress, "no progress row yet: no process has reported on it"
	case th.Stale > 0 && s.UpdateAge > th.Stale:
		s.State, s.Reason = Stale, fmt.Sprintf("no progress update for %s (threshold %s)", Duration(s.UpdateAge), Duration(th.Stale))
	case th.MaxBehind > 0 && s.Behind > th.MaxBehind:
		s.State, s.Reason = Behind, fmt.Sprintf("%s behind the stream's tip (threshold %s)", Duration(s.Behind), Duration(th.MaxBehind))
	default:
		s.State = OK
	}
}

// age is now - t, -1 when t is unknown, never below 0 (two nodes' clocks
// of one CrateDB cluster may disagree a little).
func age(now, t time.Time) time.Duration {
	if t.IsZero() {
		return -1
	}
	return max(now.Sub(t), 0)
}
