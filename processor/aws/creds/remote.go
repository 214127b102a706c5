package creds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// container asks the ECS or EKS (Pod Identity) credentials endpoint.
type container struct {
	url       string
	token     string // Authorization header value ("" for none)
	tokenFile string // read at every fetch: EKS rotates it
	http      *http.Client
}

func (c container) fetch(ctx context.Context) (Credentials, error) {
	const what = "the container credentials endpoint"
	token := c.token
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", what, err)
		}
		token = strings.TrimSpace(string(b))
	}
	header := http.Header{"Accept": {"application/json"}}
	if token != "" {
		header.Set("Authorization", token)
	}
	body, err := get(ctx, c.http, http.MethodGet, c.url, header)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", what, err)
	}
	return parseRemote(body, what)
}

// checkContainerURL accepts what the SDKs accept for
// AWS_CONTAINER_CREDENTIALS_FULL_URI: HTTPS anywhere, plain HTTP only to
// the loopback interface or the ECS and EKS agents' link-local addresses,
// so that the token never travels unencrypted to another host.
func checkContainerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI %q is not a URL", raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if u.Scheme == "http" {
		if host == "localhost" || host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI %q: plain http only to loopback or the ECS/EKS agent", raw)
}

// imds asks the EC2 instance metadata service, IMDSv2 only (a session
// token first; IMDSv1's unauthenticated GETs are never sent).
type imds struct {
	endpoint string
	http     *http.Client
}

func (m imds) fetch(ctx context.Context) (Credentials, error) {
	const what = "the EC2 instance metadata service"
	base := strings.TrimRight(m.endpoint, "/")
	token, err := get(ctx, m.http, http.MethodPut, base+"/latest/api/token",
		http.Header{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {"21600"}})
	if err != nil {
		return Credentials{}, fmt.Errorf("%s (IMDSv2 token): %w", what, err)
	}
	header := http.Header{"X-Aws-Ec2-Metadata-Token": {strings.TrimSpace(string(token))}}
	roles, err := get(ctx, m.http, http.MethodGet, base+"/latest/meta-data/iam/security-credentials/", header)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s (instance role): %w", what, err)
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(roles)), "\n")
	if role == "" {
		return Credentials{}, fmt.Errorf("%s: the instance has no IAM role", what)
	}
	body, err := get(ctx, m.http, http.MethodGet, base+"/latest/meta-data/iam/security-credentials/"+url.PathEscape(role), header)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s (role %s): %w", what, role, err)
	}
	return parseRemote(body, what+" (role "+role+")")
}

// parseRemote reads the JSON both endpoints answer with.
func parseRemote(body []byte, what string) (Credentials, error) {
	var out struct {
		Code            string
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      string
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Credentials{}, fmt.Errorf("%s answered no credentials JSON", what) // the body may hold secrets
	}
	if out.Code != "" && out.Code != "Success" {
		return Credentials{}, fmt.Errorf("%s answered Code %q", what, out.Code)
	}
	return withExpiry(Credentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey,
		SessionToken: out.Token, Source: what}, out.Expiration)
}

// get makes one request and returns the body of a 200 answer. Errors
// carry the status, never the body.
func get(ctx context.Context, client *http.Client, method, url string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	return body, nil
}
