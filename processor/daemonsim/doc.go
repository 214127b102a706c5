// Package daemonsim plays the Java MultiLangDaemon's side of the KCL
// multilang protocol over pipes to any child command. It is the test
// harness for programs built on package kcl (processor/kcl), in the spirit
// of [net/http/httptest]: a test drives the real child process through a
// shard's life and checks what it did, without a JVM, Kinesis or DynamoDB.
//
// A test starts the child with [Start] or [Daemon.Start] (often the test
// binary itself, which becomes the child when an environment variable says
// so; see the example), sends the daemon's actions ([Child.Initialize],
// [Child.ProcessRecords] or [Child.SendBatch], [Child.ShutdownRequested],
// [Child.ShardEnded] or [Child.LeaseLost]), closes its stdin with
// [Child.Close], and then looks at the checkpoints it asked for
// ([Child.LastCheckpoint], [Child.CheckpointLog]), its exit, its stderr
// ([Daemon].Stderr) and any protocol violation ([Child.Violations]). A
// [CheckpointFunc] makes the checkpointer fail as KCL's can
// ([ErrThrottling], [ErrShutdown], …); [Generator] and [Batches] make
// realistic records and pre-encoded batches.
//
// Messages are written byte for byte as the daemon's Jackson ObjectMapper
// writes them, and everything the child writes back is validated more
// strictly than the daemon does: a line the daemon would silently skip (and
// then hang on) is a [ProtocolError] here, because a child that writes it is
// broken in production. Checkpoints are checked as KCL checks them: never
// below the last one nor above the largest record delivered, and SHARD_END
// before the status of shardEnded.
//
// A Child is driven by one goroutine at a time, exactly like the daemon
// drives one shard: each action call blocks until the child's status,
// answering checkpoint requests on the way.
//
// The same driver benchmarks children, ours and amazon-kclpy ones, with
// kcl-bench (scripts/tools/cmd/kcl-bench).
package daemonsim
