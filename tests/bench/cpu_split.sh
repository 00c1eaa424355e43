#!/bin/sh
# Where a read's time goes: wrk against one route for SECONDS, and the CPU
# each side spent per request (liaisond, this cluster's PostgreSQL
# processes, wrk), with the statements PostgreSQL ran per request
# (pg_stat_statements). ROUTE is "orgs" (GET /v1/orgs/{slug}, one
# single-row query), "event" (GET /v1/events/{id}) or "create" (POST
# /v1/events, each a different hour in one of 50 rooms). With a fourth
# argument "strace", the daemon's syscalls per request too (strace -c;
# it slows the run; Debian's strace package). No reference: read it
# beside db_roundtrip.sh's.
#   tests/bench/cpu_split.sh BIN [ROUTE] [CLIENTS] [SECONDS] [strace]
set -eu
BIN=$(realpath "$1")
ROUTE=${2:-orgs}
CLIENTS=${3:-16}
SECS=${4:-10}
TRACE=${5:-}
. "$(dirname "$0")/lib.sh"

export PGCLUSTER_OPTS="-c shared_preload_libraries=pg_stat_statements"
bench_cluster
"$PGBIN/psql" -X -q -d "$DB" -c "CREATE EXTENSION pg_stat_statements"
bench_org
"$BIN" --database "$DB" migrate >/dev/null
bench_daemon
url="http://127.0.0.1:$PORT/v1/orgs/hcmc-dost"
if [ "$ROUTE" = event ]; then
	id=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{
	  "kind": "visit", "title": "Busan city delegation", "start": "2027-08-21T14:00:00",
	  "end": "2027-08-21T17:00:00"}' "http://127.0.0.1:$PORT/v1/events" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	url="http://127.0.0.1:$PORT/v1/events/$id"
fi
script=
if [ "$ROUTE" = create ]; then
	url="http://127.0.0.1:$PORT/v1/events"
	script="$BENCH_TMP/post.lua"
	cat >"$script" <<'LUA'
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local day, hour = 1 + (n % 28), n % 24
  local body = string.format('{"kind":"meeting","title":"Bench meeting %d","start":"2030-02-%02dT%02d:00:00","end":"2030-02-%02dT%02d:30:00","location":"Room %d","tags":["bench"]}', n, day, hour, day, hour, n % 50)
  return wrk.format(nil, nil, nil, body)
end
LUA
else
	curl -sf -H "Authorization: Bearer $TOKEN" "$url" >/dev/null
fi
run_wrk() { wrk -t2 -c"$CLIENTS" -H "Authorization: Bearer $TOKEN" ${script:+-s "$script"} "$@" "$url"; }
run_wrk -d2s >/dev/null # warm-up

# utime + stime in clock ticks of the given processes.
ticks() {
	for p in "$@"; do
		awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0
	done | awk '{ s += $1 } END { print s + 0 }'
}
postmaster=$(head -1 "$BENCH_TMP/data/postmaster.pid")
pg_pids() { echo "$postmaster $(pgrep -P "$postmaster" | tr '\n' ' ')"; }
hz=$(getconf CLK_TCK)
# CPU seconds of this shell's finished children, from the times builtin
# (run in this shell, not a subshell, whose children are its own).
child_cpu() { awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }

"$PGBIN/psql" -X -q -d "$DB" -c "SELECT pg_stat_statements_reset()" >/dev/null
d0=$(ticks "$DAEMON_PID")
# shellcheck disable=SC2046
p0=$(ticks $(pg_pids))
tracer=
if [ "$TRACE" = strace ]; then
	strace -c -f -p "$DAEMON_PID" -o "$BENCH_TMP/strace.out" &
	tracer=$!
	sleep 1
fi
times >"$BENCH_TMP/times0"
run_wrk -d"${SECS}s" >"$BENCH_TMP/wrk.out"
times >"$BENCH_TMP/times1"
d1=$(ticks "$DAEMON_PID")
# shellcheck disable=SC2046
p1=$(ticks $(pg_pids))
if [ -n "$tracer" ]; then
	kill -INT "$tracer"
	wait "$tracer" || true
fi
wrk_all_ok "$BENCH_TMP/wrk.out"
rps=$(wrk_rate <"$BENCH_TMP/wrk.out")
n=$(awk '/requests in/ { print $1 }' "$BENCH_TMP/wrk.out")
echo "cpu_split: route=$ROUTE clients=$CLIENTS seconds=$SECS cores=$(nproc)"
echo "  $rps req/s; $(grep Latency "$BENCH_TMP/wrk.out" | awk '{ print "latency avg " $2 ", max " $4 }')"
awk -v d=$((d1 - d0)) -v p=$((p1 - p0)) -v hz="$hz" -v n="$n" -v w0="$(child_cpu "$BENCH_TMP/times0")" \
	-v w1="$(child_cpu "$BENCH_TMP/times1")" 'BEGIN {
	printf "  CPU per request: liaisond %.1f us, PostgreSQL %.1f us, wrk %.1f us\n",
		d / hz / n * 1e6, p / hz / n * 1e6, (w1 - w0) / n * 1e6 }'
echo "  statements per request:"
"$PGBIN/psql" -X -q -tA -d "$DB" -c "SELECT round(calls::numeric / $n, 2) || ' x ' ||
  left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_statements
  WHERE calls >= $n / 100 ORDER BY calls DESC LIMIT 5" | sed 's/^/    /'
if [ -n "$tracer" ]; then
	echo "  liaisond syscalls per request (strace -c):"
	awk -v n="$n" '$4 ~ /^[0-9]+$/ && $NF != "total" { printf "    %.2f %s\n", $4 / n, $NF }' \
		"$BENCH_TMP/strace.out" | sort -rn | head -8
fi
