package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
	"github.com/rs/zerolog"
)

// Row is one Kinesis (sub-)record, already decoded.
type Row struct {
	ShardID           string
	SequenceNumber    string // decimal string up to 128 digits; never parsed
	SubSequenceNumber int64
	PartitionKey      string
	ArrivedAt         time.Time // approximate arrival; zero is stored as NULL
	Payload           []byte    // a JSON object, stored as is (big integers keep their digits)
	Raw               []byte    // original record bytes, kept only if the row is dead-lettered
}

// DeadLetter is a record the sink could not decode or the database refused.
type DeadLetter struct {
	ShardID           string
	SequenceNumber    string
	SubSequenceNumber int64
	PartitionKey      string
	ArrivedAt         time.Time
	Raw               []byte
	Stage             string // "decode" | "write"
	Err               string
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

	// CDCTables, when set, makes this a change-data-capture writer: Apply
	// writes changes to these tables (see cdc_sql.go) and Table only names
	// the default dead-letter and progress tables; no plain table is made.
	CDCTables []*cdc.Table
}

const (
	defaultChunkSize      = 10000
	defaultCrateChunkSize = 2000
	// crateChunkBytes bounds a CrateDB chunk's payloads: 2,000 rows of 1 KB
	// stay one chunk, 100 KB records go 40 to a statement.
	crateChunkBytes       = 4 << 20
	defaultAttemptTimeout = 2 * time.Minute
)

// Result reports what one Write did.
type Result struct {
	Written      int          // rows now in the target table (new or already there)
	DeadLettered []DeadLetter // rows the database refused, now in the dead-letter table
	Retries      int          // transient failures waited out
}

// Writer writes rows to one target table. It is safe for concurrent use.
type Writer struct {
	pool              *pgxpool.Pool
	dialect           Dialect
	sql               statements
	target            tableName
	deadLetter        tableName
	progress          tableName
	chunkSize         int
	chunkBytes        int // payload bytes per chunk, 0: no limit (see chunkEnd)
	attemptTimeout    time.Duration
	retry             retrier
	log               zerolog.Logger
	method            writeMethod
	cdc               *cdcState   // nil unless opened with Config.CDCTables
	rules             shape.Rules // of the payload column
	colsMu            sync.Mutex
	payloadCols       *shape.Columns // the payload's sub-columns (CrateDB)
	noAux             bool           // a user's table without payload_aux and payload_text
	columnsFull       atomic.Bool    // CrateDB refused a new sub-column: the table is at its limit
	skipDirectCopy    atomic.Int32   // chunks left that bypass the direct COPY (see insertCopy)
	skipUnnest        atomic.Int32   // chunks left that go as a batch (see insertCrateUnnest)
	genericCopyLogged atomic.Bool
	closed            atomic.Bool
}

// Open connects to databaseURL, detects the dialect and prepares the tables.
// Transient connection errors are retried according to cfg.Retry; anything
// else (bad URL, authentication, missing tables) fails at once.
func Open(ctx context.Context, databaseURL string, cfg Config) (*Writer, error) {
	if strings.TrimSpace(cfg.Table) == "" {
		return nil, errors.New("sink: Config.Table is empty")
	}
	policy := strings.ToLower(cfg.ObjectPolicy)
	if policy != "" && policy != "dynamic" && policy != "ignored" {
		return nil, fmt.Errorf("sink: ObjectPolicy %q: want dynamic or ignored", cfg.ObjectPolicy)
	}
	poolCfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("sink: parse database URL: %w", err)
	}
	poolCfg.ShouldPing = shouldPing
	if _, ok := poolCfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		poolCfg.ConnConfig.RuntimeParams["application_name"] = "kinesis-cratedb"
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("sink: create pool: %w", err)
	}
	w := &Writer{
		pool:           pool,
		chunkSize:      cfg.ChunkSize,
		attemptTimeout: cfg.AttemptTimeout,
		log:            cfg.Logger,
	}

	if w.attemptTimeout <= 0 {
		w.attemptTimeout = defaultAttemptTimeout
	}
	w.retry = retrier{policy: cfg.Retry.withDefaults(), log: cfg.Logger, resetPool: pool.Reset, closed: &w.closed}
	if err := w.setup(ctx, cfg, policy); err != nil {
		pool.Close()
		return nil, err
	}
	w.log.Info().Str("dialect", w.dialect.String()).Str("table", w.target.String()).
		Str("dead_letter_table", w.deadLetter.String()).Str("progress_table", w.progress.String()).
		Msg("sink ready")
	return w, nil
}

// setup detects the dialect, resolves table names and creates or checks tables.
func (w *Writer) setup(ctx context.Context, cfg Config, policy string) error {
	startup := w.retry
	startup.failFastOnConfig = true
	if _, err := startup.do(ctx, "detect dialect", w.detectDialect); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	w.retry.dialect = w.dialect
	startup.dialect = w.dialect
	if w.chunkSize <= 0 {
		w.chunkSize = defaultChunkSize
		if w.dialect == CrateDB {
			w.chunkSize = defaultCrateChunkSize
		}
	}
	if w.dialect == CrateDB {
		w.chunkBytes = crateChunkBytes
	}
	// The fastest idempotent paths measured (scripts/bench).
	w.method = methodUnnest
	if w.dialect == PostgreSQL {
		w.method = methodCopy
	}
	if err := w.prepare(cfg, policy); err != nil {
		return err
	}
	var err error
	if cfg.CreateTables {
		_, err = startup.do(ctx, "create tables", w.createTables)
	} else {
		_, err = startup.do(ctx, "check tables", w.checkTables)
	}
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	w.rules = payloadRules(w.dialect, policy)
	w.payloadCols = &shape.Columns{}
	if w.cdc == nil {
		if _, err := startup.do(ctx, "check payload_aux and payload_text", func(ctx context.Context) error {
			return w.ensureAuxColumns(ctx, cfg.CreateTables)
		}); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		if _, err := startup.do(ctx, "read payload columns", w.reloadColumns); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	return nil
}

// prepare resolves the table names of cfg for the detected dialect and
// renders their SQL; it does no I/O.
func (w *Writer) prepare(cfg Config, policy string) error {
	var err error
	if w.target, err = parseTableName(cfg.Table, w.dialect.defaultSchema()); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	w.deadLetter = w.target.withSuffix("_deadletter")
	if cfg.DeadLetterTable != "" {
		if w.deadLetter, err = parseTableName(cfg.DeadLetterTable, w.target.schema); err != nil {
			return fmt.Errorf("sink: dead-letter %w", err)
		}
	}
	w.progress = tableName{schema: w.target.schema, name: "kinesis_progress"}
	if cfg.ProgressTable != "" {
		if w.progress, err = parseTableName(cfg.ProgressTable, w.target.schema); err != nil {
			return fmt.Errorf("sink: progress %w", err)
		}
	}
	if err := checkNameLengths(w.dialect, w.target, w.deadLetter, w.progress); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	w.sql = buildStatements(w.dialect, w.target, w.deadLetter, w.progress, policy)
	if len(cfg.CDCTables) > 0 {
		if w.cdc, err = newCDCState(w.dialect, cfg.CDCTables); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	return nil
}

func (w *Writer) detectDialect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	w.dialect = PostgreSQL
	if conn.Conn().PgConn().ParameterStatus("crate_version") != "" {
		w.dialect = CrateDB
	}
	return nil
}

func (w *Writer) createTables(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	for _, ddl := range w.ddl() {
		if err := w.execDDL(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddlHead(ddl), err)
		}
	}
	return nil
}

// ddl lists the statements that create the writer's tables.
func (w *Writer) ddl() []string {
	if w.cdc != nil {
		return append(w.cdc.ddl(), w.sql.createDeadLetter, w.sql.createProgress)
	}
	return []string{w.sql.createTarget, w.sql.createDeadLetter, w.sql.createProgress}
}

// execDDL runs one CREATE ... IF NOT EXISTS. The daemon starts one child per
// shard at the same moment, and PostgreSQL's IF NOT EXISTS is not safe
// against a concurrent creator: the loser gets a unique violation on its
// catalog (pg_type_typname_nsp_index) or duplicate_table. Running it again
// then finds the table.
func (w *Writer) execDDL(ctx context.Context, ddl string) error {
	for attempt := 1; ; attempt++ {
		// Exec without arguments uses the simple protocol, which suits DDL
		// on both databases.
		_, err := w.pool.Exec(ctx, ddl)
		if err == nil || attempt == 5 || !concurrentDDL(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// concurrentDDL reports the errors PostgreSQL gives the loser of two
// concurrent CREATE ... IF NOT EXISTS of the same object.
func concurrentDDL(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "42P07" || pgErr.Code == "42710" || (pgErr.Code == "23505" && strings.Contains(pgErr.ConstraintName+pgErr.Message, "pg_"))
}

func (w *Writer) checkTables(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	tables := []tableName{w.target, w.deadLetter, w.progress}
	if w.cdc != nil {
		tables = append(w.cdc.tableNames(), w.deadLetter, w.progress)
	}
	for _, t := range tables {
		var n int64
		if err := w.pool.QueryRow(ctx, w.sql.tableExists, t.schema, t.name).Scan(&n); err != nil {
			return fmt.Errorf("look up table %s: %w", t, err)
		}
		if n == 0 {
			return &missingTableError{table: t}
		}
	}
	return nil
}

// missingTableError is a configuration error: it is never retried at Open.
type missingTableError struct {
	table  tableName
	detail string // what is missing, if not the table
}

func (e *missingTableError) Error() string {
	if e.detail != "" {
		return fmt.Sprintf("table %s %s", e.table, e.detail)
	}
	return fmt.Sprintf("table %s does not exist (create it or set CreateTables)", e.table)
}

// ddlHead shortens a CREATE TABLE statement to its name part for errors.
func ddlHead(sql string) string {
	if i := strings.Index(sql, "("); i > 0 {
		return strings.TrimSpace(sql[:i])
	}
	return sql
}

// shouldPing keeps pgxpool's default liveness ping except on CrateDB older
// than 6.3.0, which rejects the comment-only statement pgx pings with.
func shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	if v := p.Conn.PgConn().ParameterStatus("crate_version"); v != "" && !crateCanPing(v) {
		return false
	}
	return p.IdleDuration > time.Second
}

// Dialect reports the database flavour detected at Open.
func (w *Writer) Dialect() Dialect { return w.dialect }

// Close closes all connections. Calls still retrying return ErrClosed. It
// waits at most closeTimeout: a connection to a server that hangs can take
// pgx 15 s to close (it sends a cancel request and a goodbye first), and a
// child that has been told to go must exit promptly (the daemon waits for
// it). The rest is closed in the background, or by the process's exit.
func (w *Writer) Close() {
	w.closed.Store(true)
	done := make(chan struct{})
	go func() {
		w.pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		w.log.Warn().Dur("waited", closeTimeout).Msg("database connections still closing; not waiting for them")
	}
}

// closeTimeout bounds Close.
const closeTimeout = 2 * time.Second
