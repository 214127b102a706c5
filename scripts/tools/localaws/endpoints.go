// Package localaws administers Kinesis streams and KCL lease tables and publishes
// demo records. It is aimed at the offline stand-ins of scripts/stack.sh
// (kinesis-mock and dynalite) but works against real AWS as well.
//
// Every function takes the SDK client it needs, so tests can build clients once
// and share them. Go's default HTTP transport speaks HTTP/1.1 to http://
// endpoints, which is what kinesis-mock handles best (its HTTP/2 side drops
// connections under concurrent large responses).
package localaws

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Default addresses of the services started by scripts/stack.sh.
const (
	DefaultRegion           = "us-east-1"
	DefaultKinesisEndpoint  = "http://127.0.0.1:4568"
	DefaultDynamoDBEndpoint = "http://127.0.0.1:4569"
)

// Dummy credentials for the emulators: they insist on a signed request but never
// check the signature.
const (
	DummyAccessKeyID     = "AKIALOCALSTACK0000000"
	DummySecretAccessKey = "local"
)

// Endpoints says where Kinesis and DynamoDB answer. An empty endpoint means the
// real AWS endpoint of Region; an empty Region means DefaultRegion.
type Endpoints struct {
	Region   string
	Kinesis  string
	DynamoDB string
}

// KinesisClient returns a client for e.Kinesis.
func (e Endpoints) KinesisClient(ctx context.Context) (*kinesis.Client, error) {
	cfg, err := e.awsConfig(ctx, e.Kinesis)
	if err != nil {
		return nil, fmt.Errorf("kinesis client: %w", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if e.Kinesis != "" {
			o.BaseEndpoint = aws.String(e.Kinesis)
		}
	}), nil
}

// DynamoDBClient returns a client for e.DynamoDB.
func (e Endpoints) DynamoDBClient(ctx context.Context) (*dynamodb.Client, error) {
	cfg, err := e.awsConfig(ctx, e.DynamoDB)
	if err != nil {
		return nil, fmt.Errorf("dynamodb client: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if e.DynamoDB != "" {
			o.BaseEndpoint = aws.String(e.DynamoDB)
		}
	}), nil
}

func (e Endpoints) awsConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	region := e.Region
	if region == "" {
		region = DefaultRegion
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if endpoint != "" {
		// An emulator must never make the SDK probe the instance metadata service
		// (169.254.169.254) or pick up a developer's real profile credentials.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(
				credentials.NewStaticCredentialsProvider(DummyAccessKeyID, DummySecretAccessKey, "")))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}
