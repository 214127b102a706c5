package backfill

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// progress counts what a run reads and prints it.
type progress struct {
	job      *Job
	started  time.Time
	estimate int64 // DescribeTable's ItemCount, updated by DynamoDB about every six hours
	before   int64 // items the scan read in earlier runs
	read     atomic.Int64
	done     atomic.Int32 // segments done
	segments int
}

func newProgress(j *Job, segs []sink.BackfillSegment, estimate int64, started time.Time) *progress {
	p := &progress{job: j, started: started, estimate: estimate, segments: len(segs)}
	for _, s := range segs {
		p.before += s.Items + s.DeadLettered
		if s.Done {
			p.done.Add(1)
		}
	}
	return p
}

func (p *progress) page(items int, segmentDone bool) {
	p.read.Add(int64(items))
	if segmentDone {
		p.done.Add(1)
	}
}

// rate is this run's items per second.
func (p *progress) rate() float64 {
	secs := time.Now().Sub(p.started).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.read.Load()) / secs
}

// report prints a line every interval until the returned stop is called.
func (p *progress) report(every time.Duration) (stop func()) {
	if p.job.Out == nil {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				p.line()
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func (p *progress) line() {
	total := p.before + p.read.Load()
	s := fmt.Sprintf("backfill %s: %d items, %.0f items/s, %d/%d segments done", p.job.Table, total, p.rate(), p.done.Load(), p.segments)
	if p.estimate > 0 {
		s += fmt.Sprintf(", ~%d%% of DynamoDB's estimate of %d", min(99, total*100/p.estimate), p.estimate)
	}
	p.job.printf("%s\n", s)
}
