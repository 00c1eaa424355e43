#!/bin/sh
# A feed rendered again after each change: N events (10,000 by default) in
# one feed; ITER times a PATCH of one event then a GET of the feed, whose
# list is spliced (api/feed_list.h) and whose body is assembled again. Says
# the daemon's CPU per PATCH and render (the figure: the PATCH is a small
# share) and the GET's p50 and p90, the median over ROUNDS rounds.
#   tests/bench/feed_splice.sh BIN [OTHER_BIN [N [ITER [ROUNDS]]]]
# With OTHER_BIN the two take turns on the same data, in the order ABBA
# (whichever runs first in a round came out slower here), and the ratio
# of their CPU ends the output.
set -eu
ONE=$(realpath "$1")
OTHER=$(realpath "${2:-$1}")
BIN=$ONE
N=${3:-10000}
ITER=${4:-200}
ROUNDS=${5:-4}
. "$(dirname "$0")/lib.sh"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_cluster
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
bench_org
bench_feed_events "$N" splice
psql_b -c "SELECT id FROM events ORDER BY random() LIMIT $ITER" >"$BENCH_TMP/ids"

cat >"$BENCH_TMP/loop.py" <<'PY'
import http.client, json, sys, time
port, path, token, idf, pid, label = sys.argv[1:]
ids = open(idf).read().split()
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
c = http.client.HTTPConnection("127.0.0.1", int(port))
auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
took, t0 = [], ticks()
for i, e in enumerate(ids):
    c.request("PATCH", f"/v1/events/{e}", json.dumps({"title": f"Changed {label} {i}"}), auth)
    r = c.getresponse(); r.read(); assert r.status == 200, r.status
    s = time.perf_counter()
    c.request("GET", path); r = c.getresponse(); r.read(); assert r.status == 200, r.status
    took.append(time.perf_counter() - s)
took.sort()
print(f"{(ticks() - t0) * 10.0 / len(ids):.3f} {took[len(took) // 2] * 1000:.3f} "
      f"{took[int(len(took) * 0.9)] * 1000:.3f}")
PY
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
# One round of binary $1, its figures appended to $BENCH_TMP/$2.
round() {
	BIN=$1
	bench_daemon --threads 2
	p=$(api -d '{"name": "all"}' "http://127.0.0.1:$PORT/v1/feeds" |
		/usr/bin/python3 -c 'import sys, json; u = json.load(sys.stdin)["url"]; print(u[u.index("/feeds/"):])')
	curl -sf -o "$BENCH_TMP/feed.ics" "http://127.0.0.1:$PORT$p"
	/usr/bin/python3 "$BENCH_TMP/loop.py" "$PORT" "$p" "$TOKEN" "$BENCH_TMP/ids" "$DAEMON_PID" \
		"$2$r" >>"$BENCH_TMP/$2"
	kill "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
}
: >"$BENCH_TMP/a"
: >"$BENCH_TMP/b"
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		round "$ONE" a
		[ "$OTHER" = "$ONE" ] || round "$OTHER" b
	else
		[ "$OTHER" = "$ONE" ] || round "$OTHER" b
		round "$ONE" a
	fi
done
col() { awk -v c="$2" '{ print $c }' "$BENCH_TMP/$1" | median; }
echo "feed_splice: a feed of $N events ($(grep -c '^BEGIN:VEVENT' "$BENCH_TMP/feed.ics") VEVENTs," \
	"$(wc -c <"$BENCH_TMP/feed.ics") bytes) rendered again after each of $ITER PATCHes, medians of $ROUNDS rounds:"
echo "  $1: daemon CPU $(col a 1) ms a PATCH and render; GET p50 $(col a 2) ms, p90 $(col a 3) ms"
if [ "$OTHER" != "$ONE" ]; then
	echo "  $2: daemon CPU $(col b 1) ms a PATCH and render; GET p50 $(col b 2) ms, p90 $(col b 3) ms"
	echo "  CPU ratio $1 / $2: $(ratio "$(col a 1)" "$(col b 1)")"
fi
