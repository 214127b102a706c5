// Package dynamodb is a small client of DynamoDB's JSON 1.0 API (HTTPS
// POST /, X-Amz-Target, Signature Version 4), enough for reading a table:
// Scan, DescribeTable and DescribeKinesisStreamingDestination, plus Call
// for any other operation. It retries throttling for as long as the
// context lives and other transient failures (5xx, network, a damaged
// answer) a bounded number of times.
package dynamodb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/sigv4"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backoff"
)

// Client calls one DynamoDB endpoint. Its zero value is not usable: set
// Endpoint, Region and Credentials. It is safe for concurrent use.
type Client struct {
	Endpoint    string // e.g. https://dynamodb.eu-west-1.amazonaws.com (see Endpoint)
	Region      string
	Credentials creds.Provider
	HTTP        *http.Client // nil: http.DefaultClient
	Retry       Retry
	// OnRetry, when set, hears of every attempt that will be retried.
	OnRetry func(op string, attempt int, wait time.Duration, err error)

	// skew is the server's clock minus ours (ns), learnt when DynamoDB
	// refuses a signature as too old or too new; signing adds it, as the
	// SDKs do.
	skew atomic.Int64
}

// Retry bounds retrying. Throttling is retried without a limit (a
// provisioned table throttles a scan routinely); other transient failures
// up to MaxAttempts attempts.
type Retry struct {
	MaxAttempts    int           // default 10
	Base           time.Duration // first wait, default 50ms, doubling
	Max            time.Duration // longest wait, default 20s
	AttemptTimeout time.Duration // one request, default 1m
}

func (r Retry) withDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 10
	}
	if r.Base <= 0 {
		r.Base = 50 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 20 * time.Second
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = time.Minute
	}
	return r
}

// backoff is the wait before attempt n+1: "full jitter" up to an
// exponentially growing cap, so parallel scanners spread out.
func (r Retry) backoff(n int) time.Duration {
	return rand.N(backoff.Exponential(r.Base, r.Max, n)) + time.Millisecond
}

// Error is an error answer of DynamoDB.
type Error struct {
	Op        string
	Status    int
	Type      string // e.g. ResourceNotFoundException
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dynamodb %s: %s", e.Op, e.Type)
	if e.Message != "" {
		s += ": " + e.Message
	}
	s += fmt.Sprintf(" (HTTP %d", e.Status)
	if e.RequestID != "" {
		s += ", request " + e.RequestID
	}
	return s + ")"
}

// Throttled reports DynamoDB's "slow down" answers.
func (e *Error) Throttled() bool {
	switch e.Type {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException":
		return true
	}
	return e.Status == http.StatusTooManyRequests
}

// transientError is a failure of one attempt worth another: the network,
// a timeout, an answer damaged on the way.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Call runs one operation ("Scan", "DescribeTable", ...): in is marshalled
// as the request, the answer unmarshalled into out (nil to ignore it).
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	_, err := c.call(ctx, op, in, out)
	return err
}

// call is Call that also returns the Date of the answer: DynamoDB's clock.
func (c *Client) call(ctx context.Context, op string, in, out any) (time.Time, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return time.Time{}, fmt.Errorf("dynamodb %s: %w", op, err)
	}
	policy := c.Retry.withDefaults()
	for attempt, failures := 1, 0; ; attempt++ {
		date, err := c.once(ctx, policy.AttemptTimeout, op, body, out)
		if err == nil {
			return date, nil
		}
		var apiErr *Error
		var transient *transientError
		throttled := errors.As(err, &apiErr) && apiErr.Throttled()
		switch {
		case ctx.Err() != nil:
			return time.Time{}, err
		case throttled:
		case errors.As(err, &transient) || (apiErr != nil && (apiErr.Status >= 500 || c.refreshed(apiErr, date))):
			if failures++; failures >= policy.MaxAttempts {
				return time.Time{}, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
			}
		default:
			return time.Time{}, err
		}
		wait := policy.backoff(attempt)
		if c.OnRetry != nil {
			c.OnRetry(op, attempt, wait, err)
		}
		if backoff.Sleep(ctx, wait) != nil {
			return time.Time{}, err
		}
	}
}

// refreshed fixes what a retry can fix in an authentication refusal:
// expired credentials are fetched again, a clock too far from DynamoDB's
// is corrected by the answer's Date.
func (c *Client) refreshed(e *Error, serverDate time.Time) bool {
	switch {
	case e.Type == "ExpiredTokenException" || e.Type == "ExpiredToken":
		if x, ok := c.Credentials.(interface{ Expire() }); ok {
			x.Expire()
			return true
		}
	case e.Type == "InvalidSignatureException" && strings.Contains(e.Message, "Signature expired"),
		e.Type == "RequestTimeTooSkewed":
		if !serverDate.IsZero() {
			c.skew.Store(int64(time.Until(serverDate)))
			return true
		}
	}
	return false
}

// once makes one signed request.
func (c *Client) once(ctx context.Context, timeout time.Duration, op string, body []byte, out any) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cred, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("dynamodb %s: credentials: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return time.Time{}, fmt.Errorf("dynamodb %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	// Uncompressed, so that x-amz-crc32 covers the bytes we read.
	req.Header.Set("Accept-Encoding", "identity")
	sigv4.Signer{Service: "dynamodb", Region: c.Region}.Sign(req, body, cred, time.Now().Add(time.Duration(c.skew.Load())))
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}, &transientError{fmt.Errorf("dynamodb %s: %w", op, err)}
	}
	defer resp.Body.Close()
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return date, &transientError{fmt.Errorf("dynamodb %s: reading the answer: %w", op, err)}
	}
	if sum := resp.Header.Get("X-Amz-Crc32"); sum != "" && sum != strconv.FormatUint(uint64(crc32.ChecksumIEEE(data)), 10) {
		return date, &transientError{fmt.Errorf("dynamodb %s: the answer's CRC32 does not match x-amz-crc32", op)}
	}
	if resp.StatusCode != http.StatusOK {
		return date, apiError(op, resp, data, cred)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return date, fmt.Errorf("dynamodb %s: the answer is not the JSON expected: %w", op, err)
		}
	}
	return date, nil
}

func apiError(op string, resp *http.Response, data []byte, cred creds.Credentials) *Error {
	var body struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(data, &body) // a proxy's HTML page is still an error, with its status
	e := &Error{Op: op, Status: resp.StatusCode, Message: safeMessage(body.Message+body.Message2, cred),
		RequestID: resp.Header.Get("X-Amzn-Requestid")}
	// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
	e.Type = body.Type[strings.LastIndexByte(body.Type, '#')+1:]
	if e.Type == "" {
		e.Type = http.StatusText(resp.StatusCode)
	}
	return e
}

// safeMessage keeps the first line of an error message: a refused
// signature's message goes on with the canonical request DynamoDB
// expected, which holds the session token. Any credential left in it is
// blanked too.
func safeMessage(msg string, cred creds.Credentials) string {
	msg, _, _ = strings.Cut(msg, "\n")
	for _, secret := range []string{cred.SessionToken, cred.SecretAccessKey} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
	}
	return strings.TrimSpace(msg)
}
