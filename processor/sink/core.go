package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// core is what every writer shares: the pool, the dialect, the dead-letter
// and progress tables, and how a write is retried.
type core struct {
	pool           *pgxpool.Pool
	bulk           bulk
	db             dialect
	method         writeMethod // how a chunk travels; chosen by the dialect
	sql            statements
	target         tableName // names the progress row and the default table names
	deadLetter     tableName
	progress       tableName
	chunkSize      int
	chunkBytes     int // payload bytes per chunk, 0: no limit (see chunkEnd)
	attemptTimeout time.Duration
	retry          retrier
	log            zerolog.Logger
	closed         atomic.Bool
	// basicProgress: the progress table lacks the added columns and may
	// not be altered (set at Open, read-only afterwards).
	basicProgress bool
}

// openCore connects to databaseURL, detects the dialect and resolves the
// table names of cfg; the caller creates or checks its tables.
func openCore(ctx context.Context, databaseURL string, cfg Config) (*core, error) {
	if strings.TrimSpace(cfg.Table) == "" {
		return nil, errors.New("sink: Config.Table is empty")
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
	c := &core{pool: pool, bulk: bulk{pool}, chunkSize: cfg.ChunkSize, attemptTimeout: cfg.AttemptTimeout, log: cfg.Logger}
	if c.attemptTimeout <= 0 {
		c.attemptTimeout = defaultAttemptTimeout
	}
	c.retry = retrier{policy: cfg.Retry.withDefaults(), log: cfg.Logger, resetPool: pool.Reset, closed: &c.closed}
	if err := c.setup(ctx, cfg); err != nil {
		pool.Close()
		return nil, err
	}
	return c, nil
}

// startup is the retrier of Open: it gives up at once on a configuration
// error, which waiting does not mend.
func (c *core) startup() retrier {
	r := c.retry
	r.failFastOnConfig = true
	return r
}

// setup detects the dialect and resolves the table names.
func (c *core) setup(ctx context.Context, cfg Config) error {
	if _, err := c.startup().do(ctx, "detect dialect", c.detectDialect); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	c.retry.db = c.db
	if c.chunkSize <= 0 {
		c.chunkSize = c.db.chunkRows()
	}
	c.chunkBytes = c.db.chunkBytes()
	c.method = c.db.rowMethod()
	var err error
	if c.target, err = parseTableName(cfg.Table, c.db.defaultSchema()); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	c.deadLetter = c.target.withSuffix("_deadletter")
	if cfg.DeadLetterTable != "" {
		if c.deadLetter, err = parseTableName(cfg.DeadLetterTable, c.target.schema); err != nil {
			return fmt.Errorf("sink: dead-letter %w", err)
		}
	}
	c.progress = tableName{schema: c.target.schema, name: "kinesis_progress"}
	if cfg.ProgressTable != "" {
		if c.progress, err = parseTableName(cfg.ProgressTable, c.target.schema); err != nil {
			return fmt.Errorf("sink: progress %w", err)
		}
	}
	if err := checkNames(c.db, c.target, c.deadLetter, c.progress); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	c.sql = c.db.statements(c.target, c.deadLetter, c.progress, cfg.ObjectPolicy)
	return nil
}

// prepareTables creates the tables (ddl, then the dead-letter and progress
// tables) or checks that they exist.
func (c *core) prepareTables(ctx context.Context, create bool, ddl []string, tables []tableName) error {
	var err error
	if create {
		ddl = append(ddl, c.sql.createDeadLetter, c.sql.createProgress)
		_, err = c.startup().do(ctx, "create tables", func(ctx context.Context) error { return c.createTables(ctx, ddl) })
	} else {
		tables = append(tables, c.deadLetter, c.progress)
		_, err = c.startup().do(ctx, "check tables", func(ctx context.Context) error { return c.checkTables(ctx, tables) })
	}
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if _, err := c.startup().do(ctx, "check the progress table's columns", func(ctx context.Context) error {
		return c.ensureProgressColumns(ctx, create)
	}); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	return nil
}

// ready logs what a writer writes to.
func (c *core) ready(kind string) {
	c.log.Info().Str("dialect", c.db.kind().String()).Str("writer", kind).Str("table", c.target.String()).
		Str("dead_letter_table", c.deadLetter.String()).Str("progress_table", c.progress.String()).
		Msg("sink ready")
}

func (w *core) detectDialect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	w.db = dialectOf(PostgreSQL)
	if conn.Conn().PgConn().ParameterStatus("crate_version") != "" {
		w.db = dialectOf(CrateDB)
	}
	return nil
}

func (w *core) createTables(ctx context.Context, ddls []string) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
	for _, ddl := range ddls {
		if err := w.execDDL(ctx, ddl); err != nil {
			return fmt.Errorf("%s: %w", ddlHead(ddl), err)
		}
	}
	return nil
}

// execDDL runs one CREATE ... IF NOT EXISTS. The daemon starts one child per
// shard at the same moment, and PostgreSQL's IF NOT EXISTS is not safe
// against a concurrent creator: the loser gets a unique violation on its
// catalog (pg_type_typname_nsp_index) or duplicate_table. Running it again
// then finds the table.
func (w *core) execDDL(ctx context.Context, ddl string) error {
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

func (w *core) checkTables(ctx context.Context, tables []tableName) error {
	ctx, cancel := context.WithTimeout(ctx, w.attemptTimeout)
	defer cancel()
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
func (w *core) Dialect() Dialect { return w.db.kind() }

// Close closes all connections. Calls still retrying return ErrClosed. It
// waits at most closeTimeout: a connection to a server that hangs can take
// pgx 15 s to close (it sends a cancel request and a goodbye first), and a
// child that has been told to go must exit promptly (the daemon waits for
// it). The rest is closed in the background, or by the process's exit.
func (w *core) Close() {
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

// chunkEnd is where a chunk of n items starting at start ends: after
// chunkSize items, or once the items' sizes pass limit (0: no limit). A
// statement's parameters are encoded into one buffer, so large records take
// fewer rows per statement.
func (c *core) chunkEnd(n, start, limit int, size func(i int) int) int {
	end := min(start+c.chunkSize, n)
	if limit <= 0 {
		return end
	}
	total := 0
	for i := start; i < end; i++ {
		if total += size(i); total > limit && i > start {
			return i
		}
	}
	return end
}
