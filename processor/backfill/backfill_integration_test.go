package backfill_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb/dynamotest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backfill"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// fixture is a dynalite table and the sink's tables for it.
type fixture struct {
	db     pgtest.DB
	ddb    *dynamodb.Client
	source string // DynamoDB table
	target string // schema.table
	dec    *cdc.DynamoDB
	w      *sink.ChangeWriter
	model  dynamotest.Model // what the source table holds
	seq    atomic.Int64     // Kinesis sequence numbers of the change records
}

func newFixture(t testing.TB, db pgtest.DB, columnTypes ...cdc.Column) *fixture {
	t.Helper()
	f := newTarget(t, db, columnTypes...)
	dynamotest.CreateTable(t, f.ddb, f.source, dynamotest.Key{Name: "id", Type: "S"}, dynamotest.Key{Name: "rev", Type: "N"})
	return f
}

// newTarget is a fixture without its DynamoDB table: fresh sink tables for
// a table keyed id:S, rev:N.
func newTarget(t testing.TB, db pgtest.DB, columnTypes ...cdc.Column) *fixture {
	t.Helper()
	f := &fixture{db: db, ddb: dynamotest.Client(t), model: dynamotest.Model{}}
	name := fmt.Sprintf("bf_%d", time.Now().UnixNano()%1e12)
	f.source = name
	f.target = "public." + name
	if db.Crate() {
		f.target = "doc." + name
	}
	keys, err := cdc.ParseDynamoKeys("id:S,rev:N")
	if err != nil {
		t.Fatal(err)
	}
	if f.dec, err = cdc.NewDynamoDB(f.target, keys, columnTypes, cdc.Base64); err != nil {
		t.Fatal(err)
	}
	f.w, err = sink.OpenChanges(context.Background(), db.URL, sink.Config{Table: f.target, CreateTables: true,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}, f.dec.Tables())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.w.Close()
		f.exec(t, "DROP VIEW IF EXISTS "+f.target+"_live")
		f.exec(t, "DROP TABLE IF EXISTS "+f.target)
		f.exec(t, "DROP TABLE IF EXISTS "+f.target+"_deadletter")
	})
	return f
}

func (f *fixture) exec(t testing.TB, sql string) {
	conn, err := pgx.Connect(context.Background(), f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Errorf("%s: %v", sql, err)
	}
}

func (f *fixture) job() *backfill.Job {
	return &backfill.Job{Table: f.source, Decoder: f.dec, Scanner: f.ddb, Sink: f.w, Segments: 4, PageSize: 97,
		Out: testOut{}, Every: time.Hour}
}

// change makes one change in the source table, as a user would, and
// returns the record the Kinesis destination publishes for it.
func (f *fixture) change(t *testing.T, r *rand.Rand, id string, rev int64) record.Source {
	data := f.model.Change(t, f.ddb, f.source, r, id, rev)
	return record.Source{ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4965%052d", f.seq.Add(1)), Data: data}
}

// apply consumes change records as the child would.
func (f *fixture) apply(t *testing.T, recs []record.Source) {
	t.Helper()
	var changes []cdc.Change
	for _, rec := range recs {
		ev, err := f.dec.Decode(rec)
		if err != nil {
			t.Fatalf("%s: %v", rec.Data, err)
		}
		changes = append(changes, *ev.Change)
	}
	for _, round := range cdc.Rounds(changes) {
		if _, err := f.w.Apply(context.Background(), round); err != nil {
			t.Fatal(err)
		}
	}
}

// check compares the target's live view with the source table, key by key.
func (f *fixture) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	f.db.Refresh(t, conn, f.target, f.target+"_deadletter")
	exp, err := pgtest.CanonicalJSON(ctx, conn, f.db, f.model.Want())
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgtest.LiveRows(ctx, conn, f.db, f.target+"_live")
	if err != nil {
		t.Fatal(err)
	}
	got, exp = pgtest.MergeDataAux(got), pgtest.MergeDataAux(exp)
	if !slices.Equal(got, exp) {
		for i := range max(len(got), len(exp)) {
			g, e := at(got, i), at(exp, i)
			if g != e {
				t.Fatalf("%d rows, want %d; first difference:\n got %s\nwant %s", len(got), len(exp), g, e)
			}
		}
	}
	var dead int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+f.target+"_deadletter").Scan(&dead); err != nil || dead != 0 {
		t.Fatalf("%d dead letters (%v)", dead, err)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// TestBackfillWithStream is the scenario in one process: a table
// of mixed items, changed (inserts, modifies, removes of the same items)
// while the scan runs, with the change records applied both before and
// after the backfill reaches their items; the backfill killed once and
// resumed. The target must equal the source table, and stay so after a
// --restart.
func TestBackfillWithStream(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		f := newFixture(t, db)
		r := rand.New(rand.NewPCG(14, 1))
		const n = 1500
		f.model.Load(t, f.ddb, f.source, r, n)

		var mu sync.Mutex
		var late []record.Source // applied after the backfill: the stream lagging behind
		var once sync.Once
		scanner := &hookScanner{Scanner: f.ddb, hook: func() {
			once.Do(func() {
				mu.Lock()
				defer mu.Unlock()
				var early []record.Source
				for i := range 300 { // existing items and new ones, some changed twice
					id := fmt.Sprintf("item-%05d", r.IntN(n+100))
					rec := f.change(t, r, id, int64(i%3))
					if i%2 == 0 {
						early = append(early, rec)
					} else {
						late = append(late, rec)
					}
				}
				f.apply(t, early)
			})
		}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		killer := &cancelAfter{Sink: f.w, after: 12, cancel: cancel}
		job := f.job()
		job.Scanner, job.Sink = scanner, killer
		if _, err := job.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("killed run: %v", err)
		}

		job.Sink = f.w
		sum, err := job.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Resumed || !sum.Complete || sum.ThisRun >= int64(n) || sum.Items < int64(n) {
			t.Fatalf("resumed run: %+v", sum)
		}
		mu.Lock()
		f.apply(t, late)
		mu.Unlock()
		f.check(t)

		again, err := f.job().Run(context.Background())
		if err != nil || !again.Complete || again.ThisRun != 0 || again.ScanID != sum.ScanID {
			t.Fatalf("a run after the end: %+v %v", again, err)
		}
		// A new scan's version is never below the old one's; within the
		// same second of DynamoDB's Date header it is the same.
		restart := f.job()
		restart.Restart = true
		fresh, err := restart.Run(context.Background())
		if err != nil || fresh.Resumed || fresh.ScanID == sum.ScanID || fresh.VersionMicros < sum.VersionMicros || fresh.ThisRun != int64(len(f.model)) {
			t.Fatalf("restart: %+v %v (model %d)", fresh, err, len(f.model))
		}
		f.check(t)

		count, err := f.job().Count(context.Background())
		if err != nil || count != int64(len(f.model)) {
			t.Fatalf("count %d, %v; want %d", count, err, len(f.model))
		}
	})
}

// TestBackfillDeadLetters: an item the decoder refuses is dead-lettered as
// the change record that would insert it, which the stream's decoder reads
// (and refuses) the same way; the rest is written.
func TestBackfillDeadLetters(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) {
		f := newFixture(t, db, cdc.Column{Name: "price", Type: cdc.Double})
		dynamotest.PutItems(t, f.ddb, f.source, []json.RawMessage{
			json.RawMessage(`{"id":{"S":"ok"},"rev":{"N":"1"},"price":{"N":"9.5"}}`),
			json.RawMessage(`{"id":{"S":"bad"},"rev":{"N":"1"},"price":{"S":"cheap"}}`),
		})
		sum, err := f.job().Run(context.Background())
		if err != nil || sum.Items != 1 || sum.DeadLettered != 1 {
			t.Fatalf("%+v %v", sum, err)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		db.Refresh(t, conn, f.target+"_deadletter")
		var shard, seq, stage, msg string
		var sub int64
		if err := conn.QueryRow(ctx, `SELECT shard_id, seq, sub_seq, stage, error FROM `+f.target+`_deadletter`).
			Scan(&shard, &seq, &sub, &stage, &msg); err != nil {
			t.Fatal(err)
		}
		if shard != "backfill:"+f.source+"@"+sum.ScanID || stage != sink.StageDecode || !strings.Contains(msg, "declared type DOUBLE") {
			t.Fatalf("dead letter %s %s %d %s %q", shard, seq, sub, stage, msg)
		}
		// After the fix (price no longer declared DOUBLE), replay applies it
		// like a dead-lettered change, at the item's own version.
		keys, _ := cdc.ParseDynamoKeys("id:S,rev:N")
		fixed, err := cdc.NewDynamoDB(f.target, keys, nil, cdc.Base64)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.w.ReplayChanges(ctx, sink.ReplayFilter{ShardID: shard}, func(dl sink.DeadLetter) (cdc.Event, error) {
			ev, err := fixed.Decode(dl.Source)
			if ev.Change != nil {
				ev.Change.Table = f.dec.Tables()[0] // the writer's table spec
				if ev.Change.Version.Micros != sum.VersionMicros {
					t.Errorf("replayed version %+v, scan's %d", ev.Change.Version, sum.VersionMicros)
				}
			}
			return ev, err
		})
		if err != nil || res.Replayed != 1 {
			t.Fatalf("replay: %+v %v", res, err)
		}
		f.model["ok/1"] = dynamotest.Item{Want: json.RawMessage(`{"pk":{"id":"ok","rev":1},"data":{"price":9.5},"aux":{}}`)}
		f.model["bad/1"] = dynamotest.Item{Want: json.RawMessage(`{"pk":{"id":"bad","rev":1},"data":{"price":"cheap"},"aux":{}}`)}
		f.check(t)
	})
}

// hookScanner calls hook after every page it reads.
type hookScanner struct {
	backfill.Scanner
	hook func()
}

func (h *hookScanner) Scan(ctx context.Context, in dynamodb.ScanInput) (dynamodb.ScanOutput, error) {
	out, err := h.Scanner.Scan(ctx, in)
	if err == nil {
		h.hook()
	}
	return out, err
}

// cancelAfter cancels the run once `after` pages are stored, as a kill
// would stop it (pages being written are lost, stored ones are not).
type cancelAfter struct {
	backfill.Sink
	after  int32
	saved  atomic.Int32
	cancel func()
}

func (c *cancelAfter) SaveBackfill(ctx context.Context, segs ...sink.BackfillSegment) error {
	err := c.Sink.SaveBackfill(ctx, segs...)
	if c.saved.Add(1) == c.after {
		c.cancel()
	}
	return err
}

type testOut struct{}

func (testOut) Write(b []byte) (int, error) { return len(b), nil }
