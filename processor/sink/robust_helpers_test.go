package sink

import (
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/pgtest"
)

// onEachDatabase runs fn as a subtest on every test database that is set:
// TEST_DATABASE_URL (PostgreSQL, scripts/test.sh) and TEST_CRATEDB_URL
// (CrateDB, scripts/cratedb.sh). An unset one is skipped, except under
// CI=true, where it fails: a missing database there is a broken setup, not
// a reason to pass.
func onEachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	pgtest.Each(t, func(t *testing.T, db pgtest.DB) { fn(t, db.URL) })
}
