// Command kinesis-local administers the local Kinesis and DynamoDB stand-ins of
// scripts/stack.sh (or real AWS): streams, shards and KCL lease tables.
//
//	kinesis-local create-stream --stream demo-stream --shards 2
//	kinesis-local create-lease-table --table demo-app
//	kinesis-local split --stream demo-stream --shard shardId-000000000000
//	kinesis-local leases --table demo-app [--json]
//
// Endpoints default to $KINESIS_ENDPOINT / $DYNAMODB_ENDPOINT, else to the
// stack's 127.0.0.1 ports.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinesis-cratedb/kinesis-cratedb/scripts/tools/localaws"
)

const usage = `usage: kinesis-local <command> [flags]

commands:
  create-stream      --stream S --shards N   create a stream and wait until ACTIVE (exists = ok)
  delete-stream      --stream S              delete a stream and wait until gone
  shards             --stream S [--json]     list shards (closed ones too)
  split              --stream S --shard ID   split a shard at its hash-range midpoint
  merge              --stream S --shard A --adjacent B
                                             merge two adjacent shards
  create-lease-table --table APP [--seed-leases S] [--coordinator-tables=false]
                                             create the KCL 3 lease table with its GSI and side
                                             tables, optionally seed leases (exists = ok)
  delete-lease-table --table APP             delete APP, APP-WorkerMetricStats, APP-CoordinatorState
  leases             --table APP [--json]    print leaseKey, leaseOwner, checkpoint, checkpointSubSequenceNumber

common flags: --kinesis-endpoint URL --dynamodb-endpoint URL --region R (run "kinesis-local <command> -h")
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "kinesis-local:", err)
		os.Exit(1)
	}
}

// command is one subcommand: its flags are registered on fs, then it runs.
type command struct {
	fs  *flag.FlagSet
	run func(ctx context.Context, out io.Writer) error
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := cmd.fs.Parse(args[1:]); err != nil {
		return err
	}
	if cmd.fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", args[0], cmd.fs.Args())
	}
	return cmd.run(ctx, out)
}

// endpointFlags registers the flags every subcommand shares.
func endpointFlags(fs *flag.FlagSet) *localaws.Endpoints {
	e := &localaws.Endpoints{}
	fs.StringVar(&e.Kinesis, "kinesis-endpoint", envOr("KINESIS_ENDPOINT", localaws.DefaultKinesisEndpoint), "Kinesis endpoint URL (empty = real AWS)")
	fs.StringVar(&e.DynamoDB, "dynamodb-endpoint", envOr("DYNAMODB_ENDPOINT", localaws.DefaultDynamoDBEndpoint), "DynamoDB endpoint URL (empty = real AWS)")
	fs.StringVar(&e.Region, "region", envOr("AWS_REGION", localaws.DefaultRegion), "AWS region")
	return e
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func required(name, value string) error {
	if value == "" {
		return fmt.Errorf("--%s is required", name)
	}
	return nil
}

func commands() map[string]command {
	return map[string]command{
		"create-stream":      createStreamCmd(),
		"delete-stream":      deleteStreamCmd(),
		"shards":             shardsCmd(),
		"split":              splitCmd(),
		"merge":              mergeCmd(),
		"create-lease-table": createLeaseTableCmd(),
		"delete-lease-table": deleteLeaseTableCmd(),
		"leases":             leasesCmd(),
	}
}

func createStreamCmd() command {
	fs := flag.NewFlagSet("create-stream", flag.ContinueOnError)
	e := endpointFlags(fs)
	stream := fs.String("stream", "", "stream name")
	shards := fs.Int("shards", 1, "number of shards")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("stream", *stream); err != nil {
			return err
		}
		c, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		return localaws.CreateStream(ctx, c, *stream, int32(*shards))
	}}
}

func deleteStreamCmd() command {
	fs := flag.NewFlagSet("delete-stream", flag.ContinueOnError)
	e := endpointFlags(fs)
	stream := fs.String("stream", "", "stream name")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("stream", *stream); err != nil {
			return err
		}
		c, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		return localaws.DeleteStream(ctx, c, *stream)
	}}
}

func shardsCmd() command {
	fs := flag.NewFlagSet("shards", flag.ContinueOnError)
	e := endpointFlags(fs)
	stream := fs.String("stream", "", "stream name")
	asJSON := fs.Bool("json", false, "print JSON")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("stream", *stream); err != nil {
			return err
		}
		c, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		shards, err := localaws.ListShards(ctx, c, *stream)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(out, shards)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
		fmt.Fprintln(tw, "shardId\tstate\tparent\tadjacentParent\tstartingHashKey\tendingHashKey")
		for _, s := range shards {
			state := "closed"
			if localaws.ShardOpen(s) {
				state = "open"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(s.ShardId), state,
				dash(aws.ToString(s.ParentShardId)), dash(aws.ToString(s.AdjacentParentShardId)),
				aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey))
		}
		return tw.Flush()
	}}
}

func splitCmd() command {
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	e := endpointFlags(fs)
	stream := fs.String("stream", "", "stream name")
	shard := fs.String("shard", "", "id of the shard to split")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := errors.Join(required("stream", *stream), required("shard", *shard)); err != nil {
			return err
		}
		c, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		children, err := localaws.SplitShard(ctx, c, *stream, *shard)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, strings.Join(children, " "))
		return nil
	}}
}

func mergeCmd() command {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	e := endpointFlags(fs)
	stream := fs.String("stream", "", "stream name")
	shard := fs.String("shard", "", "id of the first shard")
	adjacent := fs.String("adjacent", "", "id of the shard whose hash range is adjacent")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := errors.Join(required("stream", *stream), required("shard", *shard), required("adjacent", *adjacent)); err != nil {
			return err
		}
		c, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		merged, err := localaws.MergeShards(ctx, c, *stream, *shard, *adjacent)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, merged)
		return nil
	}}
}

func createLeaseTableCmd() command {
	fs := flag.NewFlagSet("create-lease-table", flag.ContinueOnError)
	e := endpointFlags(fs)
	table := fs.String("table", "", "lease table name (the KCL applicationName)")
	side := fs.Bool("coordinator-tables", true, "also create APP-CoordinatorState and APP-WorkerMetricStats (KCL 3.0-3.4; saves 40 s of start-up; false for KCL >= 3.5)")
	stream := fs.String("seed-leases", "", "write an unowned lease per shard of this stream (saves KCL's random 1-30 s wait on an empty lease table)")
	position := fs.String("initial-position", "TRIM_HORIZON", "checkpoint of seeded leases: TRIM_HORIZON or LATEST (match initialPositionInStream)")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("table", *table); err != nil {
			return err
		}
		dc, err := e.DynamoDBClient(ctx)
		if err != nil {
			return err
		}
		if err := localaws.CreateLeaseTable(ctx, dc, *table); err != nil {
			return err
		}
		if *side {
			if err := localaws.CreateCoordinatorTables(ctx, dc, *table); err != nil {
				return err
			}
		}
		if *stream == "" {
			return nil
		}
		kc, err := e.KinesisClient(ctx)
		if err != nil {
			return err
		}
		n, err := localaws.SeedLeases(ctx, dc, kc, *table, *stream, *position)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "kinesis-local: seeded %d leases for %s in %s\n", n, *stream, *table)
		return nil
	}}
}

func deleteLeaseTableCmd() command {
	fs := flag.NewFlagSet("delete-lease-table", flag.ContinueOnError)
	e := endpointFlags(fs)
	table := fs.String("table", "", "lease table name (the KCL applicationName)")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("table", *table); err != nil {
			return err
		}
		c, err := e.DynamoDBClient(ctx)
		if err != nil {
			return err
		}
		return localaws.DeleteLeaseTables(ctx, c, *table)
	}}
}

func leasesCmd() command {
	fs := flag.NewFlagSet("leases", flag.ContinueOnError)
	e := endpointFlags(fs)
	table := fs.String("table", "", "lease table name (the KCL applicationName)")
	asJSON := fs.Bool("json", false, "print JSON")
	return command{fs, func(ctx context.Context, out io.Writer) error {
		if err := required("table", *table); err != nil {
			return err
		}
		c, err := e.DynamoDBClient(ctx)
		if err != nil {
			return err
		}
		leases, err := localaws.Leases(ctx, c, *table)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(out, leases)
		}
		for _, l := range leases {
			fmt.Fprintf(out, "%s\t%s\t%s\t%d\n", l.LeaseKey, dash(l.LeaseOwner), dash(l.Checkpoint), l.CheckpointSubSequenceNumber)
		}
		return nil
	}}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
