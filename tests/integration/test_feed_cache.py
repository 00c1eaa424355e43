"""The rendered-feed cache (api/feed_cache.c): one copy for every worker
thread, within feed_cache_memory bytes, with memory files counted for the
whole process. Requests on fresh connections land on the workers as
SO_REUSEPORT spreads them, so a feed fetched many times over four threads
reaches every one of them."""
import gzip
import re
import threading
import time

import harness
from test_feeds import VISIT, make_feed, path_of

METRIC = re.compile(rb"^liaison_feed_vevents_(\w+)_total (\d+)$", re.M)


def vevents_assembled(d):
    """VEVENTs put into renderings so far: each rendering adds its events."""
    return sum(int(m[1]) for m in METRIC.findall(d.request("GET", "/metrics").body))


def gauge(d, name):
    m = re.search(rb"^" + name.encode() + rb" (\d+)$", d.request("GET", "/metrics").body, re.M)
    assert m, f"{name} missing from /metrics"
    return int(m[1])


def settle(d, path):
    """Waits until no change is on its way to the generation (the NOTIFY
    of this test's writes, the LISTEN connection's first connect), so that
    counts of renderings are exact: the feed at path (of one event, setup's
    "solo") is served from memory, not rendered, for half a second."""
    deadline, last, since = time.monotonic() + 20, None, None
    while time.monotonic() < deadline:
        assert d.request("GET", path).status == 200
        n = vevents_assembled(d)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 0.5:
            return
        time.sleep(0.02)
    raise AssertionError("renderings never settled")


def setup(ctx, events, args=(), notes=""):
    db = ctx.database()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=list(args))
    for i in range(events):
        day = f"2027-03-{1 + i % 28:02d}"
        r = d.request("POST", "/v1/events", token=token, body=dict(
            VISIT, partners=[], tags=[f"t{i % 2}"] + (["solo"] if i == 0 else []), title=f"Visit {i} " + "kết nối " * 20, description=notes,
            start=f"{day}T14:00:00", end=f"{day}T17:00:00"))
        assert r.status == 201, r
    return d, token, path_of(make_feed(d, token, name="Settle", filter={"tags": ["solo"]}))


def test_one_rendering_serves_every_worker(ctx):
    """Rendered once, a feed is served by all four workers from that one
    rendering, plain and gzip, concurrently: the same bytes and ETags, no
    second rendering, and the cache holds one plain and one gzip body."""
    d, token, solo = setup(ctx, 3, args=["--threads", "4"])
    feed = make_feed(d, token)
    settle(d, solo)
    base = vevents_assembled(d)
    kept = gauge(d, "liaison_feed_cache_bytes")  # the settling feed's
    first = d.request("GET", path_of(feed))
    assert first.status == 200 and first.body.count(b"BEGIN:VEVENT") == 3
    assert vevents_assembled(d) == base + 3
    assert gauge(d, "liaison_feed_cache_bytes") == kept + len(first.body)

    bodies, errors = [], []

    def fetch(n, zipped):
        try:
            for _ in range(n):
                hdrs = {"Accept-Encoding": "gzip"} if zipped else {}
                r = d.request("GET", path_of(feed), headers=hdrs)
                body = gzip.decompress(r.body) if zipped else r.body
                bodies.append((r.status, r.header("ETag"), body, zipped))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch, args=(15, i % 2 == 1)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(bodies) == 60
    etag = first.header("ETag")
    for status, tag, body, zipped in bodies:
        assert status == 200 and body == first.body
        assert tag == (etag[:-1] + '-gz"' if zipped else etag), tag
    assert vevents_assembled(d) == base + 3  # 60 answers over 4 workers, one rendering
    assert d.request("GET", path_of(feed), headers={"If-None-Match": etag}).status == 304
    gz = d.request("GET", path_of(feed), headers={"Accept-Encoding": "gzip"})
    assert gauge(d, "liaison_feed_cache_bytes") == kept + len(first.body) + len(gz.body)

    # A change anywhere: rendered once more, and the old rendering's bytes go.
    ev = d.request("GET", "/v1/events?limit=1", token=token).json()["items"][0]
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=token, body={"title": "Moved"})
    assert r.status == 200, r
    settle(d, solo)
    base, kept = vevents_assembled(d), gauge(d, "liaison_feed_cache_bytes")
    after = [d.request("GET", path_of(feed)) for _ in range(12)]
    assert all(a.status == 200 and b"SUMMARY:Moved" in a.body for a in after)
    assert len({a.body for a in after}) == 1
    assert vevents_assembled(d) == base + 3
    # The feed's old rendering, plain and gzip, went when the new one came.
    assert gauge(d, "liaison_feed_cache_bytes") == \
        kept - len(first.body) - len(gz.body) + len(after[0].body)


def test_renderings_kept_within_the_byte_limit(ctx):
    """Past feed_cache_memory the oldest rendering goes: a feed that no
    longer fits is rendered again on its next fetch, one that stayed is
    not; a feed larger than the whole limit is served, never kept."""
    d, token, solo = setup(ctx, 4, args=["--threads", "2", "--feed-cache-memory", "10000"],
                           notes="Agenda and minutes. " * 100)
    a = make_feed(d, token, name="A", filter={"tags": ["t0"]})
    b = make_feed(d, token, name="B", filter={"tags": ["t1"]})
    whole = make_feed(d, token, name="Whole")
    settle(d, solo)  # kept, then the first to go
    fa = d.request("GET", path_of(a))
    fb = d.request("GET", path_of(b))
    assert fa.status == 200 and fb.status == 200
    assert max(len(fa.body), len(fb.body)) < 10000 < len(fa.body) + len(fb.body), \
        (len(fa.body), len(fb.body))
    # A went, B stayed.
    assert gauge(d, "liaison_feed_cache_bytes") == len(fb.body)
    n = vevents_assembled(d)
    assert d.request("GET", path_of(b)).body == fb.body
    assert vevents_assembled(d) == n
    assert d.request("GET", path_of(a)).body == fa.body
    assert vevents_assembled(d) == n + 2
    assert gauge(d, "liaison_feed_cache_bytes") == len(fa.body)
    # Over the limit alone: served each time, rendered each time, not kept.
    for i in range(2):
        w = d.request("GET", path_of(whole))
        assert w.status == 200 and w.body.count(b"BEGIN:VEVENT") == 4 and len(w.body) > 10000
        assert vevents_assembled(d) == n + 2 + 4 * (i + 1)
    assert gauge(d, "liaison_feed_cache_bytes") == len(fa.body)


def test_memory_files_are_counted_for_the_process(ctx):
    """Large renderings asked for again go to memory files, 64 at most for
    the whole process however many workers keep feeds; past them bodies
    stay in memory and are served the same. A rendering served only to the
    request that made it is never copied into a file."""
    d, token, solo = setup(ctx, 40, args=["--threads", "4"])
    feeds = [make_feed(d, token, name=f"Feed {i}") for i in range(90)]
    settle(d, solo)
    base = vevents_assembled(d)
    bodies = []
    for f in feeds:
        r = d.request("GET", path_of(f))
        assert r.status == 200 and len(r.body) > 16384, len(r.body)
        bodies.append(r.body)

    def files():
        return harness.memory_files(d.proc.pid)

    assert files() == 0 and gauge(d, "liaison_feed_cache_files") == 0
    for f, body in zip(feeds, bodies):
        assert d.request("GET", path_of(f)).body == body
    harness.wait_for(lambda: files() == 64, 5, what="64 files")
    assert gauge(d, "liaison_feed_cache_files") == 64
    for f, body in zip(feeds, bodies):
        assert d.request("GET", path_of(f)).body == body
    assert vevents_assembled(d) == base + 90 * 40  # each rendered once


TAIL = b"END:VCALENDAR\r\n"


def digest_of(body):
    """A feed's ETag digest, as feed_serve.c makes it: the SHA-256 of the
    SHA-256s of the head, of each VEVENT and of the tail, in hex, cut to
    32 digits."""
    import hashlib
    assert body.endswith(TAIL)
    at = body.find(b"BEGIN:VEVENT\r\n")
    head = body[:at] if at >= 0 else body[:-len(TAIL)]
    events = re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", body[len(head):-len(TAIL)], re.S)
    assert b"".join(events) == body[len(head):-len(TAIL)]
    parts = [head] + events + [TAIL]
    return hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).hexdigest()[:32]


def test_renderings_replaced_while_other_workers_send_them(ctx):
    """Four workers send a feed (from a memory file) and a small one (from
    memory), plain and gzip, while changes have them rendered again and the
    old renderings dropped under the answers still sending them: every
    answer is whole, and its ETag is its own bytes' digest."""
    d, token, solo = setup(ctx, 40, args=["--threads", "4"])
    big, small = make_feed(d, token, name="Big"), make_feed(d, token, name="Small",
                                                            filter={"tags": ["solo"]})
    ev = d.request("GET", "/v1/events?limit=1", token=token).json()["items"][0]
    stop, seen, errors = threading.Event(), [], []

    def fetch(i):
        try:
            while not stop.is_set():
                for feed, n in ((big, 40), (small, 1)):
                    zipped = i % 2 == 1
                    r = d.request("GET", path_of(feed),
                                  headers={"Accept-Encoding": "gzip"} if zipped else {})
                    body = gzip.decompress(r.body) if zipped else r.body
                    digest = digest_of(body)
                    assert r.status == 200, r
                    assert r.header("ETag") == (f'"{digest}-gz"' if zipped else f'"{digest}"')
                    assert body.count(b"BEGIN:VEVENT") == n and body.endswith(b"END:VCALENDAR\r\n")
                    seen.append(digest)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
            stop.set()

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(15):
            r = d.request("PATCH", f"/v1/events/{ev['id']}", token=token,
                          body={"title": f"Renamed {i}"})
            assert r.status == 200, r
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert len(set(seen)) > 4  # renderings did change under the fetches


def test_large_renderings_are_unnamed_files_of_feed_file_dir(ctx):
    """A large rendering is kept as an unnamed file made in feed_file_dir
    (O_TMPFILE): held by the process, never seen in the directory, the same
    bytes as from a memfd (feed_file_dir ""); a directory that cannot hold
    one leaves the feeds in memfds, said once in the log."""
    import os
    where = os.path.join(ctx.tmp, "feed-files")
    os.mkdir(where)
    d, token, _ = setup(ctx, 40, args=["--threads", "1", "--feed-file-dir", where])
    feed = path_of(make_feed(d, token, name="All"))
    a = d.request("GET", feed)
    gz = d.request("GET", feed, headers={"Accept-Encoding": "gzip"})
    assert a.status == 200 and len(a.body) > 16384 and gzip.decompress(gz.body) == a.body
    # Sent again (not gzipped, not a 304), the rendering goes to a file
    # once that answer is out.
    assert d.request("GET", feed, headers={"If-None-Match": a.header("ETag")}).status == 304
    assert harness.feed_files(d.proc.pid) == []
    assert d.request("GET", feed).body == a.body
    files = harness.wait_for(lambda: harness.feed_files(d.proc.pid), 5, what="the file")
    assert all(f.startswith(where + "/#") for f in files), files
    assert os.listdir(where) == []
    for args, kind in (([], "/var/tmp/#"), (["--feed-file-dir", ""], "/memfd:"),
                       (["--feed-file-dir", os.path.join(where, "missing")], "/memfd:")):
        other = ctx.daemon(d.database, args=["--threads", "1"] + args)
        b = other.request("GET", feed)
        assert b.body == a.body and b.header("ETag") == a.header("ETag")
        assert harness.feed_files(other.proc.pid) == []  # served once: memory
        assert other.request("GET", feed).body == a.body
        files = harness.wait_for(lambda: harness.feed_files(other.proc.pid), 5, what="the file")
        assert files and all(f.startswith(kind) for f in files), (args, files)
        assert ("feed_file_dir" in other.logtext()) == ("missing" in " ".join(args))
