"""Single rows answered from memory (core/rowcache.c): GET /v1/events/{id}
and GET /v1/orgs/{slug}. A row read again costs no query, yet every answer
is what the database holds: a write through this instance shows at once,
another writer's once its NOTIFY is heard, and a change nobody was told of
within ROWCACHE_TTL_MS; and a row kept for one org is shown to another
only as the query would (EV_VISIBLE)."""
import re
import time

import harness
from harness import problem

TTL_S = 1.0  # ROWCACHE_TTL_MS

EVENT = {"kind": "meeting", "title": "MOU drafting", "start": "2027-05-04T10:00:00",
         "end": "2027-05-04T11:00:00", "location": "Room 3"}


def hits(d):
    m = re.search(rb"^liaison_row_cache_hits_total (\d+)$", d.request("GET", "/metrics").body, re.M)
    assert m, "liaison_row_cache_hits_total missing from /metrics"
    return int(m[1])


def sql(ctx, db, text):
    return ctx.cluster.psql(text, db.split("dbname=")[1])


def create(d, token, **fields):
    r = d.request("POST", "/v1/events", token=token, body=dict(EVENT, **fields))
    assert r.status == 201, r
    return r.json()["id"]


def settled(d, path, token):
    """Reads path until two reads in a row come from the cache: the NOTIFY
    of the test's own writes has been heard, so what follows is exact."""
    def twice():
        before = hits(d)
        a = d.request("GET", path, token=token)
        b = d.request("GET", path, token=token)
        return a.status == b.status == 200 and hits(d) >= before + 2
    harness.wait_for(twice, 10, what=f"{path} answered from the row cache")


def test_a_row_read_again_comes_from_memory_and_a_write_here_shows_at_once(ctx):
    """One thread, so that every request meets the same cache: the second
    read of an event and of an org is a hit with the same bytes and ETag,
    If-None-Match gives 304 from it, and a PATCH through this instance is
    in the very next read (its write bumps the generation before it is
    answered), as is a cancel."""
    db = ctx.database()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=["--threads", "1"])
    eid = create(d, token)
    path = f"/v1/events/{eid}"
    settled(d, path, token)
    first = d.request("GET", path, token=token)
    h = hits(d)
    again = d.request("GET", path, token=token)
    assert hits(d) == h + 1
    assert (again.status, again.body, again.header("ETag")) == (200, first.body, first.header("ETag"))
    r = d.request("GET", path, token=token, headers={"If-None-Match": first.header("ETag")})
    assert r.status == 304 and r.header("ETag") == first.header("ETag")
    assert hits(d) == h + 2

    for n in range(5):
        r = d.request("PATCH", path, token=token, body={"title": f"MOU drafting, round {n}"})
        assert r.status == 200, r
        got = d.request("GET", path, token=token)
        assert got.json()["title"] == f"MOU drafting, round {n}"
        assert got.header("ETag") == r.header("ETag")
    assert d.request("DELETE", path, token=token).status == 200
    assert d.request("GET", path, token=token).json()["status"] == "cancelled"

    org = d.request("GET", "/v1/orgs/hcmc-dost", token=token)
    assert org.status == 200 and org.json()["slug"] == "hcmc-dost"
    settled(d, "/v1/orgs/hcmc-dost", token)
    h = hits(d)
    again = d.request("GET", "/v1/orgs/hcmc-dost", token=token)
    assert hits(d) == h + 1
    assert (again.status, again.body, again.header("Content-Type")) == (
        200, org.body, org.header("Content-Type"))
    assert again.body.endswith(b"}\n")
    problem(d.request("GET", "/v1/orgs/no-such-org", token=token), 404)


def test_a_kept_event_is_shown_only_to_orgs_that_may_see_it(ctx):
    """Kept after its owner read it, a private event is answered from the
    cache to a partner it names and refused (404) to any other org, as the
    query refuses it; a network event is shown to all. The refusals are
    answered from the cache too (hits), so its own test is what runs."""
    db = ctx.database()
    host = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    busan = ctx.org_with_key(db, "busan-city", host=False)
    cabc = ctx.org_with_key(db, "cabc", host=False)
    d = ctx.daemon(db, args=["--threads", "1"])
    private = create(d, host, visibility="private", partners=["busan-city"])
    network = create(d, host, title="FLY ASIA booth")
    for eid in (private, network):
        settled(d, f"/v1/events/{eid}", host)
    for eid, key, status in [(private, busan, 200), (private, cabc, 404), (private, host, 200),
                             (network, cabc, 200), (network, busan, 200)]:
        h = hits(d)
        r = d.request("GET", f"/v1/events/{eid}", token=key)
        assert r.status == status, (eid, r)
        assert hits(d) == h + 1, "not answered from the cache"
        if status == 404:
            problem(r, 404)
            assert b"MOU" not in r.body

    # Busan is no longer a partner: the change goes through this instance.
    r = d.request("PATCH", f"/v1/events/{private}", token=host, body={"partners": []})
    assert r.status == 200, r
    problem(d.request("GET", f"/v1/events/{private}", token=busan), 404)
    # Unknown ids and ids of nothing are 404 and never kept.
    for _ in range(2):
        problem(d.request("GET", "/v1/events/00000000-0000-4000-8000-000000000000",
                          token=host), 404)


def test_another_writers_change_shows_when_heard_and_an_unheard_one_within_the_bound(ctx):
    """Two instances on one database. A change made through the other one
    shows here once its NOTIFY is heard; an org renamed by SQL too. A
    change made with triggers off (no NOTIFY: a restore, a hand fix) still
    shows within ROWCACHE_TTL_MS, though the row is hot all along."""
    db = ctx.database()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    here = ctx.daemon(db, args=["--threads", "1"])
    there = ctx.daemon(db, args=["--threads", "1"])
    eid = create(there, token)
    path = f"/v1/events/{eid}"
    settled(here, path, token)

    r = there.request("PATCH", path, token=token, body={"title": "Changed over there"})
    assert r.status == 200, r
    harness.wait_for(lambda: here.request("GET", path, token=token).json()["title"]
                     == "Changed over there", 5, what="the other instance's change")
    assert here.request("GET", path, token=token).header("ETag") == r.header("ETag")

    settled(here, "/v1/orgs/hcmc-dost", token)
    sql(ctx, db, "UPDATE orgs SET name = 'HCMC Department of Science and Technology'"
                 " WHERE slug = 'hcmc-dost'")
    harness.wait_for(lambda: here.request("GET", "/v1/orgs/hcmc-dost", token=token).json()["name"]
                     == "HCMC Department of Science and Technology", 5, what="the org's new name")

    # Nobody is told of this one. Read it hot (every 20 ms) until it shows.
    settled(here, path, token)
    sql(ctx, db, "SET session_replication_role = replica;"
                 f" UPDATE events SET title = 'Fixed by hand' WHERE id = '{eid}'")
    start, h = time.monotonic(), hits(here)
    while here.request("GET", path, token=token).json()["title"] != "Fixed by hand":
        assert time.monotonic() - start < TTL_S + 2, "a change nobody heard of stayed hidden"
        time.sleep(0.02)
    assert hits(here) > h, "the row was not served from memory meanwhile"


def test_row_cache_ttl_0_reads_every_row_from_the_database(ctx):
    """row_cache_ttl = 0: nothing is kept, every read is a query."""
    db = ctx.database()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=["--threads", "1", "--row-cache-ttl", "0s"])
    eid = create(d, token)
    h = hits(d)
    for _ in range(3):
        assert d.request("GET", f"/v1/events/{eid}", token=token).status == 200
        assert d.request("GET", "/v1/orgs/hcmc-dost", token=token).status == 200
    assert hits(d) == h
    out = harness.run_cli(["--row-cache-ttl", "2m", "migrate"], database=db, check=False)
    assert out.returncode == 2 and "row_cache_ttl" in out.stderr, out.stderr
