"""Free/busy feeds ("mode": "freebusy"): one VFREEBUSY with busy periods
only (RFC 5545 §3.6.4), read with two independent parsers
(python3-icalendar and python3-vobject) that must agree with what the API
says of the same occurrences; filters choose whose time it is (an org, a
venue); another org's private items never count; the feed is cached and
revalidated like any feed; bad input is refused by name."""
import datetime
import gzip
import json
import subprocess
from zoneinfo import ZoneInfo

from harness import problem
from test_events import world
from test_feeds import make_feed, path_of

UTC = datetime.timezone.utc
HCM = ZoneInfo("Asia/Ho_Chi_Minh")

# Both parsers, each on its own: [start, end, FBTYPE] in UTC, the window,
# the organiser, and every component and property name there is.
READ = r'''
import sys, json, icalendar, vobject
body = sys.stdin.buffer.read()
z = lambda t: t.astimezone(__import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
cal = icalendar.Calendar.from_ical(body)
fbs = cal.walk("VFREEBUSY")
fb = fbs[0]
periods = fb.get("FREEBUSY", [])
periods = periods if isinstance(periods, list) else [periods]
out = {"components": sorted(c.name for c in cal.walk()),
       "properties": sorted({k for c in cal.walk() for k in c.keys()}),
       "icalendar": [[z(p.start), z(p.end), p.params["FBTYPE"]] for p in periods],
       "window": [z(fb.decoded("DTSTART")), z(fb.decoded("DTEND"))],
       "dtstamp": z(fb.decoded("DTSTAMP")), "uid": str(fb["UID"]),
       "organizer": [str(fb["ORGANIZER"]), str(fb["ORGANIZER"].params["CN"])]}
v = vobject.readOne(body.decode("utf-8")).vfreebusy
out["vobject"] = [[z(s), z(e), f.params["FBTYPE"][0]]
                  for f in getattr(v, "freebusy_list", []) for s, e in f.value]
out["vobject_window"] = [z(v.dtstart.value), z(v.dtend.value)]
print(json.dumps(out))
'''


def read(body):
    out = subprocess.run(["/usr/bin/python3", "-c", READ], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    fb = json.loads(out.stdout)
    assert fb["icalendar"] == fb["vobject"] and fb["window"] == fb["vobject_window"], fb
    return fb


def z(local, tz=HCM):
    """A local wall time "YYYY-MM-DDTHH:MM:SS" in tz as UTC with Z."""
    t = datetime.datetime.fromisoformat(local).replace(tzinfo=tz)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(n):
    """The date n days from today (UTC)."""
    return (datetime.datetime.now(UTC) + datetime.timedelta(days=n)).date()


def post(d, token, **body):
    r = d.request("POST", "/v1/events", token=token, body=body)
    assert r.status in (200, 201), r
    return r.json()


def busy_world(ctx):
    """HCMC DOST's items of every kind in the coming weeks, with details
    that must never show; a private item of Busan's that names HCMC DOST; a
    network meeting of CABC's."""
    db, k, d = world(ctx)
    D = day(10)
    secrets = []

    def item(who, **body):
        body.setdefault("kind", "meeting")
        body.setdefault("location", "Secret room")
        secrets.extend(body[x] for x in ("title", "location") if x in body)
        return post(d, k[who], **body)

    item("host", kind="visit", title="Busan delegation (secret)", location="HCMC DOST, Room 1",
         start=f"{D}T14:00:00", end=f"{D}T17:00:00", partners=["busan-city"])
    item("host", title="Overlaps the visit", start=f"{D}T16:00:00", end=f"{D}T18:00:00")
    item("host", title="Right after", start=f"{D}T18:00:00", end=f"{D}T19:00:00")
    item("host", title="Tentative before", status="tentative",
         start=f"{D}T13:00:00", end=f"{D}T15:00:00")
    series = item("host", title="Weekly secret", start=f"{day(11)}T09:00:00",
                  end=f"{day(11)}T10:00:00", rrule="FREQ=WEEKLY;COUNT=4")
    r = d.request("DELETE", f"/v1/events/{series['id']}/occurrences/{day(18)}T09:00:00",
                  token=k["host"])
    assert r.status == 200, r
    item("host", title="Weekly moved", series_id=series["id"],
         recurrence_id=f"{day(25)}T09:00:00", start=f"{day(25)}T11:00:00",
         end=f"{day(25)}T12:00:00")
    gone = item("host", title="Cancelled", start=f"{day(12)}T10:00:00",
                end=f"{day(12)}T11:00:00")
    d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"])
    item("host", title="Tentative alone", status="tentative", start=f"{day(13)}T10:00:00",
         end=f"{day(13)}T11:00:00")
    item("host", kind="deadline", title="Report due", start=f"{day(14)}T17:00:00")
    item("host", title="Our private one", visibility="private", start=f"{day(15)}T09:00:00",
         end=f"{day(15)}T10:00:00")
    item("host", title="No end", start=f"{day(16)}T09:00:00")
    item("host", kind="festival", title="Festival day", all_day=True, start=str(day(19)),
         end=str(day(20)))
    item("host", title="Too far", start=f"{day(200)}T09:00:00", end=f"{day(200)}T10:00:00")
    item("busan-city", title="Busan private with us", visibility="private",
         partners=["hcmc-dost"], timezone="Asia/Seoul", start=f"{day(17)}T09:00:00",
         end=f"{day(17)}T10:00:00")
    item("cabc", title="CABC network meeting", timezone="America/Toronto",
         start=f"{day(17)}T09:00:00", end=f"{day(17)}T10:00:00")
    return db, k, d, secrets


def host_busy():
    """What HCMC DOST's own items make of its time, merged."""
    D = day(10)
    return sorted([
        [z(f"{D}T13:00:00"), z(f"{D}T14:00:00"), "BUSY-TENTATIVE"],  # until the visit starts
        [z(f"{D}T14:00:00"), z(f"{D}T19:00:00"), "BUSY"],  # three items, overlapping, touching
        [z(f"{day(11)}T09:00:00"), z(f"{day(11)}T10:00:00"), "BUSY"],
        [z(f"{day(13)}T10:00:00"), z(f"{day(13)}T11:00:00"), "BUSY-TENTATIVE"],
        [z(f"{day(15)}T09:00:00"), z(f"{day(15)}T10:00:00"), "BUSY"],  # private, ours
        [z(f"{day(19)}T00:00:00"), z(f"{day(20)}T00:00:00"), "BUSY"],  # all day, local
        [z(f"{day(25)}T11:00:00"), z(f"{day(25)}T12:00:00"), "BUSY"],  # moved
        [z(f"{day(32)}T09:00:00"), z(f"{day(32)}T10:00:00"), "BUSY"],
    ])


def test_freebusy_feed_has_busy_periods_only(ctx):
    db, k, d, secrets = busy_world(ctx)
    ours = make_feed(d, k["host"], name="HCMC DOST busy", mode="freebusy",
                     filter={"orgs": ["hcmc-dost"]})
    assert ours["mode"] == "freebusy" and ours["alarms"] is False
    assert ours["past_days"] == 0 and ours["future_days"] == 90  # its defaults
    r = d.request("GET", path_of(ours))
    assert r.status == 200 and r.header("Content-Type") == "text/calendar; charset=utf-8", r
    fb = read(r.body)
    assert fb["icalendar"] == host_busy(), (fb["icalendar"], host_busy())
    today = datetime.datetime.now(UTC).date()
    assert fb["window"] == [f"{today}T00:00:00Z", f"{today + datetime.timedelta(days=90)}T00:00:00Z"]
    assert fb["organizer"] == ["mailto:hcmc-dost@liaison.invalid", "Org hcmc-dost"]
    assert fb["components"] == ["VCALENDAR", "VFREEBUSY"]
    assert set(fb["properties"]) == {
        "VERSION", "PRODID", "CALSCALE", "METHOD", "NAME", "X-WR-CALNAME", "REFRESH-INTERVAL",
        "X-PUBLISHED-TTL", "UID", "DTSTAMP", "ORGANIZER", "DTSTART", "DTEND", "FREEBUSY"}
    text = r.body.decode("utf-8").replace("\r\n ", "")
    for line in r.body.split(b"\r\n"):
        assert len(line) <= 75
    uids = [e["uid"] for e in d.request("GET", "/v1/events?limit=1000", token=k["host"]).json()["items"]]
    for secret in secrets + uids:
        assert secret not in text, secret
    # The periods are those of the API's own occurrences of the same items.
    occ = d.request("GET", f"/v1/occurrences?from={today}&to={today + datetime.timedelta(days=90)}"
                    "&org=hcmc-dost&limit=1000", token=k["host"]).json()["items"]
    counted = {(o["start_utc"], o["end_utc"]) for o in occ
               if o["status"] != "cancelled" and o["kind"] != "deadline"
               and o["start_utc"] != o["end_utc"]}
    union = []  # the periods of any kind, as one stretch where they touch
    for s, e, _ in fb["icalendar"]:
        if union and union[-1][1] >= s:
            union[-1][1] = max(union[-1][1], e)
        else:
            union.append([s, e])
    covered = lambda s, e: any(u[0] <= s and e <= u[1] for u in union)  # noqa: E731
    assert len(counted) == 10 and all(covered(s, e) for s, e in counted), (counted, union)

    # Without a filter: the network's time that the feed's org may show
    # others: CABC's network meeting counts, Busan's private one (which
    # HCMC DOST may see as its partner) does not.
    everyone = read(d.request("GET", path_of(make_feed(d, k["host"], mode="freebusy"))).body)
    cabc = [z(f"{day(17)}T09:00:00", ZoneInfo("America/Toronto")),
            z(f"{day(17)}T10:00:00", ZoneInfo("America/Toronto")), "BUSY"]
    assert everyone["icalendar"] == sorted(host_busy() + [cabc]), everyone["icalendar"]
    # Busan's own free/busy feed does count its private item.
    busan = read(d.request("GET", path_of(make_feed(d, k["busan-city"], mode="freebusy",
                                                    filter={"orgs": ["busan-city"]}))).body)
    assert busan["icalendar"] == [[z(f"{day(17)}T09:00:00", ZoneInfo("Asia/Seoul")),
                                   z(f"{day(17)}T10:00:00", ZoneInfo("Asia/Seoul")), "BUSY"]]


def test_freebusy_of_a_venue(ctx):
    """"locations" chooses a venue's time, places compared as conflicts
    compare them; an occurrence moved to another room is that room's time,
    and one moved into the venue is the venue's."""
    db, k, d = world(ctx)
    room1 = post(d, k["host"], kind="meeting", title="Weekly in room 1",
                 location="HCMC DOST, Room 1", start=f"{day(3)}T09:00:00",
                 end=f"{day(3)}T10:00:00", rrule="FREQ=DAILY;COUNT=3")
    post(d, k["host"], kind="meeting", title="Moved to room 2", series_id=room1["id"],
         recurrence_id=f"{day(4)}T09:00:00", location="Room 2",
         start=f"{day(4)}T09:00:00", end=f"{day(4)}T10:00:00")
    room2 = post(d, k["host"], kind="meeting", title="Weekly in room 2", location="Room 2",
                 start=f"{day(3)}T15:00:00", end=f"{day(3)}T16:00:00", rrule="FREQ=DAILY;COUNT=3")
    post(d, k["host"], kind="meeting", title="Moved to room 1", series_id=room2["id"],
         recurrence_id=f"{day(5)}T15:00:00", location="  hcmc dost,   ROOM 1 ",
         start=f"{day(5)}T16:00:00", end=f"{day(5)}T17:00:00")
    post(d, k["busan-city"], kind="visit", title="Busan at room 1", timezone="Asia/Ho_Chi_Minh",
         location="HCMC DOST, room 1", start=f"{day(6)}T08:00:00", end=f"{day(6)}T09:00:00")
    venue = make_feed(d, k["host"], mode="freebusy",
                      filter={"locations": ["hcmc dost, room 1"]})
    assert venue["filter"] == {"locations": ["hcmc dost, room 1"]}
    fb = read(d.request("GET", path_of(venue)).body)
    assert fb["icalendar"] == [
        [z(f"{day(3)}T09:00:00"), z(f"{day(3)}T10:00:00"), "BUSY"],
        [z(f"{day(5)}T09:00:00"), z(f"{day(5)}T10:00:00"), "BUSY"],
        [z(f"{day(5)}T16:00:00"), z(f"{day(5)}T17:00:00"), "BUSY"],
        [z(f"{day(6)}T08:00:00"), z(f"{day(6)}T09:00:00"), "BUSY"]], fb["icalendar"]
    # An events feed takes the same filter.
    events = d.request("GET", path_of(make_feed(d, k["host"], filter={"locations": ["Room 2"]})))
    assert b"SUMMARY:Weekly in room 2" in events.body
    assert b"SUMMARY:Weekly in room 1" not in events.body and b"Busan" not in events.body


def test_freebusy_feed_is_cached_and_revalidated(ctx):
    """ETag, Last-Modified (the VFREEBUSY's DTSTAMP), 304 on either, HEAD,
    gzip with its own ETag. A change no period shows (a title) changes no
    byte; a change of time does, in this instance and another."""
    import harness
    db, k, d = world(ctx)
    other = ctx.daemon(db)
    ev = post(d, k["host"], kind="meeting", title="First title", start=f"{day(2)}T09:00:00",
              end=f"{day(2)}T10:00:00")
    feed = make_feed(d, k["host"], mode="freebusy", future_days=30)
    a = d.request("GET", path_of(feed))
    fb = read(a.body)
    assert a.header("ETag") and a.header("Last-Modified")
    stamp = datetime.datetime.strptime(fb["dtstamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert a.header("Last-Modified") == stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")}).status == 304
    assert d.request("GET", path_of(feed),
                     headers={"If-Modified-Since": a.header("Last-Modified")}).status == 304
    h = d.request("HEAD", path_of(feed))
    assert h.status == 200 and h.body == b"" and h.header("Content-Length") == str(len(a.body))
    gz = d.request("GET", path_of(feed), headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(gz.body) == a.body and gz.header("ETag") != a.header("ETag")
    assert other.request("GET", path_of(feed)).body == a.body

    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Renamed"})
    assert r.status == 200, r
    assert d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")}).status == 304
    assert d.request("GET", path_of(feed)).body == a.body

    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"end": f"{day(2)}T11:00:00"})
    assert r.status == 200, r
    b = d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")})
    assert b.status == 200 and b.header("ETag") != a.header("ETag")
    # (Last-Modified is never later than Date: a change in the same second
    # as the last one shows the same date until the clock moves on, but
    # that date is no longer enough for a 304.)
    assert d.request("GET", path_of(feed),
                     headers={"If-Modified-Since": a.header("Last-Modified")}).status == 200
    after = read(b.body)
    assert after["icalendar"] == [[z(f"{day(2)}T09:00:00"), z(f"{day(2)}T11:00:00"), "BUSY"]]
    assert after["dtstamp"] > fb["dtstamp"]
    harness.wait_for(lambda: other.request("GET", path_of(feed)).body == b.body, 10,
                     what="the change in the other instance")
    listed = lambda: d.request("GET", f"/v1/feeds/{feed['id']}", token=k["host"]).json()  # noqa: E731
    harness.wait_for(lambda: listed()["size_bytes"] == len(b.body), 10, what="the feed's state")
    assert listed()["mode"] == "freebusy" and listed()["events"] == 1  # periods


def test_freebusy_feed_validation(ctx):
    db, k, d = world(ctx)
    count = lambda: ctx.cluster.psql("SELECT count(*) FROM feeds", db.split("dbname=")[1])  # noqa: E731
    before = count()
    for body, field in [
            ({"mode": "busy"}, "mode"), ({"mode": 1}, "mode"),
            ({"mode": "freebusy", "alarms": True}, "alarms"),
            ({"mode": "freebusy", "future_days": None}, "future_days"),
            ({"mode": "freebusy", "past_days": 300, "future_days": 100}, "future_days"),
            ({"mode": "freebusy", "past_days": 300}, "past_days"),
            ({"filter": {"locations": "Room 1"}}, "filter.locations"),
            ({"filter": {"locations": [5]}}, "filter.locations[0]"),
            ({"filter": {"locations": ["x" * 201]}}, "filter.locations[0]"),
            ({"filter": {"locations": ["a"] * 51}}, "filter.locations"),
            ({"filter": {"rooms": ["1"]}}, "filter.rooms")]:
        p = problem(d.request("POST", "/v1/feeds", token=k["host"],
                              body=dict({"name": "x"}, **body)), 422)
        assert [e["field"] for e in p["errors"]] == [field], (body, p)
    assert count() == before
    # A webhook's filter is the listing filters': no venue.
    p = problem(d.request("POST", "/v1/webhooks", token=k["host"], body={
        "url": "https://example.org/hook", "types": ["event.created"],
        "filter": {"locations": ["Room 1"]}}), 422)
    assert p["errors"][0]["field"] == "filter.locations", p

    fb = make_feed(d, k["host"], mode="freebusy")
    ev = make_feed(d, k["host"], name="events")
    assert ev["mode"] == "events"
    url = lambda f: f"/v1/feeds/{f['id']}"  # noqa: E731
    for feed, body, field in [(fb, {"mode": "events"}, "mode"), (ev, {"mode": "freebusy"}, "mode"),
                              (fb, {"mode": "nonsense"}, "mode"), (fb, {"alarms": True}, "alarms"),
                              (fb, {"future_days": None}, "future_days"),
                              (fb, {"future_days": 367}, "future_days"),
                              (fb, {"past_days": 300}, "past_days")]:
        p = problem(d.request("PATCH", url(feed), token=k["host"], body=body), 422)
        assert [e["field"] for e in p["errors"]] == [field], (body, p)
    got = d.request("GET", url(fb), token=k["host"]).json()
    assert (got["mode"], got["alarms"], got["past_days"], got["future_days"]) == ("freebusy", False, 0, 90)
    r = d.request("PATCH", url(fb), token=k["host"],
                  body={"mode": "freebusy", "past_days": 7, "future_days": 30,
                        "filter": {"locations": ["Room 1"]}})
    assert r.status == 200, r
    assert (r.json()["past_days"], r.json()["future_days"]) == (7, 30)
    r = d.request("PATCH", url(ev), token=k["host"], body={"mode": "events", "alarms": True})
    assert r.status == 200 and r.json()["alarms"] is True, r
    problem(d.request("PATCH", f"/v1/feeds/{fb['id']}", token=k["cabc"], body={"name": "x"}), 404)


def test_freebusy_never_offers_time_it_could_not_count(ctx):
    """A stored series too long to count (written by SQL before rules were
    checked: a COUNT must be stepped from its start, here far more steps
    than an expansion may take) runs out of its budget: from its start on,
    the window is BUSY-UNAVAILABLE rather than free, busy time still says
    BUSY, and the feed answers at once."""
    import time
    db, k, d = world(ctx)
    post(d, k["host"], kind="meeting", title="Counted", start=f"{day(3)}T09:00:00",
         end=f"{day(3)}T10:00:00")
    legacy = post(d, k["host"], kind="meeting", title="Legacy", start="2026-01-01T09:00:00",
                  end="2026-01-01T10:00:00", rrule="FREQ=DAILY;COUNT=2")
    ctx.cluster.psql(f"UPDATE events SET rrule = 'FREQ=MINUTELY;COUNT=900000', "
                     f"last_end_utc = 'infinity' WHERE id = '{legacy['id']}'",
                     db.split("dbname=")[1])
    feed = make_feed(d, k["host"], mode="freebusy", future_days=30)
    t0 = time.monotonic()
    r = d.request("GET", path_of(feed))
    assert r.status == 200 and time.monotonic() - t0 < 5, r
    today = datetime.datetime.now(UTC).date()
    start, end = f"{today}T00:00:00Z", f"{today + datetime.timedelta(days=30)}T00:00:00Z"
    busy = [z(f"{day(3)}T09:00:00"), z(f"{day(3)}T10:00:00")]
    got = read(r.body)["icalendar"]
    assert got == [[start, busy[0], "BUSY-UNAVAILABLE"], busy + ["BUSY"],
                   [busy[1], end, "BUSY-UNAVAILABLE"]], (got, d.logtext()[-2000:])
    assert "could not be expanded in time" in d.logtext()


def test_freebusy_of_a_person(ctx):
    """A person's busy time ("people", from visits' programmes): the items
    they take part in or interpret, in every visit the feed's org is party
    to, and nothing of anyone else's."""
    db, k, d = world(ctx)
    a, b = day(10).isoformat(), day(20).isoformat()

    def visit(date, title, items):
        body = {"direction": "inbound", "title": title, "timezone": "Asia/Ho_Chi_Minh",
                "arrive": f"{date}T08:00:00", "depart": f"{date}T20:00:00",
                "partners": ["busan-city"], "status": "confirmed",
                "delegates": [{"name": "Trần Thị Mai", "role": "interpreter"},
                              {"name": "Kim Min-jun", "role": "head"}],
                "programme": items}
        r = d.request("POST", "/v1/visits", body=body, token=k["host"])
        assert r.status == 201, r

    visit(a, "Busan delegation", [
        {"title": "Working session", "start": f"{a}T09:00:00", "end": f"{a}T11:00:00",
         "location": "HCMC DOST", "people": ["Kim Min-jun"], "interpreter": "Trần Thị Mai"},
        {"title": "Lunch", "start": f"{a}T12:00:00", "end": f"{a}T13:00:00",
         "location": "Rex", "people": ["Kim Min-jun"]}])
    visit(b, "Busan follow-up", [
        {"title": "Site visit", "start": f"{b}T14:00:00", "end": f"{b}T16:30:00",
         "location": "SIHUB", "people": ["Trần Thị Mai"]}])
    feed = make_feed(d, k["host"], name="Mai's time", mode="freebusy",
                     filter={"people": ["Trần Thị Mai"]})
    fb = read(d.request("GET", path_of(feed)).body)
    assert fb["icalendar"] == [[z(f"{a}T09:00:00"), z(f"{a}T11:00:00"), "BUSY"],
                               [z(f"{b}T14:00:00"), z(f"{b}T16:30:00"), "BUSY"]], fb
    feed = make_feed(d, k["host"], name="Kim's time", mode="freebusy",
                     filter={"people": ["Kim Min-jun"]})
    fb = read(d.request("GET", path_of(feed)).body)
    assert fb["icalendar"] == [[z(f"{a}T09:00:00"), z(f"{a}T11:00:00"), "BUSY"],
                               [z(f"{a}T12:00:00"), z(f"{a}T13:00:00"), "BUSY"]], fb
