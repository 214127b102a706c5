package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonconf"
)

// checkDaemonProperties prints what the KCL 3 daemon will make of the
// properties file (a kclpy 2.x file's SDK v1 credential names, a script in
// executableName, SDK v1 environment variables) and returns exitConfig
// when the daemon would stop at start-up, 0 otherwise. self is how the
// daemon can start this program.
func checkDaemonProperties(path, self string, stderr io.Writer) int {
	if path == "" {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "kinesis-cratedb: reading properties: %v\n", err)
		return exitConfig
	}
	defer f.Close()
	entries, err := config.ParsePropertyEntries(f)
	if err != nil {
		fmt.Fprintf(stderr, "kinesis-cratedb: reading properties %s: %v\n", path, err)
		return exitConfig
	}
	if !daemonFile(entries) {
		// A file of sink settings alone (a benchmark's or a test's child,
		// started without the daemon): there is no daemon to check for.
		return 0
	}
	findings := daemonconf.Check(daemonconf.Input{Path: path, Entries: entries, Environ: os.Environ(), Self: self})
	for _, f := range findings {
		fmt.Fprint(stderr, daemonconf.Format(path, f))
	}
	if n := daemonconf.Errors(findings); n > 0 {
		fmt.Fprintf(stderr, "kinesis-cratedb: the KCL 3 daemon would stop at start-up with %s: change what is marked error above\n", path)
		return exitConfig
	}
	return 0
}

// daemonFile reports whether the file has any of the keys the daemon starts
// from; a file without them is read by the child alone.
func daemonFile(entries []config.Entry) bool {
	for _, e := range entries {
		switch strings.ToLower(e.Key) {
		case "executablename", "streamname", "streamarn", "applicationname":
			return true
		}
	}
	return false
}
