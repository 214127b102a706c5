// Command publish writes demo JSON records to a Kinesis stream with PutRecords,
// the Go counterpart of the seed project's publish.py:
//
//	publish --stream demo-stream --count 1000 --size 512 --rate 200
//
// Each record is a localaws.DemoRecord,
//
//	{"id":N,"key":"key-K","ts":"...","device":"device-K","temperature":T,"humidity":H,"pad":"..."}
//
// with N counting from --first-id, so a consumer can check every id arrived
// once. The endpoint defaults to $KINESIS_ENDPOINT, else the local stack; pass
// --endpoint "" for real AWS. A one-line summary goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	endpoint := fs.String("endpoint", envOr("KINESIS_ENDPOINT", localaws.DefaultKinesisEndpoint), "Kinesis endpoint URL; empty = real AWS")
	region := fs.String("region", envOr("AWS_REGION", localaws.DefaultRegion), "AWS region")
	var o localaws.PublishOptions
	fs.StringVar(&o.Stream, "stream", "demo-stream", "stream name")
	fs.Int64Var(&o.Count, "count", 100, "number of records")
	fs.Int64Var(&o.FirstID, "first-id", 0, "id of the first record")
	fs.IntVar(&o.Size, "size", 256, "approximate bytes per record (JSON padded up to it)")
	fs.Float64Var(&o.Rate, "rate", 0, "records per second; 0 = as fast as possible")
	fs.IntVar(&o.PartitionKeys, "partition-keys", 16, "number of distinct partition keys")
	fs.IntVar(&o.Batch, "batch", localaws.MaxBatch, "records per PutRecords call (1..500)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed for keys, values and padding")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c, err := localaws.Endpoints{Region: *region, Kinesis: *endpoint}.KinesisClient(ctx)
	if err != nil {
		return err
	}
	res, err := localaws.Publish(ctx, c, o)
	fmt.Fprintf(os.Stderr, "publish: %s to %s\n", res, o.Stream)
	return err
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
