// Package testenv decides what a test does when something it needs from
// the machine is missing (a service, a tool, a privilege), and builds the
// programs tests run.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// Build compiles the main package pkg (a directory, as go build takes it)
// into dir and returns the program's path: tests that run a command of
// the repository as its users do build it first.
func Build(pkg, dir string) (string, error) {
	abs, err := filepath.Abs(pkg)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(abs)) // the directory's name, as go build names it
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// RunWithProgram is a TestMain for tests that run the main package pkg:
// it builds it into a temporary directory, sets *bin to its path, runs the
// tests and exits with their code.
func RunWithProgram(m *testing.M, pkg string, bin *string) {
	dir, err := os.MkdirTemp("", "testenv-")
	if err == nil {
		*bin, err = Build(pkg, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
