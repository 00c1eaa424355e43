#!/bin/sh
# Feeds with renders on a streaming standby (read_database) beside the
# primary alone, in one run, on one cluster and its standby
# (pg_basebackup -R), both on this machine: N events (10,000 by default,
# a tenth tagged "small", every 20th a weekly series), their VEVENTs
# stored by an earlier render. For each mode, a daemon just started:
#  - cold: the feed of all N, time to the last byte (median of 5 starts);
#  - after one event changed (a PATCH, then the feed; median of 5): the
#    first read after a write goes to the primary by design;
#  - cached: the feed of N/10 from memory under wrk (no database either way);
#  - where the reads went (/metrics): answered by the standby, sent to the
#    primary at once, or taken back from the standby.
#   tests/bench/replica.sh BIN [EVENTS] [CONNECTIONS] [SECONDS]
set -eu
BIN=$(realpath "$1")
N=${2:-10000}
CONNS=${3:-64}
SECS=${4:-5}
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "needs wrk (scripts/deps.sh bench)" >&2; exit 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_cluster
SSOCK=$("$TOP/scripts/pgcluster.sh" standby "$BENCH_TMP/standby" "$SOCK")
RDB="host=$SSOCK user=liaison dbname=bench"
trap '"$TOP/scripts/pgcluster.sh" stop "$BENCH_TMP/standby" >/dev/null 2>&1; bench_cleanup' \
	EXIT INT TERM
bench_org
"$BIN" --database "$DB" migrate >/dev/null
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
psql_b -c "INSERT INTO events (org_id, uid, kind, title, location, timezone, start_local,
    end_local, start_utc, end_utc, last_end_utc, rrule, tags)
  SELECT o.id, 'replica-' || g || '@bench', (ARRAY['visit','meeting','festival'])[1 + g % 3],
    'Standby render ' || g, 'Room ' || (g % 50), z, s, s + interval '1 hour',
    s AT TIME ZONE z, (s + interval '1 hour') AT TIME ZONE z,
    (s + CASE WHEN g % 20 = 0 THEN interval '9 weeks 1 hour' ELSE interval '1 hour' END)
      AT TIME ZONE z,
    CASE WHEN g % 20 = 0 THEN 'FREQ=WEEKLY;COUNT=10' END,
    ARRAY[CASE WHEN g % 10 = 0 THEN 'small' ELSE 'big' END]
  FROM orgs o, (SELECT g, (ARRAY['Asia/Seoul','Asia/Ho_Chi_Minh','America/Toronto'])[1 + g % 3] AS z,
                       timestamp '2027-01-04 09:00' + (g % 300) * interval '1 day' AS s
                  FROM generate_series(1, $N) g) x"
psql_b -c "VACUUM ANALYZE events"
# Until the standby has replayed all the primary wrote.
caught_up() {
	lsn=$(psql_b -c "SELECT pg_current_wal_insert_lsn()")
	for _ in $(seq 300); do
		[ "$("$PGBIN/psql" -X -q -tA -d "$RDB" \
			-c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
		sleep 0.1
	done
	echo "the standby did not catch up" >&2
	exit 1
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
feed_path() { api -d "$1" "http://127.0.0.1:$PORT/v1/feeds" |
	/usr/bin/python3 -c 'import sys, json; u = json.load(sys.stdin)["url"]; print(u[u.index("/feeds/"):])'; }
restart() {
	[ -n "$DAEMON_PID" ] && { kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; }
	bench_daemon --threads 2
	sleep 0.3 # the floor's first reading (a daemon that answers at once reads the primary)
}
standby_metric() {
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		awk -v m="$1" 'index($0, m) == 1 && /database="standby"|standby_/ { s += $2 } END { print s + 0 }'
}

# The reference render, which stores the VEVENTs; the feeds after it.
restart
all=$(feed_path '{"name": "all"}')
small=$(feed_path '{"name": "small", "filter": {"tags": ["small"]}}')
curl -sf -o "$BENCH_TMP/ref.ics" "http://127.0.0.1:$PORT$all"
for _ in $(seq 100); do
	[ "$(psql_b -c "SELECT count(*) FROM vevent_texts")" -ge "$N" ] && break
	sleep 0.1
done
psql_b -c "VACUUM ANALYZE vevent_texts"
some_id=$(psql_b -c "SELECT id FROM events ORDER BY start_utc LIMIT 1")
caught_up

# The conninfo has spaces: through the environment.
use() { if [ "$1" = standby ]; then export LIAISON_READ_DATABASE="$RDB"; else unset LIAISON_READ_DATABASE; fi; }
on_standby=0 diverted=0 fallbacks=0
for mode in primary standby; do
	use $mode
	: >"$BENCH_TMP/cold.$mode"
	for i in 1 2 3 4 5; do
		restart
		curl -s -o "$BENCH_TMP/got.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$all" \
			>>"$BENCH_TMP/cold.$mode"
		cmp -s "$BENCH_TMP/ref.ics" "$BENCH_TMP/got.ics" ||
			{ echo "$mode: other bytes than the reference render" >&2; exit 1; }
		on_standby=$((on_standby + $(standby_metric liaison_db_queries_total)))
		diverted=$((diverted + $(standby_metric liaison_db_standby_diverted_total)))
		fallbacks=$((fallbacks + $(standby_metric liaison_db_standby_fallbacks_total)))
	done
done
for mode in primary standby; do
	use $mode
	restart
	: >"$BENCH_TMP/changed.$mode"
	for i in 1 2 3 4 5; do
		api -X PATCH -d "{\"title\": \"Changed $mode $i\"}" \
			"http://127.0.0.1:$PORT/v1/events/$some_id" >/dev/null
		curl -s -o "$BENCH_TMP/got.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$all" \
			>>"$BENCH_TMP/changed.$mode"
		grep -q "Changed $mode $i" "$BENCH_TMP/got.ics" ||
			{ echo "$mode: the feed did not show the change at once" >&2; exit 1; }
	done
	curl -sf -o /dev/null "http://127.0.0.1:$PORT$small"
	curl -sf -o /dev/null "http://127.0.0.1:$PORT$small"
	wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$PORT$small" >"$BENCH_TMP/wrk.$mode"
	wrk_all_ok "$BENCH_TMP/wrk.$mode"
	caught_up
done
cold_primary=$(median <"$BENCH_TMP/cold.primary")
cold_standby=$(median <"$BENCH_TMP/cold.standby")
changed_primary=$(median <"$BENCH_TMP/changed.primary")
changed_standby=$(median <"$BENCH_TMP/changed.standby")
cached_primary=$(wrk_rate <"$BENCH_TMP/wrk.primary")
cached_standby=$(wrk_rate <"$BENCH_TMP/wrk.standby")

echo "feeds with renders on a streaming standby: $N events, primary, standby and liaisond on 2 shared cores"
echo "  feed of all ($(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/ref.ics") VEVENTs, $(wc -c <"$BENCH_TMP/ref.ics") bytes), time to the last byte, medians of 5:"
echo "    cold (just started, VEVENTs stored): primary ${cold_primary}s, standby ${cold_standby}s" \
	"(standby/primary $(ratio "$cold_standby" "$cold_primary"))"
echo "    after one event changed: primary ${changed_primary}s, standby ${changed_standby}s"
echo "    the 5 cold renders' reads with the standby: $on_standby answered there," \
	"$diverted sent to the primary at once, $fallbacks taken back from it"
echo "  cached feed of N/10 from memory, $CONNS connections: primary $cached_primary/s," \
	"standby $cached_standby/s (ratio $(ratio "$cached_standby" "$cached_primary"))"
