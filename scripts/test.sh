#!/usr/bin/env bash
# Runs every test: unit tests and end-to-end tests against the real Java
# MultiLangDaemon, kinesis-mock, dynalite, a throwaway PostgreSQL and a
# throwaway CrateDB: every database test runs against both. It uses ports and
# a state directory of its own, so a running `make demo` stack is left alone,
# and it stops everything it started, also on failure.
#
#   CRATEDB_HOME=/path/to/crate-6.4.3 scripts/test.sh [go test flags...]
#                                           e.g. scripts/test.sh -run E2E -v
#
# CRATEDB_HOME (required) is a CrateDB folder in the tarball layout; see
# scripts/cratedb.sh. Ports: TEST_PGPORT, TEST_CRATE_PSQL_PORT,
# TEST_CRATE_HTTP_PORT, TEST_CRATE_TRANSPORT_PORT, TEST_KINESIS_PORT,
# TEST_KINESIS_TLS_PORT, TEST_DYNAMODB_PORT.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export STACK_DIR=${TEST_STACK_DIR:-$repo/.stack/test}
export PG_DIR=$STACK_DIR/pg
export PGPORT=${TEST_PGPORT:-55439}
export KINESIS_PORT=${TEST_KINESIS_PORT:-14568}
export KINESIS_TLS_PORT=${TEST_KINESIS_TLS_PORT:-14567}
export DYNAMODB_PORT=${TEST_DYNAMODB_PORT:-14569}
export CRATE_DIR=$STACK_DIR/crate
export CRATE_PSQL_PORT=${TEST_CRATE_PSQL_PORT:-55433}
export CRATE_HTTP_PORT=${TEST_CRATE_HTTP_PORT:-44200}
export CRATE_TRANSPORT_PORT=${TEST_CRATE_TRANSPORT_PORT:-44300}

if [ -z "${CRATEDB_HOME:-}" ]; then
	echo "test.sh: CRATEDB_HOME is not set: point it at a CrateDB 6.4 folder (tarball layout: bin/crate, lib/)," >&2
	echo "test.sh: for example CRATEDB_HOME=../shared/crate-6.4.3 (every database test runs on PostgreSQL and CrateDB)" >&2
	exit 1
fi
export CRATEDB_HOME

cleanup() {
	sh scripts/stack.sh stop >/dev/null 2>&1 || true
	bash scripts/pg.sh stop >/dev/null 2>&1 || true
	bash scripts/cratedb.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

started=$(date +%s)
bash scripts/pg.sh start
bash scripts/cratedb.sh start
sh scripts/stack.sh start
eval "$(sh scripts/stack.sh env)"
export TEST_DATABASE_URL
TEST_DATABASE_URL=$(bash scripts/pg.sh url)
export TEST_CRATEDB_URL
TEST_CRATEDB_URL=$(bash scripts/cratedb.sh url)
export KCL_JARS_DIR=${KCL_JARS_DIR:-$repo/jars/lib}
export REPO_ROOT=$repo
echo "test.sh: services up in $(($(date +%s) - started)) s"

go test -count=1 -timeout 40m "$@" ./...
