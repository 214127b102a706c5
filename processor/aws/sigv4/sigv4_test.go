package sigv4

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
)

// suite are the credentials and time of AWS's Signature Version 4 test
// suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
var (
	suite      = creds.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	suiteTime  = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	suiteToken = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRq" +
		"TflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlR" +
		"d8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlT" +
		"JabIQwj2ICCR/oLxBA=="
)

func TestSignTestSuite(t *testing.T) {
	tests := []struct {
		name, method, url, body string
		headers                 map[string]string
		token                   string
		service                 string
		signed, signature       string
	}{
		{name: "get-vanilla", method: "GET", url: "https://example.amazonaws.com/",
			signed: "host;x-amz-date", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "post-vanilla", method: "POST", url: "https://example.amazonaws.com/",
			signed: "host;x-amz-date", signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{name: "get-vanilla-query-order-key-case", method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			signed: "host;x-amz-date", signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{name: "post-vanilla-query", method: "POST", url: "https://example.amazonaws.com/?Param1=value1",
			signed: "host;x-amz-date", signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
		{name: "post-header-key-sort", method: "POST", url: "https://example.amazonaws.com/",
			headers: map[string]string{"My-Header1": "value1"},
			signed:  "host;my-header1;x-amz-date", signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
		{name: "get-header-value-trim", method: "GET", url: "https://example.amazonaws.com/",
			headers: map[string]string{"My-Header1": " value1", "My-Header2": `"a   b   c"`},
			signed:  "host;my-header1;my-header2;x-amz-date", signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{name: "post-x-www-form-urlencoded", method: "POST", url: "https://example.amazonaws.com/", body: "Param1=value1",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			signed:  "content-type;host;x-amz-date", signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
		{name: "post-sts-header-before", method: "POST", url: "https://example.amazonaws.com/", token: suiteToken,
			signed: "host;x-amz-date;x-amz-security-token", signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
		// The worked example of the IAM documentation (ListUsers).
		{name: "iam-list-users", method: "GET", url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", service: "iam",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
			signed:  "content-type;host;x-amz-date", signature: "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			service := tc.service
			if service == "" {
				service = "service"
			}
			c := suite
			c.SessionToken = tc.token
			Signer{Service: service, Region: "us-east-1"}.Sign(req, []byte(tc.body), c, suiteTime)
			want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/" + service + "/aws4_request, SignedHeaders=" +
				tc.signed + ", Signature=" + tc.signature
			if got := req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization\n got %s\nwant %s", got, want)
			}
			if got := req.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
				t.Errorf("X-Amz-Date = %q", got)
			}
			if got := req.Header.Get("X-Amz-Security-Token"); got != tc.token {
				t.Errorf("X-Amz-Security-Token = %q, want %q", got, tc.token)
			}
		})
	}
}

// TestSigningKey checks the key derivation against the documented example.
func TestSigningKey(t *testing.T) {
	got := hex.EncodeToString(SigningKey(suite.SecretAccessKey, "20150830", "us-east-1", "iam"))
	if want := "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"; got != want {
		t.Errorf("signing key %s, want %s", got, want)
	}
}

// TestSignIgnoresTransportHeaders: headers a proxy or the transport may
// change are not signed, and signing twice replaces the first signature.
func TestSignIgnoresTransportHeaders(t *testing.T) {
	sign := func(extra map[string]string) string {
		req, _ := http.NewRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", nil)
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		s := Signer{Service: "dynamodb", Region: "us-east-1"}
		s.Sign(req, []byte("{}"), suite, suiteTime)
		s.Sign(req, []byte("{}"), suite, suiteTime)
		return req.Header.Get("Authorization")
	}
	base := sign(nil)
	if got := sign(map[string]string{"User-Agent": "x/1"}); got != base {
		t.Errorf("User-Agent changed the signature")
	}
	if !strings.Contains(base, "SignedHeaders=host;x-amz-date;x-amz-target,") {
		t.Errorf("signed headers: %s", base)
	}
	if strings.Contains(base, suite.SecretAccessKey) {
		t.Error("the secret is in the Authorization header")
	}
}
