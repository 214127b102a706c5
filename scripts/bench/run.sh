#!/usr/bin/env bash
# `make bench`: the whole benchmark of issue #5 in one run on one machine,
# against one PostgreSQL and one CrateDB, written as a Markdown report
# (default scripts/bench/RESULTS.md).
#
#   scripts/bench/run.sh [report.md]
#
# It starts what it needs and stops what it started, also on failure or ^C:
#   - PostgreSQL (scripts/pg.sh, port $BENCH_PGPORT, data in .stack/bench-pg),
#     unless BENCH_DATABASE_URL points at one (whose tables bench_* it drops);
#   - CrateDB (scripts/cratedb.sh from $CRATEDB_HOME, data in .stack/bench-crate),
#     unless BENCH_CRATEDB_URL points at one (whose tables bench_* it drops);
#     with neither, the CrateDB part is skipped and the report says so;
#   - kinesis-mock and dynalite (scripts/stack.sh, own ports and .stack/bench-stack)
#     for the end-to-end part.
#
# Child runs under kcl-bench, each into a fresh table of the sink's layout, row
# count checked, repeated REPEAT times round-robin (the machine may be shared:
# the report gives the median and the range, and ratios within a repetition).
# The clock of a child runs from the first processRecords to the status of
# shutdownRequested (by then a pipelining child has stored its last batch).
#   driver-null     kcl-bench's own null child: the driver's ceiling
#   ours-discard    our child, sink.mode = discard (protocol + decode)
#   ours-pg, ours-crate          our child into PostgreSQL / CrateDB
#   ours-pg-cdc, ours-crate-cdc  the same with sink.format = dynamodb-cdc and a DynamoDB change stream
#   pgx-pg-*, pgx-crate-*   the same rows written straight from Go with pgx (no protocol,
#                   decoding or fitting), $BATCH rows per round trip: the database limit is
#                   the fastest method of the repetition. PostgreSQL: copy-binary (COPY in
#                   binary format, encoded by hand like the sink), copy (pgx CopyFrom).
#                   CrateDB: batch (single-row INSERTs, one Sync), unnest, values (multi-row VALUES)
#   kclpy-discard   amazon-kclpy, decode only
#   kclpy-seed, kclpy-seed-crate        amazon-kclpy, one autocommitted INSERT per record (lorrystream style)
#   kclpy-batched, kclpy-batched-crate  amazon-kclpy, psycopg COPY per batch (PostgreSQL) /
#                   pipelined executemany, one Sync, = one CrateDB bulk operation
#   kclpy-batched-crate-http  the same with CrateDB's own client (HTTP bulk_args)
# then, once each:
#   pgx-crate-*-c<N> the CrateDB methods at other chunk sizes ($CHUNKS)
#   *-durable       ours-pg, pgx-pg and kclpy-seed again, DURABLE_REPEAT times, on the
#                   server restarted with its durable defaults (only a server started here)
#   ours-pg-nopipeline  our child into PostgreSQL with sink.pipeline = false
#   ours-*-memlimit our child with GOMEMLIMIT=$MEMLIMIT: what the child's default soft
#                   memory limit (main.go) costs and saves
#   ours-*-onecore  our child with GOMAXPROCS=1 (one core per child, for hosts with many shards)
#   ours-*-100k     our child with 100 KB records: in batches of $BIG_BATCH (what one
#                   10 MB GetRecords holds) into each database, and in 10,000-record
#                   batches (1.3 GB lines) with the discard sink: peak RSS
#   profiles        CPU profiles of our child (discard, PostgreSQL, CrateDB), `go tool pprof -top`
#   go test -bench  the hot-path benchmarks with allocation counts
#   e2e             the real Java daemon + kinesis-mock + dynalite + our child + PostgreSQL:
#                   end-to-end rate and PutRecords-to-visible latency
#   backfill        kinesis-cratedb backfill's path (BenchmarkBackfill): $BACKFILL_ITEMS items
#                   scanned from dynalite and written into CrateDB, items/s
#
# Environment (defaults in brackets):
#   BENCH_DATABASE_URL  use this PostgreSQL instead of starting one
#   BENCH_CRATEDB_URL   use this CrateDB instead of starting one from CRATEDB_HOME
#   BENCH_CRATEDB_HTTP  its HTTP endpoint, for the crate-http contender [http://127.0.0.1:<http port>]
#   CRATEDB_HOME        a CrateDB folder (tarball layout) to start a node from
#   BENCH_PGPORT [55450]  BENCH_CRATE_PSQL_PORT [55451] BENCH_CRATE_HTTP_PORT [44201]
#   BENCH_CRATE_TRANSPORT_PORT [44301] BENCH_CRATE_HEAP [1g]
#   BENCH_KINESIS_PORT [4668]  BENCH_KINESIS_TLS_PORT [4667]  BENCH_DYNAMODB_PORT [4669]
#   RECORDS [100000] SEED_RECORDS [$RECORDS] SIZE [1024] BATCH [10000] SEED [1] REPEAT [3]
#   CHUNKS ["1000 5000 20000"]  BIG_RECORDS [3000] BIG_BATCH [100] HUGE_RECORDS [10000]
#   OUR_CHILD           our child binary [a fresh build of ./processor/cmd/kinesis-cratedb in RESULTS_DIR]
#   OUR_PROPERTIES_EXTRA  extra lines for its properties files
#   MEMLIMIT [off]      GOMEMLIMIT of the RSS experiment ("" skips it)
#   CRATEDB [1] PROFILE [1] GOBENCH [1] GOBENCH_COUNT [3] E2E [1] DURABLE [1] BIG [1] SWEEP [1]   0 skips that part
#   DURABLE_REPEAT [3]
#   E2E_RECORDS [10000] E2E_LATENCY_RECORDS [1000] E2E_LATENCY_RATE [100] E2E_SHARDS [2]
#   BACKFILL [1] BACKFILL_ITEMS [20000] BACKFILL_REPEAT [1]
#   RESULTS_DIR         raw results, logs, profiles [.stack/bench/<time>]
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo" || exit 1
out=${1:-scripts/bench/RESULTS.md}
RECORDS=${RECORDS:-100000}
SEED_RECORDS=${SEED_RECORDS:-$RECORDS}
SIZE=${SIZE:-1024}
BATCH=${BATCH:-10000}
SEED=${SEED:-1}
REPEAT=${REPEAT:-3}
MEMLIMIT=${MEMLIMIT-off}
PROFILE=${PROFILE:-1}
GOBENCH=${GOBENCH:-1}
GOBENCH_COUNT=${GOBENCH_COUNT:-3}
E2E=${E2E:-1}
DURABLE=${DURABLE:-1}
DURABLE_REPEAT=${DURABLE_REPEAT:-3}
CRATEDB=${CRATEDB:-1}
BIG=${BIG:-1}
SWEEP=${SWEEP:-1}
CHUNKS=${CHUNKS:-1000 5000 20000}
BIG_RECORDS=${BIG_RECORDS:-3000}
BIG_BATCH=${BIG_BATCH:-100}
HUGE_RECORDS=${HUGE_RECORDS:-10000}
E2E_RECORDS=${E2E_RECORDS:-10000}
E2E_LATENCY_RECORDS=${E2E_LATENCY_RECORDS:-1000}
E2E_LATENCY_RATE=${E2E_LATENCY_RATE:-100}
E2E_SHARDS=${E2E_SHARDS:-2}
BACKFILL=${BACKFILL:-1}
BACKFILL_ITEMS=${BACKFILL_ITEMS:-20000}
BACKFILL_REPEAT=${BACKFILL_REPEAT:-1}
BENCH_PGPORT=${BENCH_PGPORT:-55450}
RESULTS_DIR=${RESULTS_DIR:-.stack/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS_DIR/profile"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
export BENCH_LOG_DIR=$RESULTS_DIR
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the work tree
log() { echo "== $*" >&2; }

# --- what this run starts, and stops on exit ------------------------------
bench_pg_dir=$repo/.stack/bench-pg
bench_crate_dir=$repo/.stack/bench-crate
bench_stack_dir=$repo/.stack/bench-stack
stack_env=(STACK_DIR="$bench_stack_dir" KINESIS_PORT="${BENCH_KINESIS_PORT:-4668}"
	KINESIS_TLS_PORT="${BENCH_KINESIS_TLS_PORT:-4667}" DYNAMODB_PORT="${BENCH_DYNAMODB_PORT:-4669}")
crate_env=(CRATE_DIR="$bench_crate_dir" CRATE_PSQL_PORT="${BENCH_CRATE_PSQL_PORT:-55451}"
	CRATE_HTTP_PORT="${BENCH_CRATE_HTTP_PORT:-44201}" CRATE_TRANSPORT_PORT="${BENCH_CRATE_TRANSPORT_PORT:-44301}"
	CRATE_HEAP_SIZE="${BENCH_CRATE_HEAP:-1g}")
started_pg=0 started_stack=0 started_crate=0
bench_pg() { PGPORT=$BENCH_PGPORT PG_DIR=$bench_pg_dir bash scripts/pg.sh "$@"; }
bench_crate() { env "${crate_env[@]}" bash scripts/cratedb.sh "$@"; }
cleanup() {
	if [ $started_stack = 1 ]; then
		log "stopping kinesis-mock and dynalite"
		env "${stack_env[@]}" sh scripts/stack.sh stop || true
	fi
	if [ $started_pg = 1 ]; then
		log "stopping PostgreSQL"
		bench_pg stop || true
	fi
	if [ $started_crate = 1 ]; then
		log "stopping CrateDB"
		bench_crate stop || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${BENCH_DATABASE_URL:-}" ]; then
	log "starting PostgreSQL on 127.0.0.1:$BENCH_PGPORT ($bench_pg_dir)"
	started_pg=1
	bench_pg start || exit 1
	BENCH_DATABASE_URL=$(bench_pg url)
fi
export BENCH_DATABASE_URL
PG_URL=$BENCH_DATABASE_URL
CRATE_URL=
if [ "$CRATEDB" = 1 ]; then
	if [ -n "${BENCH_CRATEDB_URL:-}" ]; then
		CRATE_URL=$BENCH_CRATEDB_URL
	elif [ -n "${CRATEDB_HOME:-}" ]; then
		log "starting CrateDB from $CRATEDB_HOME on 127.0.0.1:${BENCH_CRATE_PSQL_PORT:-55451} ($bench_crate_dir)"
		started_crate=1
		bench_crate start || exit 1
		CRATE_URL=$(bench_crate url)
		BENCH_CRATEDB_HTTP=${BENCH_CRATEDB_HTTP:-http://127.0.0.1:${BENCH_CRATE_HTTP_PORT:-44201}}
	else
		echo "!! CrateDB part skipped: set CRATEDB_HOME (a CrateDB folder) or BENCH_CRATEDB_URL" >&2
		echo "neither CRATEDB_HOME nor BENCH_CRATEDB_URL was set" >"$RESULTS_DIR/cratedb.skipped"
	fi
else
	echo "CRATEDB=0" >"$RESULTS_DIR/cratedb.skipped"
fi
export BENCH_CRATEDB_HTTP=${BENCH_CRATEDB_HTTP:-}

# --- binaries: private copies, so a concurrent `make build` cannot swap them
(cd scripts/tools && go build -o ../../bin/kcl-bench ./cmd/kcl-bench) || exit 1
if [ -z "${OUR_CHILD:-}" ]; then
	OUR_CHILD=$RESULTS_DIR/bin/kinesis-cratedb
	go build -o "$OUR_CHILD" ./processor/cmd/kinesis-cratedb || exit 1
fi
py=$(scripts/bench/setup-venv.sh) || exit 1

# build_profiling_child builds our child with a CPU profile around run() (to
# $KINESIS_CRATEDB_CPUPROFILE) through `go build -overlay`: main.go stays
# untouched in the tree.
build_profiling_child() {
	local dir=$RESULTS_DIR/profile/build main=processor/cmd/kinesis-cratedb/main.go
	mkdir -p "$dir"
	sed 's/^\tos\.Exit(run(os\.Args\[1:\]))$/\tos.Exit(benchProfiled(func() int { return run(os.Args[1:]) }))/' "$main" >"$dir/main.go"
	grep -q benchProfiled "$dir/main.go" || { echo "main() changed shape; no profiling build" >&2; return 1; }
	cat >"$dir/zz_bench_pprof.go" <<'EOF'
package main

import (
	"os"
	"runtime/pprof"
)

// benchProfiled runs the child under a CPU profile when
// KINESIS_CRATEDB_CPUPROFILE names a file (benchmarks only).
func benchProfiled(run func() int) int {
	path := os.Getenv("KINESIS_CRATEDB_CPUPROFILE")
	if path == "" {
		return run()
	}
	f, err := os.Create(path)
	if err != nil {
		return run()
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return run()
	}
	defer pprof.StopCPUProfile()
	return run()
}
EOF
	printf '{"Replace":{"%s":"%s","%s":"%s"}}\n' "$repo/$main" "$dir/main.go" \
		"$repo/processor/cmd/kinesis-cratedb/zz_bench_pprof.go" "$dir/zz_bench_pprof.go" >"$dir/overlay.json"
	go build -overlay "$dir/overlay.json" -o "$dir/kinesis-cratedb" ./processor/cmd/kinesis-cratedb
}

# --- helpers ----------------------------------------------------------------
failures=0
# sql_at URL STATEMENT: runs one statement (autocommit) and prints the first
# value of a SELECT.
sql_at() { "$py" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    r = c.execute(sys.argv[2]).fetchone() if sys.argv[2].lstrip().upper().startswith("SELECT") else c.execute(sys.argv[2])
    print(r[0] if isinstance(r, tuple) else "")' "$1" "$2"; }
sql() { sql_at "$PG_URL" "$1"; }
# The database of the next runs: use_db pg|crate sets db_url (and the
# BENCH_DATABASE_URL the Python contenders read).
db=pg db_url=$PG_URL
use_db() {
	db=$1
	if [ "$db" = crate ]; then db_url=$CRATE_URL; else db_url=$PG_URL; fi
}
reset_table() { # DROP the table and its dead letters (CrateDB drops one table per statement)
	sql_at "$db_url" "DROP TABLE IF EXISTS $1" >/dev/null && sql_at "$db_url" "DROP TABLE IF EXISTS ${1}_deadletter" >/dev/null
}
count_rows() {
	[ "$db" = crate ] && { sql_at "$db_url" "REFRESH TABLE $1" >/dev/null || return 1; }
	sql_at "$db_url" "SELECT count(*) FROM $1"
}
props() { # props FILE LINES... : a properties file for our child
	local f=$1
	shift
	{ printf '%s\n' "$@" "sink.logFile = $RESULTS_DIR/record_processor.log"; echo "${OUR_PROPERTIES_EXTRA:-}"; } >"$f"
}
# sink_table TABLE: a fresh, empty table of the sink's layout, made by our
# child's own DDL (`kinesis-cratedb check`), on the current database.
sink_table() {
	reset_table "$1" || return 1
	props "$RESULTS_DIR/check.properties" "sink.databaseUrl = $db_url" "sink.table = $1"
	"$OUR_CHILD" check --properties "$RESULTS_DIR/check.properties" >/dev/null 2>>"$RESULTS_DIR/check.stderr"
}

# bench NAME REP RECORDS TABLE [KCL-BENCH FLAGS...] -- CHILD...
# TABLE "-" = no database; "=TABLE" = the child makes it (dropped first);
# "TABLE" = made here with the sink's layout. Rows are counted afterwards
# (a CDC table holds one row per item, so its count is not checked).
bench() {
	local name=$1 rep=$2 records=$3 table=$4
	shift 4
	local flags=()
	while [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	local base=$RESULTS_DIR/$name.$rep
	log "$name #$rep: $records records -> ${table/#-/no database} ${flags[*]}"
	case $table in
	-) ;;
	=*)
		# Our child's table (and a CDC table's view): made by its own
		# `check` before the clock, as sink_table does for the others, so
		# that no run pays for a table CrateDB is still setting up.
		table=${table#=}
		reset_table "$table" || { failures=$((failures + 1)); return; }
		"$OUR_CHILD" check --properties "${!#}" >/dev/null 2>>"$RESULTS_DIR/check.stderr" ||
			{ echo "!! $name: $OUR_CHILD check --properties ${!#} failed" >&2; failures=$((failures + 1)); return; }
		;;
	*) sink_table "$table" || { echo "!! $name: cannot make $table" >&2; failures=$((failures + 1)); return; } ;;
	esac
	BENCH_DATABASE_URL=$db_url BENCH_TABLE=$table bin/kcl-bench --name "$name" --records "$records" --size "$SIZE" \
		--batch "$BATCH" --seed "$SEED" --json "$base.json" --child-stderr "$base.stderr" "${flags[@]}" -- "$@" >"$base.txt"
	local rc=$?
	grep -E '^(records/s|batch latency|child peak RSS|child CPU)' "$base.txt" | sed 's/^/   /' >&2
	[ $rc = 0 ] || { echo "!! $name failed (exit $rc), see $base.stderr" >&2; failures=$((failures + 1)); }
	if [ "$table" != - ] && [[ $name != *-cdc* ]]; then
		count_rows "$table" >"$base.rows" 2>/dev/null || rm -f "$base.rows"
	fi
}

# pgx_bulk NAME REP METHOD [CHUNK]: the database limit, straight from Go.
pgx_bulk() {
	local name=$1 rep=$2 method=$3 chunk=${4:-$BATCH}
	local base=$RESULTS_DIR/$name.$rep
	log "$name #$rep: $RECORDS records -> bench_pgx ($method, $chunk rows per round trip, no protocol)"
	sink_table bench_pgx &&
		bin/kcl-bench pgx-bulk --name "$name" --database "$db_url" --table bench_pgx --method "$method" --records "$RECORDS" \
			--size "$SIZE" --seed "$SEED" --chunk "$chunk" --batch "$BATCH" --json "$base.json" >"$base.txt" 2>>"$base.stderr"
	local rc=$?
	grep -E '^(records/s|batch latency)' "$base.txt" | sed 's/^/   /' >&2
	[ $rc = 0 ] || { echo "!! $name failed, see $base.stderr" >&2; failures=$((failures + 1)); }
	count_rows bench_pgx >"$base.rows" 2>/dev/null || rm -f "$base.rows"
}

cdc_props=("sink.format = dynamodb-cdc" "sink.dynamodb.keys = device:S,ts:N" "sink.dynamodb.columnTypes = temperature:DOUBLE")
# Typed columns from the same JSON events as ours-pg and ours-crate: every
# field but the padding note mapped, the rest kept in payload (ignored).
typed_props=("sink.columns = id:BIGINT=/id, event:TEXT=/event, order_id:TEXT=/order_id, customer:TEXT=/customer/id, tier:TEXT=/customer/tier, amount:DOUBLE=/amount/value, currency:TEXT=/amount/currency, items:INTEGER=/items, active:BOOLEAN=/active, updated_at:TIMESTAMP=/updated_at, pk:TEXT=\$partitionKey")
props "$RESULTS_DIR/ours-discard.properties" "sink.mode = discard"
props "$RESULTS_DIR/ours-pg.properties" "sink.databaseUrl = $PG_URL" "sink.table = bench_ours"
props "$RESULTS_DIR/ours-pg-cdc.properties" "sink.databaseUrl = $PG_URL" "sink.table = bench_cdc" "${cdc_props[@]}"
props "$RESULTS_DIR/ours-pg-typed.properties" "sink.databaseUrl = $PG_URL" "sink.table = bench_typed" "${typed_props[@]}"
if [ -n "$CRATE_URL" ]; then
	props "$RESULTS_DIR/ours-crate.properties" "sink.databaseUrl = $CRATE_URL" "sink.table = bench_ours"
	props "$RESULTS_DIR/ours-crate-typed.properties" "sink.databaseUrl = $CRATE_URL" "sink.table = bench_typed" "${typed_props[@]}"
	props "$RESULTS_DIR/ours-crate-cdc.properties" "sink.databaseUrl = $CRATE_URL" "sink.table = bench_cdc" "${cdc_props[@]}"
fi
# cdc_tables: drops the CDC target's view (the child makes table and view);
# prints bench's TABLE argument.
cdc_tables() { sql_at "$db_url" "DROP VIEW IF EXISTS bench_cdc_live" >/dev/null 2>&1; echo "=bench_cdc"; }
typed_tables() { sql_at "$db_url" "DROP VIEW IF EXISTS bench_typed_live" >/dev/null 2>&1; echo "=bench_typed"; }

# --- machine, before the runs (load from other users shows here) -----------
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
	echo "kernel: $(uname -r)"
	echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "go: $(go version)"
	echo "java: $(java -version 2>&1 | head -1)"
	echo "node: $(node --version 2>/dev/null), kinesis-mock (npm kinesis-local) $(node -p 'require("./scripts/node_modules/kinesis-local/package.json").version' 2>/dev/null), dynalite $(node -p 'require("./scripts/node_modules/dynalite/package.json").version' 2>/dev/null)"
	echo "python: $("$py" --version 2>&1), amazon-kclpy $("$py" -c 'import importlib.metadata as m; print(m.version("amazon-kclpy"))'), psycopg $("$py" -c 'import psycopg; print(psycopg.__version__)'), crate $("$py" -c 'import importlib.metadata as m; print(m.version("crate"))')"
	echo "postgresql: $(sql 'SELECT version()')"
	echo "postgresql settings: $(sql "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_wal_size')")"
	if [ -n "$CRATE_URL" ]; then
		echo "cratedb: $(sql_at "$CRATE_URL" 'SELECT version FROM sys.nodes LIMIT 1' | tr -d "{}'" ), heap $(sql_at "$CRATE_URL" "SELECT heap['max'] / 1048576 FROM sys.nodes LIMIT 1") MiB, $(sql_at "$CRATE_URL" 'SELECT count(*) FROM sys.nodes') node(s), default table settings (1 replica when >1 node, translog.durability=REQUEST)"
	fi
	echo "source: $(git rev-parse --short HEAD 2>/dev/null) + uncommitted: $(git status --porcelain 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busiest other processes at start (%CPU, command):"
	ps -eo pcpu=,args= --sort=-pcpu | head -5 | cut -c1-110 | sed 's/^/  /'
} >"$RESULTS_DIR/machine.txt" 2>&1

# --- child runs, round-robin -------------------------------------------------
for rep in $(seq 1 "$REPEAT"); do
	use_db pg
	bench driver-null "$rep" "$RECORDS" - -- bin/kcl-bench null-child
	bench ours-discard "$rep" "$RECORDS" - -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
	bench ours-pg "$rep" "$RECORDS" =bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
	bench ours-pg-cdc "$rep" "$RECORDS" "$(cdc_tables)" --format dynamodb-cdc -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg-cdc.properties"
	bench ours-pg-typed "$rep" "$RECORDS" "$(typed_tables)" -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg-typed.properties"
	pgx_bulk pgx-pg-copy-binary "$rep" copy-binary
	pgx_bulk pgx-pg-copy "$rep" copy
	bench kclpy-discard "$rep" "$RECORDS" - -- "$py" scripts/bench/kclpy_discard.py
	bench kclpy-seed "$rep" "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
	bench kclpy-batched "$rep" "$RECORDS" bench_kclpy_batched -- "$py" scripts/bench/kclpy_batched.py
	if [ -n "$CRATE_URL" ]; then
		use_db crate
		bench ours-crate "$rep" "$RECORDS" =bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-crate.properties"
		bench ours-crate-cdc "$rep" "$RECORDS" "$(cdc_tables)" --format dynamodb-cdc -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-crate-cdc.properties"
		bench ours-crate-typed "$rep" "$RECORDS" "$(typed_tables)" -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-crate-typed.properties"
		for m in batch unnest values; do pgx_bulk "pgx-crate-$m" "$rep" "$m"; done
		bench kclpy-seed-crate "$rep" "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
		bench kclpy-batched-crate "$rep" "$RECORDS" bench_kclpy_batched -- "$py" scripts/bench/kclpy_batched.py
		bench kclpy-batched-crate-http "$rep" "$RECORDS" bench_kclpy_batched -- env BENCH_PY_METHOD=crate-http "$py" scripts/bench/kclpy_batched.py
	fi
done
# Chunk sizes of CrateDB's methods (the reference uses the child's, $BATCH).
if [ "$SWEEP" = 1 ] && [ -n "$CRATE_URL" ]; then
	use_db crate
	for chunk in $CHUNKS; do
		for m in batch unnest values; do pgx_bulk "pgx-crate-$m-c$chunk" 1 "$m" "$chunk"; done
	done
fi
use_db pg
# The same comparison on a durable server: the throwaway cluster's settings
# (fsync, synchronous_commit, full_page_writes off) spare every autocommitted
# INSERT of kclpy-seed its WAL flush. Only a server this script started is
# restarted, on its defaults, and then back on the throwaway settings.
if [ "$DURABLE" = 1 ] && [ $started_pg = 1 ]; then
	log "restarting PostgreSQL with its durable defaults"
	bench_pg stop && PG_DURABLE=1 bench_pg start >/dev/null || exit 1
	sql "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')" >"$RESULTS_DIR/durable.txt"
	for rep in $(seq 1 "$DURABLE_REPEAT"); do
		bench ours-pg-durable "$rep" "$RECORDS" =bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
		pgx_bulk pgx-pg-durable "$rep" copy-binary
		bench kclpy-seed-durable "$rep" "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
	done
	log "restarting PostgreSQL with the throwaway settings"
	bench_pg stop && bench_pg start >/dev/null || exit 1
fi

# sink.pipeline = false: each batch written before its status (older children
# do not know the key; then this run is skipped).
props "$RESULTS_DIR/ours-pg-nopipeline.properties" "sink.databaseUrl = $PG_URL" "sink.table = bench_ours" "sink.pipeline = false"
if "$OUR_CHILD" check --properties "$RESULTS_DIR/ours-pg-nopipeline.properties" 2>/dev/null; then
	bench ours-pg-nopipeline 1 "$RECORDS" =bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg-nopipeline.properties"
fi
if [ -n "$MEMLIMIT" ]; then
	# env execs the child, so kcl-bench still measures the child itself.
	bench ours-discard-memlimit 1 "$RECORDS" - -- env GOMEMLIMIT="$MEMLIMIT" "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
	bench ours-pg-memlimit 1 "$RECORDS" =bench_ours -- env GOMEMLIMIT="$MEMLIMIT" "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
fi
# One core per child (GOMAXPROCS=1), an option for hosts running many shards.
bench ours-discard-onecore 1 "$RECORDS" - -- env GOMAXPROCS=1 "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
bench ours-pg-onecore 1 "$RECORDS" =bench_ours -- env GOMAXPROCS=1 "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"

# 100 KB records: in batches one GetRecords can hold (10 MB), into each
# database, and in 10,000-record batches (1.3 GB protocol lines) with the
# discard sink: the child's peak RSS.
if [ "$BIG" = 1 ]; then
	bench ours-pg-100k 1 "$BIG_RECORDS" =bench_ours --size 102400 --batch "$BIG_BATCH" -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
	if [ -n "$CRATE_URL" ]; then
		use_db crate
		bench ours-crate-100k 1 "$BIG_RECORDS" =bench_ours --size 102400 --batch "$BIG_BATCH" -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-crate.properties"
		use_db pg
	fi
	bench ours-discard-100k-10000 1 "$HUGE_RECORDS" - --size 102400 --batch 10000 --timeout 10m -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
fi

# --- CPU profiles of the child ------------------------------------------------
if [ "$PROFILE" = 1 ]; then
	log "profiling build of our child"
	if build_profiling_child; then
		pchild=$RESULTS_DIR/profile/build/kinesis-cratedb
		runs=(ours-discard ours-pg)
		[ -n "$CRATE_URL" ] && runs+=(ours-crate)
		for run in "${runs[@]}"; do
			prof=$RESULTS_DIR/profile/$run.cpu.pprof
			table=-
			use_db pg
			[ $run = ours-crate ] && use_db crate
			[ $run != ours-discard ] && { table=bench_ours; reset_table bench_ours; }
			log "$run under pprof"
			BENCH_TABLE=$table bin/kcl-bench --name "$run-pprof" --records "$RECORDS" --size "$SIZE" --batch "$BATCH" --seed "$SEED" \
				--json "$RESULTS_DIR/profile/$run.json" --child-stderr "$RESULTS_DIR/profile/$run.stderr" \
				-- env KINESIS_CRATEDB_CPUPROFILE="$prof" "$pchild" --properties "$RESULTS_DIR/$run.properties" >/dev/null &&
				go tool pprof -top -nodecount=30 "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.top.txt" 2>/dev/null &&
				go tool pprof -top -nodecount=100000 "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.all.txt" 2>/dev/null &&
				go tool pprof -peek 'runtime\.(memmove|memclrNoHeapPointers)$' "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.peek.txt" 2>/dev/null ||
				{ echo "!! profile of $run failed" >&2; failures=$((failures + 1)); }
		done
		use_db pg
	else
		failures=$((failures + 1))
	fi
fi

# --- Go hot-path benchmarks ----------------------------------------------------
if [ "$GOBENCH" = 1 ]; then
	log "go test -bench (hot paths, count $GOBENCH_COUNT; sink writes once)"
	{
		go test -run '^$' -benchmem -count "$GOBENCH_COUNT" \
			-bench '^Benchmark(ReadLine|DecodeGenerated|DecodeProcessRecords|Base64|RawString|EstimateRecords|AppendStatus|ProcessLoop|JSON1KB|Batch|Child)$' \
			./processor/kcl ./processor/decode
		go test -run '^$' -benchmem -count "$GOBENCH_COUNT" -bench '^BenchmarkSplit(Fits|Generated)$' ./processor/shape
		TEST_DATABASE_URL=$BENCH_DATABASE_URL go test -run '^$' -benchmem -count "$GOBENCH_COUNT" \
			-bench '^Benchmark(Batch|Child)$' ./processor/ingest
		TEST_DATABASE_URL=$BENCH_DATABASE_URL go test -run '^$' -benchmem -count 1 -bench '^BenchmarkWrite$' ./processor/sink
		# Typed columns (sink.columns), in process: CrateDB's part skips without it.
		TEST_DATABASE_URL=$BENCH_DATABASE_URL TEST_CRATEDB_URL=$CRATE_URL go test -run '^$' -benchmem -count 1 \
			-bench '^BenchmarkMappedStore$' ./processor/ingest
	} >"$RESULTS_DIR/gobench.txt" 2>&1 || { echo "!! go test -bench failed, see $RESULTS_DIR/gobench.txt" >&2; failures=$((failures + 1)); }
fi

# --- end to end through the real daemon -----------------------------------------
if [ "$E2E" = 1 ]; then
	if ! command -v java >/dev/null || ! ls jars/lib/amazon-kinesis-client-multilang-*.jar >/dev/null 2>&1; then
		echo "!! e2e skipped: java or the KCL jars (make jars) missing" >&2
		echo "java or jars/lib missing" >"$RESULTS_DIR/e2e.skipped"
	else
		log "starting kinesis-mock and dynalite ($bench_stack_dir)"
		started_stack=1
		if env "${stack_env[@]}" sh scripts/stack.sh start; then
			eval "$(env "${stack_env[@]}" sh scripts/stack.sh env)"
			reset_table public.bench_e2e
			watch=(--watch "kinesis-mock=$bench_stack_dir/kinesis.pid" --watch "dynalite=$bench_stack_dir/dynalite.pid")
			[ $started_pg = 1 ] && watch+=(--watch "postgresql=$bench_pg_dir/data/postmaster.pid")
			log "e2e: $E2E_LATENCY_RECORDS records at $E2E_LATENCY_RATE/s, then $E2E_RECORDS as fast as possible, $E2E_SHARDS shards"
			bin/kcl-bench e2e --repo "$repo" --child "$OUR_CHILD" --table public.bench_e2e --shards "$E2E_SHARDS" \
				--records "$E2E_RECORDS" --latency-records "$E2E_LATENCY_RECORDS" --latency-rate "$E2E_LATENCY_RATE" \
				--size "$SIZE" --seed "$SEED" --log-dir "$RESULTS_DIR/e2e" --json "$RESULTS_DIR/e2e.json" "${watch[@]}" \
				>"$RESULTS_DIR/e2e.txt" 2>"$RESULTS_DIR/e2e.stderr"
			rc=$?
			sed 's/^/   /' "$RESULTS_DIR/e2e.txt" >&2
			[ $rc = 0 ] || { echo "!! e2e failed (exit $rc), see $RESULTS_DIR/e2e.stderr" >&2; failures=$((failures + 1)); }
		else
			failures=$((failures + 1))
		fi
	fi
fi

# --- backfill: a DynamoDB table's items into CrateDB ----------------------------
if [ "$BACKFILL" = 1 ] && [ -n "$CRATE_URL" ]; then
	if [ $started_stack = 0 ]; then
		log "starting kinesis-mock and dynalite ($bench_stack_dir)"
		started_stack=1
		env "${stack_env[@]}" sh scripts/stack.sh start || failures=$((failures + 1))
	fi
	log "backfill: $BACKFILL_ITEMS items from dynalite into CrateDB (BenchmarkBackfill)"
	(eval "$(env "${stack_env[@]}" sh scripts/stack.sh env)" &&
		TEST_CRATEDB_URL=$CRATE_URL BENCH_BACKFILL_ITEMS=$BACKFILL_ITEMS go test -run '^$' -bench '^BenchmarkBackfill$' \
			-benchtime 1x -count "$BACKFILL_REPEAT" ./processor/backfill) >"$RESULTS_DIR/backfill.txt" 2>&1 ||
		{ echo "!! backfill failed, see $RESULTS_DIR/backfill.txt" >&2; failures=$((failures + 1)); }
	grep -E '^BenchmarkBackfill' "$RESULTS_DIR/backfill.txt" | sed 's/^/   /' >&2
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/machine.txt"
"$py" scripts/bench/report.py --results "$RESULTS_DIR" --out "$out" \
	--command "${BENCH_COMMAND:-make bench}" --memlimit "$MEMLIMIT" || exit 1
log "report: $out (raw results in $RESULTS_DIR)"
[ $failures = 0 ]
