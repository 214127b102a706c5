// Package daemonconf tells what the Java MultiLangDaemon of KCL 3 will make
// of a properties file and of the environment it starts in, for people who
// bring a file written for amazon-kclpy 2.x (KCL 2.x and the AWS SDK for
// Java v1). It names each line the daemon would refuse or read other than
// the file seems to say, and the line to write instead. kinesis-cratedb
// check prints its findings.
//
// What it says about KCL 3.1.3 is checked against the daemon's own
// configuration code by the tests (testdata/Probe.java runs it on every
// case and on every fix this package proposes).
package daemonconf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
)

// Severity says what a finding means for the daemon.
type Severity int

const (
	// Note: the daemon reads the line as meant; the finding names KCL 3's
	// own spelling.
	Note Severity = iota
	// Warning: the daemon starts, but does something else than the line
	// seems to say (it drops or ignores part of it, or it depends on the
	// environment).
	Warning
	// Error: the daemon stops at start-up.
	Error
)

func (s Severity) String() string {
	switch s {
	case Note:
		return "note"
	case Warning:
		return "warning"
	}
	return "error"
}

// Finding is one thing to know about a line of the file, or about the
// environment.
type Finding struct {
	Line     int    // the line of the file; 0 for a missing key or the environment
	Key      string // the key as written (or the environment variable)
	Value    string // the value as written (never an environment variable's)
	Severity Severity
	Problem  string // what the daemon does, in a sentence
	Fix      string // the line to write instead, "key = value"; "" when none fits
	Hint     string // what else to do, when a line alone is not enough
	// Environment: the finding is about an environment variable (Key),
	// not the file.
	Environment bool
}

// Input is what Check looks at.
type Input struct {
	// Path is the properties file as the user named it; a proposed
	// executableName passes it to --properties.
	Path    string
	Entries []config.Entry
	// Environ is the environment the daemon will start in, as far as the
	// caller knows (os.Environ form); values are only compared, never
	// printed.
	Environ []string
	// Self is how the daemon can start this program, for a proposed
	// executableName ("bin/kinesis-cratedb" when empty).
	Self string
}

// Check returns the findings in the order of the file, the environment's
// last.
func Check(in Input) []Finding {
	env := envMap(in.Environ)
	effective := map[string]config.Entry{} // the line Java keeps for each key: the last
	for _, e := range in.Entries {
		effective[e.Key] = e
	}
	var out []Finding
	out = append(out, checkCredentials(in.Entries, effective, env)...)
	out = append(out, checkExecutable(in, effective)...)
	sort.SliceStable(out, func(i, j int) bool { return lineOrder(out[i]) < lineOrder(out[j]) })
	out = append(out, checkEnvironment(env)...)
	return out
}

// lineOrder sorts findings by line, a missing key (line 0) after the file.
func lineOrder(f Finding) int {
	if f.Line == 0 {
		return int(^uint(0) >> 1)
	}
	return f.Line
}

// Errors counts the findings that stop the daemon.
func Errors(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == Error {
			n++
		}
	}
	return n
}

// Format writes a finding the way compilers do, with the file and line
// first, then what to change:
//
//	kclpy2.properties:25: error: AWSCredentialsProvider = DefaultAWSCredentialsProviderChain
//	    KCL 3 …; the daemon stops at start-up: "No credential providers were specified".
//	    change line 25 to: AwsCredentialsProvider = DefaultCredentialsProvider
func Format(path string, f Finding) string {
	var sb strings.Builder
	switch {
	case f.Line > 0:
		fmt.Fprintf(&sb, "%s:%d: %s: %s = %s\n", path, f.Line, f.Severity, f.Key, f.Value)
	case f.Environment:
		fmt.Fprintf(&sb, "environment: %s: %s\n", f.Severity, f.Key)
	default:
		fmt.Fprintf(&sb, "%s: %s: %s is not set\n", path, f.Severity, f.Key)
	}
	fmt.Fprintf(&sb, "    %s\n", f.Problem)
	switch {
	case f.Fix != "" && f.Line > 0:
		fmt.Fprintf(&sb, "    change line %d to: %s\n", f.Line, f.Fix)
	case f.Fix != "":
		fmt.Fprintf(&sb, "    add: %s\n", f.Fix)
	}
	if f.Hint != "" {
		fmt.Fprintf(&sb, "    %s\n", f.Hint)
	}
	return sb.String()
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// ApplyFixes returns the text of a properties file with every proposed fix
// written in: a line replaced where the finding has one (the continuation
// lines of a value that spanned several become empty, so the line numbers
// stay), a missing key added at the end.
func ApplyFixes(text string, fs []Finding) string {
	lines := strings.Split(text, "\n")
	var added []string
	for _, f := range fs {
		switch {
		case f.Fix == "":
		case f.Line > 0 && f.Line <= len(lines):
			i := f.Line - 1
			continued := endsWithBackslash(lines[i])
			lines[i] = f.Fix
			for i++; continued && i < len(lines); i++ {
				continued = endsWithBackslash(lines[i])
				lines[i] = ""
			}
		default:
			added = append(added, f.Fix)
		}
	}
	out := strings.Join(lines, "\n")
	if len(added) > 0 {
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += strings.Join(added, "\n") + "\n"
	}
	return out
}

// endsWithBackslash reports a line that continues on the next one (an odd
// number of trailing backslashes).
func endsWithBackslash(line string) bool {
	line = strings.TrimRight(line, "\r")
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}
