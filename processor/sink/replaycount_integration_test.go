package sink

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
)

func replayableDeadLetters(n int) []DeadLetter {
	dls := make([]DeadLetter, n)
	for i := range dls {
		dls[i] = DeadLetter{Source: record.Source{ShardID: "shardId-000000000004", SequenceNumber: fmt.Sprintf("4959%056d", i), Data: []byte(fmt.Sprintf(`{"id":%d}`, i))}, Stage: StageDecode, Err: "was broken"}
	}
	return dls
}

func rowOf(d DeadLetter) (Row, error) {
	return Row{Source: d.Source, Payload: d.Data}, nil
}

// TestConcurrentReplaysCountEachRowOnce runs two replays over the same dead
// letters at the same moment (both have read every row before either
// deletes): together they report each row replayed exactly once.
func TestConcurrentReplaysCountEachRowOnce(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, url string) {
		w := openTest(t, url, nil)
		ctx := context.Background()
		const n = 300
		if err := w.WriteDeadLetters(ctx, replayableDeadLetters(n)); err != nil {
			t.Fatal(err)
		}
		var bothRead sync.WaitGroup
		bothRead.Add(2)
		var results [2]ReplayResult
		var errs [2]error
		var done sync.WaitGroup
		for i := range 2 {
			done.Add(1)
			go func() {
				defer done.Done()
				first := true
				results[i], errs[i] = w.ReplayDeadLetters(ctx, ReplayFilter{PageSize: n}, func(d DeadLetter) (Row, error) {
					if first {
						first = false
						bothRead.Done()
						bothRead.Wait()
					}
					return rowOf(d)
				})
			}()
		}
		done.Wait()
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("replay %d: %v", i, errs[i])
			}
		}
		a, b := results[0], results[1]
		t.Logf("replays: %+v and %+v", a, b)
		if a.Replayed+b.Replayed != n || a.AlreadyGone+b.AlreadyGone != n || a.Scanned != n || b.Scanned != n {
			t.Fatalf("replays counted %+v and %+v, want %d replayed in all", a, b, n)
		}
		if got := count(t, w, w.deadLetter); got != 0 {
			t.Fatalf("%d dead letters left", got)
		}
	})
}

// TestReplayDoesNotCountDeadLetterDeletedByHand: a dead letter removed by a
// person while the replay runs is written, but not counted as replayed.
func TestReplayDoesNotCountDeadLetterDeletedByHand(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, url string) {
		w := openTest(t, url, nil)
		ctx := context.Background()
		dls := replayableDeadLetters(20)
		if err := w.WriteDeadLetters(ctx, dls); err != nil {
			t.Fatal(err)
		}
		gone := dls[7].Key()
		res, err := w.ReplayDeadLetters(ctx, ReplayFilter{PageSize: 50}, func(d DeadLetter) (Row, error) {
			if d.Key() == gone {
				if _, err := w.pool.Exec(ctx, `DELETE FROM `+w.deadLetter.sql()+` WHERE shard_id = $1 AND seq = $2 AND sub_seq = $3`,
					gone.ShardID, gone.SequenceNumber, gone.SubSequenceNumber); err != nil {
					t.Errorf("deleting by hand: %v", err)
				}
			}
			return rowOf(d)
		})
		if err != nil {
			t.Fatal(err)
		}
		if res != (ReplayResult{Scanned: 20, Replayed: 19, AlreadyGone: 1}) {
			t.Fatalf("replay result %+v", res)
		}
		if w.Dialect() == CrateDB {
			mustExec(t, w, "REFRESH TABLE "+w.target.sql())
		}
		if got := count(t, w, w.target); got != 20 {
			t.Fatalf("target has %d rows, want 20", got)
		}
	})
}
