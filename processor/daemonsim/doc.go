// Package daemonsim plays the Java MultiLangDaemon's side of the KCL
// multilang protocol over pipes to any child command.
//
// It exists to benchmark and test record processors (ours and amazon-kclpy
// ones) without a JVM, Kinesis or DynamoDB. Messages are written byte for
// byte as the daemon's Jackson ObjectMapper writes them, and everything the
// child writes back is validated more strictly than the daemon does: a line
// the daemon would silently skip (and then hang on) is a ProtocolError here,
// because a child that writes it is broken in production.
//
// A Child is driven by one goroutine at a time, exactly like the daemon
// drives one shard: each action call blocks until the child's status,
// answering checkpoint requests on the way.
package daemonsim
