#!/usr/bin/env bash
# Runs every test: unit tests and end-to-end tests against the real Java
# MultiLangDaemon, kinesis-mock, dynalite and a throwaway PostgreSQL. It uses
# ports and a state directory of its own, so a running `make demo` stack is
# left alone, and it stops everything it started, also on failure.
#
#   scripts/test.sh [go test flags...]      e.g. scripts/test.sh -run E2E -v
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export STACK_DIR=${TEST_STACK_DIR:-$repo/.stack/test}
export PG_DIR=$STACK_DIR/pg
export PGPORT=${TEST_PGPORT:-55439}
export KINESIS_PORT=${TEST_KINESIS_PORT:-14568}
export KINESIS_TLS_PORT=${TEST_KINESIS_TLS_PORT:-14567}
export DYNAMODB_PORT=${TEST_DYNAMODB_PORT:-14569}

cleanup() {
	sh scripts/stack.sh stop >/dev/null 2>&1 || true
	bash scripts/pg.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

started=$(date +%s)
bash scripts/pg.sh start
sh scripts/stack.sh start
eval "$(sh scripts/stack.sh env)"
export TEST_DATABASE_URL
TEST_DATABASE_URL=$(bash scripts/pg.sh url)
export KCL_JARS_DIR=${KCL_JARS_DIR:-$repo/jars/lib}
export REPO_ROOT=$repo
echo "test.sh: services up in $(($(date +%s) - started)) s"

go test -count=1 -timeout 40m "$@" ./...
