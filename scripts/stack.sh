#!/bin/sh
# stack.sh start|stop|status|env
#
# Offline stand-ins for AWS that the Java MultiLangDaemon and the Go tests talk to:
#   kinesis-mock (npm kinesis-local)  plain HTTP/1.1 + h2c on $KINESIS_PORT (4568), TLS on $KINESIS_TLS_PORT (4567)
#   dynalite                          127.0.0.1:$DYNAMODB_PORT (4569)
#   PostgreSQL (optional)             scripts/pg.sh start|stop, only when STACK_POSTGRES=1
#
# State (pid and log files) lives in $STACK_DIR (default <repo>/.stack). "start" is a
# no-op for services that already run; "stop" sends SIGTERM, then SIGKILL after 5 s,
# and leaves no process behind. "status" exits 0 only when both emulators answer.
# "env" prints the export lines the Go tests and the daemon need.
#
# kinesis-mock binds every interface (its bind host is hard-coded); dynalite binds
# 127.0.0.1 only. Nothing here ever talks to anything but 127.0.0.1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

STACK_DIR=${STACK_DIR:-$repo/.stack}
KINESIS_PORT=${KINESIS_PORT:-4568}
KINESIS_TLS_PORT=${KINESIS_TLS_PORT:-4567}
DYNAMODB_PORT=${DYNAMODB_PORT:-4569}
# Streams kinesis-mock creates at start-up, "name:shards,name:shards" (optional).
KINESIS_STREAMS=${KINESIS_STREAMS:-}
# Seconds to wait for each service to answer after start.
STACK_WAIT=${STACK_WAIT:-60}
nm=$here/node_modules

kinesis_url=http://127.0.0.1:$KINESIS_PORT
dynamodb_url=http://127.0.0.1:$DYNAMODB_PORT

die() { echo "stack.sh: $*" >&2; exit 1; }

# kinesis_up: kinesis-mock's health check answers 200.
kinesis_up() {
	[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$kinesis_url/healthcheck" 2>/dev/null)" = 200 ]
}

# dynamodb_up: dynalite answers a signed-looking ListTables (it never checks the signature).
dynamodb_up() {
	[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST "$dynamodb_url/" \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-H 'X-Amz-Date: 20260101T000000Z' \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00' \
		-d '{}' 2>/dev/null)" = 200 ]
}

# alive PIDFILE PATTERN: the pid in PIDFILE is running and its command line matches
# PATTERN (guards against a recycled pid after a reboot or a crash).
alive() {
	[ -f "$1" ] || return 1
	pid=$(cat "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# wait_for NAME CHECK PIDFILE LOG: poll CHECK until it succeeds, the process dies,
# or STACK_WAIT seconds pass.
wait_for() {
	deadline=$(($(date +%s) + STACK_WAIT))
	until $2; do
		# Only kill -0 here: right after the fork the pid may still be the forked
		# shell, not yet node, so its command line proves nothing.
		if ! kill -0 "$(cat "$3")" 2>/dev/null; then
			echo "stack.sh: $1 exited during start-up; last log lines ($4):" >&2
			tail -n 20 "$4" >&2 || true
			rm -f "$3"
			exit 1
		fi
		[ "$(date +%s)" -lt "$deadline" ] || die "$1 did not answer within ${STACK_WAIT}s (log: $4)"
		sleep 0.1
	done
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait up to 5 s, SIGKILL, wait until gone.
stop_pid() {
	if ! alive "$2" "$3"; then
		rm -f "$2"
		return 0
	fi
	pid=$(cat "$2")
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		echo "stack.sh: $1 (pid $pid) ignored SIGTERM for 5s, sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	fi
	rm -f "$2"
}

ensure_deps() {
	command -v node >/dev/null || die "node not found on PATH (apt-get install nodejs, or use Node >= 18)"
	command -v curl >/dev/null || die "curl not found on PATH"
	if [ ! -f "$nm/kinesis-local/main.js" ] || [ ! -f "$nm/dynalite/cli.js" ]; then
		command -v npm >/dev/null || die "npm not found on PATH"
		echo "stack.sh: installing emulators (npm ci --prefix scripts)" >&2
		npm ci --prefix "$here" --no-audit --no-fund >&2
	fi
}

start_kinesis() {
	pidf=$STACK_DIR/kinesis.pid log=$STACK_DIR/kinesis.log
	if alive "$pidf" kinesis-local/main.js; then return 0; fi
	kinesis_up && die "port $KINESIS_PORT already answers but no kinesis-mock of ours runs (pid file $pidf); stop the other one or set KINESIS_PORT"
	# Absolute cert path: otherwise main.js looks for server.json in the working directory.
	# env execs nohup, which execs node, so $! is node's pid.
	env KINESIS_MOCK_CERT_PATH="$nm/kinesis-local/server.json" \
		KINESIS_MOCK_PLAIN_PORT="$KINESIS_PORT" KINESIS_MOCK_TLS_PORT="$KINESIS_TLS_PORT" \
		SHARD_LIMIT=1000 CREATE_STREAM_DURATION=100ms DELETE_STREAM_DURATION=100ms \
		SPLIT_SHARD_DURATION=100ms MERGE_SHARDS_DURATION=100ms UPDATE_SHARD_COUNT_DURATION=100ms \
		LOG_LEVEL=WARN ${KINESIS_STREAMS:+INITIALIZE_STREAMS="$KINESIS_STREAMS"} \
		nohup node "$nm/kinesis-local/main.js" >"$log" 2>&1 </dev/null &
	echo $! >"$pidf"
}

start_dynamodb() {
	pidf=$STACK_DIR/dynalite.pid log=$STACK_DIR/dynalite.log
	if alive "$pidf" dynalite/cli.js; then return 0; fi
	dynamodb_up && die "port $DYNAMODB_PORT already answers but no dynalite of ours runs (pid file $pidf); stop the other one or set DYNAMODB_PORT"
	nohup node "$nm/dynalite/cli.js" --host 127.0.0.1 --port "$DYNAMODB_PORT" \
		--createTableMs 50 --updateTableMs 50 --deleteTableMs 50 >"$log" 2>&1 </dev/null &
	echo $! >"$pidf"
}

want_pg() { [ "${STACK_POSTGRES:-0}" = 1 ] && [ -f "$here/pg.sh" ]; }

cmd_start() {
	ensure_deps
	mkdir -p "$STACK_DIR"
	# A start that fails half-way must not leave the other emulator running.
	trap 'echo "stack.sh: start failed, stopping the stack" >&2; cmd_stop' EXIT
	t0=$(date +%s%N)
	start_kinesis
	start_dynamodb
	if want_pg; then STACK_DIR=$STACK_DIR sh "$here/pg.sh" start; fi
	wait_for dynalite dynamodb_up "$STACK_DIR/dynalite.pid" "$STACK_DIR/dynalite.log"
	wait_for kinesis-mock kinesis_up "$STACK_DIR/kinesis.pid" "$STACK_DIR/kinesis.log"
	trap - EXIT
	echo "stack.sh: ready in $((($(date +%s%N) - t0) / 1000000)) ms: kinesis $kinesis_url, dynamodb $dynamodb_url (state in $STACK_DIR)" >&2
}

cmd_stop() {
	stop_pid kinesis-mock "$STACK_DIR/kinesis.pid" kinesis-local/main.js
	stop_pid dynalite "$STACK_DIR/dynalite.pid" dynalite/cli.js
	if want_pg; then STACK_DIR=$STACK_DIR sh "$here/pg.sh" stop; fi
	return 0
}

cmd_status() {
	rc=0
	if kinesis_up; then echo "kinesis-mock: up ($kinesis_url)"; else echo "kinesis-mock: down"; rc=1; fi
	if dynamodb_up; then echo "dynalite: up ($dynamodb_url)"; else echo "dynalite: down"; rc=1; fi
	return $rc
}

cmd_env() {
	echo "export KINESIS_ENDPOINT=$kinesis_url"
	echo "export DYNAMODB_ENDPOINT=$dynamodb_url"
	echo "export AWS_REGION=\${AWS_REGION:-us-east-1}"
	echo "export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-AKIALOCALSTACK0000000}"
	echo "export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-local}"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
*) die "usage: $0 start|stop|status|env" ;;
esac
