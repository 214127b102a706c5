package creds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// source is one way of getting credentials, resolved once by the chain
// and asked again whenever its credentials near their expiry.
type source interface {
	fetch(ctx context.Context) (Credentials, error)
}

type static Credentials

func (s static) fetch(context.Context) (Credentials, error) { return Credentials(s), nil }

// process runs a profile's credential_process, as the SDKs do: through
// sh -c, reading the JSON it prints (Version 1).
type process struct {
	command string
	where   string
}

// processTimeout bounds one run (the SDKs' default is a minute).
const processTimeout = time.Minute

// maxProcessOutput bounds what is read from the command.
const maxProcessOutput = 1 << 20

func (p process) fetch(ctx context.Context) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, processTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", p.command)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// stderr is what such commands use for their errors; stdout may
		// hold secrets and is never shown.
		return Credentials{}, fmt.Errorf("credential_process of %s: %w%s", p.where, err, firstLine(stderr.String()))
	}
	var out struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Version != 1 {
		return Credentials{}, fmt.Errorf("credential_process of %s printed no credentials JSON with \"Version\": 1", p.where)
	}
	c := Credentials{AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey, SessionToken: out.SessionToken,
		Source: "credential_process of " + p.where}
	return withExpiry(c, out.Expiration)
}

// withExpiry checks c and parses an RFC 3339 expiry ("" = none).
func withExpiry(c Credentials, expiration string) (Credentials, error) {
	if !c.valid() {
		return Credentials{}, fmt.Errorf("%s: the answer lacks AccessKeyId or SecretAccessKey", c.Source)
	}
	if expiration == "" {
		return c, nil
	}
	t, err := time.Parse(time.RFC3339, expiration)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: Expiration %q is not an RFC 3339 time", c.Source, expiration)
	}
	c.Expires = t
	return c, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return ": " + s
}

// limitedBuffer keeps the first maxProcessOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

var errTooMuchOutput = errors.New("credential_process printed more than 1 MiB")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxProcessOutput {
		return 0, errTooMuchOutput
	}
	return b.Buffer.Write(p)
}
