// Package testenv decides what a test does when something it needs from
// the machine is missing (a service, a tool, a privilege).
package testenv

import (
	"os"
	"testing"
)

// CI reports whether the tests run under CI (CI=true, as .ci/run sets).
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends t for want of something: skipped on a developer's machine,
// failed under CI=true, where a missing piece is a broken setup that a skip
// would hide. msg says what is missing and how to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg + " (required under CI=true)")
	}
	t.Skip(msg)
}
