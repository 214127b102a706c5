package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
)

// BackfillSegment is the stored progress of one segment of an initial load
// (kinesis-cratedb backfill): a DynamoDB parallel scan written through
// ChangeWriter.Apply. Rows live in <schema of Config.Table>.kinesis_backfill, keyed by
// target table, source table, scan and segment.
type BackfillSegment struct {
	Source   string // the DynamoDB table
	ScanID   string // the scan's start, fixed-width UTC text: later scans sort after
	Segment  int
	Segments int // the scan's TotalSegments
	// VersionMicros is the version time of every item the scan loads; a
	// resumed scan keeps it.
	VersionMicros int64
	// LastKey is the LastEvaluatedKey of the last page written; nil before
	// the first.
	LastKey      json.RawMessage
	Items        int64 // items written (new rows or rows the guard kept)
	DeadLettered int64
	Pages        int64
	Done         bool
	UpdatedAt    time.Time // set by the database
}

const backfillTableName = "kinesis_backfill"

// backfillTable names the progress table of the writer's schema.
func (w *core) backfillTable() tableName {
	return tableName{schema: w.target.schema, name: backfillTableName}
}

// backfillDDL creates the progress table: the same text on both databases.
func backfillDDL(t tableName) string {
	return `CREATE TABLE IF NOT EXISTS ` + t.sql() + ` (` +
		`"target_table" TEXT NOT NULL, "source_table" TEXT NOT NULL, "scan_id" TEXT NOT NULL, "segment" INTEGER NOT NULL, ` +
		`"total_segments" INTEGER, "version_micros" BIGINT, "last_key" TEXT, ` +
		`"items" BIGINT, "dead_lettered" BIGINT, "pages" BIGINT, "done" BOOLEAN, ` +
		`"updated_at" TIMESTAMP WITH TIME ZONE, ` +
		`PRIMARY KEY ("target_table", "source_table", "scan_id", "segment"))`
}

const backfillColumns = `"target_table", "source_table", "scan_id", "segment", "total_segments", "version_micros", ` +
	`"last_key", "items", "dead_lettered", "pages", "done"`

// LatestBackfill returns the segments of the newest scan of the DynamoDB
// table source into the writer's table, in segment order; none when there
// was no scan. It creates the progress table if needed.
func (w *ChangeWriter) LatestBackfill(ctx context.Context, source string) ([]BackfillSegment, error) {
	t := w.backfillTable()
	var segs []BackfillSegment
	_, err := w.retry.do(ctx, "read backfill progress", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
		defer cancel()
		if err := w.execDDL(ctx, backfillDDL(t)); err != nil {
			return err
		}
		if w.db.kind() == CrateDB { // rows written by a process just killed may not be searchable yet
			if _, err := w.pool.Exec(ctx, `REFRESH TABLE `+t.sql()); err != nil {
				return err
			}
		}
		target := w.target.schema + "." + w.target.name
		var scan string
		err := w.pool.QueryRow(ctx, `SELECT "scan_id" FROM `+t.sql()+` WHERE "target_table" = $1::TEXT AND "source_table" = $2::TEXT `+
			`ORDER BY "scan_id" DESC LIMIT 1`, target, source).Scan(&scan)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := w.pool.Query(ctx, `SELECT `+backfillColumns+`, "updated_at" FROM `+t.sql()+
			` WHERE "target_table" = $1::TEXT AND "source_table" = $2::TEXT AND "scan_id" = $3::TEXT ORDER BY "segment"`, target, source, scan)
		if err != nil {
			return err
		}
		segs, err = pgx.CollectRows(rows, scanBackfillSegment)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sink: backfill progress in %s: %w", t, err)
	}
	return segs, nil
}

func scanBackfillSegment(row pgx.CollectableRow) (BackfillSegment, error) {
	var s BackfillSegment
	var target string
	var lastKey *string
	var updated *time.Time
	err := row.Scan(&target, &s.Source, &s.ScanID, &s.Segment, &s.Segments, &s.VersionMicros, &lastKey,
		&s.Items, &s.DeadLettered, &s.Pages, &s.Done, &updated)
	if lastKey != nil {
		s.LastKey = json.RawMessage(*lastKey)
	}
	if updated != nil {
		s.UpdatedAt = *updated
	}
	return s, err
}

// StartBackfill stores the segments of a new scan (or of a scan being
// resumed) unless they are stored already: what is stored wins, so a
// resumed scan never goes back.
func (w *ChangeWriter) StartBackfill(ctx context.Context, segs []BackfillSegment) error {
	return w.saveBackfill(ctx, segs, `DO NOTHING`)
}

// SaveBackfill stores the progress of segments.
func (w *ChangeWriter) SaveBackfill(ctx context.Context, segs ...BackfillSegment) error {
	return w.saveBackfill(ctx, segs, `DO UPDATE SET "last_key" = excluded."last_key", "items" = excluded."items", `+
		`"dead_lettered" = excluded."dead_lettered", "pages" = excluded."pages", "done" = excluded."done", "updated_at" = excluded."updated_at"`)
}

func (w *ChangeWriter) saveBackfill(ctx context.Context, segs []BackfillSegment, onConflict string) error {
	t := w.backfillTable()
	sql := `INSERT INTO ` + t.sql() + ` (` + backfillColumns + `, "updated_at") VALUES ($1::TEXT, $2::TEXT, $3::TEXT, $4::INTEGER, ` +
		`$5::INTEGER, $6::BIGINT, $7::TEXT, $8::BIGINT, $9::BIGINT, $10::BIGINT, $11::BOOLEAN, CURRENT_TIMESTAMP) ` +
		`ON CONFLICT ("target_table", "source_table", "scan_id", "segment") ` + onConflict
	target := w.target.schema + "." + w.target.name
	_, err := w.retry.do(ctx, "save backfill progress", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
		defer cancel()
		batch := &pgx.Batch{}
		for _, s := range segs {
			var lastKey *string
			if s.LastKey != nil {
				k := string(s.LastKey)
				lastKey = &k
			}
			batch.Queue(sql, target, s.Source, s.ScanID, s.Segment, s.Segments, s.VersionMicros, lastKey,
				s.Items, s.DeadLettered, s.Pages, s.Done)
		}
		br := w.pool.SendBatch(ctx, batch)
		defer br.Close()
		for _, s := range segs {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			if rowFailed(tag.String()) { // CrateDB's bulk answer for a refused row
				return fmt.Errorf("segment %d refused (%s)", s.Segment, tag)
			}
		}
		return br.Close()
	})
	if err != nil {
		return fmt.Errorf("sink: save backfill progress in %s: %w", t, err)
	}
	return nil
}

// DDL returns, for the database at databaseURL, the statements
// OpenChanges runs with Config.CreateTables for specs, then the backfill
// progress table's. It only connects to learn the dialect; nothing is
// created.
func DDL(ctx context.Context, databaseURL string, cfg Config, specs []*cdc.Table) (Dialect, []string, error) {
	c, err := openCore(ctx, databaseURL, cfg)
	if err != nil {
		return 0, nil, err
	}
	defer c.pool.Close()
	state, err := newCDCState(c.db, specs)
	if err != nil {
		return 0, nil, fmt.Errorf("sink: %w", err)
	}
	ddl := append(state.ddl(), c.sql.createDeadLetter, c.sql.createProgress, backfillDDL(c.backfillTable()))
	return c.db.kind(), ddl, nil
}
