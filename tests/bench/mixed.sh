#!/bin/sh
# A mixed load (issue 19): CLIENTS clients on two liaisond instances that
# share one database, about 5,000 events in three orgs (a tenth of them
# weekly series), for SECONDS: 30 % creates, 25 % patches, cancels and
# restores, 24 % conditional feed fetches (If-None-Match), 10 % one-year
# /v1/occurrences?limit=200, 11 % reads by id. Prints each route's p50 and
# p99 alone (one client, a few seconds each) and under the mix, and the
# errors; a route whose writes queue behind renders and expansions on the
# same loops shows it in the mix's p99. The creates grow the feeds (from
# about 3 MB to 12 MB in 150 s: every org's feed shows every event), and a
# whole feed's time follows its size, so the mix's feed answers are also
# shown by third of the mix with their mean size.
#   tests/bench/mixed.sh BIN [SECONDS] [CLIENTS] [OTHER_BIN [ROUNDS]]
# With OTHER_BIN (an older build, say), the two take turns on the same
# data, OTHER_BIN first, ROUNDS times each (3 by default), and the medians
# of each route's mixed p50 and p99 over the rounds end the output. Each
# mix also says the CPU its two instances and PostgreSQL used: a closed
# loop keeps the cores busy, so each route's wait follows the CPU of all.
# RATE=N (requests a second over all clients) makes the mix an open loop:
# requests start on a fixed schedule whatever the answers, and each is
# timed from when it was due to start, so a stall shows in the p99 of all
# that queued behind it (a closed loop of CLIENTS on two shared cores
# only slows down, and hides it). CLIENTS then bounds requests in flight.
# PGSS=1 also prints, after each mix, the statements that took the most
# of PostgreSQL's time in it (pg_stat_statements: calls, execution and
# planning ms, share of both).
set -eu
BIN=$(realpath "$1")
SECS=${2:-60}
CLIENTS=${3:-8}
OTHER=${4:+$(realpath "$4")}
ROUNDS=${5:-3}
. "$(dirname "$0")/lib.sh"
[ -z "${PGSS:-}" ] || export PGCLUSTER_OPTS="${PGCLUSTER_OPTS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"

bench_cluster
bench_org
"$BIN" --database "$DB" migrate >/dev/null
for slug in busan-city cabc; do
	"$BIN" --database "$DB" org create "$slug" --name "$slug" --timezone Asia/Seoul >/dev/null
done
TOKENS="$TOKEN $("$BIN" --database "$DB" key create busan-city --role admin) $("$BIN" --database "$DB" key create cabc --role admin)"
psql_b() { "$PGBIN/psql" -X -q -tA -d "$DB" "$@"; }
psql_b -c "INSERT INTO events (org_id, uid, kind, title, location, timezone, start_local, end_local,
    start_utc, end_utc, last_end_utc, rrule, partners)
  SELECT o.id, 'mixed-' || g || '@bench', (ARRAY['visit','meeting','festival','deadline'])[1 + g % 4],
    'Mixed load item ' || g, 'Room ' || (g % 40), o.timezone, s, s + interval '1 hour',
    s AT TIME ZONE o.timezone, (s + interval '1 hour') AT TIME ZONE o.timezone,
    CASE WHEN g % 10 = 0 THEN (s + interval '51 weeks 1 hour') AT TIME ZONE o.timezone
         ELSE (s + interval '1 hour') AT TIME ZONE o.timezone END,
    CASE WHEN g % 10 = 0 THEN 'FREQ=WEEKLY;COUNT=52' END,
    CASE WHEN g % 3 = 0 THEN ARRAY['busan-city'] ELSE '{}' END
  FROM orgs o, (SELECT g, date_trunc('hour', localtimestamp) + (g % 360) * interval '1 day'
                                                     + (g % 9) * interval '1 hour' AS s
                  FROM generate_series(1, 5000) g) x
  WHERE o.slug = (ARRAY['hcmc-dost','busan-city','cabc'])[1 + x.g % 3]"
psql_b -c "VACUUM ANALYZE events"
PID1=
trap 'kill $PID1 2>/dev/null || true; bench_cleanup' EXIT INT TERM

cat >"$BENCH_TMP/mix.py" <<'PY'
import http.client, json, os, random, sys, threading, time

label, ports = sys.argv[1], [int(sys.argv[2]), int(sys.argv[3])]
rate = float(os.environ.get("RATE") or 0)
secs, clients, tokens = float(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]
rnd = random.Random(7)


def req(port, method, path, token=None, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    t0 = time.monotonic()
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, time.monotonic() - t0, data, r.getheader("ETag")
    except OSError:
        return None, time.monotonic() - t0, b"", None
    finally:
        c.close()


feeds = []
for t in tokens:
    s, _, data, _ = req(ports[0], "POST", "/v1/feeds", t, {"name": "mixed"})
    feeds.append(json.loads(data)["url"].split("/feeds/")[1])
ids = {t: [] for t in tokens}
for t, slug in zip(tokens, ["hcmc-dost", "busan-city", "cabc"]):
    s, _, data, _ = req(ports[0], "GET", f"/v1/events?org={slug}&limit=500", t)
    ids[t] = [e["id"] for e in json.loads(data)["items"]]
lock = threading.Lock()
sizes = []  # (when, seconds, bytes) of each whole feed sent in a mix
day = lambda n: time.strftime("%Y-%m-%d", time.gmtime(time.time() + n * 86400))  # noqa


def op(kind, port, token, feed, etags):
    if kind == "create":
        n = rnd.randrange(1, 300)
        s, dt, data, _ = req(port, "POST", "/v1/events", token, {
            "kind": "meeting", "title": f"Mixed create {n}", "location": f"Room {n % 40}",
            "start": f"{day(n)}T10:00:00", "end": f"{day(n)}T11:00:00"})
        if s == 201:
            with lock:
                ids[token].append(json.loads(data)["id"])
        return "write", s if s != 201 else None, dt
    if kind == "patch":
        with lock:
            i = rnd.choice(ids[token])
        body = rnd.choice([{"title": f"Renamed {rnd.randrange(10**6)}"},
                           {"status": "cancelled"}, {"status": "confirmed"}])
        s, dt, _, _ = req(port, "PATCH", f"/v1/events/{i}", token, body)
        return "write", s if s != 200 else None, dt
    if kind == "feed":
        s, dt, data, tag = req(port, "GET", f"/feeds/{feed}",
                               headers={"If-None-Match": etags.get(feed, '"none"')})
        if tag:
            etags[feed] = tag
        if s == 200:
            with lock:
                sizes.append((time.monotonic(), dt, len(data)))
        return "feed", s if s not in (200, 304) else None, dt
    if kind == "occurrences":
        s, dt, _, _ = req(port, "GET", f"/v1/occurrences?from={day(0)}&to={day(365)}&limit=200",
                          token)
        return "occurrences", s if s != 200 else None, dt
    with lock:
        i = rnd.choice(ids[token])
    s, dt, _, _ = req(port, "GET", f"/v1/events/{i}", token)
    return "read", s if s != 200 else None, dt


WEIGHTS = [("create", 30), ("patch", 25), ("feed", 24), ("occurrences", 10), ("read", 11)]
KINDS = [k for k, w in WEIGHTS for _ in range(w)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")


def run(seconds, n, kinds):
    out, errors = {}, {}
    stop = time.monotonic() + seconds

    def client(c):
        etags = {}
        token, feed, port = tokens[c % 3], feeds[c % 3], ports[c % 2]
        while time.monotonic() < stop:
            route, bad, dt = op(rnd.choice(kinds), port, token, feed, etags)
            with lock:
                out.setdefault(route, []).append(dt)
                if bad is not None or dt < 0:
                    errors.setdefault(route, {})
                    errors[route][bad] = errors[route].get(bad, 0) + 1

    def due(c):
        """Open loop: request i is due at start + i / rate, whoever sends
        it; its time counts from then (a late start is the server's wait)."""
        etags = {}
        while True:
            with lock:
                i = sent[0]
                sent[0] += 1
            at = start + i / rate
            if at >= stop:
                return
            time.sleep(max(0.0, at - time.monotonic()))
            token, feed, port = tokens[i % 3], feeds[i % 3], ports[i % 2]
            route, bad, dt = op(rnd.choice(kinds), port, token, feed, etags)
            dt = time.monotonic() - at
            with lock:
                out.setdefault(route, []).append(dt)
                if bad is not None:
                    errors.setdefault(route, {})
                    errors[route][bad] = errors[route].get(bad, 0) + 1

    sent, start = [0], time.monotonic()
    open_loop = rate > 0 and len(kinds) > 1
    ts = [threading.Thread(target=due if open_loop else client, args=(c,)) for c in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out, errors


def cpu_s(pid):
    """CPU seconds used by pid (all its threads), its children that exited
    and those alive (PostgreSQL's backends)."""
    def stat(p):
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()
    t, fs = 0, stat(pid)
    t += sum(int(x) for x in fs[11:15])
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and stat(p)[1] == str(pid):
                t += sum(int(x) for x in stat(p)[11:13])
        except (OSError, IndexError):
            pass
    return t / os.sysconf("SC_CLK_TCK")


alone = {}
for kind in ["create", "patch", "feed", "occurrences", "read"]:
    out, _ = run(3, 1, [kind])
    for route, xs in out.items():
        alone.setdefault(route, []).extend(xs)
pids = [int(p) for p in os.environ.get("MIX_PIDS", "").split()]
cpu0, t0 = [cpu_s(p) for p in pids], time.monotonic()
del sizes[:]
mixed, errors = run(secs, clients, KINDS)
cpu = [cpu_s(p) - c for p, c in zip(pids, cpu0)]
wall = time.monotonic() - t0
loop = (f"{rate:.0f} requests/s due (open loop, at most {clients} in flight)" if rate
        else f"{clients} clients")
print(f"mixed ({label}): {loop} on 2 instances, {secs:.0f} s, 3 orgs, 5,000 events "
      f"(30 % creates, 25 % patches/cancels/restores, 24 % conditional feeds, "
      f"10 % one-year occurrences, 11 % reads)")
print(f"  {'route':12} {'alone p50':>10} {'alone p99':>10} {'mixed p50':>10} {'mixed p99':>10} "
      f"{'requests':>9}  errors")
for route in ["write", "feed", "occurrences", "read"]:
    a, m = alone.get(route, []), mixed.get(route, [])
    print(f"  {route:12} {pct(a, .5):9.1f}ms {pct(a, .99):9.1f}ms {pct(m, .5):9.1f}ms "
          f"{pct(m, .99):9.1f}ms {len(m):9d}  {errors.get(route, {}) or 0}")
    with open(sys.argv[0] + ".figures", "a") as f:
        f.write(f"{label} {route} {pct(m, .5):.1f} {pct(m, .99):.1f}\n")
# The feeds grow as the mix creates events (a faster daemon creates more),
# and a whole feed's time follows its size: each third of the mix apart.
if sizes:
    third = [[x for x in sizes if t0 + k * wall / 3 <= x[0] < t0 + (k + 1) * wall / 3]
             for k in range(3)]
    print("  whole feeds by third of the mix: " + "; ".join(
        f"{sum(x[2] for x in xs) / len(xs) / 1e6:.1f} MB p50 {pct([x[1] for x in xs], .5):.1f}"
        f" p99 {pct([x[1] for x in xs], .99):.1f} ms" for xs in third if xs))
if len(cpu) == 3:
    n = sum(len(xs) for xs in mixed.values())
    print(f"  CPU in the mix: liaisond {cpu[0] + cpu[1]:.1f} s, PostgreSQL {cpu[2]:.1f} s "
          f"in {wall:.1f} s on {os.cpu_count()} cores; "
          f"{1000 * (cpu[0] + cpu[1]) / n:.2f} + {1000 * cpu[2] / n:.2f} ms a request")
    with open(sys.argv[0] + ".figures", "a") as f:
        f.write(f"{label} cpu {1000 * (cpu[0] + cpu[1]) / n:.2f} {1000 * cpu[2] / n:.2f}\n")
PY

# Two instances of $1, the load, and the figures labelled $2.
run_mix() {
	BIN=$1
	bench_daemon --threads 2
	PORT1=$PORT
	PID1=$DAEMON_PID
	bench_daemon --threads 2
	PORT2=$PORT
	[ -z "${PGSS:-}" ] || psql_b -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
		-c "SELECT pg_stat_statements_reset()" >/dev/null
	MIX_PIDS="$PID1 $DAEMON_PID $(pg_pid)" \
		/usr/bin/python3 "$BENCH_TMP/mix.py" "$2" "$PORT1" "$PORT2" "$SECS" "$CLIENTS" $TOKENS
	[ -z "${PGSS:-}" ] || psql_b -F ' | ' -c "SELECT calls, round(total_exec_time) AS ms,
	    round(total_plan_time) AS plan_ms,
	    round(100 * (total_exec_time + total_plan_time)
	          / sum(total_exec_time + total_plan_time) OVER ()) AS pct,
	    regexp_replace(left(query, 80), '\s+', ' ', 'g')
	  FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 12" |
		sed 's/^/  pgss: /'
	kill "$PID1" "$DAEMON_PID"
	wait "$PID1" "$DAEMON_PID" 2>/dev/null || true
	PID1=
	DAEMON_PID=
}

if [ -z "$OTHER" ]; then
	run_mix "$BIN" "$(basename "$(dirname "$BIN")")/$(basename "$BIN")"
	exit 0
fi
NEW=$BIN
for r in $(seq "$ROUNDS"); do
	run_mix "$OTHER" "other"
	run_mix "$NEW" "this"
done
echo "medians over $ROUNDS rounds of each (mixed p50 / p99, ms):"
awk '{ k = $1 " " $2; n[k]++; p50[k, n[k]] = $3; p99[k, n[k]] = $4 }
	function med(a, k, c,   i, j, t, v) {
		for (i = 1; i <= c; i++) v[i] = a[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++)
			if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		return v[int((c + 1) / 2)]
	}
	END {
		split("write feed occurrences read", routes, " ")
		for (i = 1; i <= 4; i++) {
			a = "other " routes[i]; b = "this " routes[i]
			printf "  %-12s other %7.1f / %7.1f   this %7.1f / %7.1f\n", routes[i],
			       med(p50, a, n[a]), med(p99, a, n[a]), med(p50, b, n[b]), med(p99, b, n[b])
		}
		a = "other cpu"; b = "this cpu"
		if (n[a] && n[b])
			printf "  CPU a request, liaisond + PostgreSQL (ms): other %.2f + %.2f   this %.2f + %.2f\n",
			       med(p50, a, n[a]), med(p99, a, n[a]), med(p50, b, n[b]), med(p99, b, n[b])
	}' "$BENCH_TMP/mix.py.figures"
