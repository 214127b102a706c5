package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func pgErr(code, msg string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		dialect Dialect
		err     error
		want    errClass
	}{
		{"pg connection failure", PostgreSQL, pgErr("08006", "connection failure"), classTransient},
		{"pg too many connections", PostgreSQL, pgErr("53300", "too many clients"), classTransient},
		{"pg disk full", PostgreSQL, pgErr("53100", "could not extend file"), classTransient},
		{"pg admin shutdown", PostgreSQL, pgErr("57P01", "terminating connection due to administrator command"), classTransient},
		{"pg crash shutdown", PostgreSQL, pgErr("57P02", "terminating connection because of crash of another server process"), classTransient},
		{"pg starting up", PostgreSQL, pgErr("57P03", "the database system is starting up"), classTransient},
		{"pg statement timeout", PostgreSQL, pgErr("57014", "canceling statement due to statement timeout"), classTransient},
		{"pg serialization", PostgreSQL, pgErr("40001", "could not serialize access"), classTransient},
		{"pg deadlock", PostgreSQL, pgErr("40P01", "deadlock detected"), classTransient},
		{"pg NUL escape in jsonb", PostgreSQL, pgErr("22P05", "unsupported Unicode escape sequence"), classRow},
		{"pg invalid json", PostgreSQL, pgErr("22P02", "invalid input syntax for type json"), classRow},
		{"pg bad utf8", PostgreSQL, pgErr("22021", `invalid byte sequence for encoding "UTF8": 0x00`), classRow},
		{"pg numeric overflow", PostgreSQL, pgErr("22003", "value overflows numeric format"), classRow},
		{"pg not null", PostgreSQL, pgErr("23502", "null value in column"), classRow},
		{"pg unique", PostgreSQL, pgErr("23505", "duplicate key value violates unique constraint"), classRow},
		{"pg value too large", PostgreSQL, pgErr("54000", "index row size exceeds maximum"), classRow},
		{"pg value nested too deep", PostgreSQL, pgErr("54001", "stack depth limit exceeded"), classRow},
		{"pg missing table", PostgreSQL, pgErr("42P01", `relation "t" does not exist`), classConfig},
		{"pg permission", PostgreSQL, pgErr("42501", "permission denied for table t"), classConfig},
		{"pg auth", PostgreSQL, pgErr("28P01", "password authentication failed"), classConfig},
		{"pg auth spec", PostgreSQL, pgErr("28000", "no pg_hba.conf entry"), classConfig},
		{"pg syntax", PostgreSQL, pgErr("42601", "syntax error"), classConfig},
		{"pg internal", PostgreSQL, pgErr("XX000", "primary shard is not active"), classConfig},
		{"pg wrapped data error", PostgreSQL, fmt.Errorf("write: %w", pgErr("22P02", "bad")), classRow},

		{"crate shard inactive", CrateDB, pgErr("XX000", "[doc.t][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest]"), classTransient},
		{"crate no shard", CrateDB, pgErr("XX000", "NoShardAvailableActionException[no shard available]"), classTransient},
		{"crate blocked", CrateDB, pgErr("XX000", "blocked by: [SERVICE_UNAVAILABLE/2/no master];"), classTransient},
		{"crate node disconnected", CrateDB, pgErr("XX000", "NodeDisconnectedException[[n1][127.0.0.1:4300] disconnected]"), classTransient},
		{"crate node not connected", CrateDB, pgErr("XX000", "NodeNotConnectedException[[n1] Node not connected]"), classTransient},
		{"crate node closed", CrateDB, pgErr("XX000", "NodeClosedException[node closed]"), classTransient},
		{"crate transport", CrateDB, pgErr("XX000", "ConnectTransportException[[n2] connect_exception]"), classTransient},
		{"crate rejected", CrateDB, pgErr("XX000", "rejected execution of org.elasticsearch.X on EsThreadPoolExecutor[name = n1/write]"), classTransient},
		{"crate breaker", CrateDB, pgErr("XX000", "CircuitBreakingException[[query] Data too large, data would be [1gb]]"), classTransient},
		{"crate killed", CrateDB, pgErr("XX000", "Job killed. statement_timeout (30s)"), classTransient},
		{"crate cast", CrateDB, pgErr("XX000", "Cannot cast object element `a` with value `asdf` to type `bigint`"), classRow},
		{"crate dotted key", CrateDB, pgErr("XX000", `"a.b" contains a dot`), classRow},
		{"crate immense term", CrateDB, pgErr("XX000", `DocValuesField "s" is too large, must be <= 32766`), classRow},
		{"crate columns limit", CrateDB, pgErr("XX000", "Limit of total columns [1000] in table [doc.t] exceeded"), classRow},
		{"crate duplicate", CrateDB, pgErr("23505", "A document with the same primary key exists already"), classRow},
		{"crate missing table", CrateDB, pgErr("42P01", "Relation 'doc.t' unknown"), classConfig},
		{"crate missing schema", CrateDB, pgErr("3F000", "Schema 'x' unknown"), classConfig},
		{"crate unknown column", CrateDB, pgErr("42703", "Column x unknown"), classConfig},
		{"crate parse", CrateDB, pgErr("42601", "line 1:1: mismatched input"), classConfig},

		{"refused", PostgreSQL, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, classTransient},
		{"reset", CrateDB, fmt.Errorf("read: %w", syscall.ECONNRESET), classTransient},
		{"broken pipe", PostgreSQL, fmt.Errorf("write: %w", syscall.EPIPE), classTransient},
		{"eof", PostgreSQL, io.EOF, classTransient},
		{"unexpected eof", PostgreSQL, fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), classTransient},
		{"closed conn", PostgreSQL, net.ErrClosed, classTransient},
		{"pgx conn closed", PostgreSQL, errors.New("conn closed"), classTransient},
		{"deadline", PostgreSQL, fmt.Errorf("attempt: %w", context.DeadlineExceeded), classTransient},
		{"unknown", PostgreSQL, errors.New("something odd"), classConfig},
		{"missing table at open", PostgreSQL, &missingTableError{table: tableName{"public", "t"}}, classConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.dialect, tt.err); got != tt.want {
				t.Errorf("classify(%v, %v) = %v, want %v", tt.dialect, tt.err, got, tt.want)
			}
		})
	}
}

func TestConnectionLost(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{pgErr("57P01", "terminating connection"), true},
		{pgErr("08006", "connection failure"), true},
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{io.EOF, true},
		{pgErr("40001", "serialization"), false},
		{pgErr("42P01", "missing"), false},
		{pgErr("XX000", "primary shard is not active"), false},
	}
	for _, tt := range tests {
		if got := connectionLost(tt.err); got != tt.want {
			t.Errorf("connectionLost(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// Tags as CrateDB sends them for bulk rows (cratedb.md §1.4).
func TestCommandTagCounts(t *testing.T) {
	tests := []struct {
		tag    string
		count  int64
		ok     bool
		failed bool
	}{
		{"INSERT 0 -3", -3, true, true},
		{"INSERT 0 1", 1, true, false},
		{"INSERT 0 0", 0, true, false}, // ON CONFLICT DO NOTHING on a duplicate
		{"DELETE -3", -3, true, true},
		{"DELETE 0", 0, true, false},
		{"UPDATE 1", 1, true, false},
		{"INSERT 0 5000", 5000, true, false},
		{"CREATE TABLE", 0, false, false},
		{"", 0, false, false},
	}
	for _, tt := range tests {
		n, ok := rowCount(tt.tag)
		if n != tt.count || ok != tt.ok || rowFailed(tt.tag) != tt.failed {
			t.Errorf("%q: rowCount = %d, %v; rowFailed = %v; want %d, %v, %v", tt.tag, n, ok, rowFailed(tt.tag), tt.count, tt.ok, tt.failed)
		}
	}
	// Why rowCount exists: pgx drops the sign.
	if got := pgconn.NewCommandTag("INSERT 0 -3").RowsAffected(); got != 3 {
		t.Errorf("pgx RowsAffected(INSERT 0 -3) = %d; if pgx now keeps the sign, rowCount may be simplified", got)
	}
}

func TestErrorText(t *testing.T) {
	err := &pgconn.PgError{Severity: "ERROR", Code: "22P05", Message: "unsupported Unicode escape sequence", Detail: `\u0000 cannot be converted to text.`}
	want := `ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05): \u0000 cannot be converted to text.`
	if got := errorText(fmt.Errorf("wrapped: %w", err)); got != want {
		t.Errorf("errorText = %q, want %q", got, want)
	}
	long := errorText(errors.New(string(make([]byte, 10000))))
	if len(long) > maxErrorText {
		t.Errorf("errorText kept %d bytes, limit %d", len(long), maxErrorText)
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"nul\x00here", 0, "nul\uFFFDhere"},
		{"bad\xffutf8", 0, "bad\uFFFDutf8"},
		{"äöü", 3, "ä"}, // never cuts inside a rune
		{"abc", 2, "ab"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in, tt.max); got != tt.want {
			t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
