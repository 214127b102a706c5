package daemonconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
)

// base is a file KCL 3 takes as it is.
const base = "executableName = bin/kinesis-cratedb --properties app.properties\n" +
	"applicationName = app\nstreamName = s\nregionName = eu-central-1\n"

func check(t *testing.T, text string, environ ...string) []Finding {
	t.Helper()
	entries, err := config.ParsePropertyEntries(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return Check(Input{Path: "app.properties", Entries: entries, Environ: environ, Self: "bin/kinesis-cratedb"})
}

// TestCredentials pins each case: what the daemon does (the severity),
// the line it is on and the line to write instead. TestAgainstTheDaemon
// runs the same cases and fixes through KCL 3.1.3's own code.
func TestCredentials(t *testing.T) {
	for _, c := range credentialCases {
		t.Run(c.name, func(t *testing.T) {
			fs := check(t, base+c.lines, c.environ...)
			if len(c.want) == 0 {
				if len(fs) != 0 {
					t.Fatalf("findings for a line KCL 3 takes as it is:\n%s", formatAll(fs))
				}
				return
			}
			if len(fs) != len(c.want) {
				t.Fatalf("%d findings, want %d:\n%s", len(fs), len(c.want), formatAll(fs))
			}
			for i, w := range c.want {
				f := fs[i]
				if f.Severity != w.severity || f.Fix != w.fix || f.Line != w.line {
					t.Errorf("finding %d: %s on line %d, fix %q; want %s on line %d, fix %q\n%s",
						i, f.Severity, f.Line, f.Fix, w.severity, w.line, w.fix, Format("app.properties", f))
				}
				if !strings.Contains(f.Problem+" "+f.Hint, w.says) {
					t.Errorf("finding %d does not say %q:\n%s", i, w.says, Format("app.properties", f))
				}
			}
		})
	}
}

type wantFinding struct {
	severity Severity
	line     int
	fix      string
	says     string
}

// credentialCases are lines after base (line 5 on). asIs and daemon are
// what KCL 3.1.3 makes of the file as written and once fixed, as
// testdata/Probe.java prints it (a part of its line, by default of the
// Kinesis provider; "stops": the daemon stops at start-up; "": not
// probed).
var credentialCases = []struct {
	name    string
	lines   string
	environ []string
	want    []wantFinding
	daemon  string
	asIs    string
}{
	{name: "KCL 3 default chain", lines: "AwsCredentialsProvider = DefaultCredentialsProvider\n",
		daemon: "DefaultCredentialsProvider(", asIs: "DefaultCredentialsProvider("},
	{name: "v1 default chain", lines: "AWSCredentialsProvider = DefaultAWSCredentialsProviderChain\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = DefaultCredentialsProvider", "No credential providers were specified"}},
		daemon: "DefaultCredentialsProvider(", asIs: "stops"},
	{name: "v1 full name", lines: "AwsCredentialsProvider = com.amazonaws.auth.DefaultAWSCredentialsProviderChain\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = DefaultCredentialsProvider", "SDK for Java v1"}},
		daemon: "DefaultCredentialsProvider(", asIs: "stops"},
	{name: "v1 spelling of the key alone is read", lines: "AWSCredentialsProvider = DefaultCredentialsProvider\n",
		want:   []wantFinding{{Note, 5, "", "its own spelling is AwsCredentialsProvider"}},
		daemon: "DefaultCredentialsProvider(", asIs: "DefaultCredentialsProvider("},
	{name: "environment provider, same name in v2", lines: "AwsCredentialsProvider = EnvironmentVariableCredentialsProvider\n",
		daemon: "EnvironmentVariableCredentialsProvider()", asIs: "EnvironmentVariableCredentialsProvider()"},
	{name: "v1 environment provider by full name", lines: "AwsCredentialsProvider = com.amazonaws.auth.EnvironmentVariableCredentialsProvider\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = EnvironmentVariableCredentialsProvider", "v1"}},
		daemon: "EnvironmentVariableCredentialsProvider()", asIs: "stops"},
	{name: "v1 system properties", lines: "AwsCredentialsProvider = SystemPropertiesCredentialsProvider\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = SystemPropertyCredentialsProvider", "v1"}},
		daemon: "SystemPropertyCredentialsProvider()", asIs: "stops"},
	{name: "profile", lines: "AwsCredentialsProvider = ProfileCredentialsProvider|reader\n",
		daemon: "ProfileCredentialsProvider(profileName=reader)", asIs: "ProfileCredentialsProvider(profileName=reader)"},
	{name: "v1 profile by full name", lines: "AwsCredentialsProvider = com.amazonaws.auth.profile.ProfileCredentialsProvider|reader\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = ProfileCredentialsProvider|reader", "v1"}},
		daemon: "ProfileCredentialsProvider(profileName=reader)", asIs: "stops"},
	{name: "v1 profile with a file: the default profile, silently", lines: "AwsCredentialsProvider = ProfileCredentialsProvider|/etc/aws/credentials|reader\n",
		want:   []wantFinding{{Warning, 5, "AwsCredentialsProvider = ProfileCredentialsProvider|reader", "AWS_SHARED_CREDENTIALS_FILE=/etc/aws/credentials"}},
		daemon: "ProfileCredentialsProvider(profileName=reader)", asIs: "ProfileCredentialsProvider(profileName=default)"},
	{name: "instance role", lines: "AwsCredentialsProvider = InstanceProfileCredentialsProvider\n",
		daemon: "InstanceProfileCredentialsProvider()", asIs: "InstanceProfileCredentialsProvider()"},
	{name: "container role", lines: "AwsCredentialsProvider = ContainerCredentialsProvider\n",
		daemon: "ContainerCredentialsProvider()", asIs: "ContainerCredentialsProvider()"},
	{name: "v1 container wrapper", lines: "AwsCredentialsProvider = EC2ContainerCredentialsProviderWrapper\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = ContainerCredentialsProvider,InstanceProfileCredentialsProvider", "v1"}},
		daemon: "ContainerCredentialsProvider(), InstanceProfileCredentialsProvider()", asIs: "stops"},
	{name: "v1 web identity", lines: "AwsCredentialsProvider = WebIdentityTokenCredentialsProvider\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = WebIdentityTokenFileCredentialsProvider", "v1"}},
		daemon: "WebIdentityTokenCredentialsProvider()", asIs: "stops"},
	{name: "v1 assume role", lines: "AWSCredentialsProvider = STSAssumeRoleSessionCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl|endpointRegion=eu-central-1", "v1"}},
		daemon: "KclStsAssumeRoleCredentialsProvider@", asIs: "stops"},
	{name: "KCL 2's assume role", lines: "AwsCredentialsProvider = KclSTSAssumeRoleSessionCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl|externalId=x\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = KclStsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl|externalId=x|endpointRegion=eu-central-1", "KCL 2"}},
		daemon: "KclStsAssumeRoleCredentialsProvider@", asIs: "stops"},
	{name: "v2 assume role without a region", lines: "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl\n",
		want:   []wantFinding{{Warning, 5, "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl|endpointRegion=eu-central-1", "AWS_REGION"}},
		daemon: "KclStsAssumeRoleCredentialsProvider@", asIs: "stops"},
	{name: "v2 assume role, region from the environment", lines: "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl\n",
		environ: []string{"AWS_REGION=eu-central-1"},
		daemon:  "KclStsAssumeRoleCredentialsProvider@", asIs: "KclStsAssumeRoleCredentialsProvider@"},
	{name: "v2 assume role with a region", lines: "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider|arn:aws:iam::123456789012:role/reader|kcl|endpointRegion=eu-central-1\n",
		daemon: "KclStsAssumeRoleCredentialsProvider@", asIs: "KclStsAssumeRoleCredentialsProvider@"},
	{name: "assume role without its arguments", lines: "AwsCredentialsProvider = StsAssumeRoleCredentialsProvider\n",
		want: []wantFinding{{Error, 5, "", "needs the role ARN and a session name"}}, asIs: "stops"},
	{name: "v1 provider without a KCL 3 counterpart", lines: "AwsCredentialsProvider = ClasspathPropertiesFileCredentialsProvider\n",
		want: []wantFinding{{Error, 5, "", "ProfileCredentialsProvider|PROFILE"}}, asIs: "stops"},
	{name: "v2 provider the daemon cannot build", lines: "AwsCredentialsProvider = ProcessCredentialsProvider\n",
		want: []wantFinding{{Error, 5, "", "builder"}}, asIs: "stops"},
	{name: "class names are case-sensitive", lines: "AwsCredentialsProvider = defaultcredentialsprovider\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = DefaultCredentialsProvider", "case-sensitive"}},
		daemon: "DefaultCredentialsProvider(", asIs: "stops"},
	{name: "a v1 entry in a chain is dropped silently", lines: "AwsCredentialsProvider = DefaultAWSCredentialsProviderChain, EnvironmentVariableCredentialsProvider\n",
		want:   []wantFinding{{Warning, 5, "AwsCredentialsProvider = DefaultCredentialsProvider,EnvironmentVariableCredentialsProvider", "skips DefaultAWSCredentialsProviderChain without a word"}},
		daemon: "DefaultCredentialsProvider(", asIs: "[EnvironmentVariableCredentialsProvider()]"},
	{name: "an empty value", lines: "AwsCredentialsProvider =\n",
		want:   []wantFinding{{Error, 5, "AwsCredentialsProvider = DefaultCredentialsProvider", "no provider"}},
		daemon: "DefaultCredentialsProvider(", asIs: "stops"},
	{name: "no credentials key", lines: "",
		want:   []wantFinding{{Error, 0, "AwsCredentialsProvider = DefaultCredentialsProvider", "A basic set of AWS credentials must be provided"}},
		daemon: "DefaultCredentialsProvider(", asIs: "stops"},
	{name: "a custom provider", lines: "AwsCredentialsProvider = com.example.VaultCredentialsProvider\n",
		want: []wantFinding{{Note, 5, "", "classpath"}}, asIs: "stops"},
	{name: "DynamoDB key in the wrong case is ignored", lines: "AwsCredentialsProvider = DefaultCredentialsProvider\nAWSCredentialsProviderDynamodb = ProfileCredentialsProvider|leases\n",
		want:   []wantFinding{{Warning, 6, "AwsCredentialsProviderDynamoDB = ProfileCredentialsProvider|leases", `must read "DynamoDB" exactly`}},
		daemon: "dynamodb=AwsCredentialsProviderChain(credentialsProviders=[ProfileCredentialsProvider(profileName=leases)])", asIs: "dynamodb=unset"},
	{name: "CloudWatch key with a v1 provider", lines: "AwsCredentialsProvider = DefaultCredentialsProvider\nAWSCredentialsProviderCloudWatch = DefaultAWSCredentialsProviderChain\n",
		want:   []wantFinding{{Error, 6, "AwsCredentialsProviderCloudWatch = DefaultCredentialsProvider", "No credential providers"}},
		daemon: "cloudwatch=AwsCredentialsProviderChain(credentialsProviders=[DefaultCredentialsProvider(", asIs: "stops"},
	{name: "two spellings of one key", lines: "AWSCredentialsProvider = ProfileCredentialsProvider|a\nAwsCredentialsProvider = ProfileCredentialsProvider|b\n",
		want: []wantFinding{{Warning, 6, "", "either may win"}}},
}

func formatAll(fs []Finding) string {
	var sb strings.Builder
	for _, f := range fs {
		sb.WriteString(Format("app.properties", f))
	}
	return sb.String()
}

func TestExecutableName(t *testing.T) {
	const creds = "AwsCredentialsProvider = DefaultCredentialsProvider\n"
	tests := []struct {
		name, line string
		severity   Severity
		fix, says  string
	}{
		{"ours with this file", "executableName = bin/kinesis-cratedb --properties app.properties", -1, "", ""},
		{"ours, flag after =", "executableName = /opt/kc/bin/kinesis-cratedb -properties=./app.properties", -1, "", ""},
		{"kclpy's script", "executableName = sample_kclpy_app.py", Warning,
			"executableName = bin/kinesis-cratedb --properties app.properties", "starts sample_kclpy_app.py"},
		{"ours without --properties", "executableName = bin/kinesis-cratedb", Warning,
			"executableName = bin/kinesis-cratedb --properties app.properties", "no sink.* settings"},
		{"ours with another file", "executableName = bin/kinesis-cratedb --properties other.properties", Warning, "", "from other.properties"},
		{"missing", "", Error, "executableName = bin/kinesis-cratedb --properties app.properties", "stops at start-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := check(t, tt.line+"\napplicationName = app\nstreamName = s\n"+creds)
			if tt.severity < 0 {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings:\n%s", formatAll(fs))
				}
				return
			}
			if len(fs) != 1 || fs[0].Severity != tt.severity || fs[0].Fix != tt.fix || !strings.Contains(fs[0].Problem+fs[0].Hint, tt.says) {
				t.Fatalf("got\n%swant one %s, fix %q, saying %q", formatAll(fs), tt.severity, tt.fix, tt.says)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	const creds = "AwsCredentialsProvider = DefaultCredentialsProvider\n"
	tests := []struct {
		name    string
		environ []string
		want    []string // the variables warned about
	}{
		{"v2 names", []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=s"}, nil},
		{"v1 names only", []string{"AWS_ACCESS_KEY=a", "AWS_SECRET_KEY=s"}, []string{"AWS_ACCESS_KEY", "AWS_SECRET_KEY"}},
		{"both, same values", []string{"AWS_ACCESS_KEY=a", "AWS_ACCESS_KEY_ID=a", "AWS_SECRET_KEY=s", "AWS_SECRET_ACCESS_KEY=s"}, nil},
		// SDK v1 took AWS_ACCESS_KEY_ID first, so a different AWS_ACCESS_KEY
		// changes nothing; it took AWS_SECRET_KEY first, so a different
		// secret under it is one KCL 3 no longer uses.
		{"both, different values", []string{"AWS_ACCESS_KEY=a", "AWS_ACCESS_KEY_ID=b", "AWS_SECRET_KEY=s", "AWS_SECRET_ACCESS_KEY=t"}, []string{"AWS_SECRET_KEY"}},
		{"empty v1 name", []string{"AWS_ACCESS_KEY="}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := check(t, base+creds, tt.environ...)
			var got []string
			for _, f := range fs {
				if !f.Environment || f.Severity != Warning {
					t.Errorf("unexpected finding:\n%s", Format("app.properties", f))
				}
				got = append(got, f.Key)
				for _, kv := range tt.environ {
					if _, v, _ := strings.Cut(kv, "="); v != "" && strings.Contains(Format("app.properties", f), "="+v) {
						t.Errorf("a value is printed:\n%s", Format("app.properties", f))
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("warned about %v, want %v", got, tt.want)
			}
		})
	}
}

// TestKclpy2File: the kclpy 2.x-style file needs two lines changed, and
// check says which and to what; with them changed it has nothing to say.
func TestKclpy2File(t *testing.T) {
	path := filepath.Join("testdata", "kclpy2.properties")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := config.ParsePropertyEntries(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Path: path, Entries: entries, Self: "bin/kinesis-cratedb"}
	fs := Check(in)
	want := map[int]string{
		7:  "executableName = bin/kinesis-cratedb --properties testdata/kclpy2.properties",
		17: "AwsCredentialsProvider = DefaultCredentialsProvider",
	}
	if len(fs) != len(want) || Errors(fs) != 1 {
		t.Fatalf("findings:\n%s", formatAll(fs))
	}
	for _, f := range fs {
		if want[f.Line] != f.Fix {
			t.Errorf("line %d: fix %q, want %q", f.Line, f.Fix, want[f.Line])
		}
	}
	fixed := ApplyFixes(string(b), fs)
	entries, err = config.ParsePropertyEntries(strings.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	in.Entries = entries
	if fs := Check(in); len(fs) != 0 {
		t.Errorf("after the fixes:\n%s", formatAll(fs))
	}
	if got, want := strings.Count(fixed, "\n"), strings.Count(string(b), "\n"); got != want {
		t.Errorf("fixing changed the number of lines: %d, was %d", got, want)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		f    Finding
		want string
	}{
		{Finding{Line: 17, Key: "AWSCredentialsProvider", Value: "DefaultAWSCredentialsProviderChain", Severity: Error, Problem: "p", Fix: "AwsCredentialsProvider = DefaultCredentialsProvider"},
			"f.properties:17: error: AWSCredentialsProvider = DefaultAWSCredentialsProviderChain\n    p\n    change line 17 to: AwsCredentialsProvider = DefaultCredentialsProvider\n"},
		{Finding{Key: "AwsCredentialsProvider", Severity: Error, Problem: "p", Fix: "AwsCredentialsProvider = DefaultCredentialsProvider"},
			"f.properties: error: AwsCredentialsProvider is not set\n    p\n    add: AwsCredentialsProvider = DefaultCredentialsProvider\n"},
		{Finding{Key: "AWS_SECRET_KEY", Severity: Warning, Problem: "p", Hint: "h", Environment: true},
			"environment: warning: AWS_SECRET_KEY\n    p\n    h\n"},
	}
	for _, tt := range tests {
		if got := Format("f.properties", tt.f); got != tt.want {
			t.Errorf("got\n%q\nwant\n%q", got, tt.want)
		}
	}
}
