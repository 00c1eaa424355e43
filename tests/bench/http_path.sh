#!/bin/sh
# The HTTP request path alone: wrk against GET /healthz (no database) and
# GET /v1/events/{id} (one cached credential, one query) on a daemon with
# one event, for each BIN given (e.g. a build of the previous commit beside
# this one, to compare HTTP layers). Requests per second and latency.
#   tests/bench/http_path.sh BIN [BIN2] [SECONDS] [CONNECTIONS]
set -eu
BINS=$(realpath "$1")
shift
if [ $# -gt 0 ] && [ -x "$1" ]; then
	BINS="$BINS $(realpath "$1")"
	shift
fi
SECS=${1:-10}
CONNS=${2:-32}
BIN=${BINS%% *}
. "$(dirname "$0")/lib.sh"

bench_cluster
bench_org
"$BIN" --database "$DB" migrate >/dev/null
for b in $BINS; do
	BIN=$b
	bench_daemon
	id=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{
	  "kind": "visit", "title": "Busan city delegation", "start": "2027-08-21T14:00:00",
	  "end": "2027-08-21T17:00:00"}' "http://127.0.0.1:$PORT/v1/events" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	echo "$b"
	for path in /healthz "/v1/events/$id"; do
		wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
			"http://127.0.0.1:$PORT$path" >"$BENCH_TMP/wrk.out"
		wrk_all_ok "$BENCH_TMP/wrk.out"
		printf '  %-48s %10s req/s  p50 %8s  p99 %8s\n' "GET $path" \
			"$(wrk_rate <"$BENCH_TMP/wrk.out")" \
			"$(awk '$1 == "50%" {print $2}' "$BENCH_TMP/wrk.out")" \
			"$(awk '$1 == "99%" {print $2}' "$BENCH_TMP/wrk.out")"
	done
	kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
done
