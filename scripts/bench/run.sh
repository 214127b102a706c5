#!/usr/bin/env bash
# Runs the whole child comparison under kcl-bench and writes a Markdown
# report.
#
#   BENCH_DATABASE_URL=postgres://... scripts/bench/run.sh report.md
#
# Runs, in order (each into a fresh table, row count checked afterwards):
#   driver-null     kcl-bench's own null child: the driver's ceiling
#   ours-discard    $OUR_CHILD with sink.mode = discard           (if built)
#   ours-pg         $OUR_CHILD into PostgreSQL                    (if built)
#   kclpy-discard   kclpy, decode only, no database
#   kclpy-seed      kclpy, one autocommitted INSERT per record (lorrystream style)
#   kclpy-batched   kclpy, pipelined executemany per batch
#
# Environment (defaults in brackets):
#   BENCH_DATABASE_URL  PostgreSQL URL; without it the SQL runs are skipped
#   OUR_CHILD           our child command [bin/kinesis-cratedb]; it is run as
#                       "$OUR_CHILD --properties <file>"
#   OUR_PROPERTIES_EXTRA  extra lines for that properties file
#   RECORDS [200000] SEED_RECORDS [20000] SIZE [1024] BATCH [10000] SEED [1]
#   PGX_BULK_JSON       result of the direct pgx bulk-insert benchmark
#                       [.stack/bench/pgx-bulk.json], shape:
#                       {"name": "pgx CopyFrom", "records_per_s": 123456.0}
#   RESULTS_DIR         raw JSON results and logs [.stack/bench/<time>]
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo" || exit 1
out=${1:?usage: scripts/bench/run.sh <report.md>}
RECORDS=${RECORDS:-200000}
SEED_RECORDS=${SEED_RECORDS:-20000}
SIZE=${SIZE:-1024}
BATCH=${BATCH:-10000}
SEED=${SEED:-1}
OUR_CHILD=${OUR_CHILD:-bin/kinesis-cratedb}
PGX_BULK_JSON=${PGX_BULK_JSON:-.stack/bench/pgx-bulk.json}
RESULTS_DIR=${RESULTS_DIR:-.stack/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
export BENCH_LOG_DIR=$RESULTS_DIR
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the work tree

go build -o bin/kcl-bench ./processor/cmd/kcl-bench || exit 1
py=$(scripts/bench/setup-venv.sh) || exit 1

failures=0
# reset_table drops the run's table so that ON CONFLICT never skips rows.
reset_table() {
	BENCH_TABLE=$1 "$py" - <<'PY'
import os, psycopg
from psycopg import sql
with psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True) as c:
    c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(os.environ["BENCH_TABLE"])))
PY
}
count_rows() {
	BENCH_TABLE=$1 "$py" - <<'PY'
import os, psycopg
from psycopg import sql
with psycopg.connect(os.environ["BENCH_DATABASE_URL"]) as c:
    print(c.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(os.environ["BENCH_TABLE"]))).fetchone()[0])
PY
}

# bench NAME RECORDS TABLE -- CHILD...   (TABLE "-" = no database)
bench() {
	local name=$1 records=$2 table=$3
	shift 4
	echo "== $name: $records records -> ${table/#-/no database}" >&2
	if [ "$table" != - ]; then
		reset_table "$table" || { failures=$((failures + 1)); return; }
	fi
	BENCH_TABLE=$table bin/kcl-bench --name "$name" --records "$records" --size "$SIZE" --batch "$BATCH" \
		--seed "$SEED" --json "$RESULTS_DIR/$name.json" --child-stderr "$RESULTS_DIR/$name.stderr" -- "$@" >&2
	local rc=$?
	[ $rc = 0 ] || { echo "!! $name failed (exit $rc), see $RESULTS_DIR/$name.stderr" >&2; failures=$((failures + 1)); }
	if [ "$table" != - ]; then
		count_rows "$table" >"$RESULTS_DIR/$name.rows" 2>/dev/null || rm -f "$RESULTS_DIR/$name.rows"
	fi
}

bench driver-null "$RECORDS" - -- bin/kcl-bench null-child

read -ra ours <<<"$OUR_CHILD"
if [ -x "${ours[0]}" ] || command -v "${ours[0]}" >/dev/null 2>&1; then
	props=$RESULTS_DIR/ours-discard.properties
	{ echo "sink.mode = discard"; echo "${OUR_PROPERTIES_EXTRA:-}"; } >"$props"
	bench ours-discard "$RECORDS" - -- "${ours[@]}" --properties "$props"
	if [ -n "${BENCH_DATABASE_URL:-}" ]; then
		props=$RESULTS_DIR/ours-pg.properties
		{ echo "sink.databaseUrl = $BENCH_DATABASE_URL"; echo "sink.table = bench_ours"; echo "${OUR_PROPERTIES_EXTRA:-}"; } >"$props"
		bench ours-pg "$RECORDS" bench_ours -- "${ours[@]}" --properties "$props"
	fi
else
	echo "== our child '${ours[0]}' is not built: skipping its runs" >&2
	echo "${ours[0]}" >"$RESULTS_DIR/ours.missing"
fi

bench kclpy-discard "$RECORDS" - -- "$py" scripts/bench/kclpy_discard.py
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
	bench kclpy-seed "$SEED_RECORDS" bench_kclpy_seed -- "$py" scripts/bench/kclpy_seed.py
	bench kclpy-batched "$RECORDS" bench_kclpy_batched -- "$py" scripts/bench/kclpy_batched.py
else
	echo "== BENCH_DATABASE_URL unset: skipping the SQL runs" >&2
fi

{
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
	echo "kernel: $(uname -r)"
	echo "go: $(go version)"
	echo "java: $(java -version 2>&1 | head -1)"
	echo "python: $("$py" --version 2>&1), amazon-kclpy $("$py" -c 'import importlib.metadata as m; print(m.version("amazon-kclpy"))'), psycopg $("$py" -c 'import psycopg; print(psycopg.__version__)')"
	if [ -n "${BENCH_DATABASE_URL:-}" ]; then
		echo "postgresql: $("$py" -c 'import os, psycopg; c = psycopg.connect(os.environ["BENCH_DATABASE_URL"]); print(c.execute("select version()").fetchone()[0]); print("settings:", ", ".join("%s=%s" % r for r in c.execute("select name, setting from pg_settings where name in (%s, %s, %s)", ("fsync", "synchronous_commit", "shared_buffers")).fetchall()))')"
	fi
} >"$RESULTS_DIR/machine.txt" 2>&1

"$py" scripts/bench/report.py --results "$RESULTS_DIR" --pgx "$PGX_BULK_JSON" --out "$out" || exit 1
echo "report: $out (raw results in $RESULTS_DIR)" >&2
[ $failures = 0 ]
