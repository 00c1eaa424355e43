"""/v1/occurrences: recurrences expanded in the event's zone, exdates,
rdates, overrides, the window, paging."""
import datetime
import json
import subprocess

from harness import problem
from test_events import world
from test_feed_page import Page
from test_feeds import EXPAND, make_feed, path_of
from test_freebusy import read


def occ(d, token, q):
    r = d.request("GET", "/v1/occurrences?" + q, token=token)
    assert r.status == 200, r
    return r.json()


def test_weekly_toronto_meeting_keeps_9am_across_dst(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly", "timezone": "America/Toronto",
        "start": "2026-02-23T09:00:00", "end": "2026-02-23T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=4"})
    assert s.status == 201, s
    items = occ(d, k["host"], "from=2026-02-01&to=2026-04-01")["items"]
    assert [i["start"] for i in items] == ["2026-02-23T09:00:00", "2026-03-02T09:00:00",
                                           "2026-03-09T09:00:00", "2026-03-16T09:00:00"]
    assert [i["start_utc"] for i in items] == ["2026-02-23T14:00:00Z", "2026-03-02T14:00:00Z",
                                               "2026-03-09T13:00:00Z", "2026-03-16T13:00:00Z"]
    assert [i["end_utc"] for i in items][2] == "2026-03-09T14:00:00Z"
    assert all(i["event_id"] == s.json()["id"] and i["timezone"] == "America/Toronto"
               for i in items)
    assert items[0]["recurrence_id"] == "2026-02-23T09:00:00"


def test_exdates_rdates_and_overrides(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Weekly sync", "start": "2024-08-05T10:00:00",
        "end": "2024-08-05T11:00:00", "rrule": "FREQ=WEEKLY;COUNT=4",
        "exdates": ["2024-08-19T10:00:00"], "rdates": ["2024-08-31T15:00:00"]}).json()
    o = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Weekly sync (moved)", "start": "2024-08-12T14:00:00",
        "end": "2024-08-12T15:00:00", "series_id": s["id"],
        "recurrence_id": "2024-08-12T10:00:00"}).json()
    c = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Weekly sync", "start": "2024-08-26T10:00:00",
        "series_id": s["id"], "recurrence_id": "2024-08-26T10:00:00",
        "status": "cancelled"}).json()
    items = occ(d, k["host"], "from=2024-08-01&to=2024-09-30")["items"]
    got = [(i["start"], i["title"], i["status"], i.get("override_id")) for i in items]
    assert got == [("2024-08-05T10:00:00", "Weekly sync", "confirmed", None),
                   ("2024-08-12T14:00:00", "Weekly sync (moved)", "confirmed", o["id"]),
                   ("2024-08-26T10:00:00", "Weekly sync", "cancelled", c["id"]),
                   ("2024-08-31T15:00:00", "Weekly sync", "confirmed", None)], got
    # Moved out of the window: the original time shows nothing.
    items = occ(d, k["host"], "from=2024-08-12T02:00:00Z&to=2024-08-12T04:00:00Z")["items"]
    assert items == []


def test_all_day_yearly_festival(ctx):
    db, k, d = world(ctx)
    f = d.request("POST", "/v1/events", token=k["busan-city"], body={
        "kind": "festival", "title": "FLY ASIA", "all_day": True, "timezone": "Asia/Seoul",
        "start": "2022-10-13", "end": "2022-10-15", "rrule": "FREQ=YEARLY"}).json()
    items = occ(d, k["host"], "from=2026-01-01&to=2027-01-01")["items"]
    assert len(items) == 1, items
    i = items[0]
    assert (i["start"], i["end"], i["all_day"]) == ("2026-10-13", "2026-10-15", True)
    assert i["start_utc"] == "2026-10-12T15:00:00Z" and i["event_id"] == f["id"]


def test_window_rules(ctx):
    db, k, d = world(ctx)
    for q, field in [("to=2024-02-01", "from"), ("from=2024-01-01", "to"),
                     ("from=2024-01-01&to=2025-06-01", "to"),
                     ("from=2024-02-01&to=2024-01-01", "to"), ("from=x&to=y", "from")]:
        p = problem(d.request("GET", "/v1/occurrences?" + q, token=k["host"]), 422)
        assert p["errors"][0]["field"] == field, (q, p)


def test_paging_and_visibility(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Daily", "start": "2024-09-01T08:00:00",
        "rrule": "FREQ=DAILY;COUNT=10", "visibility": "private", "partners": ["busan-city"]})
    starts, cursor = [], None
    while True:
        page = occ(d, k["busan-city"], "from=2024-09-01&to=2024-10-01&limit=3"
                   + (f"&cursor={cursor}" if cursor else ""))
        starts += [i["start"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert starts == [f"2024-09-{n:02d}T08:00:00" for n in range(1, 11)]
    assert occ(d, k["cabc"], "from=2024-09-01&to=2024-10-01")["items"] == []
    assert len(occ(d, k["host"], "from=2024-09-01&to=2024-10-01&kind=meeting")["items"]) == 10
    assert occ(d, k["host"], "from=2024-09-01&to=2024-10-01&kind=visit")["items"] == []


def test_an_rdate_that_the_rule_gives_too_is_one_occurrence(ctx):
    """RFC 5545 3.8.5.3: where the rule and an RDATE give the same instant,
    only one recurrence is considered. The API listed it twice (and
    planned its reminders twice); an override cancelling or moving it took
    one away and left the other showing as happening, where every
    subscribed calendar showed it cancelled or moved."""
    db, k, d = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Daily stand-up", "timezone": "UTC",
        "start": "2027-05-03T09:00:00", "end": "2027-05-03T10:00:00",
        "rrule": "FREQ=DAILY;COUNT=4", "rdates": ["2027-05-05T09:00:00", "2027-05-08T09:00:00"],
        "reminders": ["-PT2H"]}).json()
    q = "from=2027-05-01&to=2027-05-10"
    days = ["2027-05-03", "2027-05-04", "2027-05-05", "2027-05-06", "2027-05-08"]

    def live():
        return [(i["start"], i["title"]) for i in occ(d, k["host"], q)["items"]
                if i["status"] != "cancelled"]

    def shown():
        body = d.request("GET", path_of(feed)).body
        out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, "2027-05-01T00:00:00+00:00",
                              "2027-05-10T00:00:00+00:00"], input=body, capture_output=True)
        assert out.returncode == 0, out.stderr.decode()
        return [(s, t) for t, s, _, st in json.loads(out.stdout) if st != "CANCELLED"]

    feed = make_feed(d, k["host"])
    assert live() == [(f"{day}T09:00:00", "Daily stand-up") for day in days]
    assert sorted(live()) == sorted(shown()), (live(), shown())
    fires = [i["fire_at"] for i in d.request(
        "GET", f"/v1/events/{ev['id']}/reminders", token=k["host"]).json()["items"]]
    assert fires == [f"{day}T07:00:00Z" for day in days], fires
    # Moved: at its new time only, as every calendar shows it.
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Stand-up (late)", "timezone": "UTC",
        "start": "2027-05-05T15:00:00", "end": "2027-05-05T16:00:00",
        "series_id": ev["id"], "recurrence_id": "2027-05-05T09:00:00"})
    assert r.status == 201, r
    assert ("2027-05-05T09:00:00", "Daily stand-up") not in live()
    assert ("2027-05-05T15:00:00", "Stand-up (late)") in live()
    assert sorted(live()) == sorted(shown()), (live(), shown())
    # Cancelled: not happening anywhere.
    r = d.request("PATCH", f"/v1/events/{r.json()['id']}", token=k["host"],
                  body={"status": "cancelled"})
    assert r.status == 200, r
    assert [s for s, _ in live()] == [f"{day}T09:00:00" for day in days if day != "2027-05-05"]
    assert sorted(live()) == sorted(shown()), (live(), shown())


def expanded(d, feed, lo, hi):
    """What recurring_ical_events makes of the feed in [lo, hi):
    [(local start, title)] of what is not cancelled."""
    body = d.request("GET", path_of(feed)).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, lo, hi], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return sorted((s, t) for t, s, _, st in json.loads(out.stdout) if st != "CANCELLED")


def test_an_rdate_before_the_start_is_in_every_window_that_holds_it(ctx):
    """RFC 5545 puts no bound on RDATE, and an import of a series whose
    DTSTART is off its rule makes one before the start. Every window took
    the start as the series' first instant: /v1/occurrences and lists left
    such an occurrence out unless the window also reached the start, while
    every subscribed calendar showed it. The second series' RDATE is on the
    day Berlin's clocks go back, at 02:30 the first time (RFC 5545 3.3.5:
    of two instants, the earlier), which the window must find too."""
    db, k, d = world(ctx)
    ids = {}
    for title, zone, start, rdates in [
            ("Steering group", "Europe/Berlin", "2027-11-10T02:30:00", ["2027-09-01T10:00:00"]),
            ("Board call", "Europe/Berlin", "2027-11-10T02:30:00", ["2027-10-31T02:30:00"]),
            # A zone whose name PostgreSQL reads as a fixed offset: the
            # RDATE's instant is the daemon's (summer time), not PostgreSQL's.
            ("Summer call", "CET", "2027-09-08T10:00:00", ["2027-07-01T10:00:00"])]:
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "meeting", "title": title, "timezone": zone, "start": start,
            "end": start[:11] + "%02d" % (int(start[11:13]) + 1) + start[13:],
            "rrule": "FREQ=WEEKLY;COUNT=2", "rdates": rdates, "reminders": ["-PT1H"]})
        assert r.status == 201, r
        ids[title] = r.json()["id"]
    feed = make_feed(d, k["host"])
    steering = [("2027-09-01T10:00:00", "Steering group")]
    board = [("2027-10-31T02:30:00", "Board call")]
    summer = [("2027-07-01T10:00:00", "Summer call")]
    later = [(f"2027-11-{n}T02:30:00", t) for n in (10, 17)
             for t in ("Board call", "Steering group")]
    september = [(f"2027-09-{n}T10:00:00", "Summer call") for n in ("08", "15")]
    for lo, hi, want in [
            ("2027-08-30", "2027-09-05", steering),
            ("2027-10-31T00:15:00Z", "2027-10-31T00:45:00Z", board),
            ("2027-10-31T01:31:00Z", "2027-10-31T01:45:00Z", []),
            ("2027-07-01T07:30:00Z", "2027-07-01T08:30:00Z", summer),
            ("2027-06-01", "2027-12-01", sorted(steering + board + summer + later + september))]:
        q = f"from={lo}&to={hi}"
        got = sorted((i["start"], i["title"]) for i in occ(d, k["host"], q)["items"])
        assert got == want, (q, got)
        # Lists: an item is listed when one of its occurrences is in the window.
        listed = sorted(e["title"] for e in d.request(
            "GET", "/v1/events?" + q, token=k["host"]).json()["items"])
        assert listed == sorted({t for _, t in want}), (q, listed)
        # And a calendar app reading the feed sees the same (python's
        # icalendar reads the twice-occurring 02:30 as the later instant,
        # against RFC 5545: those two windows are the API's alone).
        if "T" in lo:
            continue
        assert expanded(d, feed, lo + "T00:00:00+00:00", hi + "T00:00:00+00:00") == want, q
    # A deadline (a point in time) whose RDATE came first is listed in a
    # window from its start.
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "deadline", "title": "Report due", "timezone": "UTC",
        "start": "2027-12-01T09:00:00", "rdates": ["2027-11-20T09:00:00"]})
    assert r.status == 201, r
    listed = [e["title"] for e in d.request(
        "GET", "/v1/events?from=2027-12-01T09:00:00Z&to=2027-12-02", token=k["host"]).json()["items"]]
    assert listed == ["Report due"], listed
    # The early occurrences' reminders are planned like any other.
    for title, first in [("Steering group", "2027-09-01T07:00:00Z"),
                         ("Board call", "2027-10-30T23:30:00Z"),
                         ("Summer call", "2027-07-01T07:00:00Z")]:
        fires = [i["fire_at"] for i in d.request(
            "GET", f"/v1/events/{ids[title]}/reminders", token=k["host"]).json()["items"]]
        assert fires[0] == first, (title, fires)


def test_an_override_has_no_dates_of_its_own(ctx):
    """An override is one occurrence: an RDATE or EXDATE beside its
    RECURRENCE-ID means nothing to any calendar (the feed gives none, the
    import drops them), yet the API kept them and its windows and
    conflicts spanned them."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Weekly", "timezone": "UTC", "start": "2027-01-05T09:00:00",
        "end": "2027-01-05T10:00:00", "rrule": "FREQ=WEEKLY;COUNT=3"}).json()
    for field in ("rdates", "exdates"):
        p = problem(d.request("POST", "/v1/events", token=k["host"], body={
            "series_id": s["id"], "recurrence_id": "2027-01-12T09:00:00",
            "start": "2027-01-12T10:00:00", field: ["2027-01-01T09:00:00"]}), 422)
        assert [e["field"] for e in p["errors"]] == [field], p
    listed = d.request("GET", "/v1/events", token=k["host"]).json()["items"]
    assert [e["id"] for e in listed] == [s["id"]], listed  # nothing written
    o = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-12T09:00:00",
        "start": "2027-01-12T10:00:00"})
    assert o.status == 201 and o.json()["rdates"] == [] and o.json()["exdates"] == [], o


def test_an_imported_series_off_its_rule_keeps_its_first_day_in_windows(ctx):
    """The import restates a series whose DTSTART is not an instance of its
    rule: the series starts at the rule's first instance and DTSTART
    becomes an RDATE before it. That first day must stay in every window
    that holds it."""
    db, k, d = world(ctx)
    body = ("\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
        "UID:off-rule-1", "DTSTAMP:20270101T000000Z", "SUMMARY:Kick-off, then Wednesdays",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20270301T090000",
        "DTEND;TZID=Asia/Ho_Chi_Minh:20270301T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=3", "END:VEVENT", "END:VCALENDAR"]) +
        "\r\n").encode()
    r = d.request("POST", "/v1/events", body=body, token=k["host"],
                  headers={"Content-Type": "text/calendar; charset=utf-8"})
    assert r.status == 200 and len(r.json()["created"]) == 1, r
    ev = d.request("GET", f"/v1/events/{r.json()['created'][0]}", token=k["host"]).json()
    assert ev["start"] == "2027-03-03T09:00:00" and ev["rdates"] == ["2027-03-01T09:00:00"], ev
    feed = make_feed(d, k["host"])
    q = "from=2027-02-28&to=2027-03-02"
    assert [i["start"] for i in occ(d, k["host"], q)["items"]] == ["2027-03-01T09:00:00"]
    assert [e["id"] for e in d.request("GET", "/v1/events?" + q,
                                       token=k["host"]).json()["items"]] == [ev["id"]]
    assert expanded(d, feed, "2027-02-28T00:00:00+00:00", "2027-03-02T00:00:00+00:00") == \
        [("2027-03-01T09:00:00", "Kick-off, then Wednesdays")]


def test_an_rdate_before_the_start_shows_in_feeds_that_reach_only_it(ctx):
    """A feed's days ahead, a free/busy feed's window and the subscribe
    page each chose series by their start: a series whose DTSTART lies past
    the window but whose RDATE lies in it was missing from all three."""
    def day(n):
        return datetime.date.today() + datetime.timedelta(days=n)

    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Preparatory call", "timezone": "UTC",
        "start": f"{day(200)}T09:00:00", "end": f"{day(200)}T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=2", "rdates": [f"{day(5)}T09:00:00"]})
    assert r.status == 201, r
    near = make_feed(d, k["host"], future_days=30)
    now = datetime.datetime.now(datetime.timezone.utc)
    window = [now.isoformat(), (now + datetime.timedelta(days=30)).isoformat()]
    assert expanded(d, near, *window) == [(f"{day(5)}T09:00:00", "Preparatory call")]
    fb = read(d.request("GET", path_of(make_feed(d, k["host"], mode="freebusy"))).body)
    assert fb["icalendar"] == [[f"{day(5)}T09:00:00Z", f"{day(5)}T10:00:00Z", "BUSY"]], fb
    page = Page(d.request("GET", path_of(near)[:-len(".ics")]).body)
    assert [(e["name"], e["startDate"][:10]) for e in page.ld] == \
        [("Preparatory call", str(day(5)))], page.ld


def test_an_all_day_series_spans_its_last_day_whole(ctx):
    """An all-day series lasts whole days on the wall. Its first day here
    is 23 hours long (Berlin's clocks go forward on 2027-03-28), its last
    24: the series' span must reach the end of its last day, not 23 hours
    past that day's start, or a window in its last hour leaves it out.
    The same for a day added by RDATE."""
    db, k, d = world(ctx)
    for rdates in ([], ["2027-05-02"]):
        s = d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "deadline", "title": "Spring report " + str(len(rdates)),
            "timezone": "Europe/Berlin", "all_day": True, "start": "2027-03-28",
            "rrule": "FREQ=WEEKLY;COUNT=3", "rdates": rdates})
        assert s.status == 201, s
        last = "2027-05-02" if rdates else "2027-04-11"
        # 23:30-23:45 on the last day in Berlin (CEST, UTC+2).
        window = f"from={last}T21:30:00Z&to={last}T21:45:00Z"
        listed = d.request("GET", "/v1/events?" + window, token=k["host"]).json()["items"]
        assert [e["id"] for e in listed] == [s.json()["id"]], (rdates, listed)
        occ = d.request("GET", "/v1/occurrences?" + window, token=k["host"]).json()["items"]
        assert [(o["event_id"], o["start"]) for o in occ] == [(s.json()["id"], last)], \
            (rdates, occ)
        d.request("DELETE", f"/v1/events/{s.json()['id']}", token=k["host"])
