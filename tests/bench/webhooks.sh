#!/bin/sh
# Reminder webhooks in bulk. In one run, against one local endpoint (nginx
# answering 204 and logging the time of receipt of each webhook-id):
#  - nginx's own rate for the same POST under wrk (the reference);
#  - N reminders (10,000 by default) due in the same second: the time until
#    the last is received, deliveries per second (and the ratio to nginx's
#    rate), lateness (receipt minus fire time) p50/p99;
#  - the time one INSERT of N events takes, and the time until all their
#    reminders are planned after it;
#  - the time until every attempt is recorded in PostgreSQL (reports may
#    wait for the sending);
#  - CPU time per message of PostgreSQL, liaisond and nginx over the burst,
#    until all is recorded (what the noise of a shared machine inflates
#    least), and the WAL written per message;
#  - 100 reminders due at once: lateness p50/p99;
#  - liaisond's peak RSS (VmHWM) over the run.
# With PGSS=1, also the statements that took the most PostgreSQL time over
# the burst (pg_stat_statements: where the CPU per message goes); with
# PERF=FILE, a system-wide perf profile of the burst into FILE.
#   tests/bench/webhooks.sh BIN [REMINDERS] [LEAD_SECONDS]
set -eu
BIN=$(realpath "$1")
N=${2:-10000}
LEAD=${3:-40}
. "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "needs nginx (scripts/deps.sh bench)" >&2; exit 1; }

[ -z "${PGSS:-}" ] || export PGCLUSTER_OPTS="${PGCLUSTER_OPTS:-} -c shared_preload_libraries=pg_stat_statements"
bench_cluster
bench_org
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
# The statements that took the most PostgreSQL time since the last reset.
top_statements() {
	psql_b -F ' | ' -c "SELECT calls, round(total_exec_time), rows, wal_records,
	    pg_size_pretty(wal_bytes), shared_blks_dirtied, regexp_replace(left(query, 50), '\s+', ' ', 'g')
	  FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8"
}
[ -z "${PGSS:-}" ] || psql_b -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

# The receiver.
NPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$BENCH_TMP/nginx"
cat >"$BENCH_TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  log_format hook '\$msec \$http_webhook_id';
  client_body_temp_path $BENCH_TMP/nginx;
  server {
    listen 127.0.0.1:$NPORT;
    location /hook { access_log $BENCH_TMP/nginx/hooks.log hook; return 204; }
  }
}
CONF
nginx -c "$BENCH_TMP/nginx/nginx.conf" -p "$BENCH_TMP/nginx"
stop_nginx() { kill "$(cat "$BENCH_TMP/nginx/nginx.pid")" 2>/dev/null || true; }
trap 'stop_nginx; bench_cleanup' EXIT INT TERM

bench_daemon --webhook-allow-private true --webhook-endpoint-concurrency 64 \
	--webhook-concurrency 128

# The reference: nginx's own rate for a POST of a reminder's size.
body=$(printf '{"type":"reminder.due","data":"%0900d"}' 0)
cat >"$BENCH_TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "msg_bench"
wrk.body = '$body'
LUA
wrk -t1 -c64 -d5s -s "$BENCH_TMP/post.lua" "http://127.0.0.1:$NPORT/hook" >"$BENCH_TMP/wrk.out"
wrk_all_ok "$BENCH_TMP/wrk.out"
nginx_rps=$(wrk_rate <"$BENCH_TMP/wrk.out")
: >"$BENCH_TMP/nginx/hooks.log"
kill -USR1 "$(cat "$BENCH_TMP/nginx/nginx.pid")" # reopen the log

curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d "{\"url\":\"http://127.0.0.1:$NPORT/hook\",\"types\":[\"reminder.due\"]}" \
	"http://127.0.0.1:$PORT/v1/webhooks" >/dev/null

# n events whose one reminder (an hour before) falls due at epoch second $2.
load() {
	psql_b -c "INSERT INTO events (org_id, uid, kind, title, timezone, start_local, start_utc,
	    end_utc, last_end_utc, reminders)
	  SELECT o.id, '$3-' || g || '@bench', 'meeting', 'Bench ' || g, 'UTC',
	    (to_timestamp($2) + interval '1 hour') AT TIME ZONE 'UTC',
	    to_timestamp($2) + interval '1 hour', to_timestamp($2) + interval '2 hours',
	    to_timestamp($2) + interval '2 hours', ARRAY['-PT1H']
	  FROM orgs o, generate_series(1, $1) g WHERE o.slug = 'hcmc-dost'"
}

# Waits for n receipts; prints "total_s rate p50_ms p99_ms" from fire time $2.
measure() {
	for _ in $(seq 1200); do
		[ "$(wc -l <"$BENCH_TMP/nginx/hooks.log")" -ge "$1" ] && break
		sleep 0.1
	done
	sort -n "$BENCH_TMP/nginx/hooks.log" | awk -v n="$1" -v fire="$2" '
		{ t[NR] = ($1 - fire) * 1000 }
		END {
			if (NR < n) { printf "only %d of %d received\n", NR, n > "/dev/stderr"; exit 1 }
			p50 = t[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]
			p99 = t[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
			printf "%.2f %.0f %.0f %.0f\n", t[NR] / 1000, NR / (t[NR] / 1000), p50, p99
		}'
}

# CPU per delivered message, of each process, across the burst.
hz=$(getconf CLK_TCK)
ngx=$(cat "$BENCH_TMP/nginx/nginx.pid")
pg=$(pg_pid)
t0=$(date +%s)
fire=$((t0 + LEAD))
load_ms=$(date +%s%3N)
load "$N" "$fire" burst
loaded_ms=$(date +%s%3N)
planned=$(psql_b -c "SELECT count(*) FROM reminders")
ready=$(( $(date +%s) ))
[ "$ready" -lt "$fire" ] || { echo "planning took past the fire time; raise LEAD" >&2; exit 1; }
for _ in $(seq $((LEAD * 50))); do
	[ "$(psql_b -c "SELECT count(*) FROM reminders")" -ge "$N" ] && break
	sleep 0.02
done
planned_ms=$(( $(date +%s%3N) - loaded_ms ))
if [ -n "${PGSS:-}" ]; then
	plan_stmts=$(top_statements)
	psql_b -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
cpu0="$(cpu_ticks "$pg") $(cpu_ticks "$DAEMON_PID") $(cpu_ticks "$ngx")"
lsn0=$(psql_b -c "SELECT pg_current_wal_lsn()")
[ "$(date +%s)" -lt "$fire" ] || { echo "planning took past the fire time; raise LEAD" >&2; exit 1; }
# PERF=FILE: a system-wide profile of the burst (perf record -a) into FILE.
if [ -n "${PERF:-}" ]; then
	while [ "$(date +%s%3N)" -lt $((fire * 1000 - 200)) ]; do sleep 0.05; done
	perf record -q -a -F 1999 -o "$PERF" -- sleep 3 >/dev/null 2>&1 &
fi
set -- $(measure "$N" "$fire") || true
[ $# = 4 ] || { tail -20 "$BENCH_TMP/daemon.log" >&2; psql_b -c "SELECT state, count(*), max(attempts), max(last_error) FROM webhook_messages GROUP BY 1" >&2; exit 1; }
burst_total=$1 burst_rate=$2 burst_p50=$3 burst_p99=$4
for _ in $(seq 600); do
	[ "$(psql_b -c "SELECT count(*) FROM webhook_messages WHERE state <> 'delivered'")" = 0 ] && break
	sleep 0.05
done
recorded_s=$(awk -v t="$(date +%s%3N)" -v f="$fire" 'BEGIN { printf "%.2f", t / 1000 - f }')
wal_msg=$(psql_b -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / $N)")
set -- $cpu0 $(cpu_ticks "$pg") $(cpu_ticks "$DAEMON_PID") $(cpu_ticks "$ngx")
per_msg() { awk -v a="$1" -v b="$2" -v n="$N" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }'; }
cpu_pg=$(per_msg "$1" "$4") cpu_daemon=$(per_msg "$2" "$5") cpu_nginx=$(per_msg "$3" "$6")
peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status")
[ -z "${PGSS:-}" ] || stmts=$(top_statements)

: >"$BENCH_TMP/nginx/hooks.log"
kill -USR1 "$(cat "$BENCH_TMP/nginx/nginx.pid")"
sleep 0.5
fire2=$(( $(date +%s) + 8 ))
load 100 "$fire2" small
set -- $(measure 100 "$fire2")
small_p50=$3 small_p99=$4

echo "webhooks: $N reminders due in one second, one endpoint (nginx), 2 cores shared"
echo "  loading $N events (one INSERT): $((loaded_ms - load_ms)) ms;" \
	"planning their reminders after it: ${planned_ms} ms (${planned} planned when loaded)"
echo "  all delivered ${burst_total}s after the fire time"
echo "  deliveries/s: $burst_rate; nginx alone under wrk (64 connections): $nginx_rps/s;" \
	"ratio $(ratio "$burst_rate" "$nginx_rps")"
echo "  lateness p50 ${burst_p50} ms, p99 ${burst_p99} ms"
echo "  every attempt recorded ${recorded_s}s after the fire time"
echo "  CPU per message from planned to recorded: PostgreSQL ${cpu_pg} us, liaisond" \
	"${cpu_daemon} us, nginx ${cpu_nginx} us; WAL ${wal_msg} bytes"
echo "  100 reminders due at once: lateness p50 ${small_p50} ms, p99 ${small_p99} ms"
echo "  liaisond peak RSS: $((peak_kib / 1024)) MiB"
if [ -n "${PGSS:-}" ]; then
	echo "  statements over the burst (calls | ms | rows | WAL records | WAL | blocks dirtied | text):"
	echo "$stmts" | sed 's/^/    /'
	echo "  statements from the start to the end of planning (the same columns):"
	echo "$plan_stmts" | sed 's/^/    /'
fi
