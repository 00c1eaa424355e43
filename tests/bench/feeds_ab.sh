#!/bin/sh
# A/B of a feed served from memory by two builds, for a change on the
# feed's path: each serves the same feed (EVENTS events, 1000 by default)
# from its own database, in turns, ROUNDS times, under wrk (64
# connections, 5 s, Google Calendar's User-Agent). Per turn: the rate, and
# the daemon's CPU time per request (user + system, from /proc), which a
# machine shared with other work disturbs much less than the rate.
#   tests/bench/feeds_ab.sh OLD_BIN NEW_BIN [ROUNDS]
set -eu
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${3:-4}
EVENTS=${EVENTS:-1000}
BIN=$A
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "needs wrk (scripts/deps.sh bench)" >&2; exit 1; }
bench_cluster
psql_in() { db=$1; shift; "$PGBIN/psql" -X -q -tA -d "host=$SOCK user=liaison dbname=$db" "$@"; }
# A database per build (an older build refuses a newer schema), each with
# the host org, an admin key and the same events.
setup() {
	psql_in postgres -c "CREATE DATABASE $2"
	"$1" --database "host=$SOCK user=liaison dbname=$2" migrate >/dev/null 2>&1
	"$1" --database "host=$SOCK user=liaison dbname=$2" org create hcmc-dost \
		--name "HCMC DOST" --host --timezone Asia/Ho_Chi_Minh >/dev/null
	psql_in "$2" -c "INSERT INTO events (org_id, uid, kind, title, description, location, city,
	    country, timezone, start_local, end_local, start_utc, end_utc, last_end_utc)
	  SELECT o.id, 'feed-' || g || '@bench', 'visit', 'Đà Nẵng kết nối ' || g, 'Agenda ' || g,
	    'Room ' || (g % 50), 'Busan', 'KR', 'Asia/Seoul', s, s + interval '1 hour',
	    s AT TIME ZONE 'Asia/Seoul', (s + interval '1 hour') AT TIME ZONE 'Asia/Seoul',
	    (s + interval '1 hour') AT TIME ZONE 'Asia/Seoul'
	  FROM orgs o, (SELECT g, timestamp '2027-01-04 09:00' + (g % 300) * interval '1 day' AS s
	                  FROM generate_series(1, $EVENTS) g) x
	  WHERE o.slug = 'hcmc-dost'"
	"$1" --database "host=$SOCK user=liaison dbname=$2" key create hcmc-dost --role admin
}
TA=$(setup "$A" bench_a)
TB=$(setup "$B" bench_b)
turn() {
	BIN=$1
	DB="host=$SOCK user=liaison dbname=$2"
	bench_daemon --threads 2
	p=$(curl -sf -H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
		-d '{"name": "ab"}' "http://127.0.0.1:$PORT/v1/feeds" |
		/usr/bin/python3 -c 'import sys, json; u = json.load(sys.stdin)["url"]; print(u[u.index("/feeds/"):])')
	for _ in 1 2 3 4; do curl -sf -o /dev/null "http://127.0.0.1:$PORT$p"; done
	t0=$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")
	wrk -t2 -c64 -d5s -H 'User-Agent: Google-Calendar-Importer' \
		"http://127.0.0.1:$PORT$p" >"$BENCH_TMP/w.out"
	t1=$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")
	wrk_all_ok "$BENCH_TMP/w.out"
	n=$(awk '/requests in/ { print $1 }' "$BENCH_TMP/w.out")
	hz=$(getconf CLK_TCK)
	echo "$(wrk_rate <"$BENCH_TMP/w.out")/s, $(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$hz" \
		'BEGIN { printf "%.1f", t * 1e6 / hz / n }') us CPU a request"
	kill "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}
echo "a feed of $EVENTS events from memory, $ROUNDS turns each, in turns:"
for _ in $(seq "$ROUNDS"); do
	echo "  old: $(turn "$A" bench_a "$TA")"
	echo "  new: $(turn "$B" bench_b "$TB")"
done
