#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for development and tests (local-stack.md §5).
#
#   scripts/pg.sh start   initdb (trust auth) + start; no-op if already running
#   scripts/pg.sh stop    fast stop and remove the data directory
#   scripts/pg.sh url     print the connection URL
#
# Environment: PGPORT (default 5432), PG_DIR (default <repo>/.stack/pg).
# Listens on 127.0.0.1 only; fsync, synchronous_commit and full_page_writes
# are off because the data is disposable, unless PG_DURABLE=1 (the server's
# own defaults, as in production; scripts/bench compares both).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PGPORT=${PGPORT:-5432}
PG_DIR=${PG_DIR:-$repo/.stack/pg}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
data=$PG_DIR/data

# as_postgres runs a command as the postgres OS user: initdb and the server
# refuse to run as root.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ensure_installed() {
	[ -x "$PGBIN/initdb" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "pg.sh: $PGBIN/initdb missing and not root; install the postgresql package" >&2
		exit 1
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
}

# postmaster_alive: postmaster.pid names a live postgres process (a killed
# postmaster may linger as a zombie until init reaps it, and pg_ctl takes a
# zombie for a running server).
postmaster_alive() {
	[ -f "$data/postmaster.pid" ] || return 1
	local pid state
	pid=$(head -n 1 "$data/postmaster.pid")
	state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
	[ "$state" != Z ] && grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null
}

running() {
	postmaster_alive && as_postgres "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# orphans prints the pids of backends a crashed postmaster left behind:
# postgres processes whose working directory is our data directory.
orphans() {
	local p
	for p in $(pgrep -x postgres || true); do
		[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$data" ] && echo "$p"
	done
	return 0
}

# clear_crash makes a crashed server (postmaster killed with kill -9)
# startable: its orphaned backends must be gone (they exit by themselves
# once they notice; the new postmaster would refuse the shared memory they
# still hold), then the stale postmaster.pid and socket lock file go (the
# postmaster would refuse them while their pid exists, and init may leave a
# killed postmaster a zombie for good). The server itself runs
# crash recovery from its WAL when it starts.
clear_crash() {
	[ -f "$data/postmaster.pid" ] || return 0
	local left
	for _ in $(seq 1 100); do
		left=$(orphans)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		echo "pg.sh: backends of a dead postmaster still run in $data: $(echo $left); kill them first" >&2
		exit 1
	fi
	echo "pg.sh: removing the stale postmaster.pid of a server that did not stop cleanly; it recovers from its WAL" >&2
	rm -f "$data/postmaster.pid" "$PG_DIR/.s.PGSQL.$PGPORT" "$PG_DIR/.s.PGSQL.$PGPORT.lock"
}

start() {
	ensure_installed
	if running; then
		return 0
	fi
	clear_crash
	mkdir -p "$PG_DIR"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$PG_DIR"
	fi
	if [ ! -f "$data/PG_VERSION" ]; then
		as_postgres "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
	fi
	local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ "${PG_DURABLE:-0}" = 1 ] && durability=""
	as_postgres "$PGBIN/pg_ctl" -D "$data" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PG_DIR $durability" \
		start >/dev/null
}

stop() {
	if running; then
		as_postgres "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	fi
	rm -rf "$PG_DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) echo "postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable" ;;
*)
	echo "usage: $0 start|stop|url" >&2
	exit 2
	;;
esac
