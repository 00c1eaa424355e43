#!/bin/sh
# The memory bound (issue 19): liaisond's RSS with 1,000,000 events stored
# and 100 feeds of about 1,000 events each cached must stay under 256 MiB.
# In one run:
#  - 1,000,000 events over four orgs, loaded by one INSERT ... SELECT: ten
#    years of them (nine back, one ahead: a fifth in the window feeds show
#    by default), three zones, one in ten recurring (weekly and daily with
#    COUNT, monthly with UNTIL, yearly without end), one in twenty with
#    reminders (one or two), each tagged with one of 200 tags (blocks of
#    40 consecutive events);
#  - liaisond started on it (default settings but the rate limit), 100
#    feeds created (tags t0 to t99: about 1,100 events each shown), each
#    fetched plain and gzipped so both are cached;
#  - the background warmer (jobs/warmer.c) left to store the VEVENTs of
#    every event feeds show and the planner (jobs/planner.c) to plan the
#    reminders (8 minutes at most); the 100 feeds fetched again;
#  - VmRSS and VmHWM of liaisond, each against 256 MiB; with gdb, also
#    the RSS once malloc_trim(0) has given back the free heap (what the
#    heap keeps on purpose, core/heap.c, against what is in use);
#  - the same after a clean restart with feed_state_dir (the renderings
#    saved at the stop read back at the start) and every feed fetched again.
# THREADS: liaisond's --threads (0: one per core, its default). Tags hold
# 5,000 events each (EVENTS / 5,000 tags), so a smaller run keeps feeds of
# the same size.
#   tests/bench/memory.sh BIN [EVENTS] [FEEDS] [THREADS]
set -eu
BIN=$(realpath "$1")
N=${2:-1000000}
FEEDS=${3:-100}
THREADS=${4:-0}
TAGS=$((N / 5000 > 0 ? N / 5000 : 1))
[ "$FEEDS" -le "$TAGS" ] || FEEDS=$TAGS
. "$(dirname "$0")/lib.sh"
BOUND_KIB=$((256 * 1024))

bench_cluster
bench_org
for o in seoul-hub busan-lab toronto-ix; do
	"$BIN" --database "$DB" org create "$o" --name "Org $o" --timezone Asia/Seoul >/dev/null
done
"$BIN" --database "$DB" migrate >/dev/null
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
since() { echo $(( $(date +%s) - $1 )); }

# Without the per-row triggers (replica role; the cluster's user is a
# superuser): they would queue for planning the events with reminders,
# which is done after the load in one statement, and tell webhook
# endpoints, of which there are none. A third of the load's time.
t0=$(date +%s)
psql_b -c "SET session_replication_role = replica" -c "INSERT INTO events (org_id, uid, kind, title, description, location, city, country,
    timezone, all_day, start_local, end_local, start_utc, end_utc, last_end_utc, rrule,
    reminders, tags, partners)
  SELECT orgs[1 + g % 4], 'mem-' || g || '@bench',
    (ARRAY['visit','meeting','festival','deadline'])[1 + g % 4],
    'Đà Nẵng kết nối hệ sinh thái khởi nghiệp ' || g,
    CASE WHEN g % 3 = 0 THEN 'Agenda for item ' || g || repeat(' and its notes', g % 20) END,
    CASE WHEN g % 2 = 0 THEN 'Room ' || (g % 4999) || ', Building ' || (g % 7) END,
    (ARRAY['Busan','Seoul','Toronto','Hà Nội'])[1 + g % 4],
    (ARRAY['KR','KR','CA','VN'])[1 + g % 4], z, false, s, s + dur,
    s AT TIME ZONE z, (s + dur) AT TIME ZONE z,
    CASE g % 40 WHEN 0 THEN (s + interval '9 weeks' + dur) AT TIME ZONE z
                WHEN 10 THEN (s + interval '4 days' + dur) AT TIME ZONE z
                WHEN 20 THEN (s + interval '6 months' + dur) AT TIME ZONE z
                WHEN 30 THEN 'infinity'
                ELSE (s + dur) AT TIME ZONE z END,
    CASE g % 40 WHEN 0 THEN 'FREQ=WEEKLY;COUNT=10'
                WHEN 10 THEN 'FREQ=DAILY;COUNT=5'
                WHEN 20 THEN 'FREQ=MONTHLY;UNTIL='
                             || to_char((s + interval '6 months') AT TIME ZONE z AT TIME ZONE 'UTC',
                                        'YYYYMMDD\"T\"HH24MISS\"Z\"')
                WHEN 30 THEN 'FREQ=YEARLY' END,
    CASE WHEN g % 60 = 0 THEN ARRAY['-PT1H', '-P1D']
         WHEN g % 20 = 0 THEN ARRAY['-PT15M'] ELSE '{}' END,
    ARRAY['t' || (g / 40 % $TAGS)],
    CASE WHEN g % 7 = 0 THEN ARRAY['kotra', 'dost'] ELSE '{}' END
  FROM (SELECT array_agg(id ORDER BY slug) AS orgs FROM orgs) o,
       (SELECT g, date_trunc('day', localtimestamp) - interval '3290 days'
                  + (g % 3660) * interval '1 day' + (8 + g % 10) * interval '1 hour' AS s,
               (ARRAY['Asia/Seoul','Asia/Ho_Chi_Minh','America/Toronto'])[1 + g % 3] AS z,
               (30 + 30 * (g % 4)) * interval '1 minute' AS dur
          FROM generate_series(1, $N) g) x"
psql_b -c "INSERT INTO reminder_queue (event_id) SELECT id FROM events WHERE reminders <> '{}'"
psql_b -c "VACUUM ANALYZE"
load_s=$(since "$t0")

bench_daemon --threads "$THREADS" --feed-state-dir "$BENCH_TMP/state"
start_kib=$(rss_kib "$DAEMON_PID")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
: >"$BENCH_TMP/feeds"
for i in $(seq 0 $((FEEDS - 1))); do
	api -d "{\"name\": \"t$i\", \"filter\": {\"tags\": [\"t$i\"]}}" "http://127.0.0.1:$PORT/v1/feeds" |
		/usr/bin/python3 -c 'import sys, json; u = json.load(sys.stdin)["url"]; print(u[u.index("/feeds/"):])' \
			>>"$BENCH_TMP/feeds"
done
# Fetches every feed plain and gzipped; prints the VEVENTs of the first.
fetch_all() {
	first=
	while read -r p; do
		curl -sf -o "$BENCH_TMP/feed.ics" "http://127.0.0.1:$PORT$p"
		curl -sf -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$PORT$p"
		[ -n "$first" ] || first=$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/feed.ics")
	done <"$BENCH_TMP/feeds"
	echo "$first"
}
t1=$(date +%s)
vevents=$(fetch_all)
fetch_s=$(since "$t1")
fetched_kib=$(rss_kib "$DAEMON_PID")

# The warmer is done when every event a feed shows has its plain VEVENT
# stored (or the count stands still for 30 s: a row that does not render
# is passed over); the planner when the queue is empty (or stands still).
shown=$(psql_b -c "SELECT count(*) FROM events e WHERE status <> 'cancelled'
    AND last_end_utc > now() - interval '365 days'")
t2=$(date +%s)
last= still=0
while [ "$(since "$t2")" -lt 480 ]; do
	set -- $(psql_b -F ' ' -c "SELECT (SELECT count(*) FROM vevent_texts WHERE NOT alarms),
	    (SELECT count(*) FROM reminder_queue)")
	stored=$1 queued=$2
	[ "$stored" -ge "$shown" ] && [ "$queued" -eq 0 ] && break
	if [ "$stored $queued" = "$last" ]; then still=$((still + 1)); else still=0; fi
	[ "$still" -ge 15 ] && break
	last="$stored $queued"
	sleep 2
done
warm_s=$(since "$t2")
planned=$(psql_b -c "SELECT count(*) FROM reminders")
warm_kib=$(rss_kib "$DAEMON_PID")
fetch_all >/dev/null
rss=$(rss_kib "$DAEMON_PID")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status")
trimmed=
if command -v gdb >/dev/null; then
	gdb -p "$DAEMON_PID" -batch -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1 &&
		trimmed=$(rss_kib "$DAEMON_PID")
fi

# A clean restart, as the systemd unit's (feed_state_dir): the renderings
# the stop saved are read back at the start, then every feed fetched again
# (each spliced from its saved list).
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
bench_daemon --threads "$THREADS" --feed-state-dir "$BENCH_TMP/state"
back_kib=$(rss_kib "$DAEMON_PID")
fetch_all >/dev/null
rss2=$(rss_kib "$DAEMON_PID")
hwm2=$(awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status")

echo "memory: $N events in 4 orgs, $FEEDS feeds of ~$vevents events (plain and gzip)," \
	"--threads $THREADS, $(nproc) cores shared"
echo "  load ${load_s}s; $FEEDS feeds fetched twice (plain, gzip) in ${fetch_s}s;" \
	"warmer and planner done in ${warm_s}s ($stored of $shown VEVENTs stored," \
	"$queued events left to plan, $planned reminders planned)"
echo "  liaisond RSS: started $((start_kib / 1024)) MiB, feeds cached $((fetched_kib / 1024)) MiB," \
	"after warming $((warm_kib / 1024)) MiB"
echo "  liaisond VmRSS $((rss / 1024)) MiB, ratio to 256 MiB $(ratio "$rss" "$BOUND_KIB")"
echo "  liaisond VmHWM $((hwm / 1024)) MiB, ratio to 256 MiB $(ratio "$hwm" "$BOUND_KIB")"
[ -z "$trimmed" ] || echo "  liaisond VmRSS after malloc_trim(0): $((trimmed / 1024)) MiB" \
	"(free heap kept: $(((rss - trimmed) / 1024)) MiB)"
echo "  after a clean restart (feed_state_dir): $((back_kib / 1024)) MiB with the renderings read" \
	"back; every feed fetched again: VmRSS $((rss2 / 1024)) MiB (ratio $(ratio "$rss2" "$BOUND_KIB"))," \
	"VmHWM $((hwm2 / 1024)) MiB (ratio $(ratio "$hwm2" "$BOUND_KIB"))"
