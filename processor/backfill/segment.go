package backfill

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
)

// segment scans one segment from where it stopped to its end. Each page is
// written, then its end is stored: killed in between, the page is read and
// written again, which the version guard makes harmless.
func (j *Job) segment(ctx context.Context, seg *sink.BackfillSegment, p *progress) error {
	pageSize := j.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	for !seg.Done {
		out, err := j.Scanner.Scan(ctx, dynamodb.ScanInput{TableName: j.Table, Segment: seg.Segment, TotalSegments: seg.Segments,
			Limit: pageSize, ExclusiveStartKey: seg.LastKey,
			// A consistent read sees every write acknowledged before it:
			// the item holds every change older than the version.
			ConsistentRead: true})
		if err != nil {
			return err
		}
		changes, dead := j.decode(out.Items, seg)
		var res sink.Result
		if len(changes) > 0 {
			if res, err = j.Sink.Apply(ctx, changes); err != nil {
				return err
			}
		}
		if len(dead) > 0 {
			if err := j.Sink.WriteDeadLetters(ctx, dead); err != nil {
				return err
			}
			for _, d := range dead {
				j.Log.Warn().Str("table", j.Table).Int("segment", seg.Segment).Str("error", d.Err).Msg("item dead-lettered")
			}
		}
		seg.Items += int64(res.Written)
		seg.DeadLettered += int64(len(res.DeadLettered) + len(dead))
		seg.Pages++
		seg.LastKey = out.LastEvaluatedKey
		seg.Done = out.LastEvaluatedKey == nil
		if err := j.Sink.SaveBackfill(ctx, *seg); err != nil {
			return err
		}
		p.page(len(out.Items), seg.Done)
	}
	return nil
}

// decode turns a page into changes, numbering its items after those the
// segment has read before; items the decoder refuses become dead letters.
func (j *Job) decode(items []json.RawMessage, seg *sink.BackfillSegment) ([]cdc.Change, []sink.DeadLetter) {
	shard := fmt.Sprintf("backfill:%s@%s", j.Table, seg.ScanID) // the dead letters' shard_id
	first := seg.Items + seg.DeadLettered
	changes := make([]cdc.Change, 0, len(items))
	var dead []sink.DeadLetter
	for i, item := range items {
		c, err := j.Decoder.Item(item, itemVersion(seg.VersionMicros, seg.Segment, first+int64(i)))
		c.Source.ShardID = shard
		if err != nil {
			dead = append(dead, sink.DeadLetter{Source: c.Source, Stage: sink.StageDecode, Err: err.Error()})
			continue
		}
		changes = append(changes, c)
	}
	return changes, dead
}
