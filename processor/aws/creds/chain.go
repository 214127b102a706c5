package creds

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Chain is the SDKs' default credential chain. The first Retrieve decides
// where credentials come from, in this order:
//
//  1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN;
//  2. the profile AWS_PROFILE (else "default") of the shared credentials
//     and config files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, else
//     ~/.aws/credentials and ~/.aws/config): static keys, or the output of
//     its credential_process;
//  3. the ECS/EKS container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//     or AWS_CONTAINER_CREDENTIALS_FULL_URI, with the token of
//     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
//     AWS_CONTAINER_AUTHORIZATION_TOKEN;
//  4. the EC2 instance metadata service, IMDSv2 (unless
//     AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT
//     moves it).
//
// Later calls keep that source and fetch again shortly before the
// credentials expire. A Chain is safe for concurrent use; concurrent
// callers share one refresh.
type Chain struct {
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// HTTP is used for the container endpoint and IMDS; nil means a client
	// with a 5 s timeout (off EC2, IMDS never answers).
	HTTP *http.Client

	containerHost string           // ECS agent for the relative URI; tests change it
	now           func() time.Time // tests change it

	mu  sync.Mutex
	src source
	cur Credentials
}

// expiryWindow is how long before their expiry credentials are fetched
// again, so that a signed request does not arrive with expired ones.
const expiryWindow = time.Minute

// Retrieve returns valid credentials, fetching them when needed.
func (c *Chain) Retrieve(ctx context.Context) (Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if c.cur.valid() && (c.cur.Expires.IsZero() || now().Add(expiryWindow).Before(c.cur.Expires)) {
		return c.cur, nil
	}
	if c.src == nil {
		src, err := c.resolve()
		if err != nil {
			return Credentials{}, err
		}
		c.src = src
	}
	cur, err := c.src.fetch(ctx)
	if err != nil {
		return Credentials{}, err
	}
	c.cur = cur
	return cur, nil
}

// Expire drops the cached credentials, so that the next Retrieve fetches
// them again (after AWS called them expired before we thought).
func (c *Chain) Expire() {
	c.mu.Lock()
	c.cur = Credentials{}
	c.mu.Unlock()
}

// resolve finds the first source that applies.
func (c *Chain) resolve() (source, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(key string) string { return strings.TrimSpace(getenv(key)) }
	// AWS_ACCESS_KEY and AWS_SECRET_KEY are the SDKs' older names, still read.
	id, secret := cmp.Or(env("AWS_ACCESS_KEY_ID"), env("AWS_ACCESS_KEY")), cmp.Or(env("AWS_SECRET_ACCESS_KEY"), env("AWS_SECRET_KEY"))
	switch {
	case id != "" && secret != "":
		return static{AccessKeyID: id, SecretAccessKey: secret, SessionToken: env("AWS_SESSION_TOKEN"), Source: "environment"}, nil
	case id != "" || secret != "":
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set (only one is)")
	case env("AWS_WEB_IDENTITY_TOKEN_FILE") != "":
		return nil, unsupported("AWS_WEB_IDENTITY_TOKEN_FILE", "web identity")
	}
	p, err := loadProfile(getenv)
	if err != nil {
		return nil, err
	}
	if src, ok, err := p.source(); ok || err != nil {
		return src, err
	}
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	token, tokenFile := env("AWS_CONTAINER_AUTHORIZATION_TOKEN"), env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	if rel := env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		host := c.containerHost
		if host == "" {
			host = "http://169.254.170.2"
		}
		return container{url: host + rel, token: token, tokenFile: tokenFile, http: client}, nil
	}
	if full := env("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkContainerURL(full); err != nil {
			return nil, err
		}
		return container{url: full, token: token, tokenFile: tokenFile, http: client}, nil
	}
	if strings.EqualFold(env("AWS_EC2_METADATA_DISABLED"), "true") {
		return nil, fmt.Errorf("no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), in profile %q of %s, "+
			"no container endpoint, and the EC2 metadata service is disabled (AWS_EC2_METADATA_DISABLED)", p.name, describeFiles(p.files))
	}
	endpoint := env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://169.254.169.254"
	}
	return imdsFallback{imds: imds{endpoint: endpoint, http: client}, profile: p.name, files: p.files}, nil
}

// imdsFallback is the last source: when IMDS does not answer either, the
// error says everything that was tried.
type imdsFallback struct {
	imds
	profile string
	files   []string
}

func (f imdsFallback) fetch(ctx context.Context) (Credentials, error) {
	c, err := f.imds.fetch(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), in profile %q of %s, "+
			"no container endpoint, and %w", f.profile, describeFiles(f.files), err)
	}
	return c, nil
}

func describeFiles(files []string) string {
	if len(files) == 0 {
		return "the shared files (none found)"
	}
	return strings.Join(files, " and ")
}
