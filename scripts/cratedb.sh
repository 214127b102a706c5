#!/usr/bin/env bash
# Throwaway single-node CrateDB for development and tests, like scripts/pg.sh.
#
#   scripts/cratedb.sh start   start a node on 127.0.0.1; no-op if ours already runs
#   scripts/cratedb.sh stop    stop it (SIGTERM, then SIGKILL) and remove its data
#   scripts/cratedb.sh halt    stop it and keep its data: `start` brings it back
#   scripts/cratedb.sh url     print the connection URL
#   scripts/cratedb.sh pid     print the node's pid (tests stop and restart it)
#
# Environment:
#   CRATEDB_HOME   a CrateDB folder in the official tarball layout (bin/crate, lib/,
#                  config/, jdk). Any CrateDB >= 6.3 works; the tests use 6.4.3.
#   CRATE_PSQL_PORT (default 5433), CRATE_HTTP_PORT (4200), CRATE_TRANSPORT_PORT (4300)
#   CRATE_DIR      state directory: data, logs, pid (default <repo>/.stack/crate)
#   CRATE_HEAP_SIZE (default 512m), CRATE_WAIT seconds to wait for start (default 120)
#   CRATE_SETTINGS extra -Ckey=value settings, separated by spaces
#
# Cluster node (instead of a single node): set CRATE_CLUSTER_SEEDS to the
# transport addresses of all nodes (127.0.0.1:4300,127.0.0.1:4301,...) and
# CRATE_CLUSTER_MASTERS to their node names (the first election needs them);
# CRATE_CLUSTER_NAME (default kinesis-cratedb-<psql port>) must be the same
# on every node, CRATE_NODE_NAME (default node-<psql port>) differ. Start the
# nodes at once: `start` waits for the HTTP port to answer 200, which a node
# does only once a master is elected.
#
# CrateDB refuses to run as root, so as root the node runs as the system user
# "crate" (created here if missing). All three ports are pinned: left alone, the
# PostgreSQL port moves silently to the next free one beside a PostgreSQL.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRATE_DIR=${CRATE_DIR:-$repo/.stack/crate}
CRATE_PSQL_PORT=${CRATE_PSQL_PORT:-5433}
CRATE_HTTP_PORT=${CRATE_HTTP_PORT:-4200}
CRATE_TRANSPORT_PORT=${CRATE_TRANSPORT_PORT:-4300}
CRATE_WAIT=${CRATE_WAIT:-120}
pidfile=$CRATE_DIR/crate.pid
log=$CRATE_DIR/console.log

die() { echo "cratedb.sh: $*" >&2; exit 1; }

url() { echo "postgres://crate@127.0.0.1:$CRATE_PSQL_PORT/doc?sslmode=disable"; }

home() {
	[ -n "${CRATEDB_HOME:-}" ] || die "CRATEDB_HOME is not set: point it at a CrateDB folder (tarball layout: bin/crate, lib/)"
	[ -d "$CRATEDB_HOME/lib" ] || die "CRATEDB_HOME=$CRATEDB_HOME has no lib/ folder: not a CrateDB tarball layout"
	(cd "$CRATEDB_HOME" && pwd)
}

# java_bin prints a Java for the node: the folder's own jdk, the JDK a copied
# "jdk" link file names, CRATE_JAVA_HOME, or an installed Temurin 25.
java_bin() {
	local h=$1 j
	if [ -x "$h/jdk/bin/java" ]; then echo "$h/jdk/bin/java"; return; fi
	if [ -f "$h/jdk" ]; then
		j=$(head -n1 "$h/jdk")
		if [ -x "$j/bin/java" ]; then echo "$j/bin/java"; return; fi
	fi
	for j in "${CRATE_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25*; do
		if [ -n "$j" ] && [ -x "$j/bin/java" ]; then echo "$j/bin/java"; return; fi
	done
	die "no Java for CrateDB in $h/jdk; set CRATE_JAVA_HOME to a JDK of the version CrateDB needs (25 for 6.4)"
}

# as_crate runs a command as the unprivileged user "crate" when we are root.
as_crate() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u crate -- "$@"
	else
		"$@"
	fi
}

ensure_user() {
	[ "$(id -u)" = 0 ] || return 0
	id crate >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin crate
}

alive() {
	[ -f "$pidfile" ] || return 1
	local pid
	pid=$(cat "$pidfile")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q 'io.crate.bootstrap.CrateDB' "/proc/$pid/cmdline" 2>/dev/null
}

answers() {
	[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CRATE_HTTP_PORT/" 2>/dev/null)" = 200 ]
}

start() {
	local h java
	h=$(home)
	if alive; then
		return 0
	fi
	java=$(java_bin "$h")
	ensure_user
	mkdir -p "$CRATE_DIR/data" "$CRATE_DIR/logs"
	[ "$(id -u)" = 0 ] && chown -R crate: "$CRATE_DIR"
	as_crate test -r "$h/lib" || die "user $(as_crate id -un) cannot read $h/lib: copy the folder somewhere readable (cp -a)"
	# The JVM flags of bin/crate, so that a folder whose jdk link was lost (or
	# copied as a file) starts the same way.
	local -a jvm=(
		-Xms"${CRATE_HEAP_SIZE:-512m}" -Xmx"${CRATE_HEAP_SIZE:-512m}"
		-Djava.awt.headless=true -XX:+UseG1GC -XX:G1ReservePercent=25
		-XX:InitiatingHeapOccupancyPercent=30 -XX:+UseCompactObjectHeaders
		-Djdk.tls.rejectClientInitiatedRenegotiation=true -Dfile.encoding=UTF-8
		-Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j.skipJansi=true
		-Dio.netty.recycler.maxCapacityPerThread=0 --sun-misc-unsafe-memory-access=allow
		--enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector
		-XX:-HeapDumpOnOutOfMemoryError
	)
	local -a discovery=(-Cdiscovery.type=single-node)
	if [ -n "${CRATE_CLUSTER_SEEDS:-}" ]; then
		[ -n "${CRATE_CLUSTER_MASTERS:-}" ] || die "CRATE_CLUSTER_SEEDS needs CRATE_CLUSTER_MASTERS (the node names)"
		discovery=(-Cdiscovery.seed_hosts="$CRATE_CLUSTER_SEEDS" -Ccluster.initial_master_nodes="$CRATE_CLUSTER_MASTERS")
	fi
	local -a settings=(
		-Cpath.home="$h" -Cpath.data="$CRATE_DIR/data" -Cpath.logs="$CRATE_DIR/logs"
		-Cnetwork.host=127.0.0.1 "${discovery[@]}"
		-Cpsql.port="$CRATE_PSQL_PORT" -Chttp.port="$CRATE_HTTP_PORT"
		-Ctransport.port="$CRATE_TRANSPORT_PORT"
		-Ccluster.name="${CRATE_CLUSTER_NAME:-kinesis-cratedb-$CRATE_PSQL_PORT}"
		-Cnode.name="${CRATE_NODE_NAME:-node-$CRATE_PSQL_PORT}"
		# A test disk may be nearly full: the watermarks would make every table read-only.
		-Ccluster.routing.allocation.disk.threshold_enabled=false
		${CRATE_SETTINGS:-}
	)
	# setsid gives the node a session and process group of its own (halt
	# signals the group); setsid and setpriv exec in place, so $! is the
	# JVM's own pid, which `pid` prints for tests that stop or freeze it.
	local -a run=(setsid)
	[ "$(id -u)" = 0 ] && run+=(setpriv --reuid=crate --regid=crate --init-groups --)
	"${run[@]}" "$java" "${jvm[@]}" -cp "$h/lib/*" io.crate.bootstrap.CrateDB "${settings[@]}" \
		>"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	local deadline=$(($(date +%s) + CRATE_WAIT))
	until answers; do
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			echo "cratedb.sh: CrateDB exited during start-up; last lines of $log:" >&2
			tail -n 30 "$log" >&2 || true
			rm -f "$pidfile"
			exit 1
		fi
		[ "$(date +%s)" -lt "$deadline" ] || die "CrateDB did not answer on 127.0.0.1:$CRATE_HTTP_PORT within ${CRATE_WAIT}s (log: $log)"
		sleep 0.5
	done
	# The HTTP port answers before the PostgreSQL port is bound.
	until (exec 3<>"/dev/tcp/127.0.0.1/$CRATE_PSQL_PORT") 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || die "CrateDB's PostgreSQL port $CRATE_PSQL_PORT did not open within ${CRATE_WAIT}s (log: $log)"
		sleep 0.2
	done
}

# halt stops the node (SIGTERM, then SIGKILL after 10 s) and keeps its data.
halt() {
	if alive; then
		local pid
		pid=$(cat "$pidfile")
		# The node's process group.
		kill -TERM -- "-$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
}

stop() {
	halt
	rm -rf "$CRATE_DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
halt) halt ;;
url) url ;;
pid) alive && cat "$pidfile" ;;
*)
	echo "usage: $0 start|stop|halt|url|pid" >&2
	exit 2
	;;
esac
