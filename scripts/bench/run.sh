#!/usr/bin/env bash
# `make bench`: the whole benchmark of issue #5 in one run on one machine and
# one database, written as a Markdown report (default scripts/bench/RESULTS.md).
#
#   scripts/bench/run.sh [report.md]
#
# It starts what it needs and stops what it started, also on failure or ^C:
#   - PostgreSQL (scripts/pg.sh, port $BENCH_PGPORT, data in .stack/bench-pg),
#     unless BENCH_DATABASE_URL points at one (whose tables bench_* it drops);
#   - kinesis-mock and dynalite (scripts/stack.sh, own ports and .stack/bench-stack)
#     for the end-to-end part.
#
# Child runs under kcl-bench, each into a fresh table, row count checked,
# repeated REPEAT times round-robin (the machine may be shared: the report
# gives the median and the range):
#   driver-null     kcl-bench's own null child: the driver's ceiling
#   ours-discard    our child, sink.mode = discard (protocol + decode)
#   ours-pg         our child into PostgreSQL
#   pgx-bulk        the same rows COPYed straight into PostgreSQL with pgx (no protocol): the database limit
#   kclpy-discard   amazon-kclpy, decode only
#   kclpy-seed      amazon-kclpy, one autocommitted INSERT per record (lorrystream style), SEED_RECORDS
#   kclpy-batched   amazon-kclpy, pipelined executemany per batch
# then, once each:
#   *-durable       ours-pg, pgx-bulk and kclpy-seed again, DURABLE_REPEAT times, on the
#                   server restarted with its durable defaults (only a server started here)
#   ours-pg-nopipeline  our child into PostgreSQL with sink.pipeline = false
#   ours-*-memlimit our child with GOMEMLIMIT=$MEMLIMIT: what the child's default soft
#                   memory limit (main.go) costs and saves
#   ours-*-onecore  our child with GOMAXPROCS=1 (one core per child, for hosts with many shards)
#   profiles        CPU profiles of our child (discard and PostgreSQL), `go tool pprof -top`
#   go test -bench  the hot-path benchmarks with allocation counts
#   e2e             the real Java daemon + kinesis-mock + dynalite + our child + PostgreSQL:
#                   end-to-end rate and PutRecords-to-visible latency
#
# Environment (defaults in brackets):
#   BENCH_DATABASE_URL  use this PostgreSQL instead of starting one
#   BENCH_PGPORT [55450]  BENCH_KINESIS_PORT [4668]  BENCH_KINESIS_TLS_PORT [4667]  BENCH_DYNAMODB_PORT [4669]
#   RECORDS [200000] SEED_RECORDS [20000] SIZE [1024] BATCH [10000] SEED [1] REPEAT [5]
#   OUR_CHILD           our child binary [a fresh build of ./processor/cmd/kinesis-cratedb in RESULTS_DIR]
#   OUR_PROPERTIES_EXTRA  extra lines for its properties files
#   MEMLIMIT [off]      GOMEMLIMIT of the RSS experiment ("" skips it)
#   PROFILE [1] GOBENCH [1] GOBENCH_COUNT [3] E2E [1] DURABLE [1]   0 skips that part
#   DURABLE_REPEAT [3]
#   E2E_RECORDS [10000] E2E_LATENCY_RECORDS [1000] E2E_LATENCY_RATE [100] E2E_SHARDS [2]
#   RESULTS_DIR         raw results, logs, profiles [.stack/bench/<time>]
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo" || exit 1
out=${1:-scripts/bench/RESULTS.md}
RECORDS=${RECORDS:-200000}
SEED_RECORDS=${SEED_RECORDS:-20000}
SIZE=${SIZE:-1024}
BATCH=${BATCH:-10000}
SEED=${SEED:-1}
REPEAT=${REPEAT:-5}
MEMLIMIT=${MEMLIMIT-off}
PROFILE=${PROFILE:-1}
GOBENCH=${GOBENCH:-1}
GOBENCH_COUNT=${GOBENCH_COUNT:-3}
E2E=${E2E:-1}
DURABLE=${DURABLE:-1}
DURABLE_REPEAT=${DURABLE_REPEAT:-3}
E2E_RECORDS=${E2E_RECORDS:-10000}
E2E_LATENCY_RECORDS=${E2E_LATENCY_RECORDS:-1000}
E2E_LATENCY_RATE=${E2E_LATENCY_RATE:-100}
E2E_SHARDS=${E2E_SHARDS:-2}
BENCH_PGPORT=${BENCH_PGPORT:-55450}
RESULTS_DIR=${RESULTS_DIR:-.stack/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS_DIR/profile"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
export BENCH_LOG_DIR=$RESULTS_DIR
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the work tree
log() { echo "== $*" >&2; }

# --- what this run starts, and stops on exit ------------------------------
bench_pg_dir=$repo/.stack/bench-pg
bench_stack_dir=$repo/.stack/bench-stack
stack_env=(STACK_DIR="$bench_stack_dir" KINESIS_PORT="${BENCH_KINESIS_PORT:-4668}"
	KINESIS_TLS_PORT="${BENCH_KINESIS_TLS_PORT:-4667}" DYNAMODB_PORT="${BENCH_DYNAMODB_PORT:-4669}")
started_pg=0 started_stack=0
bench_pg() { PGPORT=$BENCH_PGPORT PG_DIR=$bench_pg_dir bash scripts/pg.sh "$@"; }
cleanup() {
	if [ $started_stack = 1 ]; then
		log "stopping kinesis-mock and dynalite"
		env "${stack_env[@]}" sh scripts/stack.sh stop || true
	fi
	if [ $started_pg = 1 ]; then
		log "stopping PostgreSQL"
		bench_pg stop || true
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

# --- binaries: private copies, so a concurrent `make build` cannot swap them
go build -o bin/kcl-bench ./processor/cmd/kcl-bench || exit 1
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
sql() { "$py" -c 'import os, sys, psycopg
with psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True) as c:
    r = c.execute(sys.argv[1]).fetchone() if sys.argv[1].lstrip().upper().startswith("SELECT") else c.execute(sys.argv[1])
    print(r[0] if isinstance(r, tuple) else "")' "$1"; }
reset_table() { sql "DROP TABLE IF EXISTS $1, ${1}_deadletter" >/dev/null; }
count_rows() { sql "SELECT count(*) FROM $1"; }
props() { # props FILE LINES... : a properties file for our child
	local f=$1
	shift
	{ printf '%s\n' "$@" "sink.logFile = $RESULTS_DIR/record_processor.log"; echo "${OUR_PROPERTIES_EXTRA:-}"; } >"$f"
}

# bench NAME REP RECORDS TABLE -- CHILD...   (TABLE "-" = no database)
bench() {
	local name=$1 rep=$2 records=$3 table=$4
	shift 5
	local base=$RESULTS_DIR/$name.$rep
	log "$name #$rep: $records records -> ${table/#-/no database}"
	if [ "$table" != - ]; then
		reset_table "$table" || { failures=$((failures + 1)); return; }
	fi
	BENCH_TABLE=$table bin/kcl-bench --name "$name" --records "$records" --size "$SIZE" --batch "$BATCH" \
		--seed "$SEED" --json "$base.json" --child-stderr "$base.stderr" -- "$@" >"$base.txt"
	local rc=$?
	grep -E '^(records/s|batch latency|child peak RSS|child CPU)' "$base.txt" | sed 's/^/   /' >&2
	[ $rc = 0 ] || { echo "!! $name failed (exit $rc), see $base.stderr" >&2; failures=$((failures + 1)); }
	if [ "$table" != - ]; then
		count_rows "$table" >"$base.rows" 2>/dev/null || rm -f "$base.rows"
	fi
}

pgx_bulk() { # pgx_bulk REP [NAME]
	local name=${2:-pgx-bulk}
	local base=$RESULTS_DIR/$name.$1
	log "$name #$1: $RECORDS records -> bench_pgx (COPY, no protocol)"
	reset_table bench_pgx
	props "$RESULTS_DIR/pgx.properties" "sink.databaseUrl = $BENCH_DATABASE_URL" "sink.table = bench_pgx"
	# The child's own DDL, so the layout (and primary key) is the sink's.
	"$OUR_CHILD" check --properties "$RESULTS_DIR/pgx.properties" 2>>"$base.stderr" &&
		bin/kcl-bench pgx-bulk --name "$name" --database "$BENCH_DATABASE_URL" --table bench_pgx --records "$RECORDS" \
			--size "$SIZE" --seed "$SEED" --batch "$BATCH" --json "$base.json" >"$base.txt" 2>>"$base.stderr"
	local rc=$?
	grep -E '^(records/s|batch latency)' "$base.txt" | sed 's/^/   /' >&2
	[ $rc = 0 ] || { echo "!! $name failed, see $base.stderr" >&2; failures=$((failures + 1)); }
	count_rows bench_pgx >"$base.rows" 2>/dev/null || rm -f "$base.rows"
}

props "$RESULTS_DIR/ours-discard.properties" "sink.mode = discard"
props "$RESULTS_DIR/ours-pg.properties" "sink.databaseUrl = $BENCH_DATABASE_URL" "sink.table = bench_ours"

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
	echo "python: $("$py" --version 2>&1), amazon-kclpy $("$py" -c 'import importlib.metadata as m; print(m.version("amazon-kclpy"))'), psycopg $("$py" -c 'import psycopg; print(psycopg.__version__)')"
	echo "postgresql: $(sql 'SELECT version()')"
	echo "postgresql settings: $(sql "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_wal_size')")"
	echo "source: $(git rev-parse --short HEAD 2>/dev/null) + uncommitted: $(git status --porcelain 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busiest other processes at start (%CPU, command):"
	ps -eo pcpu=,args= --sort=-pcpu | head -5 | cut -c1-110 | sed 's/^/  /'
} >"$RESULTS_DIR/machine.txt" 2>&1

# --- child runs, round-robin -------------------------------------------------
for rep in $(seq 1 "$REPEAT"); do
	bench driver-null "$rep" "$RECORDS" - -- bin/kcl-bench null-child
	bench ours-discard "$rep" "$RECORDS" - -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
	bench ours-pg "$rep" "$RECORDS" bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
	pgx_bulk "$rep"
	bench kclpy-discard "$rep" "$RECORDS" - -- "$py" scripts/bench/kclpy_discard.py
	bench kclpy-seed "$rep" "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
	bench kclpy-batched "$rep" "$RECORDS" bench_kclpy_batched -- "$py" scripts/bench/kclpy_batched.py
done
# The same comparison on a durable server: the throwaway cluster's settings
# (fsync, synchronous_commit, full_page_writes off) spare every autocommitted
# INSERT of kclpy-seed its WAL flush. Only a server this script started is
# restarted, on its defaults, and then back on the throwaway settings.
if [ "$DURABLE" = 1 ] && [ $started_pg = 1 ]; then
	log "restarting PostgreSQL with its durable defaults"
	bench_pg stop && PG_DURABLE=1 bench_pg start >/dev/null || exit 1
	sql "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')" >"$RESULTS_DIR/durable.txt"
	for rep in $(seq 1 "$DURABLE_REPEAT"); do
		bench ours-pg-durable "$rep" "$RECORDS" bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
		pgx_bulk "$rep" pgx-bulk-durable
		bench kclpy-seed-durable "$rep" "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
	done
	log "restarting PostgreSQL with the throwaway settings"
	bench_pg stop && bench_pg start >/dev/null || exit 1
fi

# sink.pipeline = false: each batch written before its status (older children
# do not know the key; then this run is skipped).
props "$RESULTS_DIR/ours-pg-nopipeline.properties" "sink.databaseUrl = $BENCH_DATABASE_URL" "sink.table = bench_ours" "sink.pipeline = false"
if "$OUR_CHILD" check --properties "$RESULTS_DIR/ours-pg-nopipeline.properties" 2>/dev/null; then
	bench ours-pg-nopipeline 1 "$RECORDS" bench_ours -- "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg-nopipeline.properties"
fi
if [ -n "$MEMLIMIT" ]; then
	# env execs the child, so kcl-bench still measures the child itself.
	bench ours-discard-memlimit 1 "$RECORDS" - -- env GOMEMLIMIT="$MEMLIMIT" "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
	bench ours-pg-memlimit 1 "$RECORDS" bench_ours -- env GOMEMLIMIT="$MEMLIMIT" "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"
fi
# One core per child (GOMAXPROCS=1), an option for hosts running many shards.
bench ours-discard-onecore 1 "$RECORDS" - -- env GOMAXPROCS=1 "$OUR_CHILD" --properties "$RESULTS_DIR/ours-discard.properties"
bench ours-pg-onecore 1 "$RECORDS" bench_ours -- env GOMAXPROCS=1 "$OUR_CHILD" --properties "$RESULTS_DIR/ours-pg.properties"

# --- CPU profiles of the child ------------------------------------------------
if [ "$PROFILE" = 1 ]; then
	log "profiling build of our child"
	if build_profiling_child; then
		pchild=$RESULTS_DIR/profile/build/kinesis-cratedb
		for run in ours-discard ours-pg; do
			prof=$RESULTS_DIR/profile/$run.cpu.pprof
			table=-
			[ $run = ours-pg ] && { table=bench_ours; reset_table bench_ours; }
			log "$run under pprof"
			BENCH_TABLE=$table bin/kcl-bench --name "$run-pprof" --records "$RECORDS" --size "$SIZE" --batch "$BATCH" --seed "$SEED" \
				--json "$RESULTS_DIR/profile/$run.json" --child-stderr "$RESULTS_DIR/profile/$run.stderr" \
				-- env KINESIS_CRATEDB_CPUPROFILE="$prof" "$pchild" --properties "$RESULTS_DIR/$run.properties" >/dev/null &&
				go tool pprof -top -nodecount=30 "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.top.txt" 2>/dev/null &&
				go tool pprof -top -nodecount=100000 "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.all.txt" 2>/dev/null &&
				go tool pprof -peek 'runtime\.(memmove|memclrNoHeapPointers)$' "$pchild" "$prof" >"$RESULTS_DIR/profile/$run.peek.txt" 2>/dev/null ||
				{ echo "!! profile of $run failed" >&2; failures=$((failures + 1)); }
		done
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
		TEST_DATABASE_URL=$BENCH_DATABASE_URL go test -run '^$' -benchmem -count "$GOBENCH_COUNT" \
			-bench '^Benchmark(Batch|Child)$' ./processor/ingest
		TEST_DATABASE_URL=$BENCH_DATABASE_URL go test -run '^$' -benchmem -count 1 -bench '^BenchmarkWrite$' ./processor/sink
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

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/machine.txt"
"$py" scripts/bench/report.py --results "$RESULTS_DIR" --out "$out" \
	--command "${BENCH_COMMAND:-make bench}" --memlimit "$MEMLIMIT" || exit 1
log "report: $out (raw results in $RESULTS_DIR)"
[ $failures = 0 ]
