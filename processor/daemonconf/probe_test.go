package daemonconf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/testenv"
)

// jarsDir is the daemon's jars: KCL_JARS_DIR (as scripts/launch.sh reads
// it), else the repository's jars/lib ("make jars").
func jarsDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the Java daemon's code")
	}
	dir := os.Getenv("KCL_JARS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "jars", "lib")
	}
	if jars, _ := filepath.Glob(filepath.Join(dir, "amazon-kinesis-client-multilang-*.jar")); len(jars) == 0 {
		testenv.Missing(t, "no KCL multilang jar in "+dir+`: run "make jars" (or set KCL_JARS_DIR)`)
	}
	if _, err := exec.LookPath("java"); err != nil {
		testenv.Missing(t, "no java on PATH")
	}
	return dir
}

// probeEnv is an environment without the machine's AWS settings, so that
// only what a test sets decides (no profile, no region, no credentials).
func probeEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		// No instance metadata service here; do not wait for it.
		"AWS_EC2_METADATA_DISABLED=true"}
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		env = append(env, "JAVA_HOME="+jh)
	}
	return append(env, extra...)
}

// probe runs testdata/Probe.java, the daemon's own configuration code, on
// the files and returns its line for each.
func probe(t *testing.T, jars string, env []string, files []string) map[string]string {
	t.Helper()
	abs, err := filepath.Abs(jars)
	if err != nil {
		t.Fatal(err)
	}
	logback, err := filepath.Abs(filepath.Join("..", "..", "properties", "logback.xml"))
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-Dlogback.configurationFile=" + logback, "-cp", filepath.Join(abs, "*"), filepath.Join("testdata", "Probe.java")}, files...)
	cmd := exec.Command("java", args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("probe: %v\n%s", err, stderr.String())
	}
	out := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if fields := strings.SplitN(sc.Text(), "\t", 3); len(fields) == 3 && fields[0] == "PROBE" {
			out[fields[1]] = fields[2]
		}
	}
	for _, f := range files {
		if _, ok := out[f]; !ok {
			t.Fatalf("probe said nothing about %s\n%s", f, stderr.String())
		}
	}
	return out
}

// stops reports a probe line for a file the daemon refuses at start-up.
func stops(line string) bool {
	return strings.Contains(line, "config=error") || strings.Contains(line, "start=error")
}

// TestAgainstTheDaemon runs every case of TestCredentials through KCL
// 3.1.3's configuration code: the file as written does what the case says
// (the daemon stops, or builds something else than the line seems to
// ask), and the file with the proposed fixes written in starts and builds
// what was meant.
func TestAgainstTheDaemon(t *testing.T) {
	jars := jarsDir(t)
	dir := t.TempDir()
	type probed struct {
		name, asIsFile, fixedFile string
		asIs, daemon              string
	}
	byEnv := map[string][]probed{}
	for i, c := range credentialCases {
		if c.asIs == "" && c.daemon == "" {
			continue
		}
		text := base + c.lines
		fs := check(t, text, c.environ...)
		p := probed{name: c.name, asIs: c.asIs, daemon: c.daemon,
			asIsFile:  filepath.Join(dir, fmt.Sprintf("case%02d.properties", i)),
			fixedFile: filepath.Join(dir, fmt.Sprintf("case%02d-fixed.properties", i))}
		if err := os.WriteFile(p.asIsFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p.fixedFile, []byte(ApplyFixes(text, fs)), 0o644); err != nil {
			t.Fatal(err)
		}
		key := strings.Join(c.environ, " ")
		byEnv[key] = append(byEnv[key], p)
	}
	keys := make([]string, 0, len(byEnv))
	for k := range byEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		ps := byEnv[key]
		var files []string
		for _, p := range ps {
			files = append(files, p.asIsFile, p.fixedFile)
		}
		got := probe(t, jars, probeEnv(t, strings.Fields(key)...), files)
		for _, p := range ps {
			asIs, fixed := got[p.asIsFile], got[p.fixedFile]
			switch {
			case p.asIs == "stops" && !stops(asIs):
				t.Errorf("%s: the daemon takes the file as written: %s", p.name, asIs)
			case p.asIs != "stops" && p.asIs != "" && (stops(asIs) || !strings.Contains(asIs, p.asIs)):
				t.Errorf("%s: as written the daemon makes %s; want %q in it", p.name, asIs, p.asIs)
			}
			if p.daemon != "" && (stops(fixed) || !strings.Contains(fixed, p.daemon)) {
				t.Errorf("%s: with the fixes the daemon makes %s; want %q in it", p.name, fixed, p.daemon)
			}
			if p.daemon == "" && !stops(fixed) {
				t.Errorf("%s: no fix proposed, yet the fixed file starts: %s", p.name, fixed)
			}
		}
	}
}

// TestKclpy2FileAgainstTheDaemon: the kclpy 2.x-style file stops KCL
// 3.1.3 as written, and starts once check's fixes are written in.
func TestKclpy2FileAgainstTheDaemon(t *testing.T) {
	jars := jarsDir(t)
	path := filepath.Join("testdata", "kclpy2.properties")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := config.ParsePropertyEntries(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	fixed := filepath.Join(t.TempDir(), "kclpy2-fixed.properties")
	if err := os.WriteFile(fixed, []byte(ApplyFixes(string(b), Check(Input{Path: path, Entries: entries}))), 0o644); err != nil {
		t.Fatal(err)
	}
	got := probe(t, jars, probeEnv(t), []string{path, fixed})
	if !stops(got[path]) || !strings.Contains(got[path], "No credential providers were specified") {
		t.Errorf("as written: %s", got[path])
	}
	if stops(got[fixed]) || !strings.Contains(got[fixed], "kinesis=AwsCredentialsProviderChain(credentialsProviders=[DefaultCredentialsProvider(") {
		t.Errorf("fixed: %s", got[fixed])
	}
}
