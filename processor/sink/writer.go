package sink

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/record"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
	"github.com/rs/zerolog"
)

// Row is one Kinesis (sub-)record, already decoded. Source.Data is kept
// for the dead-letter table, should the database refuse the row.
type Row struct {
	record.Source
	Payload []byte // a JSON object, stored as is (big integers keep their digits)
}

// DeadLetter is a record the sink could not decode or the database refused.
type DeadLetter struct {
	record.Source
	Stage string // "decode" | "write"
	Err   string
}

// Dead-letter stages.
const (
	StageDecode = "decode"
	StageWrite  = "write"
)

// Config describes the tables and behaviour of a Writer. The zero value
// (plus a Table) is usable.
type Config struct {
	Table           string // [schema.]table; unqualified means doc (CrateDB) / public (PostgreSQL)
	DeadLetterTable string // default: Table + "_deadletter", same schema
	ProgressTable   string // default: <schema of Table>.kinesis_progress
	ObjectPolicy    string // CrateDB payload column: "dynamic" (default) | "ignored"
	CreateTables    bool   // create missing tables at Open instead of failing
	Retry           RetryPolicy
	Logger          zerolog.Logger

	// ChunkSize bounds the rows sent in one round trip. Default: 10000 on
	// PostgreSQL, the most the daemon delivers at once, so a batch is one
	// COPY; 2000 on CrateDB, where a pgx batch holds every queued row's
	// parameters until it is sent, and 2000 rows took less memory and CPU
	// than 10000 at the same rate (kcl-bench, 50,000 1 KB records: peak
	// RSS 72 against 103 MiB).
	ChunkSize int
	// AttemptTimeout bounds one database round trip so a silently dead
	// connection is noticed; it then counts as a transient error. Default 2m
	// (CrateDB itself waits up to 1m for an inactive primary shard).
	AttemptTimeout time.Duration
}

const (
	defaultChunkSize      = 10000
	defaultCrateChunkSize = 2000
	defaultAttemptTimeout = 2 * time.Minute

	// crateChunkBytes bounds a CrateDB chunk's payloads: 2,000 rows of 1 KB
	// stay one chunk, 100 KB records go 40 to a statement.
	crateChunkBytes = 4 << 20
	// changeChunkBytes bounds the records of a chunk of changes on both
	// databases: every chunk is one statement (PostgreSQL) or one batch.
	changeChunkBytes = 4 << 20
)

// Result reports what one Write did.
type Result struct {
	Written      int          // rows now in the target table (new or already there)
	DeadLettered []DeadLetter // rows the database refused, now in the dead-letter table
	Retries      int          // transient failures waited out
}

// Writer writes plain rows to one target table. It is safe for concurrent
// use.
type Writer struct {
	*core
	rules             shape.Rules // of the payload column
	colsMu            sync.Mutex
	payloadCols       *shape.Columns // the payload's sub-columns (CrateDB)
	noAux             bool           // a user's table without payload_aux and payload_text
	columnsFull       atomic.Bool    // CrateDB refused a new sub-column: the table is at its limit
	skipDirectCopy    atomic.Int32   // chunks left that bypass the direct COPY (see insertCopy)
	skipUnnest        atomic.Int32   // chunks left that go as a batch (see insertCrateUnnest)
	genericCopyLogged atomic.Bool
}

// Open connects to databaseURL, detects the dialect and prepares the tables.
// Transient connection errors are retried according to cfg.Retry; anything
// else (bad URL, authentication, missing tables) fails at once.
func Open(ctx context.Context, databaseURL string, cfg Config) (*Writer, error) {
	policy := strings.ToLower(cfg.ObjectPolicy)
	if policy != "" && policy != "dynamic" && policy != "ignored" {
		return nil, fmt.Errorf("sink: ObjectPolicy %q: want dynamic or ignored", cfg.ObjectPolicy)
	}
	c, err := openCore(ctx, databaseURL, cfg)
	if err != nil {
		return nil, err
	}
	w := &Writer{core: c, rules: c.db.payloadRules(policy), payloadCols: &shape.Columns{}}
	if err := w.setup(ctx, cfg); err != nil {
		c.pool.Close()
		return nil, err
	}
	w.ready("rows")
	return w, nil
}

// setup creates or checks the tables and reads the payload's sub-columns.
func (w *Writer) setup(ctx context.Context, cfg Config) error {
	if err := w.prepareTables(ctx, cfg.CreateTables, []string{w.sql.createTarget}, []tableName{w.target}); err != nil {
		return err
	}
	if _, err := w.startup().do(ctx, "check payload_aux and payload_text", func(ctx context.Context) error {
		return w.ensureAuxColumns(ctx, cfg.CreateTables)
	}); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if _, err := w.startup().do(ctx, "read payload columns", w.reloadColumns); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}
