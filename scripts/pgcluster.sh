#!/bin/sh
# Starts and stops a private PostgreSQL cluster: Unix socket only, trust
# authentication, superuser "liaison". Used by `make run` (under var/) and
# by the test harness (a throw-away directory).
#
#   scripts/pgcluster.sh start DATADIR [--fast]   prints the socket directory
#   scripts/pgcluster.sh standby DATADIR PRIMARY_SOCKDIR [--fast]
#                       a streaming standby of the cluster on that socket
#                       (pg_basebackup -R), started; prints its socket directory
#   scripts/pgcluster.sh stop DATADIR
#   scripts/pgcluster.sh datadir DATADIR          prints the directory used
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# "postgres" user; when that user cannot reach DATADIR (a checkout in a
# 0700 home directory) a directory under /var/tmp is used instead.
set -eu

bindir=$(pg_config --bindir)
cmd=${1:?usage: pgcluster.sh start|standby|stop|datadir DATADIR}
want=${2:?usage: pgcluster.sh start|standby|stop|datadir DATADIR}
primary=
if [ "$cmd" = standby ]; then
	primary=${3:?usage: pgcluster.sh standby DATADIR PRIMARY_SOCKDIR [--fast]}
	shift
fi
fast=${3:-}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A stable short name derived from the wanted path, for fallbacks and sockets.
tag=$(printf '%s' "$want" | cksum | cut -d' ' -f1)

resolve_datadir() {
	if [ "$(id -u)" != 0 ]; then
		echo "$want"
		return
	fi
	parent=$(dirname "$want")
	mkdir -p "$parent"
	if runuser -u postgres -- test -x "$parent" 2>/dev/null &&
		runuser -u postgres -- test -x "$(dirname "$parent")" 2>/dev/null; then
		echo "$want"
	else
		echo "/var/tmp/liaison-pg-$tag/data"
	fi
}

datadir=$(resolve_datadir)
sockdir="/tmp/lzpg-$(id -u)-$tag"

case "$cmd" in
datadir)
	echo "$datadir"
	;;
start | standby)
	mkdir -p "$(dirname "$datadir")" "$sockdir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$(dirname "$datadir")" "$sockdir"
	fi
	chmod 0755 "$sockdir"
	# A copy of the primary that follows it: standby.signal and
	# primary_conninfo written by -R; "fast" asks for the checkpoint now.
	if [ -n "$primary" ] && [ ! -f "$datadir/PG_VERSION" ]; then
		as_owner "$bindir/pg_basebackup" -D "$datadir" -h "$primary" -U liaison -R \
			-X stream -c fast >"$(dirname "$datadir")/basebackup.log" 2>&1 ||
			{ cat "$(dirname "$datadir")/basebackup.log" >&2; exit 1; }
	fi
	if [ ! -f "$datadir/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$datadir" -A trust -U liaison \
			-E UTF8 --locale=C.UTF-8 --no-sync >"$(dirname "$datadir")/initdb.log" 2>&1 ||
			{ cat "$(dirname "$datadir")/initdb.log" >&2; exit 1; }
	fi
	opts="-c listen_addresses= -c unix_socket_directories=$sockdir -c max_connections=300"
	if [ "$fast" = "--fast" ]; then
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	# More server options, e.g. "-c shared_preload_libraries=pg_stat_statements".
	opts="$opts ${PGCLUSTER_OPTS:-}"
	if ! as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$datadir" -w -t 60 -l "$datadir/server.log" \
			-o "$opts" start >/dev/null ||
			{ tail -20 "$datadir/server.log" >&2; exit 1; }
	fi
	echo "$sockdir"
	;;
stop)
	if [ -f "$datadir/PG_VERSION" ]; then
		as_owner "$bindir/pg_ctl" -D "$datadir" -w -m fast stop >/dev/null 2>&1 || true
	fi
	# Empty once the server is down; left behind, one piled up per run.
	rmdir "$sockdir" 2>/dev/null || true
	;;
*)
	echo "usage: pgcluster.sh start|standby|stop|datadir DATADIR [--fast]" >&2
	exit 2
	;;
esac
