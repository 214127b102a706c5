package dynamodb

import (
	"errors"
	"strings"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
)

// Region picks the region: explicit (the daemon's regionName), else
// AWS_REGION, AWS_DEFAULT_REGION, else the profile's region in the shared
// config file.
func Region(explicit string, getenv func(string) string) (string, error) {
	for _, r := range []string{explicit, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")} {
		if r = strings.TrimSpace(r); r != "" {
			return r, nil
		}
	}
	r, err := creds.SharedConfigRegion(getenv)
	if err != nil {
		return "", err
	}
	if r == "" {
		return "", errors.New("no AWS region: set regionName in the properties file, or AWS_REGION")
	}
	return r, nil
}

// Endpoint picks DynamoDB's endpoint: explicit (the daemon's
// dynamoDBEndpoint), else AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL,
// else the region's public endpoint.
func Endpoint(explicit, region string, getenv func(string) string) string {
	for _, e := range []string{explicit, getenv("AWS_ENDPOINT_URL_DYNAMODB"), getenv("AWS_ENDPOINT_URL")} {
		if e = strings.TrimSpace(e); e != "" {
			return e
		}
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://dynamodb." + region + "." + suffix
}
