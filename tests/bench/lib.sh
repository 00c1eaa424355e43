# lib.sh - shared set-up for the benchmarks: a private PostgreSQL cluster,
# a database with the host org and an admin key, a liaisond on a free port.
# Sourced by the bench scripts; everything is torn down by bench_cleanup.

BENCH_TMP=$(mktemp -d /tmp/lzbench.XXXXXX)
chmod 0755 "$BENCH_TMP"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=$(pg_config --bindir)
DAEMON_PID=

# Runs from the scripts' EXIT traps under set -e: no step may fail, or the
# ones after it (the cluster's stop) would not run.
bench_cleanup() {
	if [ -n "$DAEMON_PID" ]; then
		kill "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	"$TOP/scripts/pgcluster.sh" stop "$BENCH_TMP/data" >/dev/null 2>&1 || true
	rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT INT TERM

# pg_ctl starts PostgreSQL in a session of its own; with the kernel's
# autogroup on, all its backends then share one scheduling group's CPU
# beside the group of the daemon and the load (a production box's service
# cgroups do the same). On 2 busy cores that group was seen runnable and
# not run for up to 2 s at a time (perf sched timehist): every query in
# flight waits, and a p99 or an error shows it. Said with each run, since
# it moves the figures.
bench_cluster() {
	[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] &&
		echo "note: kernel.sched_autogroup_enabled=1 (PostgreSQL scheduled as a group of its own)" >&2
	SOCK=$("$TOP/scripts/pgcluster.sh" start "$BENCH_TMP/data")
	"$PGBIN/psql" -X -q -d "host=$SOCK user=liaison dbname=postgres" -c "CREATE DATABASE bench"
	DB="host=$SOCK user=liaison dbname=bench"
}

bench_org() {
	"$BIN" --database "$DB" org create hcmc-dost --name "HCMC DOST" --host \
		--timezone Asia/Ho_Chi_Minh >/dev/null
	TOKEN=$("$BIN" --database "$DB" key create hcmc-dost --role admin)
}

# $1 events of hcmc-dost (feeds.sh, feed_splice.sh), migrated by $BIN:
# through 2027 in three zones, every 20th weekly for ten weeks, a tenth
# tagged "small", each titled with its number ($2, "feed" by default,
# makes their UIDs).
bench_feed_events() {
	"$BIN" --database "$DB" migrate >/dev/null
	"$PGBIN/psql" -X -q -d "$DB" -c "INSERT INTO events (org_id, uid, kind, title, description,
    location, city, country, timezone, start_local, end_local, start_utc, end_utc, last_end_utc,
    rrule, tags)
  SELECT o.id, '${2:-feed}-' || g || '@bench', (ARRAY['visit','meeting','festival','deadline'])[1 + g % 4],
    'Đà Nẵng kết nối hệ sinh thái khởi nghiệp ' || g, 'Agenda for item ' || g,
    'Room ' || (g % 50), 'Busan', 'KR', z, s, s + interval '1 hour',
    s AT TIME ZONE z, (s + interval '1 hour') AT TIME ZONE z,
    CASE WHEN g % 20 = 0 THEN (s + interval '9 weeks 1 hour') AT TIME ZONE z
         ELSE (s + interval '1 hour') AT TIME ZONE z END,
    CASE WHEN g % 20 = 0 THEN 'FREQ=WEEKLY;COUNT=10' END,
    CASE WHEN g % 10 = 0 THEN ARRAY['small'] ELSE ARRAY['big'] END
  FROM orgs o, (SELECT g, timestamp '2027-01-04 09:00' + (g % 300) * interval '1 day'
                  + (g % 8) * interval '1 hour' AS s,
                  (ARRAY['Asia/Seoul','Asia/Ho_Chi_Minh','America/Toronto'])[1 + g % 3] AS z
                FROM generate_series(1, $1) g) x WHERE o.slug = 'hcmc-dost'" \
		-c "VACUUM ANALYZE events"
}

bench_daemon() {
	PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$BIN" --database "$DB" --listen "127.0.0.1:$PORT" --log-level warn --rate-limit 0 "$@" \
		>"$BENCH_TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
		sleep 0.1
	done
	echo "liaisond did not start" >&2
	cat "$BENCH_TMP/daemon.log" >&2
	exit 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# "Requests/sec: 1234.5" -> 1234.5
wrk_rate() { awk '/^Requests\/sec/ {print $2}'; }
# pgbench "tps = 1234.5 (without initial connection time)" -> 1234.5
pgbench_rate() { awk '/^tps = / {print $3; exit}'; }
# wrk counts error answers as requests: a run with any is void.
wrk_all_ok() {
	if grep -q "Non-2xx" "$1"; then
		echo "benchmark void: wrk got error answers" >&2
		cat "$1" >&2
		if [ -s "$BENCH_TMP/daemon.log" ]; then
			echo "the daemon's log ends:" >&2
			tail -20 "$BENCH_TMP/daemon.log" >&2
		fi
		exit 1
	fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# CPU time in clock ticks used so far by process $1 (with its children
# that have exited) and its living children: a cost per unit of work that
# a shared machine's load inflates far less than wall time.
cpu_ticks() {
	for p in "$1" $(pgrep -P "$1"); do
		cat "/proc/$p/stat" 2>/dev/null
	done | awk 'NR == 1 { sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15; next }
		{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
# The postmaster of the bench cluster.
pg_pid() { head -1 "$("$TOP/scripts/pgcluster.sh" datadir "$BENCH_TMP/data")/postmaster.pid"; }
