package sink

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// CrateDB reports almost every error as XX000; only the message tells an
// outage from a refused value. The texts below were provoked on CrateDB
// 6.4.3 through the sink's own write path unless marked "(source)": those
// come from reading CrateDB's code and were not seen on a node.
// errors_test.go holds the observed texts verbatim.

// crateTransientMessages mean "the cluster cannot write right now".
var crateTransientMessages = []string{
	// A circuit breaker tripped, e.g. "Allocating 2.4kb for 'upsert
	// request' failed, breaker would use 2.4kb in total. Limit is 1kb. …"
	// (crateBreakerClass tells a request that can never fit).
	"breaker would use",
	// statement_timeout or KILL: "Job killed. statement_timeout (1ms/parse)".
	"Job killed",
	// A cluster-wide block while the node recovers its state after a
	// start, seen on CREATE TABLE: "org.elasticsearch.cluster.block.
	// ClusterBlockException: blocked by: [STATE_NOT_RECOVERED/1/state not
	// recovered / initialized];" (an INSERT fails earlier, at Parse, with
	// "Relation 'doc.t' unknown"). Other cluster blocks, such as no master,
	// pass as well; table blocks (RELATION_…) are configuration and are
	// matched first (crateConfigMessages).
	"blocked by: [",
	"primary shard is not active",     // (source)
	"NoShardAvailableActionException", // (source)
	"NodeDisconnectedException",       // (source)
	"NodeNotConnectedException",       // (source)
	"NodeClosedException",             // (source)
	"ConnectTransportException",       // (source)
	// A full thread pool: "rejected execution of processing of
	// [4068][internal:crate:sql/data/write[p]]: … on EsThreadPoolExecutor[…]".
	"rejected execution",
	"CircuitBreakingException", // (source)
	// A node could not decode a message from another node (StreamInput's
	// readString): seen in a three-node cluster as writes started, for one
	// row, which the next attempt stored. Nothing in the row causes it.
	"Invalid string; unexpected character",
}

// crateConfigMessages are refusals of the statement, not of its data, that
// only an operator can lift: retried, logged at error level, never
// dead-lettered.
var crateConfigMessages = []string{
	// A table block met at Parse: blocks.write, blocks.read_only, or a
	// closed table ("… doesn't support or allow INSERT operations, as it
	// is currently closed.").
	"doesn't support or allow",
	// The same blocks met by a statement prepared before they were set,
	// e.g. "blocked by: [RELATION_READ_AND_DDL_ONLY/8/index write (api)];".
	// RELATION_READ_DELETE_ONLY is also what a full disk (flood-stage
	// watermark) sets; CrateDB lifts it once space is freed, but someone
	// has to free it.
	"blocked by: [RELATION_",
	// "Missing 'DML' privilege for user 'u'".
	"' privilege for user",
}

// staleRelationMessage is how CrateDB fails a statement prepared before its
// table was dropped (and maybe created again): 42P01 "Relation 'Relation
// not found for oid=4' unknown". CrateDB keeps the table resolved at Parse;
// pgx re-prepares after an error only on the connection that failed, so
// the pool is reset (needsPoolReset) and the retry prepares afresh: it
// then works, or fails with the plain "Relation 'doc.t' unknown" if the
// table is really gone.
const staleRelationMessage = "Relation not found for oid="

// classify: CrateDB reports almost every error as XX000, so the message
// decides.
func (crateDB) classify(e *pgconn.PgError) (errClass, bool) {
	switch {
	case e.Code == "42P01" && strings.Contains(e.Message, staleRelationMessage):
		return classTransient, true
	case e.Code != "XX000":
		return 0, false
	}
	for _, m := range crateConfigMessages {
		if strings.Contains(e.Message, m) {
			return classConfig, true
		}
	}
	if c, ok := crateBreakerClass(e.Message); ok {
		return c, true
	}
	for _, m := range crateTransientMessages {
		if strings.Contains(e.Message, m) {
			return classTransient, true
		}
	}
	// Everything else CrateDB refuses at run time is about the data:
	// casts, dynamic-column conflicts, immense terms, invalid keys.
	return classRow, true
}

// crateBreakerClass classifies a tripped circuit breaker, "Allocating 2.4kb
// for 'upsert request' failed, breaker would use 2.4kb in total. Limit is
// 1kb. …": transient when other load filled the breaker, configuration when
// the one request alone is larger than the limit and can never fit.
func crateBreakerClass(msg string) (errClass, bool) {
	if !strings.HasPrefix(msg, "Allocating ") || !strings.Contains(msg, "breaker would use") {
		return 0, false
	}
	alloc, ok1 := parseByteSize(strings.SplitN(msg[len("Allocating "):], " ", 2)[0])
	_, after, found := strings.Cut(msg, "Limit is ")
	if !ok1 || !found {
		return classTransient, true
	}
	limit, ok2 := parseByteSize(strings.TrimSuffix(strings.SplitN(after, " ", 2)[0], "."))
	if ok2 && alloc > limit {
		return classConfig, true
	}
	return classTransient, true
}

// parseByteSize reads a size as CrateDB prints it ("100b", "2.4kb", "69.5mb").
func parseByteSize(s string) (float64, bool) {
	units := []struct {
		suffix string
		mult   float64
	}{{"pb", 1 << 50}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"b", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			return f * u.mult, err == nil && f >= 0
		}
	}
	return 0, false
}
