"""A feed's health in GET /v1/feeds/{id} (and the list): its last fetch,
by which kind of client (from the User-Agent strings real calendar apps
send), with what answer and size, the fetches of the last 24 hours, and
warnings in plain words. Fetches are written in batches off the feed's
path: a fetch costs no query."""
import datetime
import re
import time

import harness
from harness import problem
from test_events import world
from test_feed_page import make_feed

# As the clients send them.
AGENTS = [
    ("google", "Google-Calendar-Importer"),
    ("microsoft", "Microsoft.Exchange/15.20 (Windows NT 10.0; Win64; x64)"),
    ("apple", "iOS/17.0 (21A329) dataaccessd/1.0"),
    ("thunderbird", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1"),
    ("icsx5", "ICSx5/2.2.3 (ical4j/3.2.19; okhttp/4.12.0; Android 14)"),
    ("other", "curl/7.88.1"),
]


def health(d, k, feed):
    r = d.request("GET", f"/v1/feeds/{feed['id']}", token=k["host"])
    assert r.status == 200, r
    return r.json()


def recorded(d, k, feed, fetches):
    """The feed's health once `fetches` fetches are written."""
    harness.wait_for(lambda: health(d, k, feed)["fetches_24h"] >= fetches, 10,
                     what=f"{fetches} fetches recorded")
    return health(d, k, feed)


def db_name(db):
    return db.split("dbname=")[1]


def queries_sent(d):
    text = d.request("GET", "/metrics").body.decode()
    return sum(int(v) for v in re.findall(r'^liaison_db_queries_total\{worker="\d+"\} (\d+)$',
                                          text, re.M))


def test_fetches_by_client(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Busan delegation",
        "start": f"{datetime.date.today() + datetime.timedelta(days=3)}T14:00:00"})
    feed = make_feed(d, k["host"])
    h = health(d, k, feed)
    assert h["last_fetch"] is None and h["fetches_24h"] == 0 and h["fetched_by"] == {}
    assert [w.split(":")[0] for w in h["warnings"]] == ["never fetched"], h
    # The page is for people: viewing it is not a fetch.
    assert d.request("GET", feed["page"]).status == 200
    sizes = {}
    for client, agent in AGENTS:
        r = d.request("GET", feed["ics"], headers={"User-Agent": agent})
        assert r.status == 200, r
        sizes[client] = len(r.body)
    gz = d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[1][1],
                                                "Accept-Encoding": "gzip"})
    assert gz.header("Content-Encoding") == "gzip"
    time.sleep(0.05)  # the last of the apple fetches, whichever thread writes first
    apple = d.request("GET", feed["ics"], headers={
        "User-Agent": "macOS/14.0 (23A344) CalendarAgent/988",
        "If-None-Match": gz.header("ETag").replace("-gz", "")})
    assert apple.status == 304
    h = recorded(d, k, feed, len(AGENTS) + 2)
    assert h["fetches_24h"] == len(AGENTS) + 2
    by = h["fetched_by"]
    assert sorted(by) == sorted(c for c, _ in AGENTS), by
    for client in ("google", "thunderbird", "icsx5", "other"):
        assert (by[client]["status"], by[client]["bytes"]) == (200, sizes[client]), (client, by)
    assert (by["microsoft"]["status"], by["microsoft"]["bytes"]) == (200, len(gz.body))
    assert (by["apple"]["status"], by["apple"]["bytes"]) == (304, 0)
    assert h["warnings"] == [] and h["size_bytes"] == sizes["google"]
    # The last fetch is the latest of them; a second later, a new one.
    time.sleep(1.1)
    d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[4][1]})
    h = recorded(d, k, feed, len(AGENTS) + 3)
    last = h["last_fetch"]
    assert (last["client"], last["status"], last["bytes"]) == ("icsx5", 200, sizes["icsx5"])
    assert last["at"] == by["icsx5"]["at"] or last["at"] > by["icsx5"]["at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", last["at"])
    listed = d.request("GET", "/v1/feeds", token=k["host"]).json()["items"][0]
    for key in ("last_fetch", "fetched_by", "fetches_24h", "warnings", "size_bytes"):
        assert listed[key] == h[key], key
    metrics = d.request("GET", "/metrics").body.decode()
    for client, n in [("google", 1), ("microsoft", 2), ("apple", 2), ("icsx5", 2), ("other", 1)]:
        assert f'liaison_feed_fetches_total{{client="{client}"}} {n}' in metrics, client
    # Sent back in a PATCH, the health fields change nothing.
    r = d.request("PATCH", f"/v1/feeds/{feed['id']}", token=k["host"], body=h)
    assert r.status == 200 and r.json()["name"] == feed["name"], r


def test_old_address_after_rotation_counts_as_404(ctx):
    db, k, d = world(ctx)
    feed = make_feed(d, k["host"])
    assert d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[0][1]}).status == 200
    recorded(d, k, feed, 1)
    rotated = d.request("POST", f"/v1/feeds/{feed['id']}/rotate", token=k["host"]).json()
    time.sleep(1.1)
    problem(d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[0][1]}), 404)
    h = recorded(d, k, feed, 2)
    assert h["last_fetch"]["status"] == 404 and h["last_fetch"]["client"] == "google"
    assert h["fetched_by"]["google"]["status"] == 404
    # Tokens no feed ever had are not counted anywhere.
    problem(d.request("GET", "/feeds/" + "B" * 43 + ".ics"), 404)
    new = rotated["url"][rotated["url"].index("/feeds/"):]
    time.sleep(1.1)
    assert d.request("GET", new, headers={"User-Agent": AGENTS[2][1]}).status == 200
    h = recorded(d, k, feed, 3)
    assert h["fetches_24h"] == 3 and h["last_fetch"]["client"] == "apple"
    assert ctx.cluster.psql("SELECT count(*) FROM feed_fetches", db_name(db)) == "2"


def test_warnings_in_plain_words(ctx):
    db, k, d = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Busan delegation",
        "start": f"{datetime.date.today() + datetime.timedelta(days=3)}T14:00:00"}).json()
    feed = make_feed(d, k["host"])
    d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[0][1]})
    assert recorded(d, k, feed, 1)["warnings"] == []
    name = db_name(db)
    # Google fetched three days ago; the item changed two days ago.
    ctx.cluster.psql("UPDATE feed_fetches SET at = now() - interval '3 days'", name)
    ctx.cluster.psql("UPDATE feed_state SET changed_at = now() - interval '4 days', "
                     "rendered_at = now() - interval '4 days'", name)
    ctx.cluster.psql("UPDATE feeds SET updated_at = now() - interval '4 days'", name)
    ctx.cluster.psql(f"UPDATE events SET updated_at = now() - interval '2 days' "
                     f"WHERE id = '{ev['id']}'", name)
    h = health(d, k, feed)
    assert len(h["warnings"]) == 1 and h["warnings"][0].startswith("changed at "), h
    assert "more than 24 hours ago, and not fetched since (last fetch at" in h["warnings"][0]
    # The list knows only the feed's settings and rendered bytes: older.
    assert d.request("GET", "/v1/feeds", token=k["host"]).json()["items"][0]["warnings"] == []
    # A change of yesterday evening is not old enough to worry about.
    ctx.cluster.psql(f"UPDATE events SET updated_at = now() - interval '20 hours' "
                     f"WHERE id = '{ev['id']}'", name)
    assert health(d, k, feed)["warnings"] == []
    # A rendering that found new bytes two days ago counts as a change too
    # (an item left the feed, or aged out of its window).
    ctx.cluster.psql(f"UPDATE events SET updated_at = now() - interval '5 days' "
                     f"WHERE id = '{ev['id']}'", name)
    assert health(d, k, feed)["warnings"] == []
    ctx.cluster.psql("UPDATE feed_state SET changed_at = now() - interval '2 days'", name)
    assert [w[:10] for w in health(d, k, feed)["warnings"]] == ["changed at"]
    # Fetched since: nothing to say.
    d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[0][1]})
    harness.wait_for(lambda: health(d, k, feed)["warnings"] == [], 10, what="a fresh fetch")
    # Over 1 MB, in plain words.
    ctx.cluster.psql("UPDATE feed_state SET size_bytes = 2000000", name)
    w = health(d, k, feed)["warnings"]
    assert len(w) == 1 and w[0].startswith("over 1 MB: Google Calendar drops"), w
    # Another org's feed is not found, whatever its health.
    problem(d.request("GET", f"/v1/feeds/{feed['id']}", token=k["cabc"]), 404)
    problem(d.request("GET", "/v1/feeds/not-a-uuid", token=k["host"]), 404)


def test_fetches_cost_the_feed_no_query(ctx):
    """A feed served from memory sends nothing to the database: its
    fetches go in one statement a second later, however many."""
    db, k, d = world(ctx)
    feed = make_feed(d, k["host"])
    for _ in range(4):  # rendered and cached in both workers
        assert d.request("GET", feed["ics"]).status == 200
    recorded(d, k, feed, 4)
    time.sleep(1.2)
    before = queries_sent(d)
    t0 = time.monotonic()
    for i in range(100):
        assert d.request("GET", feed["ics"], headers={"User-Agent": AGENTS[i % 6][1]}).status == 200
    during = queries_sent(d) - before
    elapsed = time.monotonic() - t0
    # At most one write per worker and second (they fire on their own).
    assert during <= 2 * (int(elapsed) + 2), (during, elapsed)
    h = recorded(d, k, feed, 104)
    assert h["fetches_24h"] == 104 and len(h["fetched_by"]) == 6
    counted = ctx.cluster.psql(
        f"SELECT sum(fetches) FROM feed_fetch_counts WHERE feed_id = '{feed['id']}'", db_name(db))
    assert counted == "104"
