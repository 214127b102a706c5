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
func classify(d dialect, err error) errClass {
	if d == nil {
		d = postgres{} // the common rules alone
	}
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

func classifyPgError(d dialect, e *pgconn.PgError) errClass {
	code := e.Code
	class := ""
	if len(code) >= 2 {
		class = code[:2]
	}
	switch {
	case transientSQLStates[code], class == "08", class == "53":
		return classTransient
	}
	if c, ok := d.classify(e); ok {
		return c
	}
	switch {
	case class == "22", class == "23":
		return classRow
	default:
		return classConfig
	}
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
