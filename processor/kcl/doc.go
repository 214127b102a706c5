// Package kcl implements the child side of the Amazon Kinesis Client Library
// MultiLang protocol, the Go counterpart of amazon-kclpy's amazon_kclpy.kcl.
//
// The Java MultiLangDaemon starts one child process per shard lease and talks
// to it with JSON lines: actions arrive on stdin, the child answers each one
// with exactly one status line on stdout and may ask for checkpoints in
// between. A program implements RecordProcessor and hands it to Run:
//
//	func main() {
//		if err := kcl.Run(context.Background(), &myProcessor{}); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Run reserves the process's stdout for the protocol: anything else the
// program prints to os.Stdout ends up on stderr, which the daemon logs. It
// ignores SIGINT and SIGTERM so that Ctrl-C in the daemon's terminal reaches
// the daemon first and shutdown is driven by the daemon's messages (or by the
// end of stdin when the daemon dies).
//
// Every action is answered with a status, even when the processor returns an
// error or panics; the error is written to stderr. A wrong or missing status
// makes the daemon stop the whole worker, so the loop never lets one through.
// On shardEnded the loop checkpoints SHARD_END after the processor returns
// unless the processor already did (see Process.ManualShardEndCheckpoint).
//
// A busy shard delivers tens of megabytes per second. A processor that
// calls ProcessRecordsInput.Release when it is done with a batch lets the
// loop decode the next batch into the same memory. Records are decoded as
// the daemon's line streams in, and a batch larger than Process.PartBytes
// reaches ProcessRecords in parts (ProcessRecordsInput.More), so that memory
// stays bounded whatever the line's length.
package kcl
