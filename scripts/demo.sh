#!/usr/bin/env bash
# make demo: the main job end to end on this machine, offline.
#
# Starts kinesis-mock and dynalite and a database: SINK_DATABASE_URL or
# DATABASE_URL if one points at a CrateDB or PostgreSQL of yours, else a
# throwaway CrateDB when CRATEDB_HOME names a CrateDB folder
# (scripts/cratedb.sh), else a throwaway PostgreSQL. It says which one it
# uses. Then it creates the demo stream and KCL lease table, launches the real KCL MultiLangDaemon with
# bin/kinesis-cratedb as its child (properties/local.properties), publishes
# sample records, waits for them in the table and prints some rows, the
# progress table and the dead-letter count, and ends with
# "bin/kinesis-cratedb status". Everything it started is stopped at the end
# (DEMO_KEEP=1 leaves it running). KINESIS_PORT, KINESIS_TLS_PORT and
# DYNAMODB_PORT move the emulators (scripts/stack.sh) off their default
# ports; the daemon then reads a copy of the properties file with those
# endpoints.
#
#   DEMO_RECORDS=1000 DATABASE_URL=postgres://crate@localhost:5432/doc scripts/demo.sh
#   CRATEDB_HOME=../shared/crate-6.4.3 scripts/demo.sh      # a throwaway CrateDB
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
records=${DEMO_RECORDS:-1000}
props=properties/local.properties
stream=demo-stream
app=demo-app
export PGPORT=${DEMO_PGPORT:-55432}
# Its own data directory, as the CrateDB's below: "stop" removes it.
export PG_DIR=$repo/.stack/demo-pg
export CRATE_DIR=$repo/.stack/demo-crate
export CRATE_PSQL_PORT=${DEMO_CRATE_PSQL_PORT:-55434}
export CRATE_HTTP_PORT=${DEMO_CRATE_HTTP_PORT:-44201}
export CRATE_TRANSPORT_PORT=${DEMO_CRATE_TRANSPORT_PORT:-44301}
mkdir -p .stack
daemon_log=.stack/daemon.log

say() { printf '\n==> %s\n' "$*"; }

daemon_pid=
own_pg=
own_crate=
stop_daemon() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		say "stopping the daemon like Ctrl-C (graceful: shutdownRequested -> checkpoint -> leaseLost)"
		kill -TERM "$daemon_pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 1; done
		kill -KILL "$daemon_pid" 2>/dev/null || true
	fi
}
cleanup() {
	stop_daemon
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		sh scripts/stack.sh stop >/dev/null 2>&1 || true
		[ -n "$own_pg" ] && bash scripts/pg.sh stop >/dev/null 2>&1 || true
		[ -n "$own_crate" ] && bash scripts/cratedb.sh stop >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT INT TERM

if [ "${KINESIS_PORT:-4568}" != 4568 ] || [ "${DYNAMODB_PORT:-4569}" != 4569 ]; then
	sed -e "s|^kinesisEndpoint = .*|kinesisEndpoint = http://127.0.0.1:${KINESIS_PORT:-4568}|" \
		-e "s|^dynamoDBEndpoint = .*|dynamoDBEndpoint = http://127.0.0.1:${DYNAMODB_PORT:-4569}|" \
		-e "s|--properties $props\$|--properties .stack/demo.properties|" "$props" >.stack/demo.properties
	props=.stack/demo.properties
fi

say "starting kinesis-mock and dynalite (scripts/stack.sh start)"
sh scripts/stack.sh start
eval "$(sh scripts/stack.sh env)"

# The database: SINK_DATABASE_URL, else DATABASE_URL, else a throwaway
# PostgreSQL. Both set to different databases is a mistake, not a choice.
if [ -n "${SINK_DATABASE_URL:-}" ] && [ -n "${DATABASE_URL:-}" ] && [ "$SINK_DATABASE_URL" != "$DATABASE_URL" ]; then
	echo "demo.sh: SINK_DATABASE_URL and DATABASE_URL name different databases; unset one of them" >&2
	exit 2
fi
DATABASE_URL=${SINK_DATABASE_URL:-${DATABASE_URL:-}}
if [ -z "$DATABASE_URL" ] && [ -n "${CRATEDB_HOME:-}" ]; then
	say "starting a throwaway CrateDB from CRATEDB_HOME=$CRATEDB_HOME on 127.0.0.1:$CRATE_PSQL_PORT (scripts/cratedb.sh start)"
	own_crate=1 # stopped (and removed) at the end, also after a failed start
	bash scripts/cratedb.sh start
	DATABASE_URL=$(bash scripts/cratedb.sh url)
elif [ -z "$DATABASE_URL" ]; then
	say "starting a throwaway PostgreSQL on 127.0.0.1:$PGPORT (scripts/pg.sh start)"
	own_pg=1 # stopped (and removed) at the end, also after a failed start
	bash scripts/pg.sh start
	DATABASE_URL=$(bash scripts/pg.sh url)
fi
# Which database it is: only CrateDB has sys.cluster.
if cluster=$(psql "$DATABASE_URL" -Atc "SELECT name FROM sys.cluster" 2>/dev/null); then
	crate=1
	say "database: CrateDB (cluster $cluster) at $(echo "$DATABASE_URL" | sed 's|//[^@]*@|//|')"
else
	crate=
	say "database: PostgreSQL at $(echo "$DATABASE_URL" | sed 's|//[^@]*@|//|')"
fi
# refresh makes the rows written so far visible to the next query: CrateDB's
# reads are not real-time (PostgreSQL's are).
refresh() {
	[ -z "$crate" ] || psql "$DATABASE_URL" -qAtc "REFRESH TABLE $*" >/dev/null 2>&1 || true
}
count() {
	refresh "$1"
	psql "$DATABASE_URL" -Atc "SELECT count(*) FROM $1" 2>/dev/null || echo 0
}
# Another database than $props names: override it (the child prints a
# warning saying so).
if [ "${DATABASE_URL%\?sslmode=disable}" != "$(sed -n 's/^sink\.databaseUrl *= *//p' "$props")" ]; then
	export SINK_DATABASE_URL=$DATABASE_URL
fi
table=$(sed -n 's/^sink\.table *= *//p' "$props")

say "creating stream $stream (2 shards) and the KCL lease table $app"
bin/kinesis-local create-stream --stream "$stream" --shards 2
bin/kinesis-local create-lease-table --table "$app" --seed-leases "$stream"
bin/kinesis-cratedb check --properties "$props"

before=$(count "$table")

say "launching the daemon: \$(sh scripts/launch.sh $props)   (log: $daemon_log)"
# shellcheck disable=SC2046 # the launch line is meant to be split into words
$(sh scripts/launch.sh "$props") >"$daemon_log" 2>&1 &
daemon_pid=$!

say "publishing $records records (bin/publish)"
bin/publish --stream "$stream" --count "$records" --first-id "$before" --partition-keys 8

say "waiting for the rows in $table"
want=$((before + records))
for i in $(seq 1 180); do
	n=$(count "$table")
	printf '\r    %s / %s rows' "$n" "$want"
	[ "$n" -ge "$want" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || { echo; echo "daemon exited; see $daemon_log" >&2; tail -20 "$daemon_log" >&2; exit 1; }
	sleep 1
done
echo
[ "$n" -ge "$want" ] || { echo "timed out; see $daemon_log and record_processor.log" >&2; exit 1; }

refresh "$table"
say "SELECT shard_id, seq, partition_key, arrived_at, payload FROM $table ORDER BY written_at DESC LIMIT 5"
psql "$DATABASE_URL" -c "SELECT shard_id, right(seq, 12) AS seq_tail, partition_key, arrived_at, left(payload::text, 80) AS payload FROM $table ORDER BY written_at DESC, seq DESC LIMIT 5"
sleep 3 # a progress row per shard every sink.progressIntervalMillis (2 s here)
refresh "${table%.*}.kinesis_progress"
say "how each shard is doing while the daemon runs: bin/kinesis-cratedb status --properties $props"
bin/kinesis-cratedb status --properties "$props" || true
stop_daemon
refresh "${table%.*}.kinesis_progress"
say "progress table (one row per shard): SELECT * FROM ${table%.*}.kinesis_progress"
psql "$DATABASE_URL" -c "SELECT shard_id, right(last_seq, 12) AS last_seq_tail, right(checkpoint_seq, 12) AS checkpoint_tail, millis_behind_latest, records_written, dead_lettered, updated_at FROM ${table%.*}.kinesis_progress ORDER BY shard_id"
say "dead-lettered records: $(count "${table}_deadletter")"
say "what the children logged (tail record_processor.log):"
tail -n 5 record_processor.log | cut -c1-200
say "leases (bin/kinesis-local leases --table $app):"
bin/kinesis-local leases --table "$app"
refresh "${table%.*}.kinesis_progress"
say "and after the stop: bin/kinesis-cratedb status --properties $props"
echo "    (exit code 0: every shard fine; 2: one is stale, i.e. no update for --stale (5m), or behind --max-behind; 1: no database)"
code=0
bin/kinesis-cratedb status --properties "$props" || code=$?
echo "    exit code $code"
