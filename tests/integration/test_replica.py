"""read_database: feeds, lists, occurrences and reports are read from a
real streaming standby (pg_basebackup -R of a throw-away primary, one pair
for the whole module); a change shows at once in this instance, and as
soon as another instance hears of it, even while the standby's replay is
paused; and losing the standby (stopped, refusing, promoted) costs no
request. What ran on the standby is counted by its pg_stat_statements."""
import os
import subprocess
import threading
import time

import harness
from harness import run_cli
from test_feeds import VISIT, make_feed, path_of

PSS = "-c shared_preload_libraries=pg_stat_statements -c autovacuum=off"
PAIR = {}
# The guard every read sent to the standby begins with (common/dbpool.c):
# pg_stat_statements counts only those that passed.
GUARD = "%pg_last_wal_replay_lsn() >= $1::pg_lsn%"
# What the primary reads behind every read the standby did not answer.
SAMPLE = "%pg_current_wal_insert_lsn()%"


def pair():
    """The module's primary and its standby, made at first use."""
    if not PAIR:
        libdir = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True,
                                text=True).stdout.strip()
        if not os.path.exists(os.path.join(libdir, "pg_stat_statements.so")):
            raise harness.Skip("pg_stat_statements is not installed")
        PAIR["primary"] = harness.Cluster(opts=PSS)
        PAIR["standby"] = harness.Cluster(opts=PSS, primary=PAIR["primary"])
        # Not the run's: the run stops those it made at its end.
        for c in PAIR.values():
            harness.Cluster._all.remove(c)
        PAIR["primary"].psql("CREATE EXTENSION pg_stat_statements")
    return PAIR["primary"], PAIR["standby"]


def teardown_module():
    for name in ("standby", "primary"):
        if name in PAIR:
            PAIR.pop(name).destroy()


# The primary's position as liaisond reads it (dbpool_wal_position_sql):
# just past a page's header it is the page's start.
POSITION = ("SELECT CASE WHEN o = 40 THEN l - 40"
            " WHEN o % current_setting('wal_block_size')::integer = 24 THEN l - 24 ELSE l END"
            " FROM pg_current_wal_insert_lsn() l,"
            " LATERAL (SELECT (pg_walfile_name_offset(l)).file_offset AS o) w")


def caught_up(timeout=10):
    """Waits until the standby has replayed all the primary has written."""
    primary, standby = pair()
    lsn = primary.psql(POSITION)
    harness.wait_for(lambda: standby.psql(
        f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t", timeout,
        what="the standby to replay the primary's WAL")


def calls(cluster, dbname, like):
    return int(cluster.psql(
        "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s"
        " JOIN pg_database d ON d.oid = s.dbid"
        f" WHERE d.datname = '{dbname}' AND s.query LIKE '{like}'"))


def world(ctx, instances=1, read_database=None):
    """Orgs, keys, and daemons reading from the standby."""
    primary, standby = pair()
    name = primary.new_database(ctx.name.split("/")[-1])
    db = primary.conninfo(name)
    k = {"host": ctx.org_with_key(db, "hcmc-dost", host=True, tz="Asia/Ho_Chi_Minh")}
    run_cli(["org", "create", "busan-city", "--name", "Busan", "--timezone", "Asia/Seoul"], db)
    k["busan-city"] = run_cli(["key", "create", "busan-city", "--role", "admin"], db).stdout.strip()
    caught_up()
    ro = read_database or standby.conninfo(name)
    ds = [ctx.daemon(db, args=["--read-database", ro]) for _ in range(instances)]
    return name, k, ds


def titles(d, path, token):
    return [e["title"] for e in d.request("GET", path, token=token).json()["items"]]


READS = [
    ("/v1/events", "%FROM events e%"),
    ("/v1/occurrences?from=2027-01-01&to=2028-01-01", "%FROM events e%"),
    ("/v1/agreements", "%FROM agreements a%"),
    ("/v1/feeds", "%FROM feeds f%"),
    ("/v1/webhooks", "%FROM webhook_endpoints w%"),
    ("/v1/orgs", "%FROM orgs%"),
    ("/v1/keys", "%FROM api_keys%"),
]


def test_reads_go_to_the_standby(ctx):
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "MOU", "stage": "signed", "parties": ["busan-city"],
        "signed_on": "2027-02-01", "timezone": "Asia/Ho_Chi_Minh"})
    # A feed is rendered once, then served from memory: one per try.
    feeds = [make_feed(d, k["host"], name=f"feed {i}") for i in range(12)]
    caught_up()
    reads = READS + [(f"/v1/events/{ev['id']}/reminders", "%FROM events e%"),
                     ([path_of(f) for f in feeds], "%pg_current_snapshot()%")]
    for path, like in reads:
        # At most one read a second goes to the primary to read the floor
        # again, and the next may find the standby a moment behind (then
        # it is left alone for a few ms): tries, for a few seconds.
        deadline = time.monotonic() + 5
        for i in range(len(feeds)):
            before = calls(standby, name, GUARD)
            r = d.request("GET", path[i] if isinstance(path, list) else path, token=k["host"])
            assert r.status == 200, (path, r)
            if calls(standby, name, GUARD) > before or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert calls(standby, name, GUARD) > before, f"{path} was never read from the standby"
        assert calls(standby, name, like) > 0, path
    # What the standby rendered is the feed.
    assert VISIT["title"].encode() in d.request("GET", path_of(feeds[0])).body
    # Single rows, which may decide a write (If-Match), are read on the
    # primary, never on the standby (then read again from memory for at
    # most row_cache_ttl, core/rowcache.h: one query at least).
    for _ in range(3):
        assert d.request("GET", f"/v1/events/{ev['id']}", token=k["host"]).status == 200
    assert calls(standby, name, "SELECT e.version,%") == 0
    assert calls(primary, name, "SELECT e.version,%") >= 1
    m = d.request("GET", "/metrics").body.decode()
    assert 'liaison_db_queries_total{worker="0",database="standby"}' in m


def test_reads_stay_on_the_standby_after_a_wal_switch(ctx):
    """After a switch to a new WAL segment the primary's insert position is
    past the new segment's header, where a standby that has replayed all
    never gets while nothing is written: that must not keep reads away."""
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    # WAL written after the switch (the primary's own records, liaisond's
    # write-back after a rendering) and replayed leaves no gap: switch again.
    for _ in range(5):
        primary.psql("SELECT pg_switch_wal()")
        caught_up()
        replayed = standby.psql("SELECT pg_last_wal_replay_lsn()")
        if primary.psql(f"SELECT pg_current_wal_insert_lsn() > '{replayed}'") == "t":
            break
    assert primary.psql(f"SELECT pg_current_wal_insert_lsn() > '{replayed}'") == "t"
    time.sleep(0.5)  # the floor is read again (every 250 ms)
    before = calls(standby, name, GUARD)
    for _ in range(10):
        assert titles(d, "/v1/events", k["host"]) == [VISIT["title"]]
    assert calls(standby, name, GUARD) >= before + 9


def pause(standby):
    standby.psql("SELECT pg_wal_replay_pause()")
    harness.wait_for(lambda: standby.psql("SELECT pg_get_wal_replay_pause_state()")
                     == "paused", 10, what="the standby's replay to pause")


def pause_answering(d, k, name, tries=5):
    """Pauses the standby's replay once it has replayed all, and checks that
    it answers a list then. The primary writes WAL of its own accord (a
    running-transactions record every 15 s, a checkpoint's) and liaisond
    writes back after a rendering: written after the standby caught up and
    before it paused, that puts the floor past what it will ever replay,
    and every read rightly goes to the primary. Then it catches up and is
    paused again; a daemon that never reads from a paused standby fails
    every try."""
    primary, standby = pair()
    seen = []
    for _ in range(tries):
        caught_up()
        pause(standby)
        time.sleep(0.3)  # the floor is read again (every 250 ms)
        before = calls(standby, name, GUARD)
        assert titles(d, "/v1/events", k["host"]) == [VISIT["title"]]
        if calls(standby, name, GUARD) > before:
            return
        seen.append((primary.psql(POSITION), standby.psql("SELECT pg_last_wal_replay_lsn()")))
        standby.psql("SELECT pg_wal_replay_resume()")
    raise AssertionError(f"a paused standby that has replayed all never answered: {seen}")


def test_a_change_shows_at_once_while_the_standby_is_paused(ctx):
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    feed = make_feed(d, k["host"])
    assert VISIT["title"].encode() in d.request("GET", path_of(feed)).body
    try:
        # The standby answers while nothing changed...
        pause_answering(d, k, name)
        # ... and the read right after a write does not: it is this write,
        # even of what no NOTIFY tells of (webhook endpoints).
        hook = d.request("POST", "/v1/webhooks", token=k["host"],
                         body={"url": "https://hooks.example.org/liaison"}).json()
        assert [h["id"] for h in d.request(
            "GET", "/v1/webhooks", token=k["host"]).json()["items"]] == [hook["id"]]
        ev = d.request("POST", "/v1/events", token=k["host"],
                       body=dict(VISIT, title="Shown while paused")).json()
        assert "Shown while paused" in titles(d, "/v1/events", k["host"])
        ag = d.request("POST", "/v1/agreements", token=k["host"], body={
            "title": "MOU while paused", "stage": "signed", "parties": ["busan-city"],
            "signed_on": "2027-02-01", "timezone": "Asia/Ho_Chi_Minh"}).json()
        # Not on the standby: what follows came from the primary.
        assert standby.psql("SELECT count(*) FROM events WHERE title = 'Shown while paused'",
                            db=name) == "0"
        t_end = time.monotonic() + 1.5  # past the floor's age: it is read again
        while time.monotonic() < t_end:
            assert b"Shown while paused" in d.request("GET", path_of(feed)).body
            assert "Shown while paused" in titles(d, "/v1/events", k["host"])
            assert "Shown while paused" in titles(
                d, "/v1/occurrences?from=2027-01-01&to=2028-01-01", k["host"])
            assert ag["id"] in [a["id"] for a in d.request(
                "GET", "/v1/agreements", token=k["host"]).json()["items"]]
        # A change to it, and its cancellation, at once too.
        d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"title": "Renamed while paused"})
        assert b"Renamed while paused" in d.request("GET", path_of(feed)).body
        assert "Renamed while paused" in titles(d, "/v1/events", k["host"])
        d.request("DELETE", f"/v1/events/{ev['id']}", token=k["host"])
        items = d.request("GET", "/v1/events", token=k["host"]).json()["items"]
        assert [e["status"] for e in items if e["id"] == ev["id"]] == ["cancelled"]
        assert b"STATUS:CANCELLED" in d.request("GET", path_of(feed)).body
    finally:
        standby.psql("SELECT pg_wal_replay_resume()")
    caught_up()


def test_another_instance_never_goes_back(ctx):
    """B did not make the change: it serves it once told (NOTIFY), or, for
    what nobody notifies (webhook endpoints), once it reads the floor again
    (a second); from then on never the older state, standby paused or not."""
    primary, standby = pair()
    name, k, (a, b) = world(ctx, instances=2)
    feed = make_feed(a, k["host"])
    caught_up()
    assert b.request("GET", path_of(feed)).status == 200
    assert titles(b, "/v1/events", k["host"]) == []
    try:
        pause(standby)
        a.request("POST", "/v1/events", token=k["host"], body=VISIT)
        hook = a.request("POST", "/v1/webhooks", token=k["host"],
                         body={"url": "https://hooks.example.org/liaison"}).json()
        # The standby is paused: read there (or B's feed left cached),
        # none of these would ever show.
        harness.wait_for(lambda: VISIT["title"] in titles(b, "/v1/events", k["host"]), 10,
                         what="B to show the event")
        harness.wait_for(lambda: VISIT["title"].encode() in b.request("GET", path_of(feed)).body,
                         10, what="B's feed to show the event")
        harness.wait_for(lambda: hook["id"] in [h["id"] for h in b.request(
            "GET", "/v1/webhooks", token=k["host"]).json()["items"]], 10,
            what="B to list the endpoint")
        for _ in range(40):
            assert VISIT["title"] in titles(b, "/v1/events", k["host"])
            assert VISIT["title"].encode() in b.request("GET", path_of(feed)).body
            assert hook["id"] in [h["id"] for h in b.request(
                "GET", "/v1/webhooks", token=k["host"]).json()["items"]]
            time.sleep(0.02)
    finally:
        standby.psql("SELECT pg_wal_replay_resume()")
    caught_up()


def hammer(d, k, paths, stop, statuses):
    while not stop.is_set():
        for p in paths:
            try:
                statuses.append((p, d.request("GET", p, token=k["host"], timeout=30).status))
            except OSError as e:
                statuses.append((p, repr(e)))


def test_losing_the_standby_costs_no_request(ctx):
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    feed = make_feed(d, k["host"])
    paths = [p for p, _ in READS] + [path_of(feed)]
    caught_up()
    stop, statuses = threading.Event(), []
    threads = [threading.Thread(target=hammer, args=(d, k, paths, stop, statuses))
               for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        subprocess.run([harness.PGCLUSTER, "stop", standby.datadir], capture_output=True)
        time.sleep(1.5)  # reads while it is down
        while_down = len(statuses)
        # A change made now shows at once too.
        d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="While down"))
        assert "While down" in titles(d, "/v1/events", k["host"])
        standby.start()
        # The pools connect again (backoff up to 2 s) and reads go back.
        harness.wait_for(lambda: 'liaison_db_pool_connected{worker="0",database="standby"} 4'
                         in d.request("GET", "/metrics").body.decode(), 15,
                         what="the standby pools to reconnect")
        caught_up()
        harness.wait_for(lambda: calls(standby, name, GUARD) > 0, 10,
                         what="reads on the standby again")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(statuses) > while_down > 20
    bad = [s for s in statuses if s[1] != 200]
    assert not bad, bad[:10]
    m = d.request("GET", "/metrics").body.decode()
    assert "liaison_db_standby_diverted_total" in m


def test_a_standby_that_refuses_costs_nothing(ctx):
    primary, standby = pair()
    name, k, (d,) = world(ctx, read_database=standby.conninfo("no_such_database"))
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    feed = make_feed(d, k["host"])
    for p, _ in READS:
        assert d.request("GET", p, token=k["host"]).status == 200, p
    assert VISIT["title"].encode() in d.request("GET", path_of(feed)).body
    assert d.request("GET", f"/v1/events/{ev['id']}/reminders", token=k["host"]).status == 200
    m = d.request("GET", "/metrics").body.decode()
    assert 'liaison_db_pool_connected{worker="0",database="standby"} 0' in m
    assert "standby connection lost" not in d.logtext()  # it never connected


def test_z_a_promoted_standby_is_not_read(ctx):
    """Last: the module's standby is a primary of its own afterwards. Its
    replay position stays where it was, which may well be the floor; what
    is written to it since is not the primary's."""
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    caught_up()
    standby.psql("SELECT pg_promote()")
    harness.wait_for(lambda: standby.psql("SELECT pg_is_in_recovery()") == "f", 10,
                     what="the promotion")
    standby.psql("UPDATE events SET title = 'Diverged'", db=name)
    time.sleep(1.1)  # the floor is read again
    for _ in range(20):
        assert titles(d, "/v1/events", k["host"]) == [VISIT["title"]]
    d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="After"))
    for _ in range(20):
        assert sorted(titles(d, "/v1/events", k["host"])) == ["After", VISIT["title"]]
    assert calls(primary, name, SAMPLE) > 0


def test_a_write_in_flight_while_the_standby_lists_a_feed_is_not_missed(ctx):
    """A feed's list read on the standby while a write is in flight there:
    the next rendering, spliced from that list once the write committed,
    shows the write. (The standby's pg_current_snapshot() names no
    transaction in progress; taken as it is, the write would count as seen
    and stay out of the feed until it is next read whole.)"""
    primary, standby = pair()
    name, k, (d,) = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    feed = make_feed(d, k["host"], name="In flight")
    assert VISIT["title"].encode() in d.request("GET", path_of(feed)).body
    held = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-d", primary.conninfo(name),
         "-c", f"BEGIN; UPDATE events SET title = 'Held write', version = version + 1"
               f" WHERE id = '{ev['id']}'; SELECT pg_sleep(3); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_for(lambda: primary.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; UPDATE events%'"
        " AND state = 'active'", name) == "1", 5, what="the write in flight")
    # A later write commits meanwhile; the list is read on the standby.
    r = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="Committed"))
    assert r.status == 201, r
    caught_up()
    lists = calls(standby, name, "%pg_current_snapshot()%")
    b = d.request("GET", path_of(feed)).body
    assert b"Committed" in b and b"Held write" not in b
    assert calls(standby, name, "%pg_current_snapshot()%") > lists, "not listed on the standby"
    assert held.wait(10) == 0
    caught_up()
    r = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="After"))
    assert r.status == 201, r
    caught_up()
    b = d.request("GET", path_of(feed)).body
    assert b"After" in b and b"Held write" in b, b.decode()
