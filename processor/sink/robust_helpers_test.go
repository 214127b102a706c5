package sink

import (
	"os"
	"testing"
)

// onEachDatabase runs fn as a subtest on every test database that is set:
// TEST_DATABASE_URL (PostgreSQL, scripts/test.sh) and TEST_CRATEDB_URL
// (CrateDB, scripts/cratedb.sh). An unset one is skipped, except under
// CI=true, where it fails: a missing database there is a broken setup, not
// a reason to pass.
func onEachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, db := range []struct{ name, env string }{
		{"postgresql", "TEST_DATABASE_URL"},
		{"cratedb", "TEST_CRATEDB_URL"},
	} {
		t.Run(db.name, func(t *testing.T) {
			url := os.Getenv(db.env)
			if url == "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not set (run scripts/test.sh)", db.env)
				}
				t.Skipf("%s not set", db.env)
			}
			fn(t, url)
		})
	}
}
