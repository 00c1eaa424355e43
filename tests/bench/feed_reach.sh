#!/bin/sh
# Feeds while another org writes its private events (issue 19, sql/020):
# two instances of a build share a database of 5,000 network events in
# three orgs; on instance A one client patches CABC's private events as
# fast as it is answered, while on instance B four clients fetch the
# feeds of the two other orgs (If-None-Match), which no such write can
# change, for SECONDS. Prints B's feed p50/p99, the renderings B made
# (VEVENTs assembled / events per feed) and the writes' p50/p99. With
# OTHER_BIN the two builds take turns, OTHER_BIN first, each on a database
# of its own (an older build refuses a newer schema), ROUNDS times.
#   tests/bench/feed_reach.sh BIN [SECONDS] [OTHER_BIN [ROUNDS]]
set -eu
BIN=$(realpath "$1")
THIS=$BIN
SECS=${2:-20}
OTHER=${3:+$(realpath "$3")}
ROUNDS=${4:-3}
. "$(dirname "$0")/lib.sh"

bench_cluster
PIDS=
trap 'kill $PIDS 2>/dev/null || true; bench_cleanup' EXIT INT TERM
psql_in() { "$PGBIN/psql" -X -q -tA -d "host=$SOCK user=liaison dbname=$1" -c "$2"; }

# A database for build $1 named $2: the orgs, keys, the events.
make_db() {
	psql_in postgres "CREATE DATABASE $2"
	D="host=$SOCK user=liaison dbname=$2"
	"$1" --database "$D" migrate >/dev/null 2>&1
	"$1" --database "$D" org create hcmc-dost --name "HCMC DOST" --host \
		--timezone Asia/Ho_Chi_Minh >/dev/null
	for slug in busan-city cabc; do
		"$1" --database "$D" org create "$slug" --name "$slug" --timezone Asia/Seoul >/dev/null
	done
	psql_in "$2" "INSERT INTO events (org_id, uid, kind, title, location, timezone, start_local,
	    end_local, start_utc, end_utc, last_end_utc, visibility)
	  SELECT o.id, 'reach-' || g || '@bench', 'meeting', 'Reach item ' || g, 'Room ' || (g % 40),
	    o.timezone, s, s + interval '1 hour', s AT TIME ZONE o.timezone,
	    (s + interval '1 hour') AT TIME ZONE o.timezone,
	    (s + interval '1 hour') AT TIME ZONE o.timezone,
	    CASE WHEN o.slug = 'cabc' AND g % 2 = 0 THEN 'private' ELSE 'network' END
	  FROM orgs o, (SELECT g, date_trunc('hour', localtimestamp) + (g % 360) * interval '1 day' AS s
	                  FROM generate_series(1, 5000) g) x
	  WHERE o.slug = (ARRAY['hcmc-dost','busan-city','cabc'])[1 + x.g % 3]"
	psql_in "$2" "VACUUM ANALYZE events"
}

cat >"$BENCH_TMP/reach.py" <<'PY'
import http.client, json, re, sys, threading, time

label, pa, pb, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
host, busan, cabc = sys.argv[5:8]


def req(port, method, path, token=None, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    t0 = time.monotonic()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, time.monotonic() - t0, data, r.getheader("ETag")


def assembled(port):
    body = req(port, "GET", "/metrics")[2]
    return sum(int(m) for m in re.findall(rb"^liaison_feed_vevents_\w+_total (\d+)$", body, re.M))


feeds = [json.loads(req(pa, "POST", "/v1/feeds", t, {"name": "reach"})[2])["url"].split("/feeds/")[1]
         for t in (host, busan)]
mine = [e["id"] for e in json.loads(req(pa, "GET", "/v1/events?org=cabc&limit=500", cabc)[2])["items"]
        if e["visibility"] == "private"]
sizes = [req(pb, "GET", f"/feeds/{f}")[2].count(b"BEGIN:VEVENT") for f in feeds]
time.sleep(1)
stop = time.monotonic() + secs
lat, wlat, lock = [], [], threading.Lock()
n0 = assembled(pb)


def reader(c):
    tags, f = {}, feeds[c % 2]
    while time.monotonic() < stop:
        s, dt, _, tag = req(pb, "GET", f"/feeds/{f}", headers={"If-None-Match": tags.get(f, '"x"')})
        assert s in (200, 304), s
        tags[f] = tag or tags.get(f)
        with lock:
            lat.append(dt)
        time.sleep(max(0, 0.01 - dt))  # paced: as many fetches for either build


def writer():
    i = 0
    while time.monotonic() < stop:
        s, dt, _, _ = req(pa, "PATCH", f"/v1/events/{mine[i % len(mine)]}", cabc,
                          {"title": f"Private {i}"})
        assert s == 200, s
        wlat.append(dt)
        i += 1


ts = [threading.Thread(target=reader, args=(c,)) for c in range(4)] + [threading.Thread(target=writer)]
for t in ts:
    t.start()
for t in ts:
    t.join()
renders = (assembled(pb) - n0) / (sum(sizes) / 2)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000


print(f"{label:6} feeds on B: p50 {pct(lat, .5):7.1f} ms  p99 {pct(lat, .99):7.1f} ms  "
      f"{len(lat):6d} fetches, {renders:6.0f} renderings; private writes on A: "
      f"p50 {pct(wlat, .5):5.1f} ms  p99 {pct(wlat, .99):6.1f} ms  {len(wlat):5d}")
with open(sys.argv[0] + ".figures", "a") as f:
    f.write(f"{label} {pct(lat, .5):.1f} {pct(lat, .99):.1f} {renders:.0f} {pct(wlat, .99):.1f}\n")
PY

# Two instances of build $1 on database $2, the load labelled $3.
run_reach() {
	D="host=$SOCK user=liaison dbname=$2"
	T1=$("$1" --database "$D" key create hcmc-dost --role admin)
	T2=$("$1" --database "$D" key create busan-city --role admin)
	T3=$("$1" --database "$D" key create cabc --role admin)
	BIN=$1
	DB=$D
	bench_daemon --threads 2
	PA=$PORT
	PIDS="$DAEMON_PID"
	bench_daemon --threads 2
	PIDS="$PIDS $DAEMON_PID"
	/usr/bin/python3 "$BENCH_TMP/reach.py" "$3" "$PA" "$PORT" "$SECS" "$T1" "$T2" "$T3"
	kill $PIDS
	wait $PIDS 2>/dev/null || true
	PIDS=
	DAEMON_PID=
}

make_db "$THIS" reach_this
if [ -z "$OTHER" ]; then
	run_reach "$THIS" reach_this this
	exit 0
fi
make_db "$OTHER" reach_other
for r in $(seq "$ROUNDS"); do
	run_reach "$OTHER" reach_other other
	run_reach "$THIS" reach_this this
done
echo "medians over $ROUNDS rounds (feeds on B p50 / p99 ms, renderings; writes p99 ms):"
for l in other this; do
	awk -v l="$l" '$1 == l { n++; a[n] = $2; b[n] = $3; c[n] = $4; d[n] = $5 }
	function med(v, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		return v[int((n + 1) / 2)]
	}
	END { printf "  %-6s %7.1f / %7.1f  %6d renderings  writes p99 %6.1f\n", l, med(a, n), med(b, n), med(c, n), med(d, n) }' \
		"$BENCH_TMP/reach.py.figures"
done
