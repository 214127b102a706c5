package daemonconf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// These tests run scripts/launch.sh, which starts the daemon with the
// environment and classpath this package's checks assume.

var launchScript = filepath.Join("..", "..", "scripts", "launch.sh")

// TestLaunchClasspathHasSSO: the classpath launch.sh prints holds the SDK's
// sso and ssooidc modules, at the version of the SDK the daemon runs: for
// the KCL 3 jars, and for the KCL 2.x ones when KCL2_JARS_DIR names them
// (scripts/test.sh, make jars-kcl2), which make jars fetches with their own
// SDK version.
func TestLaunchClasspathHasSSO(t *testing.T) {
	dirs := []string{jarsDir(t)}
	if kcl2 := os.Getenv("KCL2_JARS_DIR"); kcl2 != "" {
		dirs = append(dirs, kcl2)
	}
	for _, jars := range dirs {
		t.Run(filepath.Base(jars), func(t *testing.T) { checkSSOJars(t, jars) })
	}
}

func checkSSOJars(t *testing.T, jars string) {
	cmd := exec.Command("sh", launchScript, "--print_classpath")
	cmd.Env = append(os.Environ(), "KCL_JARS_DIR="+jars)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("launch.sh --print_classpath: %v", err)
	}
	versions := map[string]string{}
	jarName := regexp.MustCompile(`^(sso|ssooidc|sts|sdk-core|auth)-(\d+\.\d+\.\d+)\.jar$`)
	for _, p := range strings.Split(strings.TrimSpace(string(out)), ":") {
		if m := jarName.FindStringSubmatch(filepath.Base(p)); m != nil {
			versions[m[1]] = m[2]
		}
	}
	for _, module := range []string{"sso", "ssooidc", "sts", "sdk-core", "auth"} {
		if versions[module] == "" {
			t.Errorf("no %s jar on the classpath (jars/pom.xml; make jars)", module)
		}
	}
	if v := versions["sdk-core"]; versions["sso"] != v || versions["ssooidc"] != v {
		t.Errorf("sso %s and ssooidc %s, the SDK is %s: make jars takes awssdk.version from KCL's pom", versions["sso"], versions["ssooidc"], v)
	}
}

// TestSSOProfile: a profile that signs in through IAM Identity Center gets
// as far as the SSO token with the daemon's jars (no token is cached here,
// so it stops there), and fails for want of the sso module without them.
func TestSSOProfile(t *testing.T) {
	jars := jarsDir(t)
	dir := t.TempDir()
	withoutSSO := filepath.Join(dir, "jars-without-sso")
	if err := os.Mkdir(withoutSSO, 0o755); err != nil {
		t.Fatal(err)
	}
	all, _ := filepath.Glob(filepath.Join(jars, "*.jar"))
	for _, j := range all {
		if base := filepath.Base(j); strings.HasPrefix(base, "sso-") || strings.HasPrefix(base, "ssooidc-") {
			continue
		}
		abs, _ := filepath.Abs(j)
		if err := os.Symlink(abs, filepath.Join(withoutSSO, filepath.Base(j))); err != nil {
			t.Fatal(err)
		}
	}
	props := filepath.Join(dir, "sso.properties")
	if err := os.WriteFile(props, []byte(base+"AwsCredentialsProvider = ProfileCredentialsProvider|corp-reader\nprobe.resolve = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := probeEnv(t)
	var configFile string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			configFile = v
		}
	}
	profile := "[profile corp-reader]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Reader\nregion = eu-central-1\n\n" +
		"[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-central-1\nsso_registration_scopes = sso:account:access\n"
	if err := os.WriteFile(configFile, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	const missingModule = "'sso' service module must be on the class path"
	with := probe(t, jars, env, []string{props})[props]
	if !strings.Contains(with, "resolve=error") || strings.Contains(with, missingModule) || !strings.Contains(strings.ToLower(with), "token") {
		t.Errorf("with the daemon's jars: %s; want it to stop at the SSO token", with)
	}
	without := probe(t, withoutSSO, env, []string{props})[props]
	if !strings.Contains(without, missingModule) {
		t.Errorf("without sso and ssooidc: %s; want %q", without, missingModule)
	}
}

// TestLaunchMapsV1CredentialVariables runs launch.sh the three ways users
// do, with a stand-in for java that records the environment and arguments
// the daemon would get.
func TestLaunchMapsV1CredentialVariables(t *testing.T) {
	dir, bin, jars, props, script := fakeLaunch(t, "kcl.jar")
	// Values a test can look for; a real secret never reaches a test.
	const idV1, secretV1, idV2, secretV2 = "AKIAV1TESTVALUE", "v1-secret-test-value", "AKIAV2TESTVALUE", "v2-secret-test-value"
	secrets := []string{idV1, secretV1, idV2, secretV2}
	tests := []struct {
		name       string
		env        []string
		wantID     string // AWS_ACCESS_KEY_ID the daemon gets
		wantSecret string // AWS_SECRET_ACCESS_KEY the daemon gets
		viaRun     bool   // the printed command is launch.sh --run
		warns      []string
	}{
		{name: "v2 names", env: []string{"AWS_ACCESS_KEY_ID=" + idV2, "AWS_SECRET_ACCESS_KEY=" + secretV2}, wantID: idV2, wantSecret: secretV2},
		{name: "no credentials in the environment"},
		{name: "v1 names are passed on", env: []string{"AWS_ACCESS_KEY=" + idV1, "AWS_SECRET_KEY=" + secretV1},
			wantID: idV1, wantSecret: secretV1, viaRun: true,
			warns: []string{"passing it on as AWS_ACCESS_KEY_ID", "passing it on as AWS_SECRET_ACCESS_KEY"}},
		{name: "only the missing v2 name is filled", env: []string{"AWS_ACCESS_KEY_ID=" + idV2, "AWS_SECRET_KEY=" + secretV1},
			wantID: idV2, wantSecret: secretV1, viaRun: true, warns: []string{"passing it on as AWS_SECRET_ACCESS_KEY"}},
		{name: "v2 names win; a different v1 secret is named", env: []string{"AWS_ACCESS_KEY=" + idV1, "AWS_ACCESS_KEY_ID=" + idV2, "AWS_SECRET_KEY=" + secretV1, "AWS_SECRET_ACCESS_KEY=" + secretV2},
			wantID: idV2, wantSecret: secretV2, warns: []string{"AWS_SECRET_KEY and AWS_SECRET_ACCESS_KEY differ"}},
		{name: "same values under both names", env: []string{"AWS_ACCESS_KEY=" + idV2, "AWS_ACCESS_KEY_ID=" + idV2, "AWS_SECRET_KEY=" + secretV2, "AWS_SECRET_ACCESS_KEY=" + secretV2},
			wantID: idV2, wantSecret: secretV2},
	}
	ways := []struct {
		name string
		argv func() []string
	}{
		// $(sh scripts/launch.sh FILE): the caller's shell runs the printed line.
		{"seed style", func() []string { return []string{"sh", "-c", `$(sh "$0" "$1")`, script, props} }},
		{"--run", func() []string { return []string{"sh", script, "--run", "--properties", props} }},
	}
	for _, tt := range tests {
		for _, way := range ways {
			t.Run(tt.name+"/"+way.name, func(t *testing.T) {
				out := t.TempDir()
				env := append([]string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir, "KCL_JARS_DIR=" + jars, "FAKE_JAVA_OUT=" + out}, tt.env...)
				argv := way.argv()
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("%v: %v\n%s", argv, err, stderr.String())
				}
				got := readEnvFile(t, filepath.Join(out, "env"))
				if got["AWS_ACCESS_KEY_ID"] != tt.wantID || got["AWS_SECRET_ACCESS_KEY"] != tt.wantSecret {
					t.Errorf("the daemon gets AWS_ACCESS_KEY_ID %q, AWS_SECRET_ACCESS_KEY %q; want %q, %q",
						got["AWS_ACCESS_KEY_ID"], got["AWS_SECRET_ACCESS_KEY"], tt.wantID, tt.wantSecret)
				}
				args, err := os.ReadFile(filepath.Join(out, "args"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(args), "software.amazon.kinesis.multilang.MultiLangDaemon\n--properties-file\n"+props+"\n") {
					t.Errorf("daemon arguments:\n%s", args)
				}
				if way.name == "seed style" && !strings.Contains(string(args), "--log-configuration\n") {
					t.Errorf("the seed style lost its logback.xml:\n%s", args)
				}
				for _, w := range tt.warns {
					if !strings.Contains(stderr.String(), w) {
						t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
					}
				}
				if len(tt.warns) == 0 && stderr.Len() > 0 {
					t.Errorf("unexpected stderr:\n%s", stderr.String())
				}
				for _, s := range secrets {
					if strings.Contains(stdout.String()+stderr.String(), s) {
						t.Errorf("a credential value is printed:\n%s%s", stdout.String(), stderr.String())
					}
				}
			})
		}
		t.Run(tt.name+"/--print_command", func(t *testing.T) {
			cmd := exec.Command("sh", script, "--print_command", "--properties", props)
			cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "KCL_JARS_DIR=" + jars}, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			line := stdout.String()
			if viaRun := strings.HasPrefix(line, "sh "+script+" --run "); viaRun != tt.viaRun {
				t.Errorf("printed %q; want launch.sh --run: %v", line, tt.viaRun)
			}
			for _, s := range secrets {
				if strings.Contains(line+stderr.String(), s) {
					t.Errorf("a credential value is printed:\n%s%s", line, stderr.String())
				}
			}
		})
	}
}

// TestLaunchLeavesV1VariablesToKCL2: a KCL 2.x daemon reads credentials
// through SDK v1 providers, which read AWS_ACCESS_KEY and AWS_SECRET_KEY
// themselves: launch.sh prints the plain java line, maps nothing and warns
// about nothing.
func TestLaunchLeavesV1VariablesToKCL2(t *testing.T) {
	_, bin, jars, props, script := fakeLaunch(t, "amazon-kinesis-client-multilang-2.5.4.jar")
	out := t.TempDir()
	v1 := []string{"AWS_ACCESS_KEY=AKIAV1TESTVALUE", "AWS_SECRET_KEY=v1-secret-test-value"}
	cmd := exec.Command("sh", "-c", `$(sh "$0" "$1")`, script, props)
	cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "KCL_JARS_DIR=" + jars, "FAKE_JAVA_OUT=" + out}, v1...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("unexpected stderr:\n%s", stderr.String())
	}
	got := readEnvFile(t, filepath.Join(out, "env"))
	if got["AWS_ACCESS_KEY_ID"] != "" || got["AWS_SECRET_ACCESS_KEY"] != "" || got["AWS_ACCESS_KEY"] == "" || got["AWS_SECRET_KEY"] == "" {
		t.Errorf("the daemon's credential variables changed: %v", got)
	}
}

// fakeLaunch lays out a jars directory holding an empty jar of that name and
// a fake java that records its environment and arguments in $FAKE_JAVA_OUT,
// and returns them with a properties file and launch.sh's absolute path.
func fakeLaunch(t *testing.T, jar string) (dir, bin, jars, props, script string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "bin")
	jars = filepath.Join(dir, "jars")
	for _, d := range []string{bin, jars} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(jars, jar), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fakeJava := "#!/bin/sh\nenv > \"$FAKE_JAVA_OUT/env\"\nprintf '%s\\n' \"$@\" > \"$FAKE_JAVA_OUT/args\"\n"
	if err := os.WriteFile(filepath.Join(bin, "java"), []byte(fakeJava), 0o755); err != nil {
		t.Fatal(err)
	}
	props = filepath.Join(dir, "app.properties")
	if err := os.WriteFile(props, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if script, err = filepath.Abs(launchScript); err != nil {
		t.Fatal(err)
	}
	return dir, bin, jars, props, script
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the daemon was not started: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}
