package sink

import (
	"strconv"
	"strings"
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

// defaultSchema is where unqualified table names live.
func (d Dialect) defaultSchema() string {
	if d == CrateDB {
		return "doc"
	}
	return "public"
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
