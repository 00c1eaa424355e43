"""The HTTP edge under hostile clients (issue 15, items 5, 6, 8-11 and the
settings it found): authentication before a body, a cap on bodies in
flight, deadlines for a request's head and body, connection caps and
descriptors running out, request smuggling, problem+json for every
error, feed tokens and forged fields in the log, a throttle on failed
authentication, and the settings start-up and SIGHUP must refuse or name.
Raw sockets throughout: http.client would fix up what these tests break."""
import hashlib
import json
import os
import re
import resource
import signal
import socket
import time
import uuid

import harness
from harness import problem, run_cli


# ---- a raw HTTP/1.1 client ------------------------------------------------------


class Raw:
    def __init__(self, d, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def response(self, is_head=False):
        """(status, {lower-case name: value}, body) of the next answer."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if is_head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed(self, timeout=5):
        """Whether the server closed the connection (EOF) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def ask(d, data, timeout=10):
    c = Raw(d, timeout)
    try:
        c.send(data)
        return c.response()
    finally:
        c.close()


def is_problem(answer, status):
    st, h, body = answer
    assert st == status, (st, h, body[:300])
    assert h.get("content-type", "").startswith("application/problem+json"), (h, body[:300])
    p = json.loads(body)
    assert p["status"] == status and p["title"], p
    return p


def metric(d, name):
    text = d.request("GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def post_head(path, length, token=None, ct="application/json", extra=""):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {ct}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def fake_token():
    import base64
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


# ---- item 5: bodies -----------------------------------------------------------------


def test_unknown_token_is_refused_before_its_body(ctx):
    """Only the head is sent: the 401 comes at once, and the connection is
    closed (evhttp waited for the whole body before anything else)."""
    db = ctx.database()
    ctx.org_with_key(db)
    d = ctx.daemon(db)
    c = Raw(d, timeout=5)
    c.send(post_head("/v1/events", 900000, token=fake_token()))
    st, h, body = c.response()
    is_problem((st, h, body), 401)
    assert h.get("connection") == "close", h
    assert c.closed(), "the connection stayed open"
    c.close()
    # No token at all: the same.
    c = Raw(d, timeout=5)
    c.send(post_head("/v1/keys", 900000))
    is_problem(c.response(), 401)
    c.close()
    assert d.request("GET", "/healthz").status == 200


def test_bodies_in_flight_are_capped(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--max-bodies-in-flight", "100000"])
    slow = Raw(d)
    slow.send(post_head("/v1/keys", 80000, token=token) + b'{"name": "')
    # Its 80,000 bytes are reserved once it is authenticated.
    harness.wait_for(lambda: metric(d, "liaison_http_body_bytes") >= 80000, 10,
                     what="the slow request's body reserved")
    st, h, body = ask(d, post_head("/v1/keys", 80000, token=token) + b"x" * 80000)
    is_problem((st, h, body), 503)
    assert int(h["retry-after"]) >= 1, h
    slow.send(b"a" * (80000 - 12) + b'"}')
    is_problem(slow.response(), 422)  # a name of 80,000 bytes: read and judged
    slow.close()
    body = json.dumps({"name": "after"}).encode()
    st, h, _ = ask(d, post_head("/v1/keys", len(body), token=token) + body)
    assert st == 201, st
    assert metric(d, "liaison_http_body_bytes") == 0
    assert metric(d, "liaison_http_bodies_refused_total") >= 1


# ---- item 6: deadlines, connection caps, descriptors ----------------------------------


def test_trickled_head_is_cut_off_at_the_deadline(ctx):
    """One byte every 2 s never trips an idle timeout: the default
    header_timeout (10 s) ends it with 408, while others are served."""
    d = ctx.daemon()
    c = Raw(d, timeout=20)
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    answer = None
    while time.monotonic() - t0 < 15:
        assert d.request("GET", "/healthz", timeout=2).status == 200
        try:
            c.send(b"X")
        except OSError:
            break
        c.s.settimeout(2)
        try:
            answer = c.response()
            break
        except (socket.timeout, EOFError, ConnectionResetError):
            if c.buf == b"" and time.monotonic() - t0 > 14:
                break
    assert answer is not None, "a trickled head was never cut off"
    is_problem(answer, 408)
    assert 9 <= time.monotonic() - t0 <= 13, time.monotonic() - t0
    c.close()


def test_body_deadline(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--body-timeout", "1s"])
    c = Raw(d)
    c.send(post_head("/v1/keys", 100, token=token) + b'{"na')
    t0 = time.monotonic()
    is_problem(c.response(), 408)
    assert time.monotonic() - t0 < 3
    assert c.closed()
    c.close()
    assert metric(d, "liaison_http_deadlines_total") >= 1


def test_connection_cap_closes_idle_ones_then_answers_503(ctx):
    d = ctx.daemon(args=["--max-connections", "4"])
    idle = [Raw(d) for _ in range(4)]
    time.sleep(0.3)
    # Past the cap, an idle connection makes room (this worker's oldest,
    # or another worker's when this one has none).
    assert d.request("GET", "/healthz").status == 200
    assert sum(c.closed(0.5) for c in idle) >= 1
    for c in idle:
        c.close()
    # Heads arriving are not idle: beyond them, 503 ...
    busy = []
    for _ in range(4):
        c = Raw(d)
        c.send(b"GET /healthz HTTP/1.1\r\n")
        busy.append(c)
    time.sleep(0.2)
    is_problem(ask(d, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 503)
    # ... until one has taken over a second: a slow head makes room.
    time.sleep(1.2)
    assert d.request("GET", "/healthz").status == 200
    assert sum(c.closed(0.5) for c in busy) >= 1
    for c in busy:
        c.close()
    assert metric(d, "liaison_http_connections_refused_total") >= 1


def test_descriptors_running_out_neither_spin_nor_flood_the_log(ctx):
    """Under a limit of 128 descriptors, 200 idle connections: accept()
    fails with EMFILE; the daemon closes idle connections for new ones
    (or pauses), logs that once a second at most, and keeps answering."""
    db = ctx.database()
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, old[1]))
    try:
        d = ctx.daemon(db, args=["--max-connections", "10000", "--db-pool-size", "2"])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    conns = []
    for _ in range(200):
        try:
            conns.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        except OSError:
            break
    t0 = time.monotonic()
    for _ in range(5):
        assert d.request("GET", "/healthz", timeout=5).status == 200
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    for c in conns:
        c.close()
    log = d.logtext()
    lines = [ln for ln in log.splitlines() if "accept" in ln]
    assert lines, "EMFILE was never hit"
    assert len(lines) <= 2 * (elapsed + 3) + 4, len(lines)  # two workers, once a second each
    assert len(log) < 1_000_000


# ---- item 9: smuggling -----------------------------------------------------------------


def test_conflicting_framing_is_400(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    body = b'{"name": "a"}'
    auth = f"Authorization: Bearer {token}\r\n".encode()
    start = b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth
    cases = [
        b"Content-Length: 13\r\nContent-Length: 40\r\n\r\n" + body,
        b"Content-Length: 13, 40\r\n\r\n" + body,
        b"Content-Length: +13\r\n\r\n" + body,
        b"Content-Length: 0x0d\r\n\r\n" + body,
        b"Content-Length: -1\r\n\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n\r\nd\r\n" + body + b"\r\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"Transfer-Encoding: identity\r\n\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 13\r\n\r\nd\r\n" + body + b"\r\n0\r\n\r\n",
        b"Content-Length : 13\r\n\r\n" + body,
        b"Content-Length: 13\r\n folded\r\n\r\n" + body,
    ]
    # Chunk lines (RFC 9112 7.1): whitespace only before a ';' (or around
    # an extension's '='), never before the CRLF; a proxy in front may read
    # such a line otherwise (llhttp's lenient chunk-size parsing).
    te = b"Transfer-Encoding: chunked\r\n\r\n"
    for line in (b"d \r\n", b"d\t\r\n", b" d\r\n", b"d;x=y \r\n", b"d;x \r\n", b"d;\r\n",
                 b"d;x=\r\n", b'd;x="y\r\n', b"d d\r\n", b"0x0d\r\n", b"-d\r\n"):
        cases.append(te + line + body + b"\r\n0\r\n\r\n")
    cases.append(te + b"d\r\n" + body + b"\r\n0 \r\n\r\n")
    cases.append(te + b"d\n" + body + b"\n0\n\n")
    for case in cases:
        is_problem(ask(d, start + case), 400)
    # HTTP/1.0 knows no Transfer-Encoding.
    is_problem(ask(d, b"POST /v1/keys HTTP/1.0\r\n" + auth +
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400)
    # What is allowed: a repeated equal length, and chunked alone.
    st, _, _ = ask(d, start + b"Content-Length: 13\r\nContent-Length: 13\r\n\r\n" + body)
    assert st == 201, st
    # Extensions with whitespace where RFC 9112 allows it (BWS) are read.
    chunked = b"Transfer-Encoding: chunked\r\n\r\n5 ;a\r\n" + body[:5] + \
        b'\r\n8;x = "y z" ;w=v\r\n' + body[5:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    st, _, out = ask(d, start.replace(b'"', b'"') + chunked)
    assert st == 201, (st, out)
    # Nothing was created by the refused ones: two keys made, one given.
    r = d.request("GET", "/v1/keys", token=token)
    assert len(r.json()["items"]) == 3, r.json()


def test_pipelined_requests_keep_their_order(ctx):
    d = ctx.daemon()
    c = Raw(d)
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert c.response()[0] == 200
    is_problem(c.response(), 404)
    st, h, _ = c.response()
    assert st == 200 and h.get("connection") == "close"
    assert c.closed()
    c.close()


def test_a_head_of_many_large_fields_keeps_every_one(ctx):
    """A request's fields and its answer's live in an arena that grows past
    its first block: fields after 18 kB of padding (authorization, an
    idempotency key, a request id, the body's type) still count, twice on
    one connection, and the answer carries all of its own fields."""
    db = ctx.database()
    key = ctx.org_with_key(db)
    d = ctx.daemon(db)
    pad = "".join(f"X-Pad-{i}: {chr(97 + i % 26) * 200}\r\n" for i in range(90))
    body = json.dumps({"kind": "visit", "title": "Padded", "timezone": "Asia/Seoul",
                       "start": "2027-03-02T10:00:00", "end": "2027-03-02T11:00:00"}).encode()
    c = Raw(d)
    ids = []
    for n in (1, 2):
        c.send((f"POST /v1/events HTTP/1.1\r\nHost: x\r\n{pad}"
                f"Authorization: Bearer {key}\r\nIdempotency-Key: padded-1\r\n"
                f"X-Request-Id: pad-{n}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        st, h, b = c.response()
        assert st == 201, (st, b)
        assert h["x-request-id"] == f"pad-{n}"
        ids.append(json.loads(b)["id"])
        assert h.get("idempotent-replayed") == ("true" if n == 2 else None), h
    assert ids[0] == ids[1]
    feed = json.loads(d.request("POST", "/v1/feeds", token=key, body={"name": "all"}).body)
    path = feed["url"][feed["url"].index("/feeds/"):]
    c.send((f"GET {path} HTTP/1.1\r\nHost: x\r\n{pad}Accept-Encoding: gzip\r\n"
            "X-Request-Id: pad-feed\r\n\r\n").encode())
    st, h, b = c.response()
    assert st == 200 and h["content-encoding"] == "gzip", h
    for name in ("etag", "last-modified", "cache-control", "vary", "content-type", "date"):
        assert h.get(name), (name, h)
    assert h["x-request-id"] == "pad-feed" and int(h["content-length"]) == len(b)
    import gzip
    assert b"SUMMARY:Padded" in gzip.decompress(b)
    c.close()


def test_half_closed_client_still_gets_its_answers(ctx):
    """A client may shut its sending side once its requests are out (the
    socket stays open for reading): every answer still reaches it, also
    those the database answers after the end of input has arrived."""
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    # The org list: a query each time (a single org is read again from
    # memory, core/rowcache.h), so that the database answers after the end.
    get = f"GET /v1/orgs HTTP/1.1\r\nHost: x\r\n" \
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    for requests in (get, get * 3):
        c = Raw(d)
        c.send(requests)
        c.s.shutdown(socket.SHUT_WR)
        for _ in range(requests.count(b"GET ")):
            st, h, body = c.response()
            assert st == 200, (st, body)
            assert json.loads(body)["items"][0]["slug"] == "hub"
        assert c.closed()
        c.close()
    assert d.request("GET", "/healthz").status == 200


def test_expect_100_continue(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    body = b'{"name": "expecting"}'
    c = Raw(d)
    c.send(post_head("/v1/keys", len(body), token=token, extra="Expect: 100-continue\r\n"))
    st, _, _ = c.response()
    assert st == 100
    c.send(body)
    assert c.response()[0] == 201
    c.close()
    is_problem(ask(d, post_head("/v1/keys", len(body), token=token,
                                extra="Expect: something-else\r\n") + body), 417)


# ---- item 10: every answer is problem+json ------------------------------------------------


def test_every_error_is_problem_json(ctx):
    d = ctx.daemon()
    is_problem(ask(d, b"\x00\x01\x02 garbage\r\n\r\n"), 400)
    is_problem(ask(d, b"GET /healthz  HTTP/1.1\r\nHost: x\r\n\r\n"), 400)
    is_problem(ask(d, b"GET /healthz HTTP/1.1\r\n\r\n"), 400)  # no Host
    is_problem(ask(d, b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400)
    is_problem(ask(d, b"GET /healthz HTTP/1.1\nHost: x\n\n"), 400)  # bare LF
    is_problem(ask(d, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505)
    is_problem(ask(d, b"FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 501)
    is_problem(ask(d, b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    is_problem(ask(d, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 +
                   b"\r\n\r\n"), 431)
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    is_problem(ask(d, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"), 431)
    is_problem(ask(d, post_head("/v1/keys", 5 << 20) + b"x" * 1000), 413)
    # CONNECT: answered, and the connection closed at once.
    c = Raw(d)
    c.send(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
    st, h, body = c.response()
    is_problem((st, h, body), 501)
    assert c.closed(2)
    c.close()
    # An absolute-form target is served as its path.
    assert ask(d, b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
    st, h, _ = ask(d, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 204 and "GET" in h["allow"]
    # HTTP/1.0 keep-alive is honoured, and HEAD has the GET headers.
    c = Raw(d)
    c.send(b"HEAD /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st, h, body = c.response(is_head=True)
    assert st == 200 and h["connection"] == "keep-alive" and int(h["content-length"]) > 0
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
    st, h, body = c.response()
    assert st == 200 and json.loads(body) == {"status": "ok"} and h["connection"] == "close"
    c.close()
    assert d.request("GET", "/healthz").status == 200


# ---- items 8 and 11: the log, and failed authentication ------------------------------------


def test_log_hides_feed_tokens_and_escapes_fields(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    feed = d.request("POST", "/v1/feeds", token=token, body={"name": "f"}).json()
    path = feed["url"][feed["url"].index("/feeds/"):]
    ftoken = path[len("/feeds/"):-len(".ics")]
    assert d.request("GET", path).status == 200
    assert d.request("GET", path + "?x=1", headers={"X-Request-Id": "feedfetch"}).status == 200
    ask(d, b'GET /nope"status=200 HTTP/1.1\r\nHost: x\r\nX-Request-Id: forged\r\n\r\n')
    harness.wait_for(lambda: "id=forged" in d.logtext(), 5, what="the forged line")
    log = d.logtext()
    assert ftoken not in log
    short = hashlib.sha256(ftoken.encode()).hexdigest()[:12]
    assert f'uri="/feeds/sha256:{short}.ics?x=1"' in log, log[-2000:]
    line = next(ln for ln in log.splitlines() if "id=forged" in ln)
    assert 'uri="/nope\\"status=200"' in line and line.count(" status=") == 1, line


def test_failed_authentication_is_cached_and_throttled(ctx):
    db = ctx.database()
    good = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--auth-failure-limit", "10/m"])
    for _ in range(10):  # cached by both workers, most likely
        assert d.request("GET", "/v1/orgs", token=good).status == 200
    misses = metric(d, "liaison_auth_cache_misses_total")
    bad = fake_token()
    for _ in range(6):
        problem(d.request("GET", "/v1/orgs", token=bad), 401)
    # Each worker asked the database once at most.
    assert metric(d, "liaison_auth_cache_misses_total") - misses <= 2
    # 10 failures at once from an address (the burst), then 429 for
    # tokens not cached, without a lookup.
    statuses = [d.request("GET", "/v1/orgs", token=fake_token()).status for _ in range(20)]
    assert 429 in statuses and statuses.count(401) <= 5, statuses
    r = d.request("GET", "/v1/orgs", token=fake_token())
    problem(r, 429)
    assert int(r.header("Retry-After")) >= 1
    assert metric(d, "liaison_auth_throttled_total") >= 1
    # A key already known keeps working from the same address.
    assert d.request("GET", "/v1/orgs", token=good).status == 200


# ---- the rest: rate limits per minute, cursors, error lists, settings ---------------------


def test_rate_limit_per_minute_lets_that_many_through(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--rate-limit", "3/m"])
    statuses = [d.request("GET", "/v1/orgs", token=token).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429], statuses
    r = d.request("GET", "/v1/orgs", token=token)
    assert 1 <= int(r.header("Retry-After")) <= 20, r.headers


def test_crafted_cursor_is_422(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    u = str(uuid.uuid4())
    for cur in ["10000000000000_" + u, "-99999999999999_" + u, "+5_" + u, "5_" + u + "x",
                " 5_" + u, "5_", "_" + u]:
        p = problem(d.request("GET", "/v1/events?cursor=" + cur.replace(" ", "%20"),
                              token=token), 422)
        assert p["errors"][0]["field"] == "cursor", p
    assert d.request("GET", f"/v1/events?cursor=1724223600_{u}", token=token).status == 200


def test_error_list_is_capped(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--max-body", str(4 << 20)])
    body = json.dumps({f"k{i}": 1 for i in range(90000)})
    r = d.request("POST", "/v1/keys", token=token, body=body,
                  headers={"Content-Type": "application/json"})
    p = problem(r, 422)
    assert len(r.body) < 50000, len(r.body)
    assert len(p["errors"]) <= 100
    assert p["errors_omitted"] >= 89900 and "more errors" in p["detail"], p["detail"]


def write(ctx, name, text):
    path = os.path.join(ctx.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_start_up_refuses_zero_webhook_timeout_and_missing_ca_file(ctx):
    for text, key in [("webhook_timeout = 0s\n", "webhook_timeout"),
                      ("\nwebhook_ca_file = /nonexistent/ca.pem\n", "webhook_ca_file"),
                      ("header_timeout = 0ms\n", "header_timeout")]:
        path = write(ctx, "bad.conf", text)
        out = run_cli(["--config", path, "migrate"], check=False)
        line = text.count("\n", 0, text.index(key)) + 1
        assert out.returncode == 2, (text, out.returncode, out.stderr)
        assert f"{path}:{line}: {key}:" in out.stderr, out.stderr
    out = run_cli(["--webhook-timeout", "0s", "migrate"], check=False)
    assert out.returncode == 2 and "webhook_timeout" in out.stderr, out.stderr


def test_sighup_names_every_setting_that_needs_a_restart(ctx):
    db = ctx.database()
    path = write(ctx, "live.conf", "db_pool_size = 4\nmax_body = 1048576\nlog_level = info\n")
    d = ctx.daemon(db, args=["--config", path])
    write(ctx, "live.conf", "db_pool_size = 3\nmax_body = 2048\nwebhook_concurrency = 5\n"
          "log_level = info\n")
    d.proc.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: "after a restart" in d.logtext(), 10, what="the reload's warning")
    line = next(ln for ln in d.logtext().splitlines() if "after a restart" in ln)
    for name in ["db_pool_size", "max_body", "webhook_concurrency"]:
        assert name in line, line
    assert re.search(r"log_level|public_url", line) is None, line
    assert d.request("GET", "/healthz").status == 200
