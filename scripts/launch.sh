#!/bin/sh
# launch.sh: build (and optionally run) the command line of the Java KCL
# MultiLangDaemon, like amazon-kclpy's amazon_kclpy_helper.py.
#
#   $(sh scripts/launch.sh properties/record_processor.properties)     # seed style
#   sh scripts/launch.sh --print_command --properties FILE [--log-configuration XML] [--java JAVA]
#   sh scripts/launch.sh --print_classpath [--properties FILE]
#   sh scripts/launch.sh --run --properties FILE [--log-configuration XML]   # exec the daemon
#
# The printed line is
#   <java> -Dfile.encoding=UTF-8 [$JAVA_OPTS] -cp <jars>:<dir of FILE> \
#     software.amazon.kinesis.multilang.MultiLangDaemon --properties-file FILE [--log-configuration XML]
# The daemon is started from the caller's directory, and so is the child it spawns
# (executableName is resolved relative to it), hence: run it from the repo root.
# FILE is passed on as given; jar and log-configuration paths are absolute, so
# the line works from any directory. Paths with spaces do not survive $(...).
#
# Environment: KCL_JARS_DIR (default <repo>/jars/lib, filled by "make jars"),
# JAVA_HOME (used when no java is on PATH), JAVA_OPTS (extra JVM flags).
#
# AWS SDK v1 credential variables: older kclpy guides export AWS_ACCESS_KEY
# and AWS_SECRET_KEY, which KCL 3 (AWS SDK v2) does not read; its default
# chain then moves on to a profile or an instance role, another identity,
# without a word. When the v2 name (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
# is unset, --run passes the v1 one on under it and says so on stderr. A
# printed command cannot carry it (the seed style runs it in the caller's
# shell, and printing the value would put a secret on the terminal), so
# then the printed command is "sh <repo>/scripts/launch.sh --run ..." with
# the same arguments, which does the mapping when it runs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
jars_dir=${KCL_JARS_DIR:-$repo/jars/lib}
main_class=software.amazon.kinesis.multilang.MultiLangDaemon

die() { echo "launch.sh: $*" >&2; exit 1; }

usage() {
	cat >&2 <<EOF
usage: sh $0 PROPERTIES_FILE
       sh $0 (--print_command | --print_classpath | --run) [--properties FILE]
             [--log-configuration XML] [--java JAVA]
EOF
	exit 2
}

mode='' props='' logconf='' java=''
if [ $# -eq 1 ] && [ "${1#-}" = "$1" ]; then
	# One positional argument: the seed's launch.sh, with the repo's logback.xml.
	mode=print_command props=$1 logconf=$repo/properties/logback.xml
else
	while [ $# -gt 0 ]; do
		case $1 in
		--print_command | --print-command) mode=print_command ;;
		--print_classpath | --print-classpath) mode=print_classpath ;;
		--run) mode=run ;;
		--properties | -p) [ $# -ge 2 ] || usage; props=$2; shift ;;
		--properties=*) props=${1#*=} ;;
		--log-configuration | -l) [ $# -ge 2 ] || usage; logconf=$2; shift ;;
		--log-configuration=*) logconf=${1#*=} ;;
		--java | -j) [ $# -ge 2 ] || usage; java=$2; shift ;;
		--java=*) java=${1#*=} ;;
		-h | --help) usage ;;
		*) echo "launch.sh: unknown argument: $1" >&2; usage ;;
		esac
		shift
	done
fi
[ -n "$mode" ] || usage

# Classpath: every jar, then the properties file's directory (the daemon looks
# the file up as a classpath resource before it tries the file system).
cp=
for jar in "$jars_dir"/*.jar; do
	[ -f "$jar" ] || die "no jars in $jars_dir: run \"make jars\" (or set KCL_JARS_DIR)"
	cp=${cp:+$cp:}$jar
done
if [ -n "$props" ]; then
	[ -f "$props" ] || die "properties file not found: $props (relative to $(pwd))"
	cp=$cp:$(cd "$(dirname "$props")" && pwd)
fi

if [ "$mode" = print_classpath ]; then
	echo "$cp"
	exit 0
fi

[ -n "$props" ] || die "--properties FILE is required"
if [ -z "$java" ]; then
	if command -v java >/dev/null 2>&1; then
		java=$(command -v java)
	elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
		java=$JAVA_HOME/bin/java
	else
		die "java not found: put it on PATH, set JAVA_HOME or pass --java"
	fi
fi
if [ -n "$logconf" ]; then
	[ -f "$logconf" ] || die "log configuration not found: $logconf"
	logconf=$(cd "$(dirname "$logconf")" && pwd)/$(basename "$logconf")
fi

# v1_pending: an SDK v1 credential variable is set whose v2 name is not.
v1_pending() {
	{ [ -n "${AWS_ACCESS_KEY:-}" ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ]; } ||
		{ [ -n "${AWS_SECRET_KEY:-}" ] && [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; }
}

# map_v1_credentials exports the v2 names from the v1 ones where the v2 name
# is unset, and warns where both are set and SDK v1 would have used the
# other value (it preferred AWS_SECRET_KEY). Values are never printed.
map_v1_credentials() {
	if [ -n "${AWS_ACCESS_KEY:-}" ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ]; then
		AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY
		export AWS_ACCESS_KEY_ID
		echo "launch.sh: warning: KCL 3 ignores AWS_ACCESS_KEY (an AWS SDK v1 name); passing it on as AWS_ACCESS_KEY_ID" >&2
	fi
	if [ -n "${AWS_SECRET_KEY:-}" ] && [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
		AWS_SECRET_ACCESS_KEY=$AWS_SECRET_KEY
		export AWS_SECRET_ACCESS_KEY
		echo "launch.sh: warning: KCL 3 ignores AWS_SECRET_KEY (an AWS SDK v1 name); passing it on as AWS_SECRET_ACCESS_KEY" >&2
	elif [ -n "${AWS_SECRET_KEY:-}" ] && [ "$AWS_SECRET_KEY" != "$AWS_SECRET_ACCESS_KEY" ]; then
		echo "launch.sh: warning: AWS_SECRET_KEY and AWS_SECRET_ACCESS_KEY differ; kclpy 2 (AWS SDK v1) used AWS_SECRET_KEY, KCL 3 uses AWS_SECRET_ACCESS_KEY" >&2
	fi
}

if [ "$mode" = print_command ] && v1_pending; then
	echo "launch.sh: AWS_ACCESS_KEY/AWS_SECRET_KEY (AWS SDK v1 names, which KCL 3 ignores) are set: the printed command runs launch.sh --run, which passes them on under the v2 names" >&2
	echo "sh $here/launch.sh --run --java $java --properties $props${logconf:+ --log-configuration $logconf}"
	exit 0
fi
map_v1_credentials

if [ "$mode" = run ]; then
	# JAVA_OPTS is split on purpose: it holds several flags.
	# shellcheck disable=SC2086
	if [ -n "$logconf" ]; then
		exec "$java" -Dfile.encoding=UTF-8 ${JAVA_OPTS:-} -cp "$cp" "$main_class" --properties-file "$props" --log-configuration "$logconf"
	else
		exec "$java" -Dfile.encoding=UTF-8 ${JAVA_OPTS:-} -cp "$cp" "$main_class" --properties-file "$props"
	fi
fi

echo "$java -Dfile.encoding=UTF-8${JAVA_OPTS:+ $JAVA_OPTS} -cp $cp $main_class --properties-file $props${logconf:+ --log-configuration $logconf}"
