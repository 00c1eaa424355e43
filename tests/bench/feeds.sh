#!/bin/sh
# Feeds. In one run, with N events (10,000 by default; a tenth carry the
# tag the small feed selects):
#  - a feed of all N by liaisond: rendered first (nothing stored), cold
#    (just started, VEVENTs stored), cold after a clean restart that saved
#    its rendering (feed_state_dir), cold after a crash (kill -9) with its
#    rendering saved while running (feed_state_every), as a new feed over
#    events in memory,
#    and after one event changed; the first and cold times beside Radicale (Debian's radicale) serving the same N
#    events as its calendar collection (GET of the collection, median of 5);
#  - a feed of N/10 events served by liaisond from memory under wrk beside
#    nginx serving the same bytes as a static file, same connections: with
#    nginx's own defaults (sendfile off), then with Debian's (sendfile on,
#    tcp_nopush on), plain and gzipped (nginx's gzip_static serving the
#    bytes liaisond sends gzipped), FEEDS_ROUNDS (5) rounds of runs one
#    after the other: each ratio is the median of the rounds' own (this
#    machine's speed drifts by a factor of two within minutes, for both
#    servers alike, which a ratio of two medians taken minutes apart
#    does not cancel);
#  - liaisond's RSS with 100 feeds cached.
#   tests/bench/feeds.sh BIN [EVENTS] [CONNECTIONS] [SECONDS]
# FEEDS_ONLY=cached measures only the feed from memory beside nginx.
# FEEDS_ONLY=renders measures only the first and cold renders of the feed
# of all, 5 rounds, and with FEEDS_VS=OTHER_BIN alternates them with that
# binary's (the same events and feed, in a database of its own: an older
# build refuses a newer schema): medians, ratios, the daemon's CPU per
# render, each binary's cold feed compared byte for byte with its first,
# and the feed read by python3-icalendar and recurring_ical_events.
set -eu
BIN=$(realpath "$1")
N=${2:-10000}
CONNS=${3:-64}
SECS=${4:-5}
. "$(dirname "$0")/lib.sh"
for tool in nginx radicale wrk; do
	command -v $tool >/dev/null || { echo "needs $tool (scripts/deps.sh bench)" >&2; exit 1; }
done
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_cluster
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
# The host org, an admin key ($TOKEN) and the events, in database $DB by
# binary $BIN.
load() {
	bench_org
	bench_feed_events "$N"
}
load

RAD_PID=
stop_nginx() { [ -f "$BENCH_TMP/nginx/nginx.pid" ] && kill "$(cat "$BENCH_TMP/nginx/nginx.pid")" 2>/dev/null || true; }
trap '[ -z "$RAD_PID" ] || kill $RAD_PID 2>/dev/null || true; stop_nginx; bench_cleanup' EXIT INT TERM

bench_daemon --threads 2
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
feed_path() { api -d "$1" "http://127.0.0.1:$PORT/v1/feeds" |
	/usr/bin/python3 -c 'import sys, json; u = json.load(sys.stdin)["url"]; print(u[u.index("/feeds/"):])'; }

if [ "${FEEDS_ONLY:-}" = renders ]; then
	p=$(feed_path '{"name": "all"}')
	kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
	NEW=$BIN
	OLD=${FEEDS_VS:+$(realpath "$FEEDS_VS")}
	# The other binary's database (DB_OLD) and feed (P_OLD).
	DB_NEW=$DB P_NEW=$p
	if [ -n "$OLD" ]; then
		"$PGBIN/psql" -X -q -d "host=$SOCK user=liaison dbname=postgres" -c "CREATE DATABASE bench_old"
		DB="host=$SOCK user=liaison dbname=bench_old" BIN=$OLD
		load
		bench_daemon --threads 2
		P_OLD=$(feed_path '{"name": "all"}')
		kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
		DB_OLD=$DB
	fi
	: >"$BENCH_TMP/r.first.new"; : >"$BENCH_TMP/r.first.old"
	: >"$BENCH_TMP/r.cold.new"; : >"$BENCH_TMP/r.cold.old"
	: >"$BENCH_TMP/r.cpu.new"; : >"$BENCH_TMP/r.cpu.old"
	# One render by a daemon just started: wall seconds to the last byte
	# into r.$1.$2, the daemon's CPU ticks for it into r.cpu.$2.
	render_once() {
		bench_daemon --threads 2
		t0=$(cpu_ticks "$DAEMON_PID")
		pg0=$(cpu_ticks "$(pg_pid)")
		curl -s -o "$BENCH_TMP/$1.$2.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/r.$1.$2"
		echo "$1 $(($(cpu_ticks "$DAEMON_PID") - t0)) $(($(cpu_ticks "$(pg_pid)") - pg0))" >>"$BENCH_TMP/r.cpu.$2"
		for _ in $(seq 50); do # the write-back ends after the answer
			[ "$(psql_b -c "SELECT count(*) FROM vevent_texts")" -ge "$N" ] && break
			sleep 0.1
		done
		kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
	}
	for i in 1 2 3 4 5; do
		for who in new ${OLD:+old}; do
			if [ "$who" = new ]; then BIN=$NEW DB=$DB_NEW p=$P_NEW; else BIN=$OLD DB=$DB_OLD p=$P_OLD; fi
			psql_b -c "TRUNCATE vevent_texts"
			render_once first "$who"
			psql_b -c "VACUUM ANALYZE vevent_texts"
			render_once cold "$who"
			# Each binary's cold feed is its first one's bytes; the two
			# databases' rows differ in ids and times, not in count.
			cmp -s "$BENCH_TMP/first.$who.ics" "$BENCH_TMP/cold.$who.ics" &&
				[ "$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/first.$who.ics")" = \
					"$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/first.new.ics")" ] ||
				{ echo "feeds differ: first.new.ics, $who" >&2; exit 1; }
		done
	done
	/usr/bin/python3 - "$BENCH_TMP/first.new.ics" <<'PY'
import sys, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
n = len(recurring_ical_events.of(cal).between(datetime.date(2026, 1, 1), datetime.date(2029, 1, 1)))
print(f"  python3-icalendar read {len(cal.walk('VEVENT'))} VEVENTs, {n} occurrences")
PY
	cpu() { awk -v k="$1" -v f="${3:-2}" '$1 == k { print $f * 10 }' "$BENCH_TMP/r.cpu.$2" | median; }
	echo "feeds: renders of all $N events ($(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/first.new.ics") VEVENTs," \
		"$(wc -c <"$BENCH_TMP/first.new.ics") bytes), each by a daemon just started, medians of 5:"
	for who in new ${OLD:+old}; do
		[ "$who" = new ] && b=$NEW || b=$OLD
		echo "  $b: first render $(median <"$BENCH_TMP/r.first.$who")s" \
			"(CPU: daemon $(cpu first $who) ms, PostgreSQL $(cpu first $who 3) ms)," \
			"cold $(median <"$BENCH_TMP/r.cold.$who")s" \
			"(CPU: daemon $(cpu cold $who) ms, PostgreSQL $(cpu cold $who 3) ms)"
	done
	[ -n "$OLD" ] && echo "  new/old wall: first $(ratio "$(median <"$BENCH_TMP/r.first.new")" \
		"$(median <"$BENCH_TMP/r.first.old")"), cold $(ratio "$(median <"$BENCH_TMP/r.cold.new")" \
		"$(median <"$BENCH_TMP/r.cold.old")"); each cold feed byte-identical to its first"
	exit 0
fi
if [ "${FEEDS_ONLY:-}" != cached ]; then
# Renders of the whole set, each by a daemon just started (nothing in its
# memory), 3 rounds: first with nothing stored in vevent_texts (every
# event rendered, as after an upgrade or a bulk load), then
# cold with the VEVENTs that render stored. Then a new feed over events
# already in memory (5 feeds), and a feed after one of its events changed
# (5 changes).
restart() {
	kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
	bench_daemon --threads 2
}
: >"$BENCH_TMP/first"
: >"$BENCH_TMP/cold"
: >"$BENCH_TMP/held"
# The longest one query's callback held a worker's loop since the start, in
# ms: the rendering's share of the loop, whatever the database's.
held_ms() {
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		awk '/^liaison_db_callback_max_seconds/ { if ($2 > m) m = $2 } END { printf "%.1f\n", m * 1000 }'
}
for i in 1 2 3; do
	psql_b -c "TRUNCATE vevent_texts"
	restart
	p=$(feed_path '{"name": "all"}')
	curl -s -o "$BENCH_TMP/all.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/first"
	echo "first $(held_ms)" >>"$BENCH_TMP/held"
	for _ in $(seq 50); do # the write-back ends after the answer
		[ "$(psql_b -c "SELECT count(*) FROM vevent_texts")" -ge "$N" ] && break
		sleep 0.1
	done
	# As autovacuum would have done long before a real restart: without it
	# the cold read also pays for setting the new rows' hint bits once.
	psql_b -c "VACUUM ANALYZE vevent_texts"
	restart
	curl -s -o "$BENCH_TMP/all2.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/cold"
	echo "cold $(held_ms)" >>"$BENCH_TMP/held"
	cmp -s "$BENCH_TMP/all.ics" "$BENCH_TMP/all2.ics" || { echo "stored VEVENTs gave other bytes" >&2; exit 1; }
done
# Cold after a clean restart with feed_state_dir (api/feed_state.c): the
# rendering the stop saved is read back at the start, and the feed's first
# request splices what changed since (nothing here) instead of reading the
# list and the texts. Each answer compared with the first render's bytes.
: >"$BENCH_TMP/restarted"
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
bench_daemon --threads 2 --feed-state-dir "$BENCH_TMP/state"
curl -sf -o /dev/null "http://127.0.0.1:$PORT$p"
for i in 1 2 3 4 5; do
	kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
	bench_daemon --threads 2 --feed-state-dir "$BENCH_TMP/state"
	curl -s -o "$BENCH_TMP/all3.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/restarted"
	cmp -s "$BENCH_TMP/all.ics" "$BENCH_TMP/all3.ics" || { echo "a saved rendering gave other bytes" >&2; exit 1; }
done
# Cold after a crash (kill -9: nothing saved at a stop): the rendering
# saved while running (feed_state_every, 1s here) is read back instead.
: >"$BENCH_TMP/crashed"
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
for i in 1 2 3 4 5; do
	bench_daemon --threads 2 --feed-state-dir "$BENCH_TMP/state" --feed-state-every 1s
	touch "$BENCH_TMP/mark"
	if [ "$i" -gt 1 ]; then
		curl -s -o "$BENCH_TMP/all3.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/crashed"
		cmp -s "$BENCH_TMP/all.ics" "$BENCH_TMP/all3.ics" || { echo "a rendering saved while running gave other bytes" >&2; exit 1; }
	else
		curl -sf -o /dev/null "http://127.0.0.1:$PORT$p"
	fi
	for _ in $(seq 100); do
		[ -n "$(find "$BENCH_TMP/state" -name '*.feed' -newer "$BENCH_TMP/mark")" ] && break
		sleep 0.1
	done
	kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
done
bench_daemon --threads 2 --feed-state-dir "$BENCH_TMP/state" --feed-state-every 1s
curl -s -o "$BENCH_TMP/all3.ics" -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/crashed"
cmp -s "$BENCH_TMP/all.ics" "$BENCH_TMP/all3.ics" || { echo "a rendering saved while running gave other bytes" >&2; exit 1; }
crashed=$(median <"$BENCH_TMP/crashed")
# The rest with the saver's default period (30s), as deployed.
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true
bench_daemon --threads 2 --feed-state-dir "$BENCH_TMP/state"
restarted=$(median <"$BENCH_TMP/restarted")
first=$(median <"$BENCH_TMP/first")
cold=$(median <"$BENCH_TMP/cold")
held_first=$(awk '$1 == "first" { print $2 }' "$BENCH_TMP/held" | sort -n | tail -1)
held_cold=$(awk '$1 == "cold" { print $2 }' "$BENCH_TMP/held" | sort -n | tail -1)
: >"$BENCH_TMP/newfeed"
for i in 1 2 3 4 5; do
	p=$(feed_path '{"name": "all"}')
	curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/newfeed"
done
newfeed=$(median <"$BENCH_TMP/newfeed")
: >"$BENCH_TMP/changed"
some_id=$(psql_b -c "SELECT id FROM events ORDER BY start_utc LIMIT 1")
for i in 1 2 3 4 5; do
	api -X PATCH -d "{\"title\": \"Changed $i\"}" "http://127.0.0.1:$PORT/v1/events/$some_id" >/dev/null
	curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$p" >>"$BENCH_TMP/changed"
done
changed=$(median <"$BENCH_TMP/changed")
vevents=$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/all.ics")

# Radicale with the same events as a calendar collection (one item each,
# split from liaisond's feed with python3-icalendar).
col="$BENCH_TMP/radicale/collection-root/bench/cal"
mkdir -p "$col"
printf '{"tag": "VCALENDAR"}' >"$col/.Radicale.props"
/usr/bin/python3 - "$BENCH_TMP/all.ics" "$col" <<'PY'
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
zones = {str(z["TZID"]): z for z in cal.walk("VTIMEZONE")}
for i, ev in enumerate(cal.walk("VEVENT")):
    item = icalendar.Calendar()
    item.add("VERSION", "2.0")
    item.add("PRODID", "-//bench//EN")
    tzid = ev["DTSTART"].params.get("TZID")
    if tzid in zones:
        item.add_component(zones[tzid])
    item.add_component(ev)
    open(f"{sys.argv[2]}/item{i}.ics", "wb").write(item.to_ical())
PY
RPORT=$(free_port)
cat >"$BENCH_TMP/radicale.conf" <<CONF
[server]
hosts = 127.0.0.1:$RPORT
[auth]
type = none
[rights]
type = authenticated
[storage]
filesystem_folder = $BENCH_TMP/radicale
[logging]
level = warning
CONF
radicale --config "$BENCH_TMP/radicale.conf" >"$BENCH_TMP/radicale.log" 2>&1 &
RAD_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && break; sleep 0.1; done
: >"$BENCH_TMP/rad"
for i in 1 2 3 4 5; do
	curl -s -u bench:x -o "$BENCH_TMP/rad.ics" -w '%{time_total}\n' \
		"http://127.0.0.1:$RPORT/bench/cal/" >>"$BENCH_TMP/rad"
done
rad=$(median <"$BENCH_TMP/rad")
rad_vevents=$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/rad.ics" || true)

fi

# The small feed from memory beside nginx with the same bytes: nginx's own
# defaults (sendfile off) on NPORT; Debian's nginx.conf (sendfile on,
# tcp_nopush on) on SPORT, where gzip_static serves the gzip bytes liaisond
# sends, so both sides send the same bytes either way.
small=$(feed_path '{"name": "small", "filter": {"tags": ["small"]}}')
curl -sf -o "$BENCH_TMP/small.ics" "http://127.0.0.1:$PORT$small"
curl -sf -H 'Accept-Encoding: gzip' -o "$BENCH_TMP/small.ics.gz" "http://127.0.0.1:$PORT$small"
gzip -dc "$BENCH_TMP/small.ics.gz" | cmp -s - "$BENCH_TMP/small.ics" ||
	{ echo "the gzipped feed is not the feed" >&2; exit 1; }
small_vevents=$(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/small.ics")
NPORT=$(free_port)
SPORT=$(free_port)
mkdir -p "$BENCH_TMP/nginx/www"
cp "$BENCH_TMP/small.ics" "$BENCH_TMP/small.ics.gz" "$BENCH_TMP/nginx/www/"
cat >"$BENCH_TMP/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { text/calendar ics; }
  server { listen 127.0.0.1:$NPORT; root $BENCH_TMP/nginx/www; etag on; }
  server { listen 127.0.0.1:$SPORT; root $BENCH_TMP/nginx/www; etag on;
           sendfile on; tcp_nopush on; gzip_static on; }
}
CONF
nginx -c "$BENCH_TMP/nginx/nginx.conf" -p "$BENCH_TMP/nginx"
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$SPORT/small.ics" && break; sleep 0.1; done
[ "$(curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$SPORT/small.ics" | cmp - "$BENCH_TMP/small.ics.gz" && echo same)" = same ] ||
	{ echo "nginx's gzip_static does not send liaisond's gzip bytes" >&2; exit 1; }
# wrk_rate of one run: name, url, then wrk's own options.
# Also the TCP segments sent per answer (nstat, the whole machine's: a
# server that pushes smaller segments makes the client wake and
# acknowledge more often, which costs CPU on the cores they share).
wrk_run() {
	name=$1 url=$2
	shift 2
	nstat -n 2>/dev/null || true
	wrk -t2 -c"$CONNS" -d"${SECS}s" "$@" "$url" >"$BENCH_TMP/$name.out"
	segs=$(nstat TcpOutSegs 2>/dev/null | awk '$1 == "TcpOutSegs" { print $2 }')
	wrk_all_ok "$BENCH_TMP/$name.out"
	wrk_rate <"$BENCH_TMP/$name.out" >>"$BENCH_TMP/$name.rates"
	awk -v s="${segs:-0}" '/ requests in / { if ($1 > 0) printf "%.1f\n", s / $1 }' \
		"$BENCH_TMP/$name.out" >>"$BENCH_TMP/$name.segs"
}
ROUNDS=${FEEDS_ROUNDS:-5}
for _ in $(seq "$ROUNDS"); do
	wrk_run l "http://127.0.0.1:$PORT$small"
	wrk_run n "http://127.0.0.1:$NPORT/small.ics"
	wrk_run s "http://127.0.0.1:$SPORT/small.ics"
	wrk_run lz "http://127.0.0.1:$PORT$small" -H 'Accept-Encoding: gzip'
	wrk_run sz "http://127.0.0.1:$SPORT/small.ics" -H 'Accept-Encoding: gzip'
done
l_rps=$(median <"$BENCH_TMP/l.rates")
n_rps=$(median <"$BENCH_TMP/n.rates")
s_rps=$(median <"$BENCH_TMP/s.rates")
lz_rps=$(median <"$BENCH_TMP/lz.rates")
sz_rps=$(median <"$BENCH_TMP/sz.rates")
# The median of the rounds' ratios of a to b, and the ratios in order.
paired() { paste "$BENCH_TMP/$1.rates" "$BENCH_TMP/$2.rates" | awk '{ printf "%.2f\n", $1 / $2 }' >"$BENCH_TMP/$1$2.pairs"; }
pairs() { echo "$(median <"$BENCH_TMP/$1$2.pairs") (rounds: $(tr '\n' ' ' <"$BENCH_TMP/$1$2.pairs" | sed 's/ $//'))"; }
paired l n
paired l s
paired lz sz

# RSS with 100 feeds of N/10 events cached (each fetched once per thread).
# Bodies kept in files (sendfile: memfds, or unnamed files of
# feed_file_dir) are memory too, though not RSS.
memfd_kib() {
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in /memfd:*|*/\#*" (deleted)") stat -L -c %s "$f" ;; esac
	done | awk '{ s += $1 } END { printf "%d\n", s / 1024 }'
}
rss0=$(rss_kib "$DAEMON_PID")
files0=$(memfd_kib "$DAEMON_PID")
for i in $(seq 100); do
	p=$(feed_path "{\"name\": \"f$i\", \"filter\": {\"tags\": [\"small\"]}}")
	curl -sf -o /dev/null "http://127.0.0.1:$PORT$p"
	curl -sf -o /dev/null "http://127.0.0.1:$PORT$p"
done
rss100=$(rss_kib "$DAEMON_PID")
files100=$(memfd_kib "$DAEMON_PID")

echo "feeds: $N events, 2 cores shared by everything"
if [ "${FEEDS_ONLY:-}" != cached ]; then
	echo "  feed of all ($vevents VEVENTs, $(wc -c <"$BENCH_TMP/all.ics") bytes), time to the last byte:"
	echo "    first render (just started, nothing stored: every event rendered): ${first}s (median of 3)"
	echo "    cold (just started, VEVENTs stored by an earlier render): ${cold}s (median of 3)"
	echo "    cold after a clean restart, its rendering saved (feed_state_dir): ${restarted}s (median of 5)"
	echo "    cold after a crash (kill -9), its rendering saved while running (feed_state_every): ${crashed}s (median of 5)"
	echo "    longest the loop was held by one query's callback: first render ${held_first} ms," \
		"cold ${held_cold} ms (max of 3 each)"
	echo "    a new feed over events rendered before: ${newfeed}s; after one event changed: ${changed}s (medians of 5)"
	echo "  Radicale GET of the same collection ($rad_vevents VEVENTs): ${rad}s (median of 5);" \
		"liaisond is $(ratio "$rad" "$cold") times faster cold, $(ratio "$rad" "$restarted") times" \
		"cold after a clean restart, $(ratio "$rad" "$crashed") times after a crash," \
		"$(ratio "$rad" "$first") times on a first render"
fi
echo "  from memory, $small_vevents VEVENTs ($(wc -c <"$BENCH_TMP/small.ics") bytes), $CONNS connections," \
	"medians of $ROUNDS rounds; ratio: the median of the rounds' own:"
echo "    plain: liaisond $l_rps/s, nginx (sendfile off) $n_rps/s, ratio $(pairs l n)"
echo "    plain: liaisond $l_rps/s, nginx (sendfile on) $s_rps/s, ratio $(pairs l s)"
echo "    gzip ($(wc -c <"$BENCH_TMP/small.ics.gz") bytes): liaisond $lz_rps/s," \
	"nginx (gzip_static, sendfile on) $sz_rps/s, ratio $(pairs lz sz)"
echo "    TCP segments an answer (medians): plain liaisond $(median <"$BENCH_TMP/l.segs")," \
	"nginx sendfile on $(median <"$BENCH_TMP/s.segs"); gzip liaisond $(median <"$BENCH_TMP/lz.segs")," \
	"nginx $(median <"$BENCH_TMP/sz.segs")"
echo "  RSS: $((rss0 / 1024)) MiB before, $((rss100 / 1024)) MiB with 100 more feeds cached;" \
	"in memory files besides: $((files0 / 1024)) MiB before, $((files100 / 1024)) MiB after"
