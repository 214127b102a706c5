package backfill

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// Count counts the table's items with a parallel Scan of Select=COUNT
// (--dry-run): nothing is written, and no item leaves DynamoDB.
func (j *Job) Count(ctx context.Context) (int64, error) {
	started := time.Now()
	tbl, err := j.describe(ctx)
	if err != nil {
		return 0, err
	}
	n := j.Segments
	if n <= 0 {
		n = DefaultSegments
	}
	p := newProgress(j, make([]sink.BackfillSegment, n), tbl.ItemCount, started)
	stop := p.report(j.every())
	err = parallel(ctx, n, func(ctx context.Context, segment int) error {
		in := dynamodb.ScanInput{TableName: j.Table, Segment: segment, TotalSegments: n, Select: "COUNT"}
		for {
			out, err := j.Scanner.Scan(ctx, in)
			if err != nil {
				return err
			}
			p.page(int(out.Count), out.LastEvaluatedKey == nil)
			if out.LastEvaluatedKey == nil {
				return nil
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	})
	stop()
	if err != nil {
		return 0, fmt.Errorf("backfill %s: count: %w", j.Table, err)
	}
	return p.read.Load(), nil
}

// parallel runs fn for 0..n-1 at once; the first error cancels the others
// and is returned.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := fn(ctx, i); err != nil {
				cancel(fmt.Errorf("segment %d: %w", i, err))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
