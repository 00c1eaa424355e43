#!/bin/sh
# The daemon under hostile clients (issue 15). In one go, for SECONDS:
#  - slowloris: 1,000 connections, each sending a header line every 5 s
#    and never ending its head (reconnecting when cut off);
#  - 100 connections sending 4 MiB bodies with unknown tokens, again and
#    again (max_body is raised above 4 MiB so that only authentication
#    before the body stands between them and the daemon's memory);
#  - 600 idle connections (reconnecting when closed);
#  - a frozen PostgreSQL (SIGSTOP) through the middle third of it,
# with the daemon under a low descriptor limit (ulimit -n 512), while a
# normal client keeps making requests (a new connection each, GET
# /v1/events/{id} and /healthz in turn). Prints that client's latency (p50,
# p99, max) and errors beside a run of the same client without the abuse,
# what the attackers got, and the daemon's RSS before and after.
#   tests/bench/abuse.sh BIN [SECONDS]
set -eu
BIN=$(realpath "$1")
SECS=${2:-20}
NOFILE=${ABUSE_NOFILE:-512}
. "$(dirname "$0")/lib.sh"

bench_cluster
bench_org
"$BIN" --database "$DB" migrate >/dev/null

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(ulimit -n "$NOFILE" && exec "$BIN" --database "$DB" --listen "127.0.0.1:$PORT" --log-level warn \
	--rate-limit 0 --max-body 8388608) >"$BENCH_TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
	sleep 0.1
done
EVENT_ID=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{
  "kind": "visit", "title": "Busan city delegation at HCMC DOST",
  "start": "2027-08-21T14:00:00", "end": "2027-08-21T17:00:00"}' \
	"http://127.0.0.1:$PORT/v1/events" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

cat >"$BENCH_TMP/abuse.py" <<'PY'
import asyncio, base64, http.client, json, os, sys, threading, time

port, token, event, secs, mode = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
port = int(port)


def normal_client(stop, out):
    lat, errors, kinds = [], 0, {}
    paths = [f"/v1/events/{event}", "/healthz"]
    i = 0
    while not stop.is_set():
        path = paths[i % 2]
        i += 1
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path, headers={"Authorization": f"Bearer {token}",
                                            "Connection": "close"})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                errors += 1
                kinds[str(r.status)] = kinds.get(str(r.status), 0) + 1
        except Exception as e:
            errors += 1
            kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
        lat.append(time.monotonic() - t0)
        time.sleep(0.01)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
    out.update(requests=len(lat), errors=errors, error_kinds=kinds, p50_ms=round(q(0.50), 2),
               p99_ms=round(q(0.99), 2), max_ms=round(lat[-1] * 1000, 2) if lat else 0)


stats = {"slowloris_cut": 0, "slowloris_opened": 0, "idle_closed": 0, "idle_opened": 0,
         "body_answers": {}, "body_sent_mib": 0.0, "connect_errors": 0}


async def slowloris(deadline):
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(1)
            continue
        stats["slowloris_opened"] += 1
        try:
            w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            while time.monotonic() < deadline:
                await w.drain()
                try:
                    if await asyncio.wait_for(r.read(4096), 5) == b"":
                        break  # cut off
                    break  # answered (408 or 503): cut off too
                except asyncio.TimeoutError:
                    w.write(b"X-Slow: 1\r\n")
            else:
                w.close()
                return
            stats["slowloris_cut"] += 1
        except OSError:
            stats["slowloris_cut"] += 1
        w.close()


async def idle(deadline):
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(1)
            continue
        stats["idle_opened"] += 1
        try:
            left = deadline - time.monotonic()
            if left > 0 and await asyncio.wait_for(r.read(4096), left) == b"":
                stats["idle_closed"] += 1
        except (asyncio.TimeoutError, OSError):
            pass
        w.close()


async def body(deadline):
    chunk = b"x" * 65536
    while time.monotonic() < deadline:
        bad = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(1)
            continue
        status, reader = "none", None
        try:
            w.write((f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bad}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {4 << 20}\r\n\r\n").encode())
            reader = asyncio.ensure_future(r.read(4096))
            for _ in range(64):
                if reader.done():
                    break
                w.write(chunk)
                await w.drain()
                stats["body_sent_mib"] += 1 / 16
            head = await asyncio.wait_for(reader, 10)
            status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/1.1 ") else "closed"
        except (OSError, asyncio.TimeoutError, IndexError):
            status = "reset"
        finally:
            if reader:
                reader.cancel()
        stats["body_answers"][status] = stats["body_answers"].get(status, 0) + 1
        w.close()


async def attack(deadline):
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
    tasks = [slowloris(deadline) for _ in range(1000)] + [idle(deadline) for _ in range(600)] + \
            [body(deadline) for _ in range(100)]
    await asyncio.gather(*tasks, return_exceptions=True)


stop, out = threading.Event(), {}
t = threading.Thread(target=normal_client, args=(stop, out))
t.start()
if mode == "abuse":
    asyncio.run(attack(time.monotonic() + secs))
else:
    time.sleep(secs)
stop.set()
t.join()
if mode == "abuse":
    stats["body_sent_mib"] = round(stats["body_sent_mib"], 1)
    out["attackers"] = stats
print(json.dumps(out))
PY

rss() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$DAEMON_PID/status"; }

# The frozen PostgreSQL: the postmaster and every backend stopped with
# SIGSTOP (a frozen host, a network partition) through the middle third of
# the abuse window, then SIGCONT. The normal client's requests then get
# 503 with Retry-After within db_query_timeout (counted as errors below,
# none may hang); ABUSE_FREEZE_PG=0 leaves the database alone.
pg_signal() {
	pm=$(head -1 "$BENCH_TMP/data/postmaster.pid")
	kill -"$1" "$pm" $(pgrep -P "$pm") 2>/dev/null || :
}
freeze_pg() {
	[ "${ABUSE_FREEZE_PG:-1}" = 1 ] || return 0
	third=$((SECS / 3))
	(sleep "$third"; pg_signal STOP; sleep "$third"; pg_signal CONT) &
	FREEZER=$!
	echo "PostgreSQL frozen (SIGSTOP) from ${third}s to $((2 * third))s of the abuse run"
}
thaw_pg() {
	[ -n "${FREEZER:-}" ] || return 0
	wait "$FREEZER" 2>/dev/null || :
	pg_signal CONT
}

echo "liaisond under ulimit -n $NOFILE; $SECS s per run"
quiet=$(/usr/bin/python3 "$BENCH_TMP/abuse.py" "$PORT" "$TOKEN" "$EVENT_ID" "$SECS" quiet)
rss_before=$(rss)
freeze_pg
abused=$(/usr/bin/python3 "$BENCH_TMP/abuse.py" "$PORT" "$TOKEN" "$EVENT_ID" "$SECS" abuse)
thaw_pg
rss_peak=$(hwm)
sleep 3
rss_after=$(rss)
conns=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^liaison_http_connections / {print $2}')
/usr/bin/python3 - "$quiet" "$abused" <<'PY'
import json, sys
q, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'':24} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
for name, r in [("normal client alone", q), ("normal client, abused", a)]:
    print(f"{name:24} {r['requests']:>9} {r['errors']:>7} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}"
          + (f"  {r['error_kinds']}" if r['errors'] else ""))
print("attackers:", json.dumps(a["attackers"]))
PY
echo "daemon RSS: before ${rss_before} KiB, peak ${rss_peak} KiB (VmHWM, since start), after ${rss_after} KiB; connections open after: ${conns}"
lines=$(wc -l <"$BENCH_TMP/daemon.log")
echo "daemon log: $lines lines; alive: $(kill -0 "$DAEMON_PID" 2>/dev/null && echo yes || echo NO)"
