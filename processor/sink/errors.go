package sink

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errClass says what the sink does about an error.
type errClass int

const (
	// classTransient: the database or network is (hopefully briefly)
	// unavailable; retry the same rows with backoff.
	classTransient errClass = iota + 1
	// classRow: the database rejected the data of the statement's row(s);
	// retrying cannot help, so the offending row goes to the dead-letter table.
	classRow
	// classConfig: neither a data problem nor a known outage (missing table,
	// permissions, authentication, unknown errors). Dead-lettering would
	// wrongly discard every row, so the sink retries with backoff like a
	// transient error but logs at error level so an operator can fix it.
	classConfig
)

func (c errClass) String() string {
	switch c {
	case classTransient:
		return "transient"
	case classRow:
		return "row"
	case classConfig:
		return "config"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

// CrateDB reports almost every error as XX000; only the message tells an
// outage from a refused value. The texts below were provoked on CrateDB
// 6.4.3 through the sink's own write path unless marked "(source)": those
// come from reading CrateDB's code and were not seen on a node.
// errors_test.go holds the observed texts verbatim.

// crateTransientMessages mean "the cluster cannot write right now".
var crateTransientMessages = []string{
	// A circuit breaker tripped, e.g. "Allocating 2.4kb for 'upsert
	// request' failed, breaker would use 2.4kb in total. Limit is 1kb. …"
	// (crateBreakerClass tells a request that can never fit).
	"breaker would use",
	// statement_timeout or KILL: "Job killed. statement_timeout (1ms/parse)".
	"Job killed",
	// A cluster-wide block while the node recovers its state after a
	// start, seen on CREATE TABLE: "org.elasticsearch.cluster.block.
	// ClusterBlockException: blocked by: [STATE_NOT_RECOVERED/1/state not
	// recovered / initialized];" (an INSERT fails earlier, at Parse, with
	// "Relation 'doc.t' unknown"). Other cluster blocks, such as no master,
	// pass as well; table blocks (RELATION_…) are configuration and are
	// matched first (crateConfigMessages).
	"blocked by: [",
	"primary shard is not active",     // (source)
	"NoShardAvailableActionException", // (source)
	"NodeDisconnectedException",       // (source)
	"NodeNotConnectedException",       // (source)
	"NodeClosedException",             // (source)
	"ConnectTransportException",       // (source)
	// A full thread pool: "rejected execution of processing of
	// [4068][internal:crate:sql/data/write[p]]: … on EsThreadPoolExecutor[…]".
	"rejected execution",
	"CircuitBreakingException", // (source)
	// A node could not decode a message from another node (StreamInput's
	// readString): seen in a three-node cluster as writes started, for one
	// row, which the next attempt stored. Nothing in the row causes it.
	"Invalid string; unexpected character",
}

// crateConfigMessages are refusals of the statement, not of its data, that
// only an operator can lift: retried, logged at error level, never
// dead-lettered.
var crateConfigMessages = []string{
	// A table block met at Parse: blocks.write, blocks.read_only, or a
	// closed table ("… doesn't support or allow INSERT operations, as it
	// is currently closed.").
	"doesn't support or allow",
	// The same blocks met by a statement prepared before they were set,
	// e.g. "blocked by: [RELATION_READ_AND_DDL_ONLY/8/index write (api)];".
	// RELATION_READ_DELETE_ONLY is also what a full disk (flood-stage
	// watermark) sets; CrateDB lifts it once space is freed, but someone
	// has to free it.
	"blocked by: [RELATION_",
	// "Missing 'DML' privilege for user 'u'".
	"' privilege for user",
}

// staleRelationMessage is how CrateDB fails a statement prepared before its
// table was dropped (and maybe created again): 42P01 "Relation 'Relation
// not found for oid=4' unknown". CrateDB keeps the table resolved at Parse;
// pgx re-prepares after an error only on the connection that failed, so
// the pool is reset (needsPoolReset) and the retry prepares afresh: it
// then works, or fails with the plain "Relation 'doc.t' unknown" if the
// table is really gone.
const staleRelationMessage = "Relation not found for oid="

// staleStatement reports the error of a statement prepared against a table
// that has since been dropped.
func staleStatement(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01" && strings.Contains(pgErr.Message, staleRelationMessage)
}

// transientSQLStates are exact codes; whole classes are handled in classify.
var transientSQLStates = map[string]bool{
	"57P01": true, // admin_shutdown
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now (starting up / shutting down)
	"57014": true, // query_canceled (statement_timeout)
	"40001": true, // serialization_failure
	"40P01": true, // deadlock_detected
	"55P03": true, // lock_not_available
}

// classify decides how to handle err from a statement run with dialect d.
func classify(d Dialect, err error) errClass {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := classifyPgError(d, pgErr)
		if c == classRow && atParse(err) {
			// Parse carries no parameters, so whatever it refuses is the
			// statement or the table, never a row: dead-lettering would
			// discard every row (CrateDB: a write-blocked or closed table,
			// a missing privilege, all XX000).
			return classConfig
		}
		return c
	}
	if isConnectionError(err) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) {
		return classTransient
	}
	return classConfig
}

// atParse reports an error the server gave to Parse (preparing the
// statement), as pgx reports it for a batch or a single statement.
func atParse(err error) bool {
	var prepErr *pgconn.PrepareError
	var batchErr pgx.ErrPreprocessingBatch
	return errors.As(err, &prepErr) ||
		(errors.As(err, &batchErr) && strings.HasPrefix(batchErr.Error(), "error preprocessing batch (prepare)"))
}

func classifyPgError(d Dialect, e *pgconn.PgError) errClass {
	code := e.Code
	class := ""
	if len(code) >= 2 {
		class = code[:2]
	}
	switch {
	case transientSQLStates[code], class == "08", class == "53":
		return classTransient
	case d == CrateDB && code == "42P01" && strings.Contains(e.Message, staleRelationMessage):
		return classTransient
	case code == "XX000" && d == CrateDB:
		for _, m := range crateConfigMessages {
			if strings.Contains(e.Message, m) {
				return classConfig
			}
		}
		if c, ok := crateBreakerClass(e.Message); ok {
			return c
		}
		for _, m := range crateTransientMessages {
			if strings.Contains(e.Message, m) {
				return classTransient
			}
		}
		// Everything else CrateDB refuses at run time is about the data:
		// casts, dynamic-column conflicts, immense terms, invalid keys.
		return classRow
	case class == "22", class == "23":
		return classRow
	case (code == "54000" || code == "54001") && d == PostgreSQL:
		// program_limit_exceeded for one value, e.g. an index row or jsonb
		// value that is too large, or statement_too_complex: a value nested
		// deeper than the server's max_stack_depth.
		return classRow
	default:
		return classConfig
	}
}

// crateBreakerClass classifies a tripped circuit breaker, "Allocating 2.4kb
// for 'upsert request' failed, breaker would use 2.4kb in total. Limit is
// 1kb. …": transient when other load filled the breaker, configuration when
// the one request alone is larger than the limit and can never fit.
func crateBreakerClass(msg string) (errClass, bool) {
	if !strings.HasPrefix(msg, "Allocating ") || !strings.Contains(msg, "breaker would use") {
		return 0, false
	}
	alloc, ok1 := parseByteSize(strings.SplitN(msg[len("Allocating "):], " ", 2)[0])
	_, after, found := strings.Cut(msg, "Limit is ")
	if !ok1 || !found {
		return classTransient, true
	}
	limit, ok2 := parseByteSize(strings.TrimSuffix(strings.SplitN(after, " ", 2)[0], "."))
	if ok2 && alloc > limit {
		return classConfig, true
	}
	return classTransient, true
}

// parseByteSize reads a size as CrateDB prints it ("100b", "2.4kb", "69.5mb").
func parseByteSize(s string) (float64, bool) {
	units := []struct {
		suffix string
		mult   float64
	}{{"pb", 1 << 50}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"b", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			return f * u.mult, err == nil && f >= 0
		}
	}
	return 0, false
}

// isConnectionError reports errors that mean the connection is gone or could
// not be made, as opposed to a statement the server refused.
func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgx reports a connection it already closed with a plain error.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe")
}

// needsPoolReset reports errors after which the pooled connections should
// be replaced: they are likely dead, or hold prepared statements for a
// dropped table.
func needsPoolReset(err error) bool { return connectionLost(err) || staleStatement(err) }

// connectionLost reports errors after which every pooled connection is
// suspect (server restart, network cut), so the pool should be reset.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return isConnectionError(err)
}

// errorText is what the dead-letter table records for err: the database's
// message plus detail, bounded so it fits an indexed CrateDB TEXT column.
func errorText(err error) string {
	var pgErr *pgconn.PgError
	s := err.Error()
	if errors.As(err, &pgErr) {
		s = pgErr.Error()
		if pgErr.Detail != "" {
			s += ": " + pgErr.Detail
		}
	}
	return cleanText(s, maxErrorText)
}

const maxErrorText = 4000

// cleanText makes s storable in a TEXT column of either database: valid
// UTF-8, no NUL (PostgreSQL rejects it), at most max bytes.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// rowCount parses the count at the end of a command tag, keeping the sign
// (pgconn.CommandTag.RowsAffected drops it). ok is false if the tag has no
// count.
func rowCount(tag string) (n int64, ok bool) {
	i := strings.LastIndexByte(tag, ' ')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(tag[i+1:], 10, 64)
	return n, err == nil
}

// rowFailed reports a CrateDB bulk row failure: the row's tag carries a
// negative count (-3, JDBC's EXECUTE_FAILED) instead of an error response.
func rowFailed(tag string) bool {
	n, ok := rowCount(tag)
	return ok && n < 0
}
