#!/usr/bin/env bash
# Creates the Python virtualenv of the amazon-kclpy contenders (idempotent):
# amazon-kclpy, psycopg 3 (PostgreSQL, and CrateDB over pgwire) and crate
# (CrateDB's own client, HTTP).
#
#   scripts/bench/setup-venv.sh      -> .stack/bench-venv (git-ignored)
#
# amazon-kclpy is pinned to 3.1.3, the release that bundles KCL 3.1.3 like
# our jars/. Its setup.py downloads its 79 jars (33 MB) from Maven Central
# while building the wheel; the contenders never start the JVM, but the
# build fails without them. 3.2.0 cannot be installed at all: its pom names
# KCL 3.5.3 artifacts that Maven Central answers with 404. Its Python code
# is identical to 3.1.3's. KCL_MVN_REPO_SEARCH_URL can point the download at
# a mirror (any URL prefix urllib accepts, file:// included).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${BENCH_VENV:-$repo/.stack/bench-venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
	"$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import amazon_kclpy, psycopg, crate.client' 2>/dev/null; then
	"$venv/bin/pip" install --quiet --disable-pip-version-check \
		'amazon-kclpy==3.1.3' 'psycopg[binary]==3.3.9' 'crate==2.3.0'
fi
echo "$venv/bin/python"
