package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/creds"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/aws/dynamodb"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/backfill"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/cdc"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/config"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/sink"
	"github.com/rs/zerolog"
)

// backfillArgs are the flags of the backfill command.
type backfillArgs struct {
	table              string
	segments, pageSize int
	restart            bool
}

func (b *backfillArgs) define(fs *flag.FlagSet) {
	fs.StringVar(&b.table, "dynamodb-table", "", "backfill: the DynamoDB table to load")
	fs.IntVar(&b.segments, "segments", 0, fmt.Sprintf("backfill: parallel scan segments of a new scan (default %d; a resumed scan keeps its own)", backfill.DefaultSegments))
	fs.IntVar(&b.pageSize, "page-size", 0, fmt.Sprintf("backfill: items per Scan page (default %d)", backfill.DefaultPageSize))
	fs.BoolVar(&b.restart, "restart", false, "backfill: start a new scan instead of continuing the last unfinished one")
}

// check returns what is wrong with the backfill flags ("" when nothing):
// they belong to backfill, which needs a table.
func (b *backfillArgs) check(fs *flag.FlagSet, isBackfill bool) string {
	var stray []string
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "backfill:") && !isBackfill {
			stray = append(stray, "--"+f.Name)
		}
	})
	switch {
	case len(stray) > 0:
		return strings.Join(stray, ", ") + " belong(s) to backfill"
	case !isBackfill:
		return ""
	case b.table == "":
		return "backfill needs --dynamodb-table"
	case b.segments < 0 || b.segments > 1000000:
		return "--segments must be between 1 and 1000000 (DynamoDB's limit)"
	case b.pageSize < 0:
		return "--page-size must be positive"
	}
	return ""
}

// runBackfill loads (or, with --dry-run, counts) the DynamoDB table's items
// into the change stream's target table. SIGINT and SIGTERM stop it after
// the pages being written; a later run continues.
func runBackfill(ctx context.Context, s config.Settings, args backfillArgs, dryRun bool, log zerolog.Logger) int {
	dec, ok := s.CDC.(*cdc.DynamoDB)
	if !ok {
		fmt.Fprintln(os.Stderr, "kinesis-cratedb: backfill needs sink.format = dynamodb-cdc (and sink.dynamodb.keys)")
		return exitConfig
	}
	if src := dec.SourceTable(); src != "" && src != args.table {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: backfill of %s, but sink.dynamodb.sourceTable = %s\n", args.table, src)
		return exitConfig
	}
	if s.Mode != config.ModeWrite && !dryRun {
		fmt.Fprintln(os.Stderr, "kinesis-cratedb: backfill needs sink.mode = write (or --dry-run)")
		return exitConfig
	}
	client, err := dynamoClient(s, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	job := &backfill.Job{Table: args.table, Decoder: dec, Scanner: client, Segments: args.segments, PageSize: args.pageSize,
		Restart: args.restart, Out: os.Stderr, Log: log}
	if dryRun {
		return countAndDDL(ctx, s, job, log)
	}
	w, err := sink.OpenChanges(ctx, s.DatabaseURL, sinkConfig(s, log), dec.Tables())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	defer w.Close()
	job.Sink = w
	if _, err := job.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "kinesis-cratedb: interrupted; the next backfill continues where this one stopped")
		}
		return exitFailure
	}
	return 0
}

// countAndDDL is --dry-run: it counts the items and prints the DDL the
// backfill (and the child) would run, for the database the settings name.
func countAndDDL(ctx context.Context, s config.Settings, job *backfill.Job, log zerolog.Logger) int {
	n, err := job.Count(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	fmt.Printf("-- DynamoDB table %s holds %d items (Scan, Select=COUNT)\n", job.Table, n)
	if s.Mode != config.ModeWrite {
		return 0
	}
	dialect, ddl, err := sink.DDL(ctx, s.DatabaseURL, sinkConfig(s, log), job.Decoder.Tables())
	if err != nil {
		fmt.Fprintf(os.Stderr, "kinesis-cratedb: %v\n", err)
		return exitFailure
	}
	fmt.Printf("-- the tables, on %s (created if missing, sink.createTables = %t)\n", dialect, s.CreateTables)
	for _, stmt := range ddl {
		fmt.Printf("%s;\n", stmt)
	}
	return 0
}

// dynamoClient reaches DynamoDB where the daemon does (regionName,
// dynamoDBEndpoint), with the SDKs' credential chain.
func dynamoClient(s config.Settings, log zerolog.Logger) (*dynamodb.Client, error) {
	region, err := dynamodb.Region(s.Region, os.Getenv)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // one connection per segment, kept
	return &dynamodb.Client{
		Endpoint:    dynamodb.Endpoint(s.DynamoDBEndpoint, region, os.Getenv),
		Region:      region,
		Credentials: &creds.Chain{},
		HTTP:        &http.Client{Transport: transport},
		OnRetry: func(op string, attempt int, wait time.Duration, err error) {
			log.Warn().Err(err).Str("op", op).Int("attempt", attempt).Dur("wait", wait).Msg("dynamodb retry")
		},
	}, nil
}
