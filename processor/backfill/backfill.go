// Package backfill loads the items a DynamoDB table already holds into the
// target table of its change stream (sink.format = dynamodb-cdc): a
// parallel, consistent Scan whose items are decoded like the stream's
// INSERT records (cdc.DynamoDB.Item) and written through the same guarded
// upserts (sink.Writer.Apply), at a version below every change made after
// the scan began (see Margin). The load may run before, during or after
// the stream is consumed; the newest state wins either way, and a removed
// item's tombstone outranks its scanned copy.
//
// Each segment's progress (where its last written page ended, its counts)
// is stored in the database after every page, so a killed backfill goes on
// where it stopped, with the scan's original version.
package backfill

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// Scanner reads the source table (*dynamodb.Client).
type Scanner interface {
	DescribeTable(ctx context.Context, name string) (dynamodb.Table, error)
	Scan(ctx context.Context, in dynamodb.ScanInput) (dynamodb.ScanOutput, error)
	KinesisDestinations(ctx context.Context, table string) ([]dynamodb.Destination, error)
}

// Sink writes the items and keeps the progress (*sink.Writer).
type Sink interface {
	Apply(ctx context.Context, changes []cdc.Change) (sink.Result, error)
	WriteDeadLetters(ctx context.Context, dls []sink.DeadLetter) error
	LatestBackfill(ctx context.Context, source string) ([]sink.BackfillSegment, error)
	StartBackfill(ctx context.Context, segs []sink.BackfillSegment) error
	SaveBackfill(ctx context.Context, segs ...sink.BackfillSegment) error
}

// Job is one backfill of one DynamoDB table.
type Job struct {
	Table    string        // the DynamoDB table
	Decoder  *cdc.DynamoDB // the change stream's decoder (sink.dynamodb.*)
	Scanner  Scanner
	Sink     Sink
	Segments int  // TotalSegments of a new scan; default 4 (a resumed scan keeps its own)
	PageSize int  // Scan's Limit; default 1000 (a page also ends at 1 MB)
	Restart  bool // start a new scan even if the last one is unfinished
	// Out receives a progress line every Every (default 5s) and a summary;
	// nil for none.
	Out   io.Writer
	Every time.Duration
	Log   zerolog.Logger
}

// Defaults.
const (
	DefaultSegments = 4
	DefaultPageSize = 1000
)

// Summary is what a Run did.
type Summary struct {
	ScanID        string
	VersionMicros int64
	Segments      int
	Resumed       bool  // an unfinished scan was continued
	Complete      bool  // every segment is done (now or before this run)
	Items         int64 // written by the whole scan so far
	DeadLettered  int64
	ThisRun       int64 // items read by this run
	Elapsed       time.Duration
}

// Run loads the table, or continues the last unfinished scan of it.
func (j *Job) Run(ctx context.Context) (Summary, error) {
	started := time.Now()
	tbl, err := j.describe(ctx)
	if err != nil {
		return Summary{}, err
	}
	j.checkDestination(ctx)
	segs, err := j.Sink.LatestBackfill(ctx, j.Table)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Resumed: len(segs) > 0 && !j.Restart}
	if sum.Resumed && segs[0].Segments <= 0 {
		return Summary{}, fmt.Errorf("backfill %s: scan %s in the progress table has no segment count; run with --restart", j.Table, segs[0].ScanID)
	}
	if sum.Resumed {
		segs = fillSegments(segs)
	} else {
		segs = j.newScan(tbl.ServerDate)
	}
	sum.ScanID, sum.VersionMicros, sum.Segments = segs[0].ScanID, segs[0].VersionMicros, segs[0].Segments
	if done(segs) {
		sum.Complete = true
		sum.Items, sum.DeadLettered = totals(segs)
		j.printf("backfill %s: scan %s is complete (%d items, %d dead-lettered); --restart scans again\n",
			j.Table, sum.ScanID, sum.Items, sum.DeadLettered)
		return sum, nil
	}
	if err := j.Sink.StartBackfill(ctx, segs); err != nil {
		return sum, err
	}
	j.announce(sum, segs)
	p := newProgress(j, segs, tbl.ItemCount, started)
	stop := p.report(j.every())
	err = parallel(ctx, len(segs), func(ctx context.Context, i int) error {
		if segs[i].Done {
			return nil
		}
		return j.segment(ctx, &segs[i], p)
	})
	stop()
	sum.Items, sum.DeadLettered = totals(segs)
	sum.ThisRun, sum.Elapsed = p.read.Load(), time.Now().Sub(started)
	if err != nil {
		return sum, fmt.Errorf("backfill %s (scan %s; run again to continue): %w", j.Table, sum.ScanID, err)
	}
	sum.Complete = true
	j.printf("backfill %s: done, scan %s: %d items, %d dead-lettered; this run %d items in %s (%.0f items/s)\n",
		j.Table, sum.ScanID, sum.Items, sum.DeadLettered, sum.ThisRun, sum.Elapsed.Round(time.Millisecond), p.rate())
	j.Log.Info().Str("table", j.Table).Str("scan", sum.ScanID).Int64("items", sum.Items).
		Int64("dead_lettered", sum.DeadLettered).Dur("elapsed", sum.Elapsed).Msg("backfill done")
	return sum, nil
}

// describe reads the table and checks that its key is the configured one:
// items of another key would all be refused.
func (j *Job) describe(ctx context.Context) (dynamodb.Table, error) {
	tbl, err := j.Scanner.DescribeTable(ctx, j.Table)
	if err != nil {
		return tbl, fmt.Errorf("backfill: %w", err)
	}
	var have, want []string
	for _, k := range tbl.Key() {
		have = append(have, k.AttributeName+":"+k.AttributeType)
	}
	for _, k := range j.Decoder.Keys() {
		want = append(want, k.Name+":"+k.Tag)
	}
	if strings.Join(have, ",") != strings.Join(want, ",") {
		return tbl, fmt.Errorf("backfill: sink.dynamodb.keys = %s, but table %s's key is %s", strings.Join(want, ","), j.Table, strings.Join(have, ","))
	}
	return tbl, nil
}

// checkDestination warns when no Kinesis destination is ACTIVE: changes
// made during and after the backfill would then reach the target only if
// the stream is turned on before they happen.
func (j *Job) checkDestination(ctx context.Context) {
	dests, err := j.Scanner.KinesisDestinations(ctx, j.Table)
	if err != nil {
		j.printf("backfill %s: note: cannot check the table's Kinesis destination (%v); it must be ACTIVE before the backfill starts\n", j.Table, err)
		return
	}
	for _, d := range dests {
		if d.DestinationStatus == "ACTIVE" {
			return
		}
	}
	j.printf("backfill %s: warning: the table has no ACTIVE Kinesis streaming destination; "+
		"changes made during the backfill will be missing unless it is ACTIVE before the backfill starts\n", j.Table)
}

// newScan makes the segments of a scan starting now.
func (j *Job) newScan(serverDate time.Time) []sink.BackfillSegment {
	now := time.Now()
	n := j.Segments
	if n <= 0 {
		n = DefaultSegments
	}
	segs := make([]sink.BackfillSegment, n)
	for i := range segs {
		segs[i] = sink.BackfillSegment{Source: j.Table, ScanID: now.UTC().Format(scanIDLayout), Segment: i, Segments: n,
			VersionMicros: scanVersion(now, serverDate)}
	}
	return segs
}

// fillSegments adds the segments a scan killed while it was being started
// did not store.
func fillSegments(segs []sink.BackfillSegment) []sink.BackfillSegment {
	out := make([]sink.BackfillSegment, segs[0].Segments)
	for i := range out {
		out[i] = sink.BackfillSegment{Source: segs[0].Source, ScanID: segs[0].ScanID, Segment: i, Segments: segs[0].Segments,
			VersionMicros: segs[0].VersionMicros}
	}
	for _, s := range segs {
		if s.Segment >= 0 && s.Segment < len(out) {
			out[s.Segment] = s
		}
	}
	return out
}

func done(segs []sink.BackfillSegment) bool {
	for _, s := range segs {
		if !s.Done {
			return false
		}
	}
	return true
}

func totals(segs []sink.BackfillSegment) (items, dead int64) {
	for _, s := range segs {
		items += s.Items
		dead += s.DeadLettered
	}
	return items, dead
}

func (j *Job) announce(sum Summary, segs []sink.BackfillSegment) {
	how := "starting scan"
	if sum.Resumed {
		items, _ := totals(segs)
		how = fmt.Sprintf("resuming scan (%d items written before)", items)
	}
	if sum.Resumed && j.Segments > 0 && j.Segments != sum.Segments {
		how += fmt.Sprintf(", with its %d segments (not --segments %d)", sum.Segments, j.Segments)
	}
	version := time.UnixMicro(sum.VersionMicros).UTC().Format(time.RFC3339Nano)
	j.printf("backfill %s: %s %s, %d segments, items versioned at %s\n", j.Table, how, sum.ScanID, sum.Segments, version)
	j.Log.Info().Str("table", j.Table).Str("scan", sum.ScanID).Bool("resumed", sum.Resumed).Int("segments", sum.Segments).
		Int64("version_micros", sum.VersionMicros).Msg("backfill starts")
}

func (j *Job) printf(format string, args ...any) {
	if j.Out != nil {
		fmt.Fprintf(j.Out, format, args...)
	}
}

func (j *Job) every() time.Duration {
	if j.Every > 0 {
		return j.Every
	}
	return 5 * time.Second
}
