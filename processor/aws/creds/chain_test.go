package creds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	secret = "SECRETsecretSECRETsecret0123456789abcdef"
	token  = "TOKENtokenTOKEN"
)

// fakeEnv is an environment that never leaks into the process's: the
// chain under test must read only what the test gives it.
func fakeEnv(t *testing.T, kv map[string]string) func(string) string {
	t.Helper()
	home := t.TempDir() // no ~/.aws of the machine's
	return func(k string) string {
		if k == "HOME" {
			return home
		}
		return kv[k]
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// metadata is an httptest IMDSv2 and container endpoint on 127.0.0.1.
type metadata struct {
	*httptest.Server
	hits atomic.Int32
}

func newMetadata(t *testing.T, expiry time.Time) *metadata {
	m := &metadata{}
	creds := fmt.Sprintf(`{"Code":"Success","AccessKeyId":"AKIDREMOTE","SecretAccessKey":%q,"Token":%q,"Expiration":%q}`,
		secret, token, expiry.UTC().Format(time.RFC3339))
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				http.Error(w, "no ttl", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, "imds-session")
		case strings.HasPrefix(r.URL.Path, "/latest/meta-data/"):
			if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-session" {
				http.Error(w, "IMDSv1 refused", http.StatusUnauthorized)
				return
			}
			if r.URL.Path == "/latest/meta-data/iam/security-credentials/" {
				fmt.Fprint(w, "app-role\n")
				return
			}
			if r.URL.Path == "/latest/meta-data/iam/security-credentials/app-role" {
				m.hits.Add(1)
				fmt.Fprint(w, creds)
				return
			}
			http.NotFound(w, r)
		case r.URL.Path == "/creds":
			if r.Header.Get("Authorization") != "container-token" {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			m.hits.Add(1)
			fmt.Fprint(w, creds)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

func TestChainOrder(t *testing.T) {
	dir := t.TempDir()
	md := newMetadata(t, time.Now().Add(6*time.Hour))
	tokenFile := writeFile(t, dir, "token", "container-token\n")
	credFile := writeFile(t, dir, "credentials", `
# comment
[default]
aws_access_key_id = AKIDFILE
aws_secret_access_key = `+secret+`

[other]
aws_access_key_id=AKIDOTHER
aws_secret_access_key=`+secret+`
aws_session_token=`+token+`
`)
	configFile := writeFile(t, dir, "config", `
[default]
region = eu-west-1
[profile proc]
region = us-west-2
s3 =
    max_concurrent_requests = 4
credential_process = printf '{"Version":1,"AccessKeyId":"AKIDPROC","SecretAccessKey":"%s","SessionToken":"%s","Expiration":"2099-01-01T00:00:00Z"}' `+secret+` `+token+`
[profile sso]
sso_session = corp
[profile role]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
[profile empty]
region = us-east-2
`)
	files := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": credFile, "AWS_CONFIG_FILE": configFile}
	with := func(kv map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range files {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	noIMDS := map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}
	tests := []struct {
		name    string
		env     map[string]string
		wantKey string
		wantErr string
	}{
		{"environment wins over the files", with(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": secret, "AWS_PROFILE": "other"}), "AKIDENV", ""},
		{"the older environment names", with(map[string]string{"AWS_ACCESS_KEY": "AKIDOLD", "AWS_SECRET_KEY": secret}), "AKIDOLD", ""},
		{"half an environment pair", with(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV"}), "", "must both be set"},
		{"web identity is refused, not skipped", with(map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}), "", "web identity is not supported"},
		{"default profile", files, "AKIDFILE", ""},
		{"named profile", with(map[string]string{"AWS_PROFILE": "other"}), "AKIDOTHER", ""},
		{"credential_process", with(map[string]string{"AWS_PROFILE": "proc"}), "AKIDPROC", ""},
		{"sso is refused with the way that works", with(map[string]string{"AWS_PROFILE": "sso"}), "", "export-credentials"},
		{"role assumption is refused", with(map[string]string{"AWS_PROFILE": "role"}), "", "role_arn (role assumption) is not supported"},
		{"a missing named profile", with(map[string]string{"AWS_PROFILE": "nope"}), "", `AWS profile "nope" (AWS_PROFILE) is in neither`},
		{"container full URI", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": md.URL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token"}, "AKIDREMOTE", ""},
		{"container token file", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": md.URL + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}, "AKIDREMOTE", ""},
		{"container relative URI", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token"}, "AKIDREMOTE", ""},
		{"container over plain http elsewhere", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"}, "", "plain http only"},
		{"a profile without credentials falls through to IMDS", with(map[string]string{"AWS_PROFILE": "empty", "AWS_EC2_METADATA_SERVICE_ENDPOINT": md.URL}), "AKIDREMOTE", ""},
		{"IMDSv2", map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": md.URL}, "AKIDREMOTE", ""},
		{"nothing at all", noIMDS, "", "no AWS credentials"},
		{"IMDS not answering", map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": md.URL + "/nothing-here"}, "", "no AWS credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Chain{Getenv: fakeEnv(t, tc.env), containerHost: md.URL}
			got, err := c.Retrieve(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), token) {
					t.Fatalf("secret in error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyID != tc.wantKey || got.SecretAccessKey != secret {
				t.Fatalf("got %v, want key %s", got, tc.wantKey)
			}
			for _, s := range []string{got.String(), fmt.Sprintf("%v %+v %#v", got, got, got)} {
				if strings.Contains(s, secret) || strings.Contains(s, token) {
					t.Fatalf("secret in printed credentials: %s", s)
				}
			}
		})
	}
}

func TestChainRefreshesBeforeExpiry(t *testing.T) {
	expiry := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	md := newMetadata(t, expiry)
	now := expiry.Add(-time.Hour)
	c := &Chain{Getenv: fakeEnv(t, map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": md.URL}), now: func() time.Time { return now }}
	for range 3 {
		if _, err := c.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := md.hits.Load(); n != 1 {
		t.Fatalf("fetched %d times within the validity, want 1", n)
	}
	now = expiry.Add(-expiryWindow / 2)
	if _, err := c.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := md.hits.Load(); n != 2 {
		t.Fatalf("fetched %d times, want a refresh inside the expiry window", n)
	}
	c.Expire()
	if _, err := c.Retrieve(context.Background()); err != nil || md.hits.Load() != 3 {
		t.Fatalf("Expire did not force a fetch: %v, %d", err, md.hits.Load())
	}
}

func TestCredentialProcessErrors(t *testing.T) {
	tests := []struct{ command, want string }{
		{`echo "token expired, run aws sso login" >&2; exit 3`, "run aws sso login"},
		{`echo '{"Version":2,"AccessKeyId":"A","SecretAccessKey":"` + secret + `"}'`, `no credentials JSON with "Version": 1`},
		{`echo 'not json ` + secret + `'`, "no credentials JSON"},
		{`echo '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"` + secret + `","Expiration":"soon"}'`, "not an RFC 3339 time"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := process{command: tc.command, where: "profile p"}.fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("secret in error: %v", err)
			}
		})
	}
}

func TestSharedConfigRegion(t *testing.T) {
	dir := t.TempDir()
	config := writeFile(t, dir, "config", "[default]\nregion = eu-west-1\n[profile b]\nregion=ap-south-1\n")
	for profile, want := range map[string]string{"": "eu-west-1", "b": "ap-south-1"} {
		got, err := SharedConfigRegion(fakeEnv(t, map[string]string{"AWS_CONFIG_FILE": config, "AWS_PROFILE": profile}))
		if err != nil || got != want {
			t.Errorf("profile %q: region %q, %v; want %q", profile, got, err, want)
		}
	}
}
