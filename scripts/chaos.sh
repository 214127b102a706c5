#!/usr/bin/env bash
# `make chaos`: the fault-injection suite of issue #5 at full strength, then
# the protocol decoder under `go test -fuzz`, written up as a Markdown report
# (default scripts/chaos/RESULTS.md).
#
#   scripts/chaos.sh [report.md]
#
# The scenarios are the TestChaos… tests of scripts/tools/e2e (`make test` runs
# them with small trial counts); most run on PostgreSQL and on CrateDB, one
# on a three-node CrateDB cluster. scripts/test.sh starts PostgreSQL,
# CrateDB and the emulators on private ports and stops them again, also on
# failure. Each scenario appends one row (trials, records, lost, duplicated,
# dead-lettered, time to recover; the database in brackets) to
# $CHAOS_RESULTS; this script adds the fuzzing row and the machine
# description. Needs `make build` (bin/kinesis-cratedb) and the
# jars and npm packages (`make deps`).
#
# Environment (defaults in brackets):
#   CHAOS_CHILD_KILLS [20]  CHAOS_DAEMON_KILLS [5]  CHAOS_TWO_DAEMON_KILLS [2]
#   CHAOS_DB_OUTAGE [30s]   how long the database (a cluster node) stays away
#   CHAOS_SEED [the clock]
#   CHAOS_FUZZTIME [1500000x]  inputs to fuzz (about a minute here); a count,
#                           not a duration: with a duration, Go before 1.27 can
#                           fail a clean run with "context deadline exceeded" as
#                           the time runs out (golang/go#75804)
#   CHAOS_RUN ['^TestChaos']  the scenarios to run (a go test -run pattern)
#   CHAOS_LOG_DIR [.stack/chaos]  where the go test output, the fuzz output and
#                                 every daemon and child log are kept
#   TEST_PGPORT TEST_KINESIS_PORT TEST_KINESIS_TLS_PORT TEST_DYNAMODB_PORT
#                           [55459 14578 14577 14579] ports of the services
#   TEST_CRATE_PSQL_PORT TEST_CRATE_HTTP_PORT TEST_CRATE_TRANSPORT_PORT
#                           [55453 44210 44310] CrateDB's ports (CRATEDB_HOME must be set)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
report=${1:-scripts/chaos/RESULTS.md}

export CHAOS_CHILD_KILLS=${CHAOS_CHILD_KILLS:-20}
export CHAOS_DAEMON_KILLS=${CHAOS_DAEMON_KILLS:-5}
export CHAOS_TWO_DAEMON_KILLS=${CHAOS_TWO_DAEMON_KILLS:-2}
export CHAOS_DB_OUTAGE=${CHAOS_DB_OUTAGE:-30s}
export CHAOS_SEED=${CHAOS_SEED:-$(date +%s%N)}
fuzztime=${CHAOS_FUZZTIME:-1500000x}
run=${CHAOS_RUN:-^TestChaos}
export CHAOS_LOG_DIR=${CHAOS_LOG_DIR:-$repo/.stack/chaos}
# Ports of their own, so that a `make test` running at the same time is not
# disturbed (scripts/test.sh honours these).
export TEST_PGPORT=${TEST_PGPORT:-55459}
export TEST_KINESIS_PORT=${TEST_KINESIS_PORT:-14578}
export TEST_KINESIS_TLS_PORT=${TEST_KINESIS_TLS_PORT:-14577}
export TEST_DYNAMODB_PORT=${TEST_DYNAMODB_PORT:-14579}
export TEST_CRATE_PSQL_PORT=${TEST_CRATE_PSQL_PORT:-55453}
export TEST_CRATE_HTTP_PORT=${TEST_CRATE_HTTP_PORT:-44210}
export TEST_CRATE_TRANSPORT_PORT=${TEST_CRATE_TRANSPORT_PORT:-44310}
export TEST_STACK_DIR=${TEST_STACK_DIR:-$repo/.stack/chaos-stack}

[ -x bin/kinesis-cratedb ] || { echo "chaos.sh: bin/kinesis-cratedb missing: run make build" >&2; exit 1; }
mkdir -p "$CHAOS_LOG_DIR" "$(dirname "$report")"
rm -rf "$CHAOS_LOG_DIR"/TestChaos* "$CHAOS_LOG_DIR"/scenarios.log "$CHAOS_LOG_DIR"/fuzz.log
export CHAOS_RESULTS=$CHAOS_LOG_DIR/rows.md
: >"$CHAOS_RESULTS"

started=$(date +%s)
# The commit under test is the one the run starts on (make chaos built the
# child from it), whatever is committed while it runs.
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- processor scripts/tools 2>/dev/null || echo " + uncommitted changes in processor/ or scripts/tools/")"
status=0
echo "chaos.sh: scenarios (child kills $CHAOS_CHILD_KILLS, daemon kills $CHAOS_DAEMON_KILLS, two-daemon kills $CHAOS_TWO_DAEMON_KILLS, outage $CHAOS_DB_OUTAGE, seed $CHAOS_SEED); log in $CHAOS_LOG_DIR/scenarios.log"
scripts/test.sh -run "$run" -v -timeout 3h ./scripts/tools/e2e/ 2>&1 | tee "$CHAOS_LOG_DIR/scenarios.log" || status=1
scenarios_took=$(($(date +%s) - started))

echo "chaos.sh: fuzzing the protocol decoder for $fuzztime"
fuzz_started=$(date +%s)
fuzz_status=PASS
go test -run '^$' -fuzz '^FuzzDecodeMessage$' -fuzztime "$fuzztime" ./processor/kcl >"$CHAOS_LOG_DIR/fuzz.log" 2>&1 || { fuzz_status=FAIL; status=1; }
fuzz_took=$(($(date +%s) - fuzz_started))
# The last progress line: "fuzz: elapsed: 1m0s, execs: 1234567 (20576/sec), new interesting: 12 (total: 16)".
progress=$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$CHAOS_LOG_DIR/fuzz.log" | tail -n 1 || true)
execs=$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$progress")
# elapsed is a Go duration such as 1m0s or 59.9s; the rate is over the whole run.
elapsed=$(sed -E 's/^fuzz: elapsed: ([0-9hms.]+),.*/\1/' <<<"$progress")
rate=$(awk -v d="$elapsed" -v n="${execs:-0}" 'BEGIN {
	s = 0
	while (match(d, /^[0-9.]+[hms]/)) {
		v = substr(d, 1, RLENGTH - 1); u = substr(d, RLENGTH, 1)
		s += v * (u == "h" ? 3600 : u == "m" ? 60 : 1)
		d = substr(d, RLENGTH + 1)
	}
	if (s > 0) printf "%.0f", n / s; else print "?"
}')
interesting=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$progress")
scenario="protocol decoder fuzzing (FuzzDecodeMessage, -fuzztime $fuzztime)"
[ "$fuzz_status" = PASS ] || scenario="$scenario **FAILED**"
echo "| $scenario | 1 | ${execs:-?} inputs | – | – | – | – | – | ${rate:-?} execs/s, ${interesting:-?} new interesting inputs; no panic, no invalid JSON accepted, payloads agree with encoding/json |" >>"$CHAOS_RESULTS"
total_took=$(($(date +%s) - started))

cpu=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 || true)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
java_version=$(java -version 2>&1 | head -n 1 || true)
kcl_jar=$(cd jars/lib 2>/dev/null && ls amazon-kinesis-client-multilang-*.jar 2>/dev/null | head -n 1 || true)
mock_version=$(sed -nE 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"([^"]+)".*/\1/p' scripts/node_modules/kinesis-local/package.json 2>/dev/null | head -n 1 || true)
pg_version=$(/usr/lib/postgresql/15/bin/postgres --version 2>/dev/null || echo unknown)
# The server jar names the version of the CrateDB folder the tests start.
crate_version=$(cd "${CRATEDB_HOME:-/nonexistent}/lib" 2>/dev/null && ls crate-server-*.jar 2>/dev/null | sed -E 's/^crate-server-(.*)\.jar$/\1/' | head -n 1 || true)
durations=$(grep -E '^--- (PASS|FAIL): TestChaos' "$CHAOS_LOG_DIR/scenarios.log" | sed -E 's/^--- (PASS|FAIL): (TestChaos[A-Za-z]+) \(([0-9.]+)s\)/\2 \1 \3 s/' | paste -sd ';' - | sed 's/;/; /g')

outcome="every scenario passed; the go test output and every log are in ${CHAOS_LOG_DIR#"$repo"/} (not kept in git)."
[ "$status" = 0 ] || outcome="**FAILURES** (rows marked FAILED); the go test output and every log are in ${CHAOS_LOG_DIR#"$repo"/}."

{
	cat <<EOF
# Fault-injection results (issue #5)

Written by \`scripts/chaos.sh\` (\`make chaos\`) from a real run on this
machine: the Java MultiLangDaemon (KCL), kinesis-mock, dynalite,
PostgreSQL, CrateDB (single nodes and a three-node cluster) and our child
\`bin/kinesis-cratedb\`; each row names in brackets the database it ran on.
Each scenario publishes a known set of records, injects its fault and ends
by counting, per published record id, the rows in the target table; a record counts as duplicated if its
id is in more than one row or if it is in both the target and the
dead-letter table. \`make test\` runs the same scenarios with fewer trials.
A row marked **NOT RUN** is a scenario whose fault could not be set up on
that database or machine; its notes say why, and the run goes on.

| scenario | trials | records | lost | duplicated | dead-lettered | recovery (median) | recovery (max) | notes |
|---|---|---|---|---|---|---|---|---|
EOF
	cat "$CHAOS_RESULTS"
	cat <<EOF

Recovery is measured from the end of the fault (the kill, the database's
restart, the last merge, the huge batch) until every published record is
stored, at a polling resolution of 0.5 s; it includes the publisher still
running at the time of the fault. Three KCL 3 timings dominate it, and the
scenarios set them as an operator wanting fast recovery would:

- a daemon whose child dies exits only after \`shutdownGraceMillis\` (the
  thread calling \`System.exit\` is the one the graceful shutdown waits for):
  10 s in the kill scenarios;
- a restarted daemon with the same \`workerId\` renews its own leases at once;
  with a new one it waits for the dead worker's leader lock (2 minutes, fixed
  in KCL's \`DynamoDBLockBasedLeaderDecider\`) before any lease is assigned;
- the leader treats a worker as alive, and may even hand it leases, until two
  \`workerMetricsReporterFreqInMillis\` periods after its last report (60 s by
  default; 5 s periods in the two-daemon scenario).

## What each scenario asserts

- **kill -9 child** (\`TestChaosChildKill\`): a \`kinesis-cratedb\` child is
  killed with SIGKILL while records flow, in turn at a random moment (seeded),
  while its INSERT waits for a lock the test holds on the table (mid-write), and
  right after it logged "batch stored" (mid-checkpoint); small batches
  (\`maxRecords = 100\`) and a checkpoint after every batch. On CrateDB there is
  no mid-write kill (it has no table locks to hold a write in flight; the row
  says so): those trials kill at a random moment instead. The daemon must exit
  1, the other child must exit, the restarted daemon (same \`workerId\`) must
  deliver every record exactly once.
- **kill -9 daemon** (\`TestChaosDaemonKill\`): SIGKILL of the JVM alone; its
  children must exit by themselves on the end of stdin (no orphan), the
  restarted daemon must deliver what was not checkpointed. The last restart uses
  a new \`workerId\`, which must wait for the dead worker's leader lock.
- **database stopped / killed / frozen** (\`TestChaosDatabaseOutage\`), on
  PostgreSQL and on a CrateDB node, each with its own server, in three ways:
  stopped gracefully (\`pg_ctl stop -m fast\`; CrateDB SIGTERM) and started
  again; killed with \`kill -9\` (PostgreSQL's postmaster, whose orphaned
  backends must exit, then a restart through crash recovery; CrateDB's JVM)
  and restarted; frozen with SIGSTOP (PostgreSQL's postmaster and every
  backend; CrateDB's JVM), so connections open but nothing answers, then
  SIGCONT. PostgreSQL runs with its durable defaults here
  (\`synchronous_commit\` on): with it off a \`kill -9\` loses acknowledged
  commits. The database stays away for \`CHAOS_DB_OUTAGE\`; the daemon must not
  exit, no checkpoint seen during the fault may pass the last record stored
  before it (compared per shard with \`written_at\`), and records published
  during the fault must be stored after it.
- **three-node CrateDB cluster** (\`TestChaosCrateCluster\`): three nodes from
  the same CrateDB folder on loopback (448 MB heap each); the child connects
  with a URL listing all three (pgx takes the first that answers). The sink's
  tables must have CrateDB's default \`number_of_replicas = '0-1'\`, one
  started replica per shard on three nodes. While records flow, a node the
  children are not connected to is killed with \`kill -9\`, kept down for
  \`CHAOS_DB_OUTAGE\` and restarted, then the first node of the URL, which
  every connection uses; shards fail over to their replicas and recover while
  the stream goes on. The daemon must not exit, and the table must end exact
  (counts per id after \`REFRESH TABLE\`).
- **two daemons** (\`TestChaosTwoDaemons\`): two daemons with the same
  \`applicationName\` and different \`workerId\` share four shards; the
  non-leader, then the leader, is killed; the survivor must own every lease
  (within 1 minute, or 3 minutes when it must wait for the leader lock).
- **split and merge** (\`TestChaosReshard\`): one split and two merges (2 → 3 →
  2 → 1 open shards) under a running publisher; every closed shard's lease must
  reach \`SHARD_END\` (or be gone) and records must arrive from the last shard.
- **bad-input catalogue** (\`TestChaosBadInput\`): non-JSON, truncated JSON,
  invalid UTF-8, empty and blank payloads, a raw control character, a BOM,
  \`\\u0000\`, a lone surrogate, a surrogate pair, keys with a dot, a type flip
  of one key over five records, a 33-digit integer, a duplicate key, top-level
  array and scalar, nesting 1,000 / 10,000 / 100,000 deep, and a record of
  exactly 1 MiB, then 5,000 records in one go (\`maxRecords = 1000\`). Each
  catalogue record must be in exactly one of the two tables (where the
  catalogue says, when it is determined), records behind the bad ones must be
  stored, and after a graceful stop every shard's checkpoint must be past its
  last bad record.
- **value beyond a server limit** (\`TestChaosBadInputServerLimit\`): JSON
  nested 10,000 deep (the child's decoder accepts up to 10,000) written through
  a PostgreSQL session with \`max_stack_depth = 100kB\`, between 100 good
  records: PostgreSQL refuses it with SQLSTATE 54001 ("stack depth limit
  exceeded"); it is valid JSON, so it must be stored whole in payload_text
  (like any value jsonb cannot hold), and the good records within a minute.
- **fuzzing**: \`go test -fuzz FuzzDecodeMessage\` on the protocol decoder of
  \`processor/kcl\`: no panic, nothing accepted that is not JSON, payloads as
  encoding/json reads them, and the same records when the line is read
  through a 16-byte buffer and split into parts.

## This run

- Date: $(date -u +%Y-%m-%dT%H:%MZ), total $((total_took / 60)) min $((total_took % 60)) s (scenarios $((scenarios_took / 60)) min $((scenarios_took % 60)) s, fuzzing ${fuzz_took} s).
- Commit: $commit.
- Command: \`CHAOS_SEED=$CHAOS_SEED${CHAOS_RUN:+ CHAOS_RUN='$CHAOS_RUN'} scripts/chaos.sh\` (child kills $CHAOS_CHILD_KILLS, daemon kills $CHAOS_DAEMON_KILLS, two-daemon kills $CHAOS_TWO_DAEMON_KILLS, outage $CHAOS_DB_OUTAGE, fuzz $fuzztime).
- Scenario times: ${durations:-none}.
- Machine: $(nproc) CPUs (${cpu:-unknown CPU}), $mem memory, $(uname -sr).
- Software: $(go version | sed 's/^go version //'), $java_version, ${kcl_jar:-KCL jars missing}, kinesis-mock (npm kinesis-local) ${mock_version:-?}, $pg_version, CrateDB ${crate_version:-unknown} (\`CRATEDB_HOME\`).
- Outcome: $outcome
EOF
} >"$report"

echo "chaos.sh: report in $report (scenarios ${scenarios_took} s, fuzzing ${fuzz_took} s)"
exit "$status"
