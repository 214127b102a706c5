#!/usr/bin/env bash
# Runs every test: unit tests and end-to-end tests against the real Java
# MultiLangDaemon, kinesis-mock, dynalite, a throwaway PostgreSQL and a
# throwaway CrateDB: every database test runs against both. It uses ports and
# a state directory of its own, so a running `make demo` stack is left alone,
# and it stops everything it started, also on failure.
#
#   CRATEDB_HOME=/path/to/crate-6.4.3 scripts/test.sh [go test flags...] [./package...]
#                                           e.g. scripts/test.sh -run E2E -v
#                                                scripts/test.sh -run TestE2ECDC ./scripts/tools/e2e/
#
# It runs `go test` in the product's module (processor/), then in the tools'
# module (scripts/tools: the emulator helpers, the tools and the end-to-end
# tests), with the same flags; both run even if the first fails. Arguments
# that start with ./ are packages and go to the module that holds them (none:
# ./... in both); every other argument is a go test flag.
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

flags=() product=() tools=()
for arg in "$@"; do
	case $arg in
	./...) product+=(./...) tools+=(./...) ;;
	./scripts/tools | ./scripts/tools/*)
		rest=${arg#./scripts/tools}
		tools+=(".$rest")
		;;
	./* | .) product+=("$arg") ;;
	*) flags+=("$arg") ;;
	esac
done
if [ ${#product[@]} -eq 0 ] && [ ${#tools[@]} -eq 0 ]; then
	product=(./...) tools=(./...)
fi

status=0
if [ ${#product[@]} -gt 0 ]; then
	echo "test.sh: go test in the product: ${product[*]}"
	go test -count=1 -timeout 40m "${flags[@]}" "${product[@]}" || status=1
fi
if [ ${#tools[@]} -gt 0 ]; then
	echo "test.sh: go test in the tools (scripts/tools): ${tools[*]}"
	(cd scripts/tools && go test -count=1 -timeout 40m "${flags[@]}" "${tools[@]}") || status=1
fi
echo "test.sh: done in $(($(date +%s) - started)) s"
exit "$status"
