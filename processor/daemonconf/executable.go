package daemonconf

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
)

// childName is the program the daemon should start for each shard.
const childName = "kinesis-cratedb"

// checkExecutable checks that executableName starts this program with this
// file. A kclpy file names its Python script there, and the child reads its
// own settings (sink.*) only from the file given to --properties. The daemon
// splits the value at spaces (no shell).
func checkExecutable(in Input, effective map[string]config.Entry) []Finding {
	self := in.Self
	if self == "" {
		self = "bin/" + childName
	}
	want := "executableName = " + self + " --properties " + in.Path
	e, ok := effective["executableName"]
	if !ok || strings.TrimSpace(e.Value) == "" {
		return []Finding{{Line: e.Line, Key: "executableName", Value: e.Value, Severity: Error,
			Problem: "the daemon stops at start-up: it needs the program to start for each shard", Fix: want}}
	}
	words := strings.Fields(e.Value)
	child := -1
	for i, w := range words {
		if filepath.Base(w) == childName {
			child = i
			break
		}
	}
	if child < 0 {
		return []Finding{{Line: e.Line, Key: e.Key, Value: e.Value, Severity: Warning,
			Problem: fmt.Sprintf("the daemon starts %s for each shard, not %s", words[0], childName), Fix: want}}
	}
	props, found := propertiesFlag(words[child+1:])
	if !found {
		return []Finding{{Line: e.Line, Key: e.Key, Value: e.Value, Severity: Warning,
			Problem: "the child gets no --properties, so it reads no sink.* settings from any file (only SINK_* environment variables)",
			Fix:     "executableName = " + strings.Join(words, " ") + " --properties " + in.Path}}
	}
	if !samePath(props, in.Path) {
		return []Finding{{Line: e.Line, Key: e.Key, Value: e.Value, Severity: Warning,
			Problem: fmt.Sprintf("the child reads its sink.* settings from %s, not from this file (a relative path is taken from the directory the daemon starts in)", props),
			Hint:    "check that file too, or pass this one"}}
	}
	return nil
}

// propertiesFlag finds the value of --properties the way Go's flag package
// reads it (one or two dashes, a separate word or after =).
func propertiesFlag(args []string) (string, bool) {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "properties" {
			continue
		}
		if hasValue {
			return value, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}
