package daemonconf

import "strings"

// The credential providers KCL 3.1.3 can build from the file, and the SDK v1
// names kclpy 2.x files still carry, with their KCL 3 counterparts.

// argsKind says which arguments a provider takes from the file.
type argsKind int

const (
	argsNone    argsKind = iota // none; any given are dropped (create())
	argsProfile                 // at most one: the profile name
	argsSTS                     // the role ARN, a session name, then endpoint=, endpointRegion=, externalId=
)

// kcl3Provider is a provider KCL 3.1.3 constructs from the file.
type kcl3Provider struct {
	pkg  string
	args argsKind
}

var kcl3Providers = map[string]kcl3Provider{
	"DefaultCredentialsProvider":              {pkg: sdkCredentials},
	"EnvironmentVariableCredentialsProvider":  {pkg: sdkCredentials},
	"SystemPropertyCredentialsProvider":       {pkg: sdkCredentials},
	"ProfileCredentialsProvider":              {pkg: sdkCredentials, args: argsProfile},
	"ContainerCredentialsProvider":            {pkg: sdkCredentials},
	"InstanceProfileCredentialsProvider":      {pkg: sdkCredentials},
	"WebIdentityTokenFileCredentialsProvider": {pkg: sdkCredentials},
	"AnonymousCredentialsProvider":            {pkg: sdkCredentials},
	"StsAssumeRoleCredentialsProvider":        {pkg: sdkSTS, args: argsSTS},
	"KclStsAssumeRoleCredentialsProvider":     {pkg: kclAuth, args: argsSTS},
}

// unconstructible are SDK v2 providers KCL 3 finds but cannot build from
// the file (they need a builder).
var unconstructible = map[string]bool{
	"ProcessCredentialsProvider": true,
	"SsoCredentialsProvider":     true,
	"StaticCredentialsProvider":  true,
}

// v1Provider is the KCL 3 counterpart of an SDK v1 provider (kclpy 2.x,
// KCL ≤ 2.6).
type v1Provider struct {
	to   string // KCL 3 entries, comma-separated; "" when none fits
	args argsKind
	why  string // what to do instead when to is ""
}

const useProfile = "KCL 3 has no such provider: put the keys in a profile of ~/.aws/credentials and use ProfileCredentialsProvider|PROFILE, or export them and use EnvironmentVariableCredentialsProvider"

var v1Providers = map[string]v1Provider{
	"DefaultAWSCredentialsProviderChain":     {to: "DefaultCredentialsProvider"},
	"EnvironmentVariableCredentialsProvider": {to: "EnvironmentVariableCredentialsProvider"},
	"SystemPropertiesCredentialsProvider":    {to: "SystemPropertyCredentialsProvider"},
	"ProfileCredentialsProvider":             {to: "ProfileCredentialsProvider", args: argsProfile},
	"InstanceProfileCredentialsProvider":     {to: "InstanceProfileCredentialsProvider"},
	"ContainerCredentialsProvider":           {to: "ContainerCredentialsProvider"},
	// SDK v1's wrapper used the container's role when ECS set its variables,
	// else the instance's.
	"EC2ContainerCredentialsProviderWrapper":     {to: "ContainerCredentialsProvider,InstanceProfileCredentialsProvider"},
	"WebIdentityTokenCredentialsProvider":        {to: "WebIdentityTokenFileCredentialsProvider"},
	"STSAssumeRoleSessionCredentialsProvider":    {to: "StsAssumeRoleCredentialsProvider", args: argsSTS},
	"KclSTSAssumeRoleSessionCredentialsProvider": {to: "KclStsAssumeRoleCredentialsProvider", args: argsSTS},
	"ClasspathPropertiesFileCredentialsProvider": {why: useProfile},
	"PropertiesFileCredentialsProvider":          {why: useProfile},
	"AWSStaticCredentialsProvider":               {why: useProfile},
}

// v1Packages are where SDK v1 providers (and KCL 2's own) lived.
var v1Packages = []string{"com.amazonaws.auth.profile.", "com.amazonaws.auth.", kclAuth + "."}

// lookupKCL3 resolves a name the way the daemon does.
func lookupKCL3(name string) (string, kcl3Provider, bool) {
	if name == "StsAssumeRoleCredentialsProvider" || name == sdkSTS+".StsAssumeRoleCredentialsProvider" {
		return "StsAssumeRoleCredentialsProvider", kcl3Providers["StsAssumeRoleCredentialsProvider"], true
	}
	for _, pkg := range []string{kclAuth, sdkCredentials} {
		// A short name is tried in both packages, a full one only in its own.
		simple := strings.TrimPrefix(name, pkg+".")
		if p, ok := kcl3Providers[simple]; ok && p.pkg == pkg {
			return simple, p, true
		}
	}
	return "", kcl3Provider{}, false
}

// lookupV1 finds an SDK v1 provider by its short or full name.
func lookupV1(name string) (string, v1Provider, bool) {
	if p, ok := v1Providers[name]; ok {
		return name, p, true
	}
	for _, pkg := range v1Packages {
		if simple, ok := strings.CutPrefix(name, pkg); ok {
			if p, ok := v1Providers[simple]; ok {
				return simple, p, true
			}
		}
	}
	return "", v1Provider{}, false
}
