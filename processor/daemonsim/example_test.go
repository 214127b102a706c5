package daemonsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-cratedb/kinesis-cratedb/processor/daemonsim"
	"github.com/kinesis-cratedb/kinesis-cratedb/processor/kcl"
)

// summer is the program under test, as a user of package kcl writes it: it
// adds up the "n" of each JSON record, checkpoints after every batch, and
// logs the total to stderr (the daemon's log) when the worker shuts down.
type summer struct{ records, sum int }

func (s *summer) Initialize(context.Context, kcl.InitializeInput) error { return nil }

func (s *summer) ProcessRecords(ctx context.Context, in kcl.ProcessRecordsInput) error {
	for _, r := range in.Records {
		var v struct {
			N int `json:"n"`
		}
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return err
		}
		s.records++
		s.sum += v.N
	}
	if in.More {
		return nil // the rest of the batch follows: checkpoint at its last part
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (s *summer) LeaseLost(context.Context, kcl.LeaseLostInput) error { return nil }

func (s *summer) ShardEnded(context.Context, kcl.ShardEndedInput) error { return nil }

func (s *summer) ShutdownRequested(ctx context.Context, in kcl.ShutdownRequestedInput) error {
	fmt.Fprintf(os.Stderr, "summed %d records: %d\n", s.records, s.sum)
	return in.Checkpointer.Checkpoint(ctx)
}

// childEnv makes the test binary the child: started with it, the binary
// serves the protocol on stdin and stdout as the program's main would. (In
// a test of your own, TestMain is the usual place for this switch.)
const childEnv = "DAEMONSIM_EXAMPLE_CHILD"

func init() {
	if os.Getenv(childEnv) == "1" {
		if err := kcl.Run(context.Background(), &summer{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// A test of a kcl.RecordProcessor: daemonsim starts the test binary itself
// as the child, plays one shard's life as the Java daemon would, and
// reports the checkpoints, the exit, the child's log and any protocol
// violation. No JVM, Kinesis or DynamoDB is involved.
func Example_recordProcessor() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	var stderr strings.Builder // written until Close returns, read after
	child, err := daemonsim.Daemon{Stderr: &stderr}.Start(ctx, []string{exe}, append(os.Environ(), childEnv+"=1"), "")
	if err != nil {
		log.Fatal(err)
	}

	// A lease that starts at the oldest record, then ten records in
	// batches of four.
	start, sub := daemonsim.SentinelTrimHorizon, int64(0)
	if err := child.Initialize(ctx, daemonsim.DefaultShardID, &start, &sub); err != nil {
		log.Fatal(err)
	}
	var records []daemonsim.Record
	for i := 1; i <= 10; i++ {
		records = append(records, daemonsim.Record{
			Data:           []byte(`{"n":` + strconv.Itoa(i) + `}`),
			PartitionKey:   "sensor-1",
			SequenceNumber: strconv.Itoa(1000 + i),
		})
	}
	for _, b := range daemonsim.Batches(records, 4, nil) {
		if err := child.SendBatch(ctx, b); err != nil {
			log.Fatal(err)
		}
	}
	// The worker shuts down: the child checkpoints, then loses its lease
	// and is told to exit by the end of its stdin.
	if err := child.ShutdownRequested(ctx); err != nil {
		log.Fatal(err)
	}
	if err := child.LeaseLost(ctx); err != nil {
		log.Fatal(err)
	}
	exit, err := child.Close()
	if err != nil {
		log.Fatal(err)
	}

	last, _ := child.LastCheckpoint()
	fmt.Println("exit code:", exit.Code)
	fmt.Println("checkpoint requests:", child.CheckpointRequests())
	fmt.Println("last checkpoint:", last.Sequence)
	fmt.Println("protocol violations:", len(child.Violations()))
	fmt.Print("child's log: ", stderr.String())
	// Output:
	// exit code: 0
	// checkpoint requests: 4
	// last checkpoint: 1010
	// protocol violations: 0
	// child's log: summed 10 records: 55
}
