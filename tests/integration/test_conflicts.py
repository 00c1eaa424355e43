"""Conflicts: visits and meetings at the same place whose times overlap
(SPEC, Events). A place is the same however it is spaced or cased; an item
without an end is busy at its instant, so what spans it conflicts; hidden
items are never revealed; the lookup uses the GiST index events_place."""
import time

from test_events import VISIT, world

PLACE = "HCMC DOST, Room 1"
DAY = dict(VISIT, partners=[], location=PLACE, start="2027-05-10T10:00:00",
           end="2027-05-10T17:00:00", timezone="Asia/Ho_Chi_Minh", reminders=[])


def post(d, token, **kw):
    body = dict(DAY, **kw)
    if body.get("end") is None:
        body.pop("end", None)
    r = d.request("POST", "/v1/events", token=token, body=body)
    assert r.status == 201, r
    return r.json()


def ids(e):
    return sorted(c["id"] for c in e["conflicts"])


def test_an_item_without_end_conflicts_with_what_spans_it(ctx):
    db, k, d = world(ctx)
    visit = post(d, k["host"], title="Busan delegation")
    # A meeting without end (start = end) inside the visit, either way round.
    m = post(d, k["cabc"], kind="meeting", title="Press briefing", start="2027-05-10T14:00:00",
             end=None)
    assert m["end"] is None and ids(m) == [visit["id"]], m
    later = post(d, k["host"], title="Second delegation", start="2027-05-10T13:00:00",
                 end="2027-05-10T15:00:00")
    assert ids(later) == sorted([visit["id"], m["id"]]), later
    # At the visit's start it conflicts; at its (exclusive) end it does not.
    at_start = post(d, k["cabc"], kind="meeting", title="Welcome", start="2027-05-10T10:00:00",
                    end=None)
    assert ids(at_start) == [visit["id"]], at_start
    at_end = post(d, k["cabc"], kind="meeting", title="Photo", start="2027-05-10T17:00:00",
                  end=None)
    assert ids(at_end) == [], at_end
    # Two items without end at the same instant and place conflict.
    same = post(d, k["cabc"], kind="meeting", title="Photo 2", start="2027-05-10T17:00:00",
                end=None)
    assert ids(same) == [at_end["id"]], same
    # Back to back is not a conflict.
    after = post(d, k["host"], title="Evening visit", start="2027-05-10T17:00:00",
                 end="2027-05-10T19:00:00")
    assert ids(after) == sorted([at_end["id"], same["id"]]), after
    # A series of points spans its first to its last start.
    daily = post(d, k["cabc"], kind="meeting", title="Stand-up", start="2027-05-08T11:00:00",
                 end=None, rrule="FREQ=DAILY;COUNT=3")
    assert visit["id"] in ids(daily), daily


def test_places_compare_without_spacing_or_case(ctx):
    db, k, d = world(ctx)
    visit = post(d, k["host"], title="Busan delegation")
    same = post(d, k["busan-city"], title="Same room", location="  hcmc dost,  room 1 ")
    assert ids(same) == [visit["id"]], same
    assert same["location"] == "  hcmc dost,  room 1 "  # kept as written
    other = post(d, k["busan-city"], title="Other room", location="HCMC DOST, Room 12")
    assert ids(other) == [], other
    squeezed = post(d, k["busan-city"], title="No space", location="HCMC DOST,Room 1")
    assert ids(squeezed) == [], squeezed  # a space is not nothing
    # A place of white space alone names no place.
    blank = post(d, k["host"], title="Blank 1", location="   ")
    assert ids(blank) == [], blank
    blank2 = post(d, k["host"], title="Blank 2", location=" ")
    assert ids(blank2) == [], blank2
    # A PATCH that respaces the place still finds the visit.
    r = d.request("PATCH", f"/v1/events/{other['id']}", token=k["busan-city"],
                  body={"location": "hcmc   DOST, ROOM 1"})
    assert r.status == 200 and ids(r.json()) == sorted([visit["id"], same["id"]]), r


def test_hidden_items_are_not_revealed(ctx):
    db, k, d = world(ctx)
    private = post(d, k["host"], title="Private visit", visibility="private",
                   partners=["busan-city"])
    mine = post(d, k["cabc"], kind="meeting", title="CABC call", location=" hcmc dost, room 1",
                start="2027-05-10T12:00:00", end=None)
    assert ids(mine) == [], mine
    theirs = post(d, k["busan-city"], kind="meeting", title="Busan call",
                  location="HCMC  DOST, ROOM 1", start="2027-05-10T12:00:00", end=None)
    assert ids(theirs) == sorted([private["id"], mine["id"]]), theirs


def test_a_series_clashes_at_an_rdate_before_its_start(ctx):
    """A meeting series whose RDATE comes before its start takes the room
    then too: the visit there that day names it, and it names the visit."""
    db, k, d = world(ctx)
    series = post(d, k["host"], kind="meeting", title="Steering group",
                  start="2027-06-07T10:00:00", end="2027-06-07T11:00:00",
                  rrule="FREQ=WEEKLY;COUNT=3", rdates=["2027-05-10T11:00:00"])
    visit = post(d, k["host"], title="Busan delegation")
    assert ids(visit) == [series["id"]], visit
    r = d.request("PATCH", f"/v1/events/{series['id']}", token=k["host"],
                  body={"title": "Steering group (room 1)"})
    assert r.status == 200 and ids(r.json()) == [visit["id"]], r


def test_the_lookup_uses_the_index(ctx):
    db, k, d = world(ctx)
    name = db.split("dbname=")[1]
    psql = ctx.cluster.psql
    # A few thousand visits and meetings at 200 places over a year.
    psql("""
        INSERT INTO events (org_id, uid, kind, title, location, timezone, start_local,
                            end_local, start_utc, end_utc, last_end_utc)
        SELECT o.id, 'bulk-' || g, CASE WHEN g % 2 = 0 THEN 'visit' ELSE 'meeting' END,
               'Bulk ' || g, 'Hall ' || (g % 200), 'UTC', t, t + interval '2 hours',
               t, t + interval '2 hours', t + interval '2 hours'
        FROM generate_series(1, 5000) g, orgs o,
             LATERAL (SELECT timestamp '2027-01-01' + (g * interval '97 minutes') AS t) x
        WHERE o.slug = 'hcmc-dost';
        ANALYZE events;""", name)
    # EV_CONFLICTS's shape: a subquery per row e, first 50 by start.
    plan = psql("""
        EXPLAIN SELECT (SELECT count(*) FROM (SELECT c.id FROM events c
            WHERE c.kind IN ('visit', 'meeting') AND c.location IS NOT NULL
              AND c.status <> 'cancelled'
              AND liaison_place(c.location) = liaison_place(e.location)
              AND liaison_busy(c.first_utc, c.start_utc, c.end_utc, c.last_end_utc)
                  && liaison_busy(e.first_utc, e.start_utc, e.end_utc, e.last_end_utc)
              AND c.id <> e.id ORDER BY c.start_utc, c.id LIMIT 50) c)
        FROM events e WHERE e.uid = 'bulk-42'""", name)
    assert "events_place" in plan, plan
    # The daemon's own statement uses it: the index's scan count goes up
    # (a backend sends its counts when idle, at most every 10 s).

    def scans():
        return int(psql("SELECT idx_scan FROM pg_stat_user_indexes "
                        "WHERE indexrelname = 'events_place'", name))
    before = scans()
    e = post(d, k["host"], title="Busy hall", location=" hall 42 ", timezone="UTC",
             start="2027-01-03T19:00:00", end="2027-01-03T22:00:00")
    assert e["conflicts"], e
    deadline = time.monotonic() + 20
    while scans() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scans() > before
