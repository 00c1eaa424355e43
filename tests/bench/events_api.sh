#!/bin/sh
# The events API at scale. With N events in the database (1,000,000 by
# default, loaded by SQL), in each round, for each BIN given (e.g. the
# previous build beside this one), then the references:
#  - wrk POST /v1/events beside pgbench doing a single-row INSERT into events;
#  - wrk GET /v1/events/{id} (random ids) beside pgbench doing a single-row
#    SELECT of events by id; same client count for both;
#  - wrk GET /v1/orgs/{slug}, a route of one single-row query, beside
#    pgbench running that query;
#  - the latency (p50, p99) of a one-month list query, GET /v1/events?from&to;
#  - first, how long the daemon took to store the loaded events' VEVENTs in
#    the background (warmer.c), which it waits for before measuring.
# Each measure of every BIN is taken right before its reference. Prints
# each round's figures, then the medians (ratios: the median of the rounds'
# ratios, each against the reference taken beside it).
#   tests/bench/events_api.sh BIN [BIN2] [EVENTS] [CLIENTS] [SECONDS] [ROUNDS]
set -eu
BINS=$(realpath "$1")
shift
if [ $# -gt 0 ] && [ -x "$1" ]; then
	BINS="$BINS $(realpath "$1")"
	shift
fi
EVENTS=${1:-1000000}
CLIENTS=${2:-16}
SECS=${3:-10}
ROUNDS=${4:-1}
BIN=${BINS%% *}
. "$(dirname "$0")/lib.sh"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_cluster
bench_org
"$BIN" --database "$DB" migrate >/dev/null
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
org_id=$(psql_b -c "SELECT id FROM orgs WHERE slug = 'hcmc-dost'")
t0=$(date +%s)
# Events spread over five years from 2022, one hour long, in two zones.
psql_b -c "INSERT INTO events (org_id, uid, kind, title, timezone, start_local, end_local,
    start_utc, end_utc, last_end_utc, location, tags)
  SELECT '$org_id', 'bench-' || g || '@liaison', (ARRAY['visit','meeting','festival','deadline'])[1 + g % 4],
    'Event ' || g, 'Asia/Ho_Chi_Minh', s, s + interval '1 hour',
    s AT TIME ZONE 'Asia/Ho_Chi_Minh', (s + interval '1 hour') AT TIME ZONE 'Asia/Ho_Chi_Minh',
    (s + interval '1 hour') AT TIME ZONE 'Asia/Ho_Chi_Minh', 'Room ' || (g % 500), ARRAY['t' || (g % 20)]
  FROM (SELECT g, timestamp '2022-01-01' + (g * interval '157 seconds') AS s
        FROM generate_series(1, $EVENTS) g) x"
psql_b -c "VACUUM ANALYZE events"
load_s=$(( $(date +%s) - t0 ))
psql_b -c "CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id FROM
  (SELECT id FROM events TABLESAMPLE SYSTEM (1) LIMIT 1000) s; ALTER TABLE bench_ids ADD PRIMARY KEY (n)"
psql_b -c "SELECT id FROM bench_ids" >"$BENCH_TMP/ids"
nids=$(wc -l <"$BENCH_TMP/ids")

bench_daemon
# The daemon stores the VEVENTs of the bulk-loaded events in the background
# (warmer.c): let that pass end first, so that it is not measured with the
# API. Its time is reported.
# The events a feed may show are counted when asked, not once before: one
# every 157 s leaves that window as time passes, and the pass does not
# store what has left it.
t0=$(date +%s)
in_feeds="(e.status <> 'cancelled' OR e.cancelled_at > now() - interval '30 days')
    AND e.last_end_utc > now() - interval '1 year'"
for _ in $(seq 600); do
	[ "$(psql_b -c "SELECT count(*) FROM events e WHERE $in_feeds AND NOT EXISTS
	    (SELECT 1 FROM vevent_texts t WHERE t.event_id = e.id AND NOT t.alarms)")" = 0 ] && break
	sleep 1
done
warm_s=$(( $(date +%s) - t0 ))
in_feeds=$(psql_b -c "SELECT count(*) FROM events e WHERE $in_feeds")
export TOKEN IDS="$BENCH_TMP/ids"
# Each request a different hour of 2030 in one of 50 rooms, so that the
# conflict check does its real work (finds few overlaps) as in real use.
cat >"$BENCH_TMP/post.lua" <<'LUA'
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  n = n + 1
  local day = 1 + (n % 28)
  local hour = n % 24
  local body = string.format('{"kind":"meeting","title":"Bench meeting %d","start":"2030-02-%02dT%02d:00:00","end":"2030-02-%02dT%02d:30:00","location":"Room %d","tags":["bench"]}', n, day, hour, day, hour, n % 50)
  return wrk.format(nil, nil, nil, body)
end
LUA
cat >"$BENCH_TMP/get.lua" <<'LUA'
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function() return wrk.format("GET", "/v1/events/" .. ids[math.random(#ids)]) end
LUA
cat >"$BENCH_TMP/insert.sql" <<SQL
INSERT INTO events (org_id, uid, kind, title, timezone, start_local, end_local, start_utc, end_utc, last_end_utc, location, tags) VALUES ('$org_id', gen_random_uuid()::text, 'meeting', 'Bench meeting', 'Asia/Ho_Chi_Minh', '2025-03-10 10:00', '2025-03-10 11:00', '2025-03-10 03:00Z', '2025-03-10 04:00Z', '2025-03-10 04:00Z', 'Bench hall', '{bench}');
SQL
cat >"$BENCH_TMP/select.sql" <<SQL
\set n random(1, $nids)
SELECT e.* FROM bench_ids b JOIN events e ON e.id = b.id WHERE b.n = :n;
SQL
cat >"$BENCH_TMP/org.sql" <<'SQL'
SELECT slug, name, timezone, country, is_host, to_char(created_at, 'YYYY-MM-DD"T"HH24.MI.SS"Z"') FROM orgs WHERE slug = 'hcmc-dost';
SQL
pgb() { "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j2 -T "$SECS" -f "$1" -h "$SOCK" -U liaison bench 2>/dev/null | pgbench_rate; }
kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
# One daemon per BIN, all up for the whole run, so that each measure of
# every BIN is taken right beside its reference (the machine is shared:
# what else runs on it changes from one minute to the next).
n=0
pids=
for b in $BINS; do
	n=$((n + 1))
	BIN=$b
	bench_daemon
	eval "port_$n=$PORT"
	pids="$pids $DAEMON_PID"
	DAEMON_PID=
done
trap 'kill $pids 2>/dev/null || true; bench_cleanup' EXIT INT TERM
nbins=$n

# measure NAME REFERENCE.sql WRK-ARGS...: each BIN's req/s, then pgbench's
# tps, then each BIN's ratio to it, appended to NAME.n, NAME.ref, NAME.ratio.n.
measure() {
	name=$1 ref=$2
	shift 2
	for n in $(seq "$nbins"); do
		eval "url=http://127.0.0.1:\$port_$n"
		wrk -t2 -c"$CLIENTS" -d"${SECS}s" "$@" "$url$path" >"$BENCH_TMP/$name.out"
		wrk_all_ok "$BENCH_TMP/$name.out"
		wrk_rate <"$BENCH_TMP/$name.out" >>"$BENCH_TMP/$name.$n"
	done
	pgb "$ref" >>"$BENCH_TMP/$name.ref"
	for n in $(seq "$nbins"); do
		echo "$(ratio "$(tail -1 "$BENCH_TMP/$name.$n")" "$(tail -1 "$BENCH_TMP/$name.ref")")" \
			>>"$BENCH_TMP/$name.ratio.$n"
	done
}

echo "events_api: events=$EVENTS clients=$CLIENTS seconds=$SECS rounds=$ROUNDS cores=$(nproc) (loaded in ${load_s}s;" \
	"the $in_feeds a feed may show stored as VEVENTs in the background within ${warm_s}s of the start)"
for n in $(seq "$nbins"); do
	eval "url=http://127.0.0.1:\$port_$n"
	wrk -t2 -c"$CLIENTS" -d2s -s "$BENCH_TMP/get.lua" "$url" >/dev/null
done
for round in $(seq "$ROUNDS"); do
	path=/v1/events measure create "$BENCH_TMP/insert.sql" -s "$BENCH_TMP/post.lua"
	path= measure read "$BENCH_TMP/select.sql" -s "$BENCH_TMP/get.lua"
	path=/v1/orgs/hcmc-dost measure org "$BENCH_TMP/org.sql" -H "Authorization: Bearer $TOKEN"
	n=0
	for b in $BINS; do
		n=$((n + 1))
		echo "  round $round: $b create $(tail -1 "$BENCH_TMP/create.$n") ($(tail -1 "$BENCH_TMP/create.ratio.$n"))," \
			"read $(tail -1 "$BENCH_TMP/read.$n") ($(tail -1 "$BENCH_TMP/read.ratio.$n"))," \
			"org $(tail -1 "$BENCH_TMP/org.$n") ($(tail -1 "$BENCH_TMP/org.ratio.$n")) req/s"
	done
	echo "  round $round: pgbench insert $(tail -1 "$BENCH_TMP/create.ref"), select $(tail -1 "$BENCH_TMP/read.ref")," \
		"org select $(tail -1 "$BENCH_TMP/org.ref") tps"
done
n=0
for b in $BINS; do
	n=$((n + 1))
	eval "url=http://127.0.0.1:\$port_$n"
	wrk -t1 -c4 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
		"$url/v1/events?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z&limit=100" >"$BENCH_TMP/list.out"
	wrk_all_ok "$BENCH_TMP/list.out"
	echo "  $b"
	echo "  create: liaisond POST /v1/events      $(median <"$BENCH_TMP/create.$n") req/s"
	echo "          pgbench INSERT (prepared)      $(median <"$BENCH_TMP/create.ref") tps"
	echo "          ratio                          $(median <"$BENCH_TMP/create.ratio.$n")"
	echo "  read:   liaisond GET /v1/events/{id}  $(median <"$BENCH_TMP/read.$n") req/s"
	echo "          pgbench SELECT by id (prep.)   $(median <"$BENCH_TMP/read.ref") tps"
	echo "          ratio                          $(median <"$BENCH_TMP/read.ratio.$n")"
	echo "  one query: GET /v1/orgs/{slug}        $(median <"$BENCH_TMP/org.$n") req/s"
	echo "          pgbench same SELECT (prep.)    $(median <"$BENCH_TMP/org.ref") tps"
	echo "          ratio                          $(median <"$BENCH_TMP/org.ratio.$n")"
	echo "  one-month list (limit 100, 4 conns):   p50 $(awk '/^ +50%/ {print $2}' "$BENCH_TMP/list.out")," \
		"p99 $(awk '/^ +99%/ {print $2}' "$BENCH_TMP/list.out")"
done
