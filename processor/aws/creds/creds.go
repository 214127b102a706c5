// Package creds finds AWS credentials the way the AWS SDKs do, without
// them: the environment, the shared credentials and config files (static
// keys and credential_process), the ECS/EKS container endpoint and the EC2
// instance metadata service (IMDSv2), in that order (Chain).
//
// What is not supported says so by name instead of being skipped, so that
// a program never runs under another identity than the one configured: web
// identity (AWS_WEB_IDENTITY_TOKEN_FILE, web_identity_token_file), IAM
// Identity Center (sso_session, sso_start_url), role assumption (role_arn,
// source_profile, credential_source). Each of them works through
// credential_process and the AWS CLI:
//
//	credential_process = aws configure export-credentials --profile NAME --format process
//
// No secret is ever part of an error or of a Credentials' printed form.
package creds

import (
	"context"
	"fmt"
	"time"
)

// Credentials sign requests. A zero Expires means they do not expire.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expires         time.Time
	// Source says where they came from ("environment", "profile default
	// in /root/.aws/credentials", ...), for messages.
	Source string
}

// String never shows the secret or the session token, so Credentials can
// be logged or wrapped into an error by mistake without leaking them.
func (c Credentials) String() string {
	s := fmt.Sprintf("access key %s from %s", c.AccessKeyID, c.Source)
	if !c.Expires.IsZero() {
		s += ", expiring " + c.Expires.UTC().Format(time.RFC3339)
	}
	return s
}

// GoString keeps %#v as safe as %v.
func (c Credentials) GoString() string { return "creds.Credentials{" + c.String() + "}" }

// Provider hands out credentials, refreshed as needed.
type Provider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// Static is a Provider of fixed credentials (tests, tools).
type Static Credentials

// Retrieve returns the credentials.
func (s Static) Retrieve(context.Context) (Credentials, error) { return Credentials(s), nil }

// valid reports whether c can sign.
func (c Credentials) valid() bool { return c.AccessKeyID != "" && c.SecretAccessKey != "" }
