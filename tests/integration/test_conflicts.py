"""Conflicts: visits and meetings at the same place whose times overlap
(SPEC, Events), occurrence by occurrence for series. A place is the same however it is spaced or cased; an item
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


# A weekly Monday series 09:00-10:00 at the room (2027-01-04 is a Monday),
# and what the room holds on the days around its third occurrence.
MONDAYS = dict(kind="meeting", title="Weekly review", start="2027-01-04T09:00:00",
               end="2027-01-04T10:00:00", rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=8")


def meeting_at(d, token, day, title="Partner call", **kw):
    return post(d, token, kind="meeting", title=title, start=day + "T09:30:00",
                end=day + "T10:30:00", **kw)


def test_an_exdated_occurrence_leaves_the_room_free(ctx):
    db, k, d = world(ctx)
    series = post(d, k["host"], **MONDAYS, exdates=["2027-01-18T09:00:00"])
    assert ids(meeting_at(d, k["cabc"], "2027-01-18")) == [], "the 18th is an exdate"
    assert ids(meeting_at(d, k["cabc"], "2027-01-25")) == [series["id"]]


def test_a_cancelled_occurrence_leaves_the_room_free(ctx):
    db, k, d = world(ctx)
    series = post(d, k["host"], **MONDAYS)
    r = d.request("DELETE", f"/v1/events/{series['id']}/occurrences/2027-01-18T09:00:00",
                  token=k["host"])
    assert r.status == 200 and r.json()["status"] == "cancelled", r
    assert ids(meeting_at(d, k["cabc"], "2027-01-18")) == []
    assert ids(meeting_at(d, k["cabc"], "2027-01-11")) == [series["id"]]
    # /v1/occurrences says the same of that morning.
    occ = d.request("GET", "/v1/occurrences?from=2027-01-18T00:00:00Z&to=2027-01-19T00:00:00Z",
                    token=k["cabc"]).json()["items"]
    assert [o["status"] for o in occ if o["event_id"] == series["id"]] in ([], ["cancelled"])


def test_a_day_the_rule_does_not_give_is_free(ctx):
    db, k, d = world(ctx)
    series = post(d, k["host"], **MONDAYS)
    tuesday = meeting_at(d, k["cabc"], "2027-01-19")
    assert ids(tuesday) == [], tuesday
    # Moved onto a Monday it clashes, and a PATCH says so too.
    r = d.request("PATCH", f"/v1/events/{tuesday['id']}", token=k["cabc"],
                  body={"start": "2027-01-25T09:30:00", "end": "2027-01-25T10:30:00"})
    assert r.status == 200 and ids(r.json()) == [series["id"]], r
    # A programme item of a visit is answered the same way.
    visit = {"direction": "inbound", "title": "Eindhoven delegation",
             "timezone": "Asia/Ho_Chi_Minh", "arrive": "2027-01-19T08:00:00",
             "depart": "2027-01-25T20:00:00",
             "programme": [{"kind": "meeting", "title": "Tuesday briefing",
                            "start": "2027-01-19T09:00:00", "end": "2027-01-19T11:00:00",
                            "location": PLACE},
                           {"kind": "meeting", "title": "Monday briefing",
                            "start": "2027-01-25T09:00:00", "end": "2027-01-25T11:00:00",
                            "location": PLACE}]}
    r = d.request("POST", "/v1/visits", token=k["host"], body=visit)
    assert r.status == 201, r
    tue, mon = r.json()["programme"]
    assert tue["conflicts"] == [], tue
    assert sorted(c["id"] for c in mon["conflicts"]) == sorted([series["id"], tuesday["id"]])
    assert all(set(c) == {"id", "title"} for c in mon["conflicts"]), mon


def test_a_moved_occurrence_frees_its_old_time_and_takes_its_new(ctx):
    db, k, d = world(ctx)
    series = post(d, k["host"], **MONDAYS)
    r = d.request("POST", "/v1/events", token=k["host"],
                  body={"series_id": series["id"], "recurrence_id": "2027-01-18T09:00:00",
                        "start": "2027-01-18T14:00:00", "end": "2027-01-18T15:00:00"})
    assert r.status == 201, r
    moved = r.json()
    assert ids(moved) == [], moved  # its own series is not elsewhere then
    assert ids(meeting_at(d, k["cabc"], "2027-01-18")) == []
    afternoon = post(d, k["cabc"], kind="meeting", title="Afternoon call",
                     start="2027-01-18T14:30:00", end="2027-01-18T15:30:00")
    assert ids(afternoon) == [moved["id"]], afternoon


def test_a_new_series_clashes_only_where_an_occurrence_does(ctx):
    db, k, d = world(ctx)
    wednesday = meeting_at(d, k["cabc"], "2027-01-20", title="Wednesday call")
    # Its span covers the Wednesday, but it meets on Mondays only.
    mondays = post(d, k["host"], **MONDAYS)
    assert ids(mondays) == [], mondays
    # A daily series (Monday to Wednesday) meets on the Wednesday too.
    daily = post(d, k["host"], kind="meeting", title="Daily stand-up",
                 start="2027-01-18T09:00:00", end="2027-01-18T09:45:00",
                 rrule="FREQ=DAILY;COUNT=3")
    assert ids(daily) == sorted([wednesday["id"], mondays["id"]]), daily
    # Two weekly series without end, on different days, never meet.
    tuesdays = post(d, k["host"], kind="meeting", title="Tuesday review",
                    start="2027-01-05T09:00:00", end="2027-01-05T10:00:00",
                    rrule="FREQ=WEEKLY;BYDAY=TU")
    fridays = post(d, k["host"], kind="meeting", title="Friday review",
                   start="2027-01-08T09:00:00", end="2027-01-08T10:00:00",
                   rrule="FREQ=WEEKLY;BYDAY=FR")
    assert ids(fridays) == [], fridays
    # A PATCH that moves it onto Tuesdays makes it clash.
    r = d.request("PATCH", f"/v1/events/{fridays['id']}", token=k["host"],
                  body={"rrule": "FREQ=WEEKLY;BYDAY=TU,FR"})
    assert r.status == 200 and ids(r.json()) == sorted([tuesdays["id"], daily["id"]]), r
