#!/bin/sh
# A frozen PostgreSQL (the frozen-database phase of abuse.sh): normal
# clients keep making requests (GET /v1/events?limit=10, a real query each)
# while the postmaster and every backend are stopped with SIGSTOP for
# FREEZE seconds, as a frozen host or a network partition would leave
# them; then SIGCONT. Prints, before and during the freeze, the clients'
# p50/p99/max latency and their answers (503s are expected, requests left
# without an answer are hangs), when /readyz said not ready, and how long
# after SIGCONT the API answered 200 again.
#   tests/bench/frozen_db.sh BIN [FREEZE_SECONDS] [CLIENTS] [liaisond flags...]
set -eu
BIN=$(realpath "$1")
FREEZE=${2:-20}
CLIENTS=${3:-4}
[ $# -ge 3 ] && shift 3 || shift $#
. "$(dirname "$0")/lib.sh"

bench_cluster
bench_org
bench_daemon "$@"
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"kind": "meeting", "title": "Frozen database bench", "start": "2027-05-04T09:00:00"}' \
	"http://127.0.0.1:$PORT/v1/events" >/dev/null

/usr/bin/python3 - "$PORT" "$TOKEN" "$BENCH_TMP/data" "$FREEZE" "$CLIENTS" <<'PY'
import http.client, os, signal, sys, threading, time

port, token, datadir, freeze, clients = sys.argv[1], sys.argv[2], sys.argv[3], \
    float(sys.argv[4]), int(sys.argv[5])
BEFORE, AFTER, HANG = 5.0, 10.0, 30.0   # seconds of baseline, of recovery; no answer by then
results = []                            # (start, latency, status or None)
lock = threading.Lock()
stop = threading.Event()


def ask(path, auth=True):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=HANG)
    try:
        c.request("GET", path, headers={"Authorization": f"Bearer {token}"} if auth else {})
        r = c.getresponse()
        r.read()
        return r.status
    except OSError:
        return None
    finally:
        c.close()


def client():
    while not stop.is_set():
        t0 = time.monotonic()
        status = ask("/v1/events?limit=10")
        with lock:
            results.append((t0, time.monotonic() - t0, status))
        if status != 200:
            time.sleep(0.05)  # a client backs off a little after an error


readyz = []


def prober():
    while not stop.is_set():
        t0 = time.monotonic()
        readyz.append((t0, ask("/readyz", auth=False), time.monotonic() - t0))
        time.sleep(0.25)


def pids():
    with open(os.path.join(datadir, "postmaster.pid")) as f:
        master = int(f.readline())
    out = [master]
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        out.append(int(e))
            except OSError:
                pass
    return out


def signal_all(sig):
    for p in pids():
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


threads = [threading.Thread(target=client) for _ in range(clients)]
threads.append(threading.Thread(target=prober))
for t in threads:
    t.start()
time.sleep(BEFORE)
t_stop = time.monotonic()
signal_all(signal.SIGSTOP)
try:
    time.sleep(freeze)
finally:
    t_cont = time.monotonic()
    signal_all(signal.SIGCONT)
time.sleep(AFTER)
stop.set()
for t in threads:
    t.join()


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def phase(name, lo, hi):
    rows = [r for r in results if lo <= r[0] < hi]
    lat = [r[1] for r in rows]
    ok = sum(1 for r in rows if r[2] == 200)
    s503 = sum(1 for r in rows if r[2] == 503)
    hung = sum(1 for r in rows if r[2] is None)
    other = len(rows) - ok - s503 - hung
    print(f"  {name:<28} requests {len(rows):5d}  200: {ok:5d}  503: {s503:5d}  "
          f"other: {other}  no answer: {hung}  p50 {pct(lat, .5) * 1000:7.1f} ms  "
          f"p99 {pct(lat, .99) * 1000:7.1f} ms  max {max(lat or [0]) * 1000:7.1f} ms")


print(f"frozen_db: PostgreSQL stopped (SIGSTOP) for {freeze:.0f} s, {clients} clients, "
      f"cores={os.cpu_count()}")
phase("before the freeze", 0, t_stop)
phase("during the freeze", t_stop, t_cont)
phase("after SIGCONT", t_cont, float("inf"))
not_ready = [r for r in readyz if t_stop <= r[0] < t_cont and r[1] == 503]
first_503 = min((r[0] + r[2] for r in not_ready), default=None)
print(f"  /readyz not ready after      "
      + (f"{first_503 - t_stop:.2f} s of the freeze" if first_503 else "never (!)"))
print(f"  /readyz answers, p99         {pct([r[2] for r in readyz], .99) * 1000:.1f} ms, "
      f"no answer: {sum(1 for r in readyz if r[1] is None)}")
back = [r for r in results if r[0] >= t_cont and r[2] == 200]
print("  recovery after SIGCONT       "
      + (f"{min(r[0] + r[1] for r in back) - t_cont:.2f} s to the first 200" if back
         else "none within the run (!)"))
late = [r for r in results if r[0] >= t_cont and r[2] != 200]
if back and late:
    print(f"                               {max(r[0] + r[1] for r in late) - t_cont:.2f} s "
          f"to the last error")
PY
echo "  liaisond log: $(grep -c 'did not answer within' "$BENCH_TMP/daemon.log" || true)" \
	"connections reset at the deadline, $(grep -c 'cancelled at its deadline' \
	"$BENCH_TMP/daemon.log" || true) statements cancelled by the server"
