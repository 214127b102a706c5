// Package sigv4 signs HTTP requests with AWS Signature Version 4, the
// scheme every AWS JSON API checks. It covers what a client of such an API
// sends (headers, query, body); presigned URLs and S3's chunked uploads are
// left out.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	amzDate    = "20060102T150405Z"
	scopeDate  = "20060102"
	terminator = "aws4_request"
)

// Signer signs requests for one service in one region.
type Signer struct {
	Service string // signing name, e.g. "dynamodb"
	Region  string
}

// Sign adds X-Amz-Date, X-Amz-Security-Token (for temporary credentials)
// and Authorization to req. body is the request's payload (nil for none);
// every header already set on req is signed, so set them all first.
// Headers the transport adds later (User-Agent, Content-Length,
// Accept-Encoding) stay out of the signature, as AWS allows.
func (s Signer) Sign(req *http.Request, body []byte, c creds.Credentials, now time.Time) {
	now = now.UTC()
	req.Header.Set("X-Amz-Date", now.Format(amzDate))
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	} else {
		req.Header.Del("X-Amz-Security-Token")
	}
	req.Header.Del("Authorization")
	scope := now.Format(scopeDate) + "/" + s.Region + "/" + s.Service + "/" + terminator
	canonical, signed := canonicalRequest(req, body)
	toSign := algorithm + "\n" + now.Format(amzDate) + "\n" + scope + "\n" + hexHash([]byte(canonical))
	key := SigningKey(c.SecretAccessKey, now.Format(scopeDate), s.Region, s.Service)
	signature := hex.EncodeToString(hmacSHA256(key, []byte(toSign)))
	req.Header.Set("Authorization", algorithm+" Credential="+c.AccessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+signature)
}

// SigningKey derives the key that signs one day's requests to one service
// in one region.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(terminator))
}

// canonicalRequest renders req as AWS defines it and lists the signed
// header names.
func canonicalRequest(req *http.Request, body []byte) (canonical, signedHeaders string) {
	headers := map[string][]string{"host": {host(req)}}
	for name, values := range req.Header {
		switch name = strings.ToLower(name); name {
		case "authorization", "user-agent":
			continue // not ours to sign: set after signing or by proxies
		}
		headers[name] = append(headers[name], values...)
	}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(req.Method + "\n")
	b.WriteString(canonicalPath(req.URL) + "\n")
	b.WriteString(canonicalQuery(req.URL) + "\n")
	for _, name := range names {
		values := headers[name]
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ") // trimmed, inner runs of spaces as one
		}
		b.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	signedHeaders = strings.Join(names, ";")
	b.WriteString("\n" + signedHeaders + "\n" + hexHash(body))
	return b.String(), signedHeaders
}

func host(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// canonicalPath URI-encodes the path as sent, once more: AWS signs the
// already-encoded path encoded again, for every service but S3.
func canonicalPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segments := strings.Split(p, "/")
	for i, s := range segments {
		segments[i] = escape(s)
	}
	return strings.Join(segments, "/")
}

// canonicalQuery sorts the parameters by name, then value, each encoded.
func canonicalQuery(u *url.URL) string {
	q := u.Query()
	pairs := make([]string, 0, len(q))
	for name, values := range q {
		for _, v := range values {
			pairs = append(pairs, escape(name)+"="+escape(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// escape percent-encodes everything but RFC 3986's unreserved characters,
// in upper-case hex, as SigV4 requires.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func hexHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
