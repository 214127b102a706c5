package daemonconf

import (
	"fmt"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
)

// How KCL 3.1.3's multilang daemon reads credentials (source:
// KinesisClientLibConfigurator, MultiLangDaemonConfiguration and
// AwsCredentialsProviderPropertyValueDecoder in
// amazon-kinesis-client-multilang; behaviour pinned by this package's
// tests against the daemon's jar):
//
//   - Three keys: AwsCredentialsProvider (Kinesis, and the other two unless
//     they are set), AwsCredentialsProviderDynamoDB and
//     AwsCredentialsProviderCloudWatch. A key whose lower case starts with
//     "awscredentialsprovider" has that prefix rewritten as
//     "awsCredentialsProvider"; the rest must then be "", "DynamoDB" or
//     "CloudWatch" exactly, or the key is ignored without a word.
//   - The value is a comma-separated chain; each entry is a class name
//     with "|"-separated arguments. A name is looked up as
//     software.amazon.kinesis.multilang.auth.NAME, then
//     software.amazon.awssdk.auth.credentials.NAME, then NAME itself
//     (AWS SDK for Java v2 classes only; no SDK v1 class is on the
//     classpath and none is translated). StsAssumeRoleCredentialsProvider
//     (short or full name) is the one name mapped, to
//     KclStsAssumeRoleCredentialsProvider.
//   - An entry that does not resolve or cannot be constructed is skipped
//     with a log line; when no entry is left, the daemon stops while it
//     reads the file: "No credential providers were specified".
//   - A provider is built by a String[] constructor, an N-String one, the
//     no-argument one, or static create(String[]), create(N Strings),
//     create(); so surplus arguments fall back to create() and are dropped.

const (
	credentialPrefix = "AwsCredentialsProvider"
	sdkCredentials   = "software.amazon.awssdk.auth.credentials"
	sdkSTS           = "software.amazon.awssdk.services.sts.auth"
	kclAuth          = "software.amazon.kinesis.multilang.auth"
	stopsNoProviders = `the daemon stops at start-up: "No credential providers were specified"`
)

// credentialSuffixes are the three keys' endings after the prefix, and
// what each is for.
var credentialSuffixes = map[string]string{
	"":           "Kinesis (and DynamoDB and CloudWatch unless their keys are set)",
	"DynamoDB":   "the lease tables in DynamoDB",
	"CloudWatch": "CloudWatch metrics",
}

// entry is one provider of a chain, as the daemon will treat it.
type entry struct {
	text     string   // as written
	name     string   // the class name
	args     []string // after the name
	resolves bool     // the daemon builds it
	unknown  bool     // not a class KCL 3 ships: perhaps the user's own
	fix      string   // the KCL 3 entries to write instead ("" to drop it)
	problem  string   // why it does not resolve, or what the daemon does instead
	// warn: it resolves, but not as written (surplus arguments, a region
	// only the environment may give).
	warn bool
	hint string
}

// checkCredentials checks the three credential keys.
func checkCredentials(all []config.Entry, effective map[string]config.Entry, env map[string]string) []Finding {
	var out []Finding
	region := strings.TrimSpace(effective["regionName"].Value)
	seen := map[string]config.Entry{} // suffix → the line the daemon applies last
	for _, e := range all {
		if !strings.HasPrefix(strings.ToLower(e.Key), strings.ToLower(credentialPrefix)) {
			continue
		}
		suffix := e.Key[len(credentialPrefix):]
		if _, ok := credentialSuffixes[suffix]; !ok {
			out = append(out, unknownCredentialKey(e, suffix, region, env))
			continue
		}
		if prev, ok := seen[suffix]; ok && prev.Key != e.Key && strings.TrimSpace(prev.Value) != strings.TrimSpace(e.Value) {
			out = append(out, Finding{Line: e.Line, Key: e.Key, Value: e.Value, Severity: Warning,
				Problem: fmt.Sprintf("line %d sets the same thing as %s = %s; the daemon applies both in no fixed order, so either may win", prev.Line, prev.Key, prev.Value),
				Hint:    "keep one of the two lines"})
		}
		seen[suffix] = e
	}
	if _, ok := seen[""]; !ok {
		out = append(out, Finding{Key: credentialPrefix, Severity: Error,
			Problem: `the daemon stops at start-up: "A basic set of AWS credentials must be provided"`,
			Fix:     credentialPrefix + " = DefaultCredentialsProvider"})
	}
	for suffix, e := range seen {
		if effective[e.Key].Line != e.Line {
			continue // a later line with the same key replaces it
		}
		if f, ok := checkCredentialValue(e, credentialPrefix+suffix, region, env); ok {
			out = append(out, f)
		}
	}
	return out
}

// unknownCredentialKey is a key the daemon ignores although it looks like a
// credentials key.
func unknownCredentialKey(e config.Entry, suffix, region string, env map[string]string) Finding {
	f := Finding{Line: e.Line, Key: e.Key, Value: e.Value, Severity: Warning}
	for want, what := range credentialSuffixes {
		if want != "" && strings.EqualFold(suffix, want) {
			f.Problem = fmt.Sprintf("the daemon ignores this key without a word (after %q the key must read %q exactly) and uses AwsCredentialsProvider's provider for %s",
				credentialPrefix, want, what)
			value := strings.TrimSpace(e.Value)
			if fixed, _, ok := fixChain(value, region, env); ok {
				value = fixed
			}
			f.Fix = credentialPrefix + want + " = " + value
			return f
		}
	}
	f.Problem = "the daemon ignores this key without a word: it reads only AwsCredentialsProvider, AwsCredentialsProviderDynamoDB and AwsCredentialsProviderCloudWatch"
	return f
}

// checkCredentialValue checks one credential line; ok is false when there
// is nothing to say.
func checkCredentialValue(e config.Entry, canonicalKey, region string, env map[string]string) (Finding, bool) {
	f := Finding{Line: e.Line, Key: e.Key, Value: e.Value}
	value := strings.TrimSpace(e.Value)
	entries := parseChain(value, region, env)
	var good, bad, unknown, warned []entry
	for _, en := range entries {
		switch {
		case en.unknown:
			unknown = append(unknown, en)
		case !en.resolves:
			bad = append(bad, en)
		case en.warn:
			warned = append(warned, en)
			good = append(good, en)
		default:
			good = append(good, en)
		}
	}
	fixed, hint, _ := fixChain(value, region, env)
	f.Hint = hint
	var problems []string
	for _, en := range append(bad, warned...) {
		problems = append(problems, en.problem)
	}
	switch {
	case len(entries) == 0:
		f.Severity, f.Problem = Error, "no provider is named; "+stopsNoProviders
		fixed = "DefaultCredentialsProvider"
	case len(good) == 0 && len(unknown) == 0:
		f.Severity, f.Problem = Error, strings.Join(problems, "; ")+"; "+stopsNoProviders
	case len(bad) > 0:
		f.Severity = Warning
		f.Problem = strings.Join(problems, "; ") + fmt.Sprintf("; the daemon skips %s without a word and uses %s", names(bad), names(append(good, unknown...)))
	case len(warned) > 0:
		f.Severity, f.Problem = Warning, strings.Join(problems, "; ")
	case len(unknown) > 0:
		f.Severity = Note
		f.Problem = fmt.Sprintf("%s is no provider KCL 3 ships: the daemon needs it on its classpath as a class implementing %s.AwsCredentialsProvider, or it skips it (and stops when nothing else is left)",
			names(unknown), sdkCredentials)
		return f, true
	case e.Key != canonicalKey:
		f.Severity = Note
		f.Problem = fmt.Sprintf("KCL 3 reads this key (it matches the %q prefix in any case); its own spelling is %s", credentialPrefix, canonicalKey)
		return f, true
	default:
		return f, false
	}
	if fixed != "" {
		f.Fix = canonicalKey + " = " + fixed
	}
	return f, true
}

func names(es []entry) string {
	var ns []string
	for _, e := range es {
		ns = append(ns, e.name)
	}
	return strings.Join(ns, ", ")
}

// parseChain splits a value as the daemon does (commas, then bars) and
// judges each entry.
func parseChain(value, region string, env map[string]string) []entry {
	var out []entry
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, "|")
		out = append(out, judge(entry{text: part, name: fields[0], args: fields[1:]}, region, env))
	}
	return out
}

// fixChain rewrites a value entry by entry: the KCL 3 spelling for what
// does not resolve, the arguments that keep it meaning what it did. ok is
// false when there is nothing to change. hint says what the value alone
// cannot carry (an environment variable to set).
func fixChain(value, region string, env map[string]string) (fixed, hint string, ok bool) {
	var parts, hints []string
	changed := false
	for _, en := range parseChain(value, region, env) {
		if en.fix != en.text {
			changed = true
		}
		if en.fix != "" {
			parts = append(parts, en.fix)
		}
		if en.hint != "" {
			hints = append(hints, en.hint)
		}
	}
	return strings.Join(parts, ","), strings.Join(hints, "; "), changed
}

// judge decides what the daemon makes of one entry, and what to write
// instead.
func judge(en entry, region string, env map[string]string) entry {
	en.fix = en.text
	if simple, p, ok := lookupKCL3(en.name); ok {
		en.resolves = true
		return judgeArgs(en, simple, p.args, region, env, false)
	}
	if unconstructible[strings.TrimPrefix(en.name, sdkCredentials+".")] {
		en.problem = fmt.Sprintf("KCL 3 cannot build %s from the properties file (it needs a builder)", en.name)
		en.fix = ""
		en.hint = useProfile
		return en
	}
	if simple, v1, ok := lookupV1(en.name); ok {
		en.problem = fmt.Sprintf("%s is an AWS SDK for Java v1 provider, which KCL 3 (SDK v2) does not have", en.name)
		if simple == "KclSTSAssumeRoleSessionCredentialsProvider" {
			en.problem = fmt.Sprintf("%s is KCL 2's provider for SDK v1, gone in KCL 3", en.name)
		}
		if v1.to == "" {
			en.fix, en.hint = "", v1.why
			return en
		}
		to := strings.Split(v1.to, ",")
		if len(to) == 1 {
			en.fix, en.hint = replacement(to[0], en.args, v1.args, region, env)
		} else {
			en.fix = v1.to // takes no arguments
		}
		return en
	}
	for simple := range kcl3Providers {
		if strings.EqualFold(en.name, simple) || strings.EqualFold(en.name, kcl3Providers[simple].pkg+"."+simple) {
			en.problem = fmt.Sprintf("class names are case-sensitive: %s is not %s", en.name, simple)
			en.fix, en.hint = replacement(simple, en.args, kcl3Providers[simple].args, region, env)
			return en
		}
	}
	en.unknown = true
	return en
}

// judgeArgs checks the arguments of a provider KCL 3 knows. converted is
// true when the entry is a replacement being written (then a missing STS
// region is added, not warned about).
func judgeArgs(en entry, simple string, kind argsKind, region string, env map[string]string, converted bool) entry {
	switch kind {
	case argsProfile:
		if len(en.args) >= 2 {
			// SDK v1's ProfileCredentialsProvider(path, profile); KCL 3
			// finds no create(String, String) and falls back to create().
			en.warn = true
			en.problem = fmt.Sprintf("%s takes one argument, the profile: with %d the daemon falls back to the default profile", simple, len(en.args))
			en.fix = simple + "|" + en.args[len(en.args)-1]
			en.hint = "set AWS_SHARED_CREDENTIALS_FILE=" + en.args[0] + " in the daemon's environment for the file"
		}
	case argsSTS:
		if len(en.args) < 2 {
			en.resolves = false
			en.problem = fmt.Sprintf("%s needs the role ARN and a session name (%s|ROLE_ARN|SESSION_NAME)", en.name, simple)
			en.fix = ""
			return en
		}
		hasRegion := false
		for _, a := range en.args[2:] {
			hasRegion = hasRegion || strings.HasPrefix(a, "endpointRegion=") || strings.HasPrefix(a, "endpoint=")
		}
		if hasRegion {
			break
		}
		r := region
		if r == "" {
			r = "us-east-1" // where SDK v1's global STS endpoint was
		}
		if converted {
			en.fix = en.fix + "|endpointRegion=" + r
		} else if env["AWS_REGION"] == "" {
			en.warn = true
			en.problem = fmt.Sprintf("%s builds its STS client with the region of AWS_REGION or the profile, not regionName: without one the daemon cannot build it (and stops if nothing else is left)", simple)
			en.fix = en.text + "|endpointRegion=" + r
		}
	}
	return en
}

// replacement is the entry to write for a KCL 3 provider that takes the
// place of another, with its arguments carried over, and what else to do.
func replacement(name string, args []string, kind argsKind, region string, env map[string]string) (fix, hint string) {
	text := name + joinArgs(args)
	en := judgeArgs(entry{text: text, name: name, args: args, fix: text}, name, kind, region, env, true)
	return en.fix, en.hint
}

func joinArgs(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return "|" + strings.Join(args, "|")
}
