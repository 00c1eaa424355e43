"""Feeds under writes (issue 19): a change heard from another instance
renders again only the feeds it can reach (sql/020, core/changes.c), and
every feed stays what a full rendering gives, byte for byte. Two daemons
share one database: B hears A's writes only by NOTIFY."""
import datetime
import re
import time

from test_events import world
from test_feeds import make_feed, path_of

METRIC = re.compile(rb"^liaison_feed_vevents_(\w+)_total (\d+)$", re.M)


def counter(d, name):
    m = re.search(rb"^" + name.encode() + rb" (\d+)$", d.request("GET", "/metrics").body, re.M)
    return int(m[1]) if m else 0


def assembled(d):
    """VEVENTs put into renderings so far: each rendering adds its events."""
    return sum(int(m[1]) for m in METRIC.findall(d.request("GET", "/metrics").body))


def fetch(d, feed):
    r = d.request("GET", path_of(feed))
    assert r.status == 200, r
    return r.body


def settle(ds, feeds):
    """Fetches every feed on every daemon until no rendering happens for
    half a second: the NOTIFYs of the writes so far are all heard."""
    deadline, last, since = time.monotonic() + 20, None, None
    while time.monotonic() < deadline:
        for d in ds:
            for f in feeds:
                fetch(d, f)
        n = [assembled(d) for d in ds]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 0.5:
            return
        time.sleep(0.02)
    raise AssertionError("renderings never settled")


def until(d, feed, pred, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = fetch(d, feed)
        if pred(body):
            return body
        time.sleep(0.02)
    raise AssertionError(f"{what}: never seen")


def event(title, day, **more):
    return dict({"kind": "meeting", "title": title, "timezone": "Asia/Ho_Chi_Minh",
                 "start": f"2027-03-{day:02d}T09:00:00", "end": f"2027-03-{day:02d}T10:00:00"},
                **more)


def test_private_change_renders_only_the_feeds_it_reaches(ctx):
    db, k, a = world(ctx)
    b = ctx.daemon(db)
    for i in range(5):
        assert a.request("POST", "/v1/events", token=k["host"],
                         body=event(f"Open {i}", 1 + i)).status == 201
    secret = a.request("POST", "/v1/events", token=k["cabc"], body=event(
        "CABC board", 9, visibility="private")).json()
    feeds = {o: make_feed(a, k[o]) for o in ["host", "busan-city", "cabc"]}
    settle([b], feeds.values())
    before = {o: fetch(b, f) for o, f in feeds.items()}
    assert b"CABC board" in before["cabc"] and b"CABC board" not in before["host"]

    # A private change of CABC's, made on A: B renders CABC's feed again
    # and keeps the others, which it cannot reach.
    assert a.request("PATCH", f"/v1/events/{secret['id']}", token=k["cabc"],
                     body={"title": "CABC board (moved)"}).status == 200
    until(b, feeds["cabc"], lambda t: b"CABC board (moved)" in t, "the change on B")
    n, kept = assembled(b), counter(b, "liaison_feed_kept_through_changes_total")
    for o in ["host", "busan-city"]:
        assert fetch(b, feeds[o]) == before[o]
    assert assembled(b) == n, "a feed the change cannot reach was rendered again"
    assert counter(b, "liaison_feed_kept_through_changes_total") == kept + 2

    # Named a partner, it reaches Busan's feed; no longer named, it leaves
    # it; made a network event, every feed; private again, it leaves them.
    assert a.request("PATCH", f"/v1/events/{secret['id']}", token=k["cabc"],
                     body={"partners": ["busan-city"]}).status == 200
    until(b, feeds["busan-city"], lambda t: b"CABC board (moved)" in t, "the partner's view")
    assert b"CABC board" not in fetch(b, feeds["host"])
    assert a.request("PATCH", f"/v1/events/{secret['id']}", token=k["cabc"],
                     body={"partners": []}).status == 200
    until(b, feeds["busan-city"], lambda t: b"CABC board" not in t, "the partner dropped")
    assert a.request("PATCH", f"/v1/events/{secret['id']}", token=k["cabc"],
                     body={"visibility": "network"}).status == 200
    until(b, feeds["host"], lambda t: b"CABC board (moved)" in t, "made public")
    assert a.request("PATCH", f"/v1/events/{secret['id']}", token=k["cabc"],
                     body={"visibility": "private"}).status == 200
    until(b, feeds["host"], lambda t: b"CABC board" not in t, "private again")
    until(b, feeds["busan-city"], lambda t: b"CABC board" not in t, "private again")
    assert b"CABC board (moved)" in fetch(b, feeds["cabc"])


def test_feeds_after_writes_equal_a_full_rendering(ctx):
    """A mix of writes by two orgs on two instances (creates, patches,
    cancellations, a series and its overrides, partners and visibility
    changed), each feed fetched on both after every write: at the end each
    feed on each instance is what a daemon started afresh renders."""
    db, k, a = world(ctx)
    b = ctx.daemon(db)
    feeds = [make_feed(a, k[o]) for o in ["host", "busan-city", "cabc"]]
    seen_private = set()
    ids = []

    def write(d, method, path, token, body, status):
        r = d.request(method, path, token=token, body=body)
        assert r.status == status, r
        # Read your writes: the writer's own feeds show the change at once.
        for f in feeds:
            fetch(d, f)
        for f in feeds:
            fetch(b if d is a else a, f)
        return r.json()

    for i, (d, who) in enumerate([(a, "host"), (b, "cabc"), (b, "host"), (a, "cabc")] * 2):
        vis = "private" if i % 3 == 0 else "network"
        e = write(d, "POST", "/v1/events", k[who], event(
            f"{who} item {i}", 1 + i, visibility=vis,
            partners=["busan-city"] if i % 4 == 1 else []), 201)
        ids.append((who, e["id"]))
        if vis == "private":
            seen_private.add(e["id"])
    weekly = write(a, "POST", "/v1/events", k["cabc"], dict(event(
        "CABC weekly", 15, rrule="FREQ=WEEKLY;COUNT=6"), visibility="private",
        partners=["hcmc-dost"]), 201)
    write(b, "POST", "/v1/events", k["cabc"], {
        "series_id": weekly["id"], "recurrence_id": "2027-03-22T09:00:00",
        "title": "CABC weekly (Room 2)", "location": "Room 2"}, 201)
    write(a, "DELETE", f"/v1/events/{weekly['id']}/occurrences/2027-03-29T09:00:00",
          k["cabc"], None, 200)
    for n, (who, i) in enumerate(ids):
        d = a if n % 2 else b
        body = [{"title": f"renamed {n}"}, {"status": "cancelled"},
                {"partners": ["cabc"] if who == "host" else ["hcmc-dost"]},
                {"visibility": "network" if i in seen_private else "private"}][n % 4]
        if body.get("status") == "cancelled":
            write(d, "DELETE", f"/v1/events/{i}", k[who], None, 200)
        else:
            write(d, "PATCH", f"/v1/events/{i}", k[who], body, 200)
    write(b, "PATCH", f"/v1/events/{weekly['id']}", k["cabc"], {"partners": []}, 200)

    settle([a, b], feeds)
    fresh = ctx.daemon(db)
    for f in feeds:
        full = fetch(fresh, f)
        assert full.count(b"BEGIN:VEVENT") > 0
        assert fetch(a, f) == full and fetch(b, f) == full


def test_own_private_change_reaches_own_freebusy(ctx):
    """A free/busy feed counts its own org's private items: a private
    event moved on A moves the busy period in that org's free/busy feed on
    B, which then is what a fresh daemon renders; another org's free/busy
    feed is kept."""
    db, k, a = world(ctx)
    b = ctx.daemon(db)
    day = datetime.date.today() + datetime.timedelta(days=10)
    e = a.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC board", "timezone": "UTC", "visibility": "private",
        "start": f"{day}T09:00:00", "end": f"{day}T10:00:00"}).json()
    ours = make_feed(a, k["cabc"], mode="freebusy")
    theirs = make_feed(a, k["host"], mode="freebusy")
    settle([b], [ours, theirs])
    busy = lambda t: [ln for ln in t.split(b"\r\n") if ln.startswith(b"FREEBUSY")]  # noqa
    before, other = fetch(b, ours), fetch(b, theirs)
    assert busy(before) and not busy(other)
    assert a.request("PATCH", f"/v1/events/{e['id']}", token=k["cabc"], body={
        "start": f"{day}T11:00:00", "end": f"{day}T12:00:00"}).status == 200
    after = until(b, ours, lambda t: busy(t) != busy(before), "the move on B")
    assert fetch(b, theirs) == other
    assert after == fetch(ctx.daemon(db), ours)
