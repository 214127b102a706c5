package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
)

var testCreds = creds.Static{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET-never-shown", Source: "test"}

// fakeDynamo answers with handle's status and body for each request; it
// checks what every request must carry.
func fakeDynamo(t *testing.T, handle func(n int, target string, req map[string]any) (int, string)) (*Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		auth := r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" ||
			!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/dynamodb/aws4_request") ||
			!strings.Contains(auth, "x-amz-target") {
			t.Errorf("request %d not signed as expected: %s %s %q", n, r.Method, r.URL.Path, auth)
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("request body %s: %v", body, err)
		}
		status, out := handle(n, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."), req)
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(out))), 10))
		w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("req-%d", n))
		w.WriteHeader(status)
		io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	return &Client{Endpoint: srv.URL, Region: "eu-west-1", Credentials: testCreds,
		Retry: Retry{Base: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: 3}}, &calls
}

func errBody(kind, msg string) string {
	return fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, kind, msg)
}

func TestScanPagesFollowsLastEvaluatedKey(t *testing.T) {
	var starts []string
	c, _ := fakeDynamo(t, func(n int, target string, req map[string]any) (int, string) {
		if target != "Scan" || req["TableName"] != "orders" || req["Segment"] != 0.0 || req["TotalSegments"] != 4.0 || req["Limit"] != 2.0 || req["ConsistentRead"] != true {
			t.Errorf("request %d: %s %v", n, target, req)
		}
		start, _ := json.Marshal(req["ExclusiveStartKey"])
		starts = append(starts, string(start))
		switch n {
		case 1:
			return 200, `{"Items":[{"id":{"S":"a"}},{"id":{"S":"b"}}],"Count":2,"ScannedCount":2,"LastEvaluatedKey":{"id":{"S":"b"}}}`
		case 2:
			return 200, `{"Items":[{"id":{"S":"c"}}],"Count":1,"ScannedCount":1,"LastEvaluatedKey":{"id":{"S":"c"}}}`
		}
		return 200, `{"Items":[],"Count":0,"ScannedCount":0}`
	})
	var items []string
	err := c.ScanPages(context.Background(), ScanInput{TableName: "orders", Segment: 0, TotalSegments: 4, Limit: 2, ConsistentRead: true},
		func(out ScanOutput) error {
			for _, it := range out.Items {
				items = append(items, string(it))
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := `null {"id":{"S":"b"}} {"id":{"S":"c"}}`; strings.Join(starts, " ") != want {
		t.Errorf("start keys %v, want %s", starts, want)
	}
	if len(items) != 3 || items[2] != `{"id":{"S":"c"}}` {
		t.Errorf("items %v", items)
	}
}

func TestScanInputOmitsSegmentsWhenWhole(t *testing.T) {
	b, _ := json.Marshal(ScanInput{TableName: "t", Select: "COUNT"})
	if string(b) != `{"TableName":"t","Select":"COUNT"}` {
		t.Errorf("%s", b)
	}
}

func TestRetry(t *testing.T) {
	ok := `{"Items":[],"Count":0,"ScannedCount":0}`
	tests := []struct {
		name      string
		answers   []string // status:body; the last one repeats
		wantCalls int
		wantErr   string
	}{
		{"throttling is retried beyond MaxAttempts", []string{"400:" + errBody("ProvisionedThroughputExceededException", "slow down"),
			"400:" + errBody("ProvisionedThroughputExceededException", "slow down"), "400:" + errBody("ThrottlingException", "x"),
			"400:" + errBody("ProvisionedThroughputExceededException", "slow down"), "200:" + ok}, 5, ""},
		{"5xx is retried", []string{"500:" + errBody("InternalServerError", "oops"), "503:", "200:" + ok}, 3, ""},
		{"5xx gives up after MaxAttempts", []string{"500:" + errBody("InternalServerError", "oops")}, 3, "InternalServerError: oops (HTTP 500, request req-3) (gave up after 3 attempts)"},
		{"a client error is not retried", []string{"400:" + errBody("ResourceNotFoundException", "Requested resource not found")}, 1, "dynamodb Scan: ResourceNotFoundException: Requested resource not found (HTTP 400, request req-1)"},
		{"a damaged answer is retried", []string{"200-badcrc:" + ok, "200:" + ok}, 2, ""},
		{"a proxy's page", []string{"403:<html>denied</html>"}, 1, "dynamodb Scan: Forbidden (HTTP 403"},
		{"a refused signature without the canonical request", []string{"400:" + errBody("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:TOKEN-never-shown'")},
			1, "InvalidSignatureException: The request signature we calculated does not match the signature you provided. (HTTP 400"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var retries int
			c, calls := fakeDynamo(t, func(n int, _ string, _ map[string]any) (int, string) {
				a := tc.answers[min(n, len(tc.answers))-1]
				head, body, _ := strings.Cut(a, ":")
				status, _ := strconv.Atoi(strings.TrimSuffix(head, "-badcrc"))
				if strings.HasSuffix(head, "-badcrc") {
					body += " " // the checksum was taken of other bytes
				}
				return status, body
			})
			if tc.name == "a damaged answer is retried" {
				// the fake computes the checksum of what it sends; damage it on the way
				c.HTTP = &http.Client{Transport: damage{}}
			}
			c.OnRetry = func(string, int, time.Duration, error) { retries++ }
			_, err := c.Scan(context.Background(), ScanInput{TableName: "t"})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if int(calls.Load()) != tc.wantCalls || retries != tc.wantCalls-1 {
				t.Errorf("%d calls, %d retries; want %d calls", calls.Load(), retries, tc.wantCalls)
			}
			if err != nil && (strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "TOKEN")) {
				t.Errorf("secret in error: %v", err)
			}
		})
	}
}

// damage changes a 200 answer that ends in a space (the fake's mark)
// after the server computed its checksum.
type damage struct{}

func (d damage) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 && strings.HasSuffix(string(body), " ") {
		body = append(body[:len(body)-1], 'x')
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp, nil
}

// expiring counts Expire calls.
type expiring struct {
	creds.Static
	expired atomic.Int32
}

func (e *expiring) Expire() { e.expired.Add(1) }

func TestExpiredCredentialsAreFetchedAgain(t *testing.T) {
	c, calls := fakeDynamo(t, func(n int, _ string, _ map[string]any) (int, string) {
		if n == 1 {
			return 400, errBody("ExpiredTokenException", "The security token included in the request is expired")
		}
		return 200, `{"Table":{"TableName":"t","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}]}}`
	})
	e := &expiring{Static: testCreds}
	c.Credentials = e
	tbl, err := c.DescribeTable(context.Background(), "t")
	if err != nil || calls.Load() != 2 || e.expired.Load() != 1 {
		t.Fatalf("%v, %d calls, %d expired", err, calls.Load(), e.expired.Load())
	}
	if k := tbl.Key(); len(k) != 1 || k[0] != (AttributeDefinition{"id", "S"}) || tbl.ServerDate.IsZero() {
		t.Errorf("table %+v", tbl)
	}
}

func TestClockSkewIsCorrected(t *testing.T) {
	serverNow := time.Now().Add(-20 * time.Minute).UTC().Truncate(time.Second)
	var dates []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dates = append(dates, r.Header.Get("X-Amz-Date"))
		w.Header().Set("Date", serverNow.Format(http.TimeFormat))
		if len(dates) == 1 {
			w.WriteHeader(400)
			io.WriteString(w, errBody("InvalidSignatureException", "Signature expired: is now earlier than ..."))
			return
		}
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c := &Client{Endpoint: srv.URL, Region: "eu-west-1", Credentials: testCreds, Retry: Retry{Base: time.Millisecond}}
	if err := c.Call(context.Background(), "ListTables", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	second, err := time.Parse("20060102T150405Z", dates[1])
	if err != nil || second.Sub(serverNow).Abs() > 5*time.Second {
		t.Errorf("second attempt signed at %s, server says %s", dates[1], serverNow)
	}
}

func TestContextEndsRetrying(t *testing.T) {
	c, _ := fakeDynamo(t, func(int, string, map[string]any) (int, string) {
		return 400, errBody("ProvisionedThroughputExceededException", "slow down")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Scan(ctx, ScanInput{TableName: "t"})
	var apiErr *Error
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.As(err, &apiErr) && apiErr.Throttled()) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s after the context ended", time.Since(start))
	}
}

func TestRegionAndEndpoint(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		home := t.TempDir()
		return func(k string) string {
			if k == "HOME" {
				return home
			}
			return kv[k]
		}
	}
	if r, err := Region("eu-central-1", env(map[string]string{"AWS_REGION": "us-east-1"})); r != "eu-central-1" || err != nil {
		t.Errorf("properties first: %q %v", r, err)
	}
	if r, err := Region("", env(map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"})); r != "ap-south-1" || err != nil {
		t.Errorf("AWS_DEFAULT_REGION: %q %v", r, err)
	}
	if _, err := Region("", env(nil)); err == nil || !strings.Contains(err.Error(), "regionName") {
		t.Errorf("no region: %v", err)
	}
	tests := []struct {
		explicit, region string
		env              map[string]string
		want             string
	}{
		{"http://127.0.0.1:4569", "us-east-1", map[string]string{"AWS_ENDPOINT_URL": "http://x"}, "http://127.0.0.1:4569"},
		{"", "us-east-1", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://d", "AWS_ENDPOINT_URL": "http://x"}, "http://d"},
		{"", "us-east-1", map[string]string{"AWS_ENDPOINT_URL": "http://x"}, "http://x"},
		{"", "eu-west-1", nil, "https://dynamodb.eu-west-1.amazonaws.com"},
		{"", "cn-north-1", nil, "https://dynamodb.cn-north-1.amazonaws.com.cn"},
	}
	for _, tc := range tests {
		if got := Endpoint(tc.explicit, tc.region, env(tc.env)); got != tc.want {
			t.Errorf("Endpoint(%q, %q, %v) = %q, want %q", tc.explicit, tc.region, tc.env, got, tc.want)
		}
	}
}
