package sink

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/shape"
)

// Dialect is the database flavour behind a connection URL.
type Dialect int

const (
	// PostgreSQL is any server that does not announce crate_version.
	PostgreSQL Dialect = iota
	// CrateDB announces itself with the crate_version server parameter.
	CrateDB
)

func (d Dialect) String() string {
	switch d {
	case PostgreSQL:
		return "postgresql"
	case CrateDB:
		return "cratedb"
	default:
		return "dialect(" + strconv.Itoa(int(d)) + ")"
	}
}

// dialect is everything one database does its own way: names, DDL and
// statement text, how a chunk of rows travels, and what its errors mean.
// crateDB (crate.go) and postgres (postgres.go) are the two; the writer
// asks its dialect instead of testing which database it talks to.
type dialect interface {
	kind() Dialect

	// Names and types.
	defaultSchema() string             // where unqualified table names live
	checkName(part string) error       // a schema or table name the database would not keep as given
	columnType(t cdc.Type) string      // in DDL
	castType(t cdc.Type) string        // in a parameter cast
	columnOptions(c cdc.Column) string // storage options after a column's type in DDL

	// Statement text (sql.go, cdc_sql.go).
	statements(target, deadLetter, progress tableName, objectPolicy string) statements
	cdcSQL() cdcDialect

	// How rows travel.
	rowMethod() writeMethod
	chunkRows() int  // rows per round trip by default
	chunkBytes() int // payload bytes per round trip, 0: no limit
	payloadRules(objectPolicy string) shape.Rules
	firstFit() fitLevel    // the fit level of a row's first attempt
	typedSubColumns() bool // object columns grow typed sub-columns (fit levels, shaping)
	encodeRaw(b []byte) any
	decodeRaw(v any) ([]byte, error)

	// classify sorts an error response; ok is false when the common rules
	// (errors.go) decide.
	classify(e *pgconn.PgError) (c errClass, ok bool)
}

// cdcDialect is the part of a dialect's statement text that differs for
// change-data-capture tables.
type cdcDialect interface {
	versionColumn() string                    // the DDL of cdc_version
	documentColumns(spec *cdc.Table) []string // pk, data and aux
	upsertAlias() string                      // how the stored row is named in DO UPDATE
	guarded(col string) string                // an assignment that only a newer version makes
	conflictTarget(spec *cdc.Table) string    // the full primary key
	partitionColumn(p *cdc.Partition) string  // the generated column a table is partitioned by
	partitionedBy(p *cdc.Partition) string    // the CREATE TABLE suffix, "" for none
	refresh(t tableName) string               // makes recent writes visible to reads, "" where they are already
	// upsertUnnest is the whole-chunk guarded upsert, "" where there is
	// none (each change then goes as a row of a bulk).
	upsertUnnest(table tableName, spec *cdc.Table, cols []cdcColumn) string
}

// dialectOf is the dialect behind a detected flavour.
func dialectOf(d Dialect) dialect {
	if d == CrateDB {
		return crateDB{}
	}
	return postgres{}
}

// crateCanPing reports whether a CrateDB server of the given version accepts
// the comment-only statement pgx sends as a ping (added in 6.3.0).
func crateCanPing(version string) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major > 6 || (major == 6 && minor >= 3)
}
