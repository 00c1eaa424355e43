"""iCalendar import: files in the style of Google Calendar, Outlook and
Apple Calendar exports, written for this test."""
import json
import os
import subprocess

from harness import problem
from test_events import world
from test_feeds import EXPAND, make_feed, path_of


def ics(*lines):
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


GOOGLE = ics(
    "BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN", "VERSION:2.0",
    "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:HCMC DOST",
    "X-WR-TIMEZONE:Asia/Ho_Chi_Minh",
    "BEGIN:VTIMEZONE", "TZID:Asia/Ho_Chi_Minh", "X-LIC-LOCATION:Asia/Ho_Chi_Minh",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0700", "TZOFFSETTO:+0700", "TZNAME:+07",
    "DTSTART:19700101T000000", "END:STANDARD", "END:VTIMEZONE",
    "BEGIN:VEVENT", "DTSTART;TZID=Asia/Ho_Chi_Minh:20240821T140000",
    "DTEND;TZID=Asia/Ho_Chi_Minh:20240821T170000", "RRULE:FREQ=WEEKLY;COUNT=3",
    "EXDATE;TZID=Asia/Ho_Chi_Minh:20240828T140000", "DTSTAMP:20240801T000000Z",
    "UID:weekly-1@google.com", "SUMMARY:Đà Nẵng kết nối hệ sinh thái khởi nghiệp\\, đổi mới sáng",
    "  tạo với các doanh nghiệp Trung Quốc", "LOCATION:", "DESCRIPTION:",
    "CATEGORIES:visit", "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT30M",
    "DESCRIPTION:Reminder", "END:VALARM", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;TZID=Asia/Ho_Chi_Minh:20240904T160000",
    "DTEND;TZID=Asia/Ho_Chi_Minh:20240904T180000",
    "RECURRENCE-ID;TZID=Asia/Ho_Chi_Minh:20240904T140000", "UID:weekly-1@google.com",
    "SUMMARY:Moved session", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART:20241014T140000Z", "DTEND:20241014T160000Z",
    "UID:utc-1@google.com", "SUMMARY:Meeting with CABC", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20241017", "DTEND;VALUE=DATE:20241019",
    "UID:allday-1@google.com", "SUMMARY:FLY ASIA", "CATEGORIES:festival,startups",
    "END:VEVENT", "END:VCALENDAR")

OUTLOOK = ics(
    "BEGIN:VCALENDAR", "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
    "VERSION:2.0", "METHOD:PUBLISH",
    "BEGIN:VTIMEZONE", "TZID:SE Asia Standard Time", "BEGIN:STANDARD",
    "DTSTART:16010101T000000", "TZOFFSETFROM:+0700", "TZOFFSETTO:+0700", "END:STANDARD",
    "END:VTIMEZONE",
    "BEGIN:VTIMEZONE", "TZID:Eastern Standard Time", "BEGIN:STANDARD",
    "DTSTART:16011104T020000", "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
    "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "END:STANDARD", "BEGIN:DAYLIGHT",
    "DTSTART:16010311T020000", "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
    "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "END:DAYLIGHT", "END:VTIMEZONE",
    "BEGIN:VTIMEZONE", "TZID:Custom Office Zone", "BEGIN:STANDARD",
    "DTSTART:16010101T000000", "TZOFFSETFROM:+0530", "TZOFFSETTO:+0530", "END:STANDARD",
    "END:VTIMEZONE",
    "BEGIN:VEVENT", "CLASS:PUBLIC", "DTSTART;TZID=\"SE Asia Standard Time\":20241105T090000",
    "DTEND;TZID=\"SE Asia Standard Time\":20241105T113000",
    "UID:040000008200E00074C5B7101A82E00800000000@outlook", "SUMMARY;LANGUAGE=vi:Họp Becamex",
    "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;TZID=Eastern Standard Time:20261101T090000",
    "DTEND;TZID=Eastern Standard Time:20261101T100000", "UID:est-1@outlook",
    "SUMMARY:Toronto call", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;TZID=Custom Office Zone:20241001T100000",
    "UID:custom-1@outlook", "SUMMARY:Custom zone", "END:VEVENT",
    "END:VCALENDAR")

APPLE = ics(
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Apple Inc.//macOS 14.0//EN",
    "CALSCALE:GREGORIAN",
    "BEGIN:VEVENT", "DTSTART;TZID=/freeassociation.sourceforge.net/Asia/Seoul:20241016T100000",
    "DTEND;TZID=/freeassociation.sourceforge.net/Asia/Seoul:20241016T100000",
    "UID:apple-1", "SUMMARY:Busan opening", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
    "RDATE;VALUE=PERIOD:20241017T010000Z/20241017T020000Z", "URL:https://flyasia.example/",
    "STATUS:TENTATIVE", "END:VEVENT",
    "BEGIN:VTODO", "UID:todo-1", "SUMMARY:Buy gifts", "END:VTODO",
    "BEGIN:VEVENT", "UID:broken-1", "SUMMARY:No start", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;TZID=Mars/Olympus:20241016T100000", "UID:mars-1",
    "SUMMARY:Unknown zone", "END:VEVENT",
    "END:VCALENDAR")


def post(d, token, body):
    return d.request("POST", "/v1/events", body=body, token=token,
                     headers={"Content-Type": "text/calendar; charset=utf-8"})


def by_uid(d, token):
    return {e["uid"]: e for e in d.request("GET", "/v1/events", token=token).json()["items"]
            if e["series_id"] is None}


def test_google_style_export(ctx):
    db, k, d = world(ctx)
    r = post(d, k["host"], GOOGLE)
    assert r.status == 200, r
    res = r.json()
    assert len(res["created"]) == 4 and res["refused"] == [], res
    ev = by_uid(d, k["host"])
    w = ev["weekly-1@google.com"]
    assert w["title"] == ("Đà Nẵng kết nối hệ sinh thái khởi nghiệp, đổi mới sáng"
                          " tạo với các doanh nghiệp Trung Quốc"), w["title"]
    assert w["timezone"] == "Asia/Ho_Chi_Minh" and w["start"] == "2024-08-21T14:00:00"
    assert w["rrule"] == "FREQ=WEEKLY;COUNT=3" and w["exdates"] == ["2024-08-28T14:00:00"]
    assert w["reminders"] == ["-PT30M"] and w["kind"] == "visit" and w["location"] is None
    utc = ev["utc-1@google.com"]
    assert utc["timezone"] == "Asia/Ho_Chi_Minh" and utc["start"] == "2024-10-14T21:00:00"
    fest = ev["allday-1@google.com"]
    assert fest["all_day"] and fest["start"] == "2024-10-17" and fest["end"] == "2024-10-19"
    assert fest["kind"] == "festival" and fest["tags"] == ["startups"]
    occ = d.request("GET", "/v1/occurrences?from=2024-08-01&to=2024-09-30",
                    token=k["host"]).json()["items"]
    assert [(o["start"], o["title"][:5]) for o in occ] == [
        ("2024-08-21T14:00:00", "Đà Nẵ"), ("2024-09-04T16:00:00", "Moved")]
    # The same file again changes nothing; a changed one updates by UID.
    again = post(d, k["host"], GOOGLE).json()
    assert again["created"] == [] and again["updated"] == [] and len(again["unchanged"]) == 4
    changed = post(d, k["host"], GOOGLE.replace(b"SUMMARY:FLY ASIA", b"SUMMARY:FLY ASIA 2024")).json()
    assert len(changed["updated"]) == 1 and len(changed["unchanged"]) == 3, changed
    assert by_uid(d, k["host"])["allday-1@google.com"]["sequence"] == 1


def test_outlook_style_export(ctx):
    db, k, d = world(ctx)
    r = post(d, k["host"], OUTLOOK)
    assert r.status == 200, r
    assert len(r.json()["created"]) == 3 and r.json()["refused"] == [], r.json()
    ev = by_uid(d, k["host"])
    b = ev["040000008200E00074C5B7101A82E00800000000@outlook"]
    assert b["timezone"] == "Asia/Bangkok" and b["start"] == "2024-11-05T09:00:00", b
    assert b["end"] == "2024-11-05T11:30:00" and b["title"] == "Họp Becamex"
    est = ev["est-1@outlook"]
    assert est["timezone"] == "America/New_York" and est["start"] == "2026-11-01T09:00:00"
    # Known only by its VTIMEZONE (+05:30 all year): an IANA zone that agrees with it
    # keeps the wall time (the org's zone, +07:00, does not agree).
    custom = ev["custom-1@outlook"]
    assert custom["timezone"] in ("Asia/Kolkata", "Asia/Colombo"), custom
    assert custom["start"] == "2024-10-01T10:00:00"


def test_apple_style_export_and_messy_parts(ctx):
    db, k, d = world(ctx)
    r = post(d, k["busan-city"], APPLE)
    assert r.status == 200, r
    res = r.json()
    # The event, and its RDATE period as an override of its own length (one
    # hour, where the event has none).
    assert len(res["created"]) == 2, res
    assert [w["field"] for w in res["warnings"]] == ["rdates"], res
    refused = {x["uid"]: x["errors"] for x in res["refused"]}
    assert set(refused) == {"broken-1", "mars-1"}, refused
    assert refused["broken-1"][0]["field"] == "start"
    assert "Mars/Olympus" in refused["mars-1"][0]["message"]
    e = by_uid(d, k["busan-city"])["apple-1"]
    assert e["timezone"] == "Asia/Seoul" and e["start"] == "2024-10-16T10:00:00"
    assert e["end"] == "2024-10-16T10:00:00" and e["status"] == "tentative"
    assert e["rdates"] == ["2024-10-17T10:00:00"] and e["url"] == "https://flyasia.example/"


def test_not_icalendar_changes_nothing(ctx):
    db, k, d = world(ctx)
    for body in [b"hello", b"", b"BEGIN:VCALENDAR\r\nthis is not", b"BEGIN:VCALENDAR\x00",
                 "BEGIN:VEVENT\r\nEND:VEVENT\r\n".encode()]:
        problem(post(d, k["host"], body), 400)
    problem(post(d, k["viewer"], GOOGLE), 403)
    assert d.request("GET", "/v1/events", token=k["host"]).json()["items"] == []
    empty = post(d, k["host"], ics("BEGIN:VCALENDAR", "VERSION:2.0", "END:VCALENDAR")).json()
    assert empty == {"created": [], "updated": [], "unchanged": [], "refused": [], "warnings": []}


def test_hostile_calendars(ctx):
    db, k, d = world(ctx)
    ev = lambda *lines: ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", *lines,
                            "END:VEVENT", "END:VCALENDAR")
    cases = [
        ev("UID:bad-date", "DTSTART:20241399T999999", "SUMMARY:x"),
        ev("UID:bad-zone", "DTSTART;TZID=../../../etc/passwd:20241001T100000", "SUMMARY:x"),
        ev("UID:rrule-huge", "DTSTART:20241001T100000Z", "RRULE:FREQ=SECONDLY;COUNT=99999999"),
        ev("UID:rrule-junk", "DTSTART:20241001T100000Z", "RRULE:FREQ=DAILY;BYDAY=XX;COUNT=-5"),
        ev("UID:' OR 1=1; DROP TABLE events; --", "DTSTART:20241001T100000Z", "SUMMARY:sql"),
        ev("UID:long", "DTSTART:20241001T100000Z", "SUMMARY:" + "x" * 100000),
        ev("UID:utf8", "DTSTART:20241001T100000Z").replace(b"UID:utf8", b"UID:utf8\r\nSUMMARY:\xff\xfe"),
        ev("UID:gap", "DTSTART;TZID=America/Toronto:20260308T023000", "SUMMARY:gap"),
        ev("UID:trig", "DTSTART:20241001T100000Z", "BEGIN:VALARM", "TRIGGER:P99999W",
           "END:VALARM"),
        ics("BEGIN:VCALENDAR", "BEGIN:VEVENT", "UID:unclosed", "DTSTART:20241001T100000Z"),
        ics("BEGIN:VCALENDAR", *["BEGIN:VEVENT"] * 200, "END:VCALENDAR"),
        ics("BEGIN:VCALENDAR", "VERSION:2.0", *(["BEGIN:VEVENT", "UID:many", "DTSTART:20241001T100000Z",
                                                 "END:VEVENT"] * 300), "END:VCALENDAR"),
    ]
    for body in cases:
        r = post(d, k["host"], body)
        assert r.status in (200, 400, 413), (body[:80], r)
        if r.status == 200:
            res = r.json()
            assert set(res) == {"created", "updated", "unchanged", "refused", "warnings"}
    assert d.alive() and d.request("GET", "/healthz").status == 200
    titles = {e["uid"]: e for e in d.request("GET", "/v1/events?limit=1000",
                                             token=k["host"]).json()["items"]}
    # Whatever was kept is valid: no SECONDLY rule, a DTSTART the clocks skip
    # at the instant RFC 5545 gives it, and the 100 KB title cut to the 500
    # bytes a title may have (with a warning).
    assert "rrule-huge" not in titles, sorted(titles)
    assert titles["gap"]["start"] == "2026-03-08T03:30:00", titles["gap"]
    assert titles["long"]["title"] == "x" * 500
    assert "' OR 1=1; DROP TABLE events; --" in titles  # stored as text, harmlessly


# ---- real-world files (issue 14): one test per way exports went wrong ----------

CORPUS = os.path.join(os.path.dirname(__file__), "..", "data", "ics")


def corpus(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read()


def events(d, token):
    """Every event, overrides too, by (uid, recurrence_id)."""
    items = d.request("GET", "/v1/events?limit=1000", token=token).json()["items"]
    return {(e["uid"], e["recurrence_id"]): e for e in items}


def occ(d, token, frm, to):
    items = d.request("GET", f"/v1/occurrences?from={frm}&to={to}&limit=1000",
                      token=token).json()["items"]
    return [(o["title"], o["start"], o["end"], o["status"]) for o in items]


def warned(res, field):
    return [w for w in res.get("warnings", []) if w["field"] == field]


def import_twice(d, token, body):
    """Imports body twice; the second import must change nothing."""
    r = post(d, token, body)
    assert r.status == 200, r
    first = r.json()
    again = post(d, token, body).json()
    assert again["created"] == [] and again["updated"] == [], again
    assert sorted(again["unchanged"]) == sorted(first["created"] + first["updated"]), again
    return first


def test_vevents_without_uid_get_a_stable_derived_uid(ctx):
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("generated_timetable_nouid.ics"))
    # Five VEVENTs, two of them identical: four events, none refused.
    assert len(res["created"]) == 4 and res["refused"] == [], res
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    assert all(e["uid"].endswith("@import.liaison") and len(e["uid"]) == 32 + 15
               for e in ev.values()), ev
    assert {w["uid"] for w in warned(res, "uid")} == {e["uid"] for e in ev.values()}
    # Floating times are the file's X-WR-TIMEZONE; a local UNTIL is read there.
    cls = ev["Korean language class"]
    assert cls["timezone"] == "Asia/Seoul" and cls["rrule"].startswith("FREQ=WEEKLY;UNTIL=20260630T145959Z")
    # A DATE EXDATE of a timed series excludes that day's occurrence.
    assert cls["exdates"] == ["2026-06-18T18:30:00"], cls
    # An all-day item whose DTEND equals its DTSTART is its one day.
    assert occ(d, k["host"], "2026-06-06", "2026-06-07")[0][1:3] == ("2026-06-06", "2026-06-07")
    assert ev["Mentor clinic"]["end"] == "2026-06-09T11:30:00"  # DURATION:PT1H30M


def test_override_without_its_master_is_kept_as_a_single_event(ctx):
    """An invitation to one occurrence of a series the receiver does not have."""
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("exchange_invitation_one_occurrence.ics"))
    assert len(res["created"]) == 1 and res["refused"] == [], res
    (w,) = warned(res, "recurrence_id")
    assert "040000008200E00074C5B7101A82E008" in w["message"], w
    (e,) = events(d, k["host"]).values()
    assert e["uid"] == w["uid"] and e["uid"].endswith("@import.liaison")
    assert e["series_id"] is None and e["recurrence_id"] is None and e["rrule"] is None
    assert e["timezone"] == "Asia/Bangkok" and e["start"] == "2026-06-10T14:00:00"
    assert e["reminders"] == ["-PT15M"]


def test_overrides_placed_on_their_series_or_kept_apart(ctx):
    """Fastmail: an override whose RECURRENCE-ID is no occurrence of its series is
    an event of its own; one given in UTC (with another length) replaces its
    occurrence, in the series' zone."""
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("fastmail_overrides.ics"))
    assert len(res["created"]) == 4 and res["refused"] == [], res
    ev = events(d, k["host"])
    uid = "8f3a2c1e-6b7d-4e9f-a0b1-c2d3e4f5a6b7"
    (extra,) = [e for e in ev.values() if e["title"] == "Extra mentor session"]
    assert extra["series_id"] is None and extra["uid"].endswith("@import.liaison"), extra
    utc = ev[(uid, "2026-07-21T10:00:00")]
    assert utc["timezone"] == "Asia/Singapore" and utc["start"] == "2026-07-21T14:00:00"
    assert utc["end"] == "2026-07-21T15:30:00"
    assert occ(d, k["host"], "2026-07-01", "2026-08-01") == [
        ("Mentor office hours", "2026-07-07T10:00:00", "2026-07-07T11:00:00", "confirmed"),
        ("Mentor office hours (noon)", "2026-07-14T12:00:00", "2026-07-14T13:00:00", "confirmed"),
        ("Extra mentor session", "2026-07-16T10:00:00", "2026-07-16T11:00:00", "confirmed"),
        ("Mentor office hours (afternoon)", "2026-07-21T14:00:00", "2026-07-21T15:30:00",
         "confirmed"),
        ("Mentor office hours", "2026-07-28T10:00:00", "2026-07-28T11:00:00", "confirmed")]
    (w,) = warned(res, "recurrence_id")
    assert w["uid"] == extra["uid"] and "2026-07-15T10:00:00" in w["message"], w
    assert "not an occurrence" in w["message"], w


# Google: one occurrence of a timed weekly series made all-day. liaison keeps
# an override to its series' kind, so it is an event of its own; the timed
# occurrence it replaces must not show beside it.
RETYPED = ics(
    "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
    "BEGIN:VEVENT", "DTSTART;TZID=Europe/Berlin:20261103T090000",
    "DTEND;TZID=Europe/Berlin:20261103T100000", "RRULE:FREQ=WEEKLY;COUNT=4",
    "UID:retyped-1@google.com", "SUMMARY:Berlin stand-up", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261110", "DTEND;VALUE=DATE:20261111",
    "RECURRENCE-ID;TZID=Europe/Berlin:20261110T090000", "UID:retyped-1@google.com",
    "SUMMARY:Berlin stand-up (offsite day)", "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261201", "DTEND;VALUE=DATE:20261202",
    "RRULE:FREQ=WEEKLY;COUNT=3", "UID:retyped-2@google.com", "SUMMARY:Demo day",
    "END:VEVENT",
    "BEGIN:VEVENT", "DTSTART:20261208T130000Z", "DTEND:20261208T150000Z",
    "RECURRENCE-ID;VALUE=DATE:20261208", "UID:retyped-2@google.com",
    "SUMMARY:Demo day (afternoon only)", "END:VEVENT",
    "END:VCALENDAR")


def test_an_override_of_the_other_kind_replaces_its_occurrence(ctx):
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], RETYPED)
    assert len(res["created"]) == 4 and res["refused"] == [], res
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    assert ev["Berlin stand-up"]["exdates"] == ["2026-11-10T09:00:00"], ev
    assert ev["Demo day"]["exdates"] == ["2026-12-08"], ev
    assert {w["uid"] for w in warned(res, "exdates")} == {
        "retyped-1@google.com", "retyped-2@google.com"}, res
    want = [
        ("Berlin stand-up", "2026-11-03T09:00:00"),
        ("Berlin stand-up", "2026-11-17T09:00:00"),
        ("Berlin stand-up", "2026-11-24T09:00:00"),
        ("Berlin stand-up (offsite day)", "2026-11-10"),
        ("Demo day", "2026-12-01"),
        ("Demo day", "2026-12-15"),
        ("Demo day (afternoon only)", "2026-12-08T20:00:00"),  # 13:00Z in the org's zone
    ]
    got = occ(d, k["host"], "2026-11-01", "2026-12-31")
    assert sorted((o[0], o[1]) for o in got) == want, got
    # A subscribed calendar shows the same days, once each.
    feed = make_feed(d, k["host"])
    body = d.request("GET", path_of(feed)).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, "2026-11-01T00:00:00+00:00",
                          "2026-12-31T00:00:00+00:00"], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    shown = sorted((t, local) for t, local, _, _ in json.loads(out.stdout))
    assert shown == want, shown
    # Google's next export turns the offsite day back into a timed session
    # moved to the afternoon; the one after drops the override. The event
    # made of the all-day override is cancelled, then the moved one taken
    # back: each day shows once, and the API and the feed agree.
    offsite = ("BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261110", "DTEND;VALUE=DATE:20261111",
               "RECURRENCE-ID;TZID=Europe/Berlin:20261110T090000",
               "UID:retyped-1@google.com", "SUMMARY:Berlin stand-up (offsite day)",
               "END:VEVENT")
    afternoon = ("BEGIN:VEVENT", "DTSTART;TZID=Europe/Berlin:20261110T150000",
                 "DTEND;TZID=Europe/Berlin:20261110T160000",
                 "RECURRENCE-ID;TZID=Europe/Berlin:20261110T090000",
                 "UID:retyped-1@google.com", "SUMMARY:Berlin stand-up (afternoon)",
                 "END:VEVENT")
    moved = RETYPED.replace(b"\r\n".join(x.encode() for x in offsite),
                            b"\r\n".join(x.encode() for x in afternoon))
    assert moved != RETYPED
    res = post(d, k["host"], moved).json()
    assert res["refused"] == [], res
    assert any("cancelled" in w["message"] for w in warned(res, "recurrence_id")), res
    day = [(t, s) for t, s, _, st in occ(d, k["host"], "2026-11-10", "2026-11-11")
           if st == "confirmed"]
    assert day == [("Berlin stand-up (afternoon)", "2026-11-10T15:00:00")], day
    gone = RETYPED.replace(b"\r\n".join(x.encode() for x in offsite) + b"\r\n", b"")
    assert gone != RETYPED
    post(d, k["host"], gone)
    again = post(d, k["host"], gone).json()
    assert again["updated"] == [] and not any(
        "cancelled" in w["message"] or "again" in w["message"] for w in again["warnings"]), again
    day = [(t, s) for t, s, _, st in occ(d, k["host"], "2026-11-10", "2026-11-11")
           if st == "confirmed"]
    assert day == [("Berlin stand-up", "2026-11-10T09:00:00")], day
    body = d.request("GET", path_of(feed)).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, "2026-11-10T00:00:00+00:00",
                          "2026-11-11T00:00:00+00:00"], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    shown = [(t, local) for t, local, _, st in json.loads(out.stdout) if st != "CANCELLED"]
    assert shown == [("Berlin stand-up", "2026-11-10T09:00:00")], shown


def test_an_all_day_override_named_by_a_date_replaces_that_days_occurrence(ctx):
    """An exporter that names a timed occurrence by its date alone
    (RECURRENCE-ID;VALUE=DATE): the day's occurrence is the one replaced."""
    db, k, d = world(ctx)
    body = ics(
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Example//Exporter//EN",
        "BEGIN:VEVENT", "DTSTART;TZID=Asia/Seoul:20261103T090000",
        "DTEND;TZID=Asia/Seoul:20261103T100000", "RRULE:FREQ=WEEKLY;COUNT=3",
        "EXDATE;TZID=Asia/Seoul:20261117T090000",
        "RDATE;TZID=Asia/Seoul:20261117T140000",
        "UID:by-date-1@example.com", "SUMMARY:Seoul check-in", "END:VEVENT",
        "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261110", "DTEND;VALUE=DATE:20261111",
        "RECURRENCE-ID;VALUE=DATE:20261110", "UID:by-date-1@example.com",
        "SUMMARY:Seoul check-in (whole day)", "END:VEVENT",
        "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261117", "DTEND;VALUE=DATE:20261118",
        "RECURRENCE-ID;VALUE=DATE:20261117", "UID:by-date-1@example.com",
        "SUMMARY:Seoul check-in (whole day, moved one)", "END:VEVENT",
        "END:VCALENDAR")
    res = import_twice(d, k["host"], body)
    assert res["refused"] == [], res
    series = [e for e in events(d, k["host"]).values() if e["rrule"]][0]
    assert series["exdates"] == ["2026-11-10T09:00:00", "2026-11-17T09:00:00",
                                 "2026-11-17T14:00:00"], series
    got = sorted(o[:2] for o in occ(d, k["host"], "2026-11-01", "2026-12-01"))
    assert got == [("Seoul check-in", "2026-11-03T09:00:00"),
                   ("Seoul check-in (whole day)", "2026-11-10"),
                   ("Seoul check-in (whole day, moved one)", "2026-11-17")], got


def test_a_uid_with_several_overrides_imports_unchanged_the_second_time(ctx):
    """Google: overrides moved, retitled, cancelled, and one exported twice with
    different SEQUENCEs. Both copies were written, the later over the earlier,
    and each import wrote them again: 'updated' for ever."""
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("google_partnerships.ics"))
    assert len(res["created"]) == 9 and res["refused"] == [], res
    (w,) = warned(res, "uid")
    assert "2 VEVENTs" in w["message"] and "RECURRENCE-ID" in w["message"], w
    uid = "5hq0r3v7bq2k1n0d9s8e4a6c1t@google.com"
    ev = events(d, k["host"])
    assert ev[(uid, "2026-04-06T09:00:00")]["title"].endswith("(late start, moved again)")
    assert ev[(uid, "2026-03-30T09:00:00")]["status"] == "cancelled"
    assert ev[(uid, "2026-03-09T09:00:00")]["end"] == "2026-03-09T16:00:00"
    # An UNTIL in UTC for a zoned series keeps its last occurrence after DST.
    toronto = [o for o in occ(d, k["host"], "2026-02-01", "2026-05-01") if o[0].startswith("CABC")]
    assert len(toronto) == 7 and toronto[-1][1] == "2026-04-07T09:00:00", toronto


def weekly_with(*overrides):
    return ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar//EN",
               "BEGIN:VEVENT", "DTSTART;TZID=Asia/Seoul:20261104T100000",
               "DTEND;TZID=Asia/Seoul:20261104T110000", "RRULE:FREQ=WEEKLY;COUNT=4",
               "UID:taken-back-1@google.com", "SUMMARY:Busan sync", "SEQUENCE:0",
               "END:VEVENT", *overrides, "END:VCALENDAR")


MOVED = ("BEGIN:VEVENT", "DTSTART;TZID=Asia/Seoul:20261111T150000",
         "DTEND;TZID=Asia/Seoul:20261111T160000",
         "RECURRENCE-ID;TZID=Asia/Seoul:20261111T100000",
         "UID:taken-back-1@google.com", "SUMMARY:Busan sync (afternoon)", "SEQUENCE:1",
         "END:VEVENT")
CANCELLED = ("BEGIN:VEVENT", "DTSTART;TZID=Asia/Seoul:20261118T100000",
             "DTEND;TZID=Asia/Seoul:20261118T110000",
             "RECURRENCE-ID;TZID=Asia/Seoul:20261118T100000", "STATUS:CANCELLED",
             "UID:taken-back-1@google.com", "SUMMARY:Busan sync", "SEQUENCE:1",
             "END:VEVENT")


def test_an_override_the_file_no_longer_gives_is_taken_back(ctx):
    """The organiser moved one occurrence, then moved it back: Google's next
    export has the series without the override. Importing it answered
    'unchanged' and kept the moved occurrence, so the API and every feed
    showed the session five hours after it happened."""
    db, k, d = world(ctx)
    import_twice(d, k["host"], weekly_with(*MOVED, *CANCELLED))
    before = occ(d, k["host"], "2026-11-01", "2026-12-01")
    assert ("Busan sync (afternoon)", "2026-11-11T15:00:00", "2026-11-11T16:00:00",
            "confirmed") in before, before
    # The file that takes the moved one back keeps the cancelled one.
    res = post(d, k["host"], weekly_with(*CANCELLED)).json()
    assert len(res["updated"]) == 1 and res["refused"] == [], res
    (w,) = warned(res, "recurrence_id")
    assert "2026-11-11T10:00:00" in w["message"] and "again" in w["message"], w
    again = post(d, k["host"], weekly_with(*CANCELLED)).json()
    assert again["created"] == again["updated"] == again["warnings"] == [], again
    want = [("Busan sync", "2026-11-04T10:00:00", "2026-11-04T11:00:00", "confirmed"),
            ("Busan sync", "2026-11-11T10:00:00", "2026-11-11T11:00:00", "confirmed"),
            ("Busan sync", "2026-11-18T10:00:00", "2026-11-18T11:00:00", "cancelled"),
            ("Busan sync", "2026-11-25T10:00:00", "2026-11-25T11:00:00", "confirmed")]
    assert occ(d, k["host"], "2026-11-01", "2026-12-01") == want
    # What a subscribed calendar shows agrees.
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, "2026-11-01T00:00:00+00:00",
                          "2026-12-01T00:00:00+00:00"], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    shown = [(t, local, st) for t, local, _, st in json.loads(out.stdout) if st != "CANCELLED"]
    assert shown == [(t, s, "CONFIRMED") for t, s, _, st in want if st == "confirmed"], shown
    # Moved again (keeping the series' title), then taken back in the same
    # export that renames the series: the rename, carried to the override
    # first (sql/012), leaves it the file's (sql/024), so it is taken back.
    post(d, k["host"], weekly_with(*(ln.replace("Busan sync (afternoon)", "Busan sync")
                                     for ln in MOVED), *CANCELLED))
    assert [o[:2] for o in occ(d, k["host"], "2026-11-10", "2026-11-12")] == [
        ("Busan sync", "2026-11-11T15:00:00")]
    renamed = weekly_with(*CANCELLED).replace(b"SUMMARY:Busan sync\r\nSEQUENCE:0",
                                              b"SUMMARY:Busan weekly\r\nSEQUENCE:1")
    res = post(d, k["host"], renamed).json()
    assert len(warned(res, "recurrence_id")) == 1, res
    assert [o[:2] for o in occ(d, k["host"], "2026-11-10", "2026-11-12")] == [
        ("Busan weekly", "2026-11-11T10:00:00")]


def test_an_override_orphaned_then_restored_by_its_file_is_still_taken_back(ctx):
    """A file that shortens the series cancels the moved occurrence as an
    orphan; the next one lengthens it again without the override. The
    restore must not make the override liaison's own."""
    db, k, d = world(ctx)
    import_twice(d, k["host"], weekly_with(*MOVED))
    short = weekly_with().replace(b"COUNT=4", b"COUNT=1")
    res = post(d, k["host"], short).json()
    assert res["refused"] == [], res
    assert [o[1] for o in occ(d, k["host"], "2026-11-01", "2026-12-01")] == [
        "2026-11-04T10:00:00"]
    res = post(d, k["host"], weekly_with()).json()
    assert res["refused"] == [], res
    assert [o[:2] for o in occ(d, k["host"], "2026-11-10", "2026-11-12")] == [
        ("Busan sync", "2026-11-11T10:00:00")]
    again = post(d, k["host"], weekly_with()).json()
    assert again["updated"] == [] and again["warnings"] == [], again


def test_overrides_made_in_liaison_survive_the_next_import(ctx):
    """No file ever gave an occurrence cancelled or moved through the API:
    importing the same unchanged export again must not bring it back."""
    db, k, d = world(ctx)
    import_twice(d, k["host"], weekly_with())
    master = [e for e in events(d, k["host"]).values() if e["rrule"]][0]
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": master["id"], "recurrence_id": "2026-11-18T10:00:00",
        "status": "cancelled"})
    assert r.status == 201, r
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": master["id"], "recurrence_id": "2026-11-25T10:00:00",
        "title": "Busan sync (set in liaison)"})
    assert r.status == 201, r
    # And one the file gave, changed through the API since: liaison's now.
    post(d, k["host"], weekly_with(*MOVED))
    moved = events(d, k["host"])[("taken-back-1@google.com", "2026-11-11T10:00:00")]
    r = d.request("PATCH", f"/v1/events/{moved['id']}", token=k["host"],
                  body={"location": "Busan city hall"})
    assert r.status == 200, r
    res = post(d, k["host"], weekly_with()).json()
    assert res["updated"] == [] and res["warnings"] == [], res
    assert [o[0::3] for o in occ(d, k["host"], "2026-11-01", "2026-12-01")] == [
        ("Busan sync", "confirmed"), ("Busan sync (afternoon)", "confirmed"),
        ("Busan sync", "cancelled"), ("Busan sync (set in liaison)", "confirmed")]


def test_a_refused_override_or_an_old_row_is_handled_with_care(ctx):
    db, k, d = world(ctx)
    import_twice(d, k["host"], weekly_with(*MOVED))
    # A file whose own override is refused leaves the others as they are:
    # the refused one may be the override the database holds.
    bad = ("BEGIN:VEVENT", "DTSTART;TZID=Mars/Olympus:20261111T150000",  # no such zone
           "RECURRENCE-ID;TZID=Asia/Seoul:20261111T100000", "UID:taken-back-1@google.com",
           "SUMMARY:Busan sync (afternoon)", "END:VEVENT")
    res = post(d, k["host"], weekly_with(*bad)).json()
    assert [x["uid"] for x in res["refused"]] == ["taken-back-1@google.com"], res
    assert res["updated"] == [], res
    assert ("Busan sync (afternoon)", "2026-11-11T15:00:00", "2026-11-11T16:00:00",
            "confirmed") in occ(d, k["host"], "2026-11-01", "2026-12-01")
    # An override written before sql/024 is not known to be the file's
    # until an import finds it as its file gives it; then it is.
    ctx.cluster.psql("UPDATE events SET file_version = NULL WHERE series_id IS NOT NULL",
                     db.split("dbname=")[1])
    res = post(d, k["host"], weekly_with()).json()
    assert res["updated"] == [], res
    res = post(d, k["host"], weekly_with(*MOVED)).json()
    assert res["updated"] == [] and len(res["unchanged"]) == 2, res
    res = post(d, k["host"], weekly_with()).json()
    assert len(res["updated"]) == 1, res
    assert ("Busan sync", "2026-11-11T10:00:00", "2026-11-11T11:00:00",
            "confirmed") in occ(d, k["host"], "2026-11-01", "2026-12-01")


def test_an_unreadable_line_after_a_recurrence_id_is_named_once(ctx):
    """An override whose RECURRENCE-ID is followed by a second, unreadable
    one: libical keeps the first and names the second (X-LIC-ERROR). Asking
    for the first RECURRENCE-ID while walking those errors set the
    component's one property iterator back, so the same error was met
    again forever, a warning more each time: a 400-byte file took the
    worker's loop and 4 GB (found by fuzz_ical). It is read once, and the
    override moves its occurrence."""
    db, k, d = world(ctx)
    moved = MOVED[:4] + ("RECURRENCE-ID:garbage",) + MOVED[4:]
    res = post(d, k["host"], weekly_with(*moved))
    assert res.status == 200, res
    assert len(warned(res.json(), "recurrence_id")) == 1, res.json()
    assert [s for _, s, _, _ in occ(d, k["host"], "2026-11-01", "2026-12-01")] == [
        "2026-11-04T10:00:00", "2026-11-11T15:00:00", "2026-11-18T10:00:00",
        "2026-11-25T10:00:00"]


def test_an_override_whose_recurrence_id_cannot_be_read_is_refused(ctx):
    """libical drops a RECURRENCE-ID it cannot read, and the VEVENT looked
    like a second master of the UID: of a higher SEQUENCE it was kept and
    the weekly series became one event, its three other sessions gone
    from the API and every feed. It is refused now, and the series
    stands. An X-LIC-ERROR line a libical-based app saved into its export
    is not this import's: that VEVENT is read as it is."""
    db, k, d = world(ctx)
    unreadable = tuple(ln.replace("RECURRENCE-ID;TZID=Asia/Seoul:20261111T100000",
                                  "RECURRENCE-ID;TZID=Asia/Seoul:2026-11-11 10:00")
                       for ln in MOVED)
    weekly = [("Busan sync", f"2026-11-{day}T10:00:00", f"2026-11-{day}T11:00:00", "confirmed")
              for day in ("04", "11", "18", "25")]
    res = post(d, k["host"], weekly_with(*unreadable)).json()
    assert [x["uid"] for x in res["refused"]] == ["taken-back-1@google.com"], res
    (e,) = res["refused"][0]["errors"]
    assert e["field"] == "recurrence_id" and "RECURRENCE-ID" in e["message"], e
    assert len(res["created"]) == 1 and warned(res, "recurrence_id") == [], res
    assert occ(d, k["host"], "2026-11-01", "2026-12-01") == weekly
    # Alone in its file, with the series in liaison: refused too.
    alone = ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar//EN",
                *unreadable, "END:VCALENDAR")
    res = post(d, k["host"], alone).json()
    assert [x["uid"] for x in res["refused"]] == ["taken-back-1@google.com"], res
    assert occ(d, k["host"], "2026-11-01", "2026-12-01") == weekly
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, "2026-11-01T00:00:00+00:00",
                          "2026-12-01T00:00:00+00:00"], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    assert [(t, s) for t, s, _, _ in json.loads(out.stdout)] == [(t, s) for t, s, _, _ in weekly]
    # The same override, readable, moves its occurrence.
    res = post(d, k["host"], weekly_with(*MOVED)).json()
    assert res["refused"] == [] and len(res["created"]) == 1, res
    assert ("Busan sync (afternoon)", "2026-11-11T15:00:00", "2026-11-11T16:00:00",
            "confirmed") in occ(d, k["host"], "2026-11-01", "2026-12-01")
    saved = ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//GNOME//Evolution//EN",
                "BEGIN:VEVENT", "UID:saved-1@evolution", "DTSTART:20261201T090000Z",
                "DTEND:20261201T100000Z", "SUMMARY:Saved by Evolution",
                "X-LIC-ERROR;X-LIC-ERRORTYPE=VALUE-PARSE-ERROR:Can't parse as DATE-TIME value"
                " in RECURRENCE-ID property. Removing entire property: x",
                "END:VEVENT", "END:VCALENDAR")
    res = post(d, k["host"], saved).json()
    assert res["refused"] == [] and len(res["created"]) == 1 and res["warnings"] == [], res


def test_an_override_imported_before_its_series_is_taken_over_by_it(ctx):
    """An invitation to one moved occurrence, then the series' file: the
    override had no series when it came and was kept as a single event;
    the series' file then showed the day twice, in the API and in every
    feed, and so did every later export. The series' file takes it over:
    one it gives is its override, one it does not give is cancelled."""
    db, k, d = world(ctx)
    alone = lambda uid: ics(  # noqa: E731
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar//EN",
        *(ln.replace("taken-back-1", uid) for ln in MOVED), "END:VCALENDAR")
    series = lambda uid, *more: weekly_with(*more).replace(b"taken-back-1", uid.encode())  # noqa: E731

    def shown(frm, to):
        """What a subscribed calendar shows: (title, local start)."""
        body = d.request("GET", path_of(make_feed(d, k["host"]))).body
        out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, frm + "T00:00:00+00:00",
                              to + "T00:00:00+00:00"], input=body, capture_output=True)
        assert out.returncode == 0, out.stderr.decode()
        return sorted((t, s) for t, s, _, st in json.loads(out.stdout) if st != "CANCELLED")

    def live(frm, to):
        return [o[:2] for o in occ(d, k["host"], frm, to) if o[3] != "cancelled"]

    # Moved back by the time the series came: the series' own occurrence.
    res = post(d, k["host"], alone("given-later")).json()
    assert len(res["created"]) == 1 and "no event" in warned(res, "recurrence_id")[0]["message"]
    assert live("2026-11-10", "2026-11-12") == [("Busan sync (afternoon)", "2026-11-11T15:00:00")]
    res = post(d, k["host"], series("given-later")).json()
    (w,) = warned(res, "recurrence_id")
    assert "gives the series" in w["message"] and len(res["updated"]) == 1, res
    week = [("Busan sync", f"2026-11-{day}T10:00:00") for day in ("04", "11", "18", "25")]
    assert live("2026-11-01", "2026-12-01") == week
    assert shown("2026-11-01", "2026-12-01") == week
    # Still moved in the series' file: its override, once.
    post(d, k["host"], alone("still-moved"))
    res = post(d, k["host"], series("still-moved", *MOVED)).json()
    assert len(res["created"]) == 2 and len(res["updated"]) == 1, res  # the single cancelled
    again = post(d, k["host"], series("still-moved", *MOVED)).json()
    assert again["created"] == again["updated"] == again["warnings"] == [], again
    moved = [("Busan sync", "2026-11-04T10:00:00"), ("Busan sync (afternoon)", "2026-11-11T15:00:00"),
             ("Busan sync", "2026-11-18T10:00:00"), ("Busan sync", "2026-11-25T10:00:00")]
    assert sorted(live("2026-11-01", "2026-12-01")) == sorted(week + moved)
    assert shown("2026-11-01", "2026-12-01") == sorted(week + moved)
    # The invitation again changes nothing: the series' override stands.
    res = post(d, k["host"], alone("still-moved")).json()
    assert res["created"] == [] and res["updated"] == [], res
    assert shown("2026-11-01", "2026-12-01") == sorted(week + moved)


def test_class_private_and_confidential_make_events_private(ctx):
    db, k, d = world(ctx)
    import_twice(d, k["host"], corpus("google_partnerships.ics"))
    import_twice(d, k["busan-city"], corpus("outlook_busan_office.ics"))
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    assert ev["Budget negotiation (internal)"]["visibility"] == "private"
    assert ev["Busan–HCMC weekly sync"]["visibility"] == "network"
    # Other orgs do not see them.
    titles = {e["title"] for e in events(d, k["cabc"]).values()}
    assert "Budget negotiation (internal)" not in titles
    assert "투자자 사전 미팅 (Investor pre-meeting)" not in titles  # CONFIDENTIAL
    assert "SF partners stand-up" in titles
    # A file that makes a known event private updates it; one without CLASS
    # does not make it public again.
    single = lambda cls: ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:cls-1",
                             "DTSTART:20261001T020000Z", "SUMMARY:Term sheet", *cls,
                             "END:VEVENT", "END:VCALENDAR")
    assert len(post(d, k["host"], single([])).json()["created"]) == 1
    assert len(post(d, k["host"], single(["CLASS:CONFIDENTIAL"])).json()["updated"]) == 1
    assert len(post(d, k["host"], single([])).json()["unchanged"]) == 1
    assert by_uid(d, k["host"])["cls-1"]["visibility"] == "private"


def test_series_whose_dtstart_is_not_an_instance_of_its_rule(ctx):
    """RFC 5545 counts DTSTART as the first occurrence; libical skips it and
    other expanders add it beside COUNT. Imported so that all agree."""
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("generated_offrule_series.ics"))
    assert len(res["created"]) == 5 and res["refused"] == [], res
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    s = ev["Hub steering committee"]
    assert (s["start"], s["end"], s["rrule"], s["rdates"]) == (
        "2026-01-13T09:00:00", "2026-01-13T10:30:00", "FREQ=MONTHLY;COUNT=4;BYDAY=2TU",
        ["2026-01-05T09:00:00"]), s
    kick = ev["Programme kick-off"]  # COUNT=1: DTSTART alone
    assert kick["rrule"] is None and kick["start"] == "2026-03-02T10:00:00" and kick["rdates"] == []
    steering = [o[1] for o in occ(d, k["host"], "2026-01-01", "2026-12-31")
                if o[0] == "Hub steering committee"]
    assert steering == ["2026-01-05T09:00:00", "2026-01-13T09:00:00", "2026-02-10T09:00:00",
                        "2026-03-10T09:00:00", "2026-04-14T09:00:00"], steering
    news = ev["Investor newsletter deadline"]
    assert news["start"] == "2026-01-15" and news["rdates"] == ["2026-01-10"]
    assert len(warned(res, "rrule")) == 4, res


def test_rdate_periods_rdate_only_series_and_exdate_forms(ctx):
    db, k, d = world(ctx)
    res = import_twice(d, k["busan-city"], corpus("caldav_rdate_periods.ics"))
    assert len(res["created"]) == 4 and res["refused"] == [], res
    (w,) = warned(res, "rdates")  # the three-hour period, named
    assert "2026-10-16T08:00:00" in w["message"] and "2026-10-16T11:00:00" in w["message"], w
    ev = events(d, k["busan-city"])
    bus = ev[("shuttle-2026@calendarserver.example", None)]
    assert bus["rdates"] == ["2026-10-14T08:00:00", "2026-10-15T08:00:00", "2026-10-16T08:00:00"]
    assert bus["exdates"] == ["2026-10-15T08:00:00"]  # EXDATE;VALUE=DATE on that day
    long = ev[("shuttle-2026@calendarserver.example", "2026-10-16T08:00:00")]
    assert long["end"] == "2026-10-16T11:00:00"  # the period's own end
    press = ev[("press-2026@calendarserver.example", None)]
    assert press["exdates"] == ["2026-10-14T17:00:00", "2026-10-16T17:00:00"]
    assert [o[1] for o in occ(d, k["busan-city"], "2026-10-01", "2026-11-10")
            if o[0] == "Festival shuttle bus"] == [
        "2026-10-13T08:00:00", "2026-10-14T08:00:00", "2026-10-16T08:00:00"]
    # RDATEs only, no rule; and (Nextcloud) an override of an RDATE occurrence.
    assert ev[("rdates-only@calendarserver.example", None)]["rdates"] == [
        "2026-10-27T10:00:00", "2026-11-03T10:00:00"]
    res = import_twice(d, k["cabc"], corpus("nextcloud_team.ics"))
    assert len(res["created"]) == 5 and res["refused"] == [], res
    rehearsals = [o[:3] for o in occ(d, k["cabc"], "2026-05-01", "2026-06-01")
                  if o[0].startswith("Demo day")]
    assert rehearsals == [
        ("Demo day rehearsal", "2026-05-12T10:00:00", "2026-05-12T11:30:00"),
        ("Demo day rehearsal (jury present)", "2026-05-19T11:00:00", "2026-05-19T12:30:00"),
        ("Demo day rehearsal", "2026-05-26T14:00:00", "2026-05-26T15:30:00")], rehearsals


def test_long_rdate_and_exdate_lines_keep_every_value(ctx):
    """A hostile-input pass: one RDATE or EXDATE line of 600 values kept
    500 (libical reads no more of one line) and said nothing, so 100
    excluded occurrences showed again. Every value is kept now, up to the
    dates' bound, past which a warning says what was dropped."""
    import datetime
    db, k, d = world(ctx)
    day0 = datetime.date(2027, 1, 1)
    days = [(day0 + datetime.timedelta(days=i)).strftime("%Y%m%d") for i in range(1, 1201)]
    for n in (600, 1200):
        stamps = ",".join(x + "T100000Z" for x in days[:n])
        body = ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN",
                   "BEGIN:VEVENT", f"UID:rdates-{n}@t", "DTSTAMP:20260101T000000Z",
                   "DTSTART:20270101T100000Z", f"RDATE;VALUE=DATE-TIME:{stamps}",
                   "SUMMARY:Dates", "END:VEVENT",
                   "BEGIN:VEVENT", f"UID:exdates-{n}@t", "DTSTAMP:20260101T000000Z",
                   "DTSTART:20270101T100000Z", "RRULE:FREQ=DAILY;COUNT=1300",
                   f"EXDATE:{stamps}", "SUMMARY:Daily", "END:VEVENT", "END:VCALENDAR")
        res = import_twice(d, k["host"], body)
        assert len(res["created"]) == 2, res
        ev = events(d, k["host"])
        kept = min(n, 1000)
        assert len(ev[(f"rdates-{n}@t", None)]["rdates"]) == kept
        assert len(ev[(f"exdates-{n}@t", None)]["exdates"]) == kept
        assert bool(warned(res, "rdates")) == (n > 1000), res
        assert bool(warned(res, "exdates")) == (n > 1000), res
    # The series of 600 EXDATEs (2027-01-02 to 2028-08-23) is back on
    # 2028-08-24; the other, of 1,000 kept (to 2029-09-27), not in 2028.
    ids = {e["id"]: u for (u, _), e in events(d, k["host"]).items()}
    items = []
    for window in ("from=2027-01-02&to=2028-01-01", "from=2028-01-01&to=2028-12-31"):
        items += d.request("GET", f"/v1/occurrences?{window}&limit=1000",
                           token=k["host"]).json()["items"]
    first = {}
    for o in items:
        if o["title"] == "Daily":
            first.setdefault(ids[o["event_id"]], o["start_utc"])
    assert first == {"exdates-600@t": "2028-08-24T10:00:00Z"}, first


def test_a_zone_no_iana_zone_matches_is_named(ctx):
    """An import truth pass: an Outlook "Customized Time Zone" whose
    rules match no IANA zone was placed in the org's zone without a word,
    so its series followed another country's clock changes."""
    db, k, d = world(ctx)
    body = ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN",
               "BEGIN:VTIMEZONE", "TZID:Customized Time Zone",
               "BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:-0100",
               "TZOFFSETTO:-0200", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=9", "END:STANDARD",
               "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:-0200",
               "TZOFFSETTO:-0100", "RRULE:FREQ=YEARLY;BYDAY=-1SA;BYMONTH=3", "END:DAYLIGHT",
               "END:VTIMEZONE",
               "BEGIN:VEVENT", "UID:custom-tz@t", "DTSTAMP:20260101T000000Z",
               "DTSTART;TZID=Customized Time Zone:20260321T100000",
               "DTEND;TZID=Customized Time Zone:20260321T110000",
               "RRULE:FREQ=WEEKLY;COUNT=2", "SUMMARY:Custom zone weekly", "END:VEVENT",
               "END:VCALENDAR")
    res = import_twice(d, k["host"], body)
    assert len(res["created"]) == 1, res
    (w,) = warned(res, "timezone")
    assert "Customized Time Zone" in w["message"] and "Asia/Ho_Chi_Minh" in w["message"], w
    # The first occurrence is at the file's instant (12:00Z).
    items = d.request("GET", "/v1/occurrences?from=2026-03-01&to=2026-04-30",
                      token=k["host"]).json()["items"]
    assert items[0]["timezone"] == "Asia/Ho_Chi_Minh", items
    assert items[0]["start_utc"] == "2026-03-21T12:00:00Z", items


def test_durations_count_days_on_the_calendar_and_hours_exactly(ctx):
    """An import truth pass (D1): DURATION:PT24H from Berlin's noon on the
    eve of its spring change ended at noon (a day on the calendar, 23
    hours); RFC 5545 3.3.6 makes PT24H exact and P1D nominal."""
    db, k, d = world(ctx)
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN"]
    for uid, dur in (("hours", "PT24H"), ("day", "P1D"), ("mixed", "P1DT2H")):
        body += ["BEGIN:VEVENT", f"UID:{uid}@t", "DTSTAMP:20260101T000000Z",
                 "DTSTART;TZID=Europe/Berlin:20260328T120000", f"DURATION:{dur}",
                 f"SUMMARY:{uid}", "END:VEVENT"]
    res = import_twice(d, k["host"], ics(*body, "END:VCALENDAR"))
    assert len(res["created"]) == 3, res
    ev = events(d, k["host"])
    assert {u: ev[(f"{u}@t", None)]["end"] for u in ("hours", "day", "mixed")} == {
        "hours": "2026-03-29T13:00:00", "day": "2026-03-29T12:00:00",
        "mixed": "2026-03-29T14:00:00"}
    # A UTC start has no clock to change: P1D is 24 hours, wherever the
    # file's times are placed (here in its X-WR-TIMEZONE).
    res = import_twice(d, k["cabc"], ics(
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", "X-WR-TIMEZONE:Europe/Berlin",
        "BEGIN:VEVENT", "UID:utc-day@t", "DTSTAMP:20260101T000000Z",
        "DTSTART:20260328T110000Z", "DURATION:P1D", "SUMMARY:UTC day", "END:VEVENT",
        "END:VCALENDAR"))
    e = events(d, k["cabc"])[("utc-day@t", None)]
    assert (e["timezone"], e["start"], e["end"]) == (
        "Europe/Berlin", "2026-03-28T12:00:00", "2026-03-29T13:00:00"), e


def test_vtimezone_only_zones_keep_their_rules_and_until_forms(ctx):
    """Outlook's "Customized Time Zone" and Lotus Notes' "Eastern" name no zone:
    an IANA zone that agrees with the VTIMEZONE is used, so a weekly 08:00
    stays 08:00 across the US DST change (it was placed through UTC in the
    org's zone, which has no DST, and drifted an hour)."""
    db, k, d = world(ctx)
    import_twice(d, k["host"], corpus("outlook_busan_office.ics"))
    import_twice(d, k["cabc"], corpus("lotus_until_forms.ics"))
    sf = [o for o in occ(d, k["host"], "2026-03-01", "2026-04-01") if o[0] == "SF partners stand-up"]
    assert [o[1] for o in sf] == ["2026-03-03T08:00:00", "2026-03-10T08:00:00",
                                  "2026-03-17T08:00:00", "2026-03-24T08:00:00"], sf
    ev = {e["title"]: e for e in events(d, k["cabc"]).values()}
    ny = ev["New York accelerator call"]
    assert ny["timezone"] in ("America/Toronto", "America/New_York"), ny
    # A local UNTIL is read in the event's zone and restated in UTC.
    assert ny["rrule"] == "FREQ=WEEKLY;UNTIL=20260327T030000Z;BYDAY=TH", ny
    assert [o[1] for o in occ(d, k["cabc"], "2026-03-01", "2026-04-01")
            if o[0] == ny["title"]][-1] == "2026-03-26T16:00:00"
    london = [o[1] for o in occ(d, k["cabc"], "2026-03-01", "2026-05-01")
              if o[0] == "London fintech hub sync"]
    assert london[-1] == "2026-04-13T09:30:00" and len(london) == 5, london


def test_text_encodings_and_line_ends(ctx):
    db, k, d = world(ctx)
    # Windows-1252, nothing declared: read as such (it was refused with
    # "title: is required" when the title was not UTF-8).
    res = import_twice(d, k["host"], corpus("latin1_zurich_agenda.ics"))
    assert len(res["created"]) == 2 and res["refused"] == [], res
    assert [w["field"] for w in res["warnings"]] == ["charset"], res
    e = by_uid(d, k["host"])["agenda-2026-0042@innosuisse.example"]
    assert e["title"] == "Réunion de coordination – Zürich" and e["location"] == "Café de la Gare, Zürich"
    assert "5 000 €" in e["description"] and "“Swiss–Vietnam”" in e["description"], e
    # A byte-order mark, CRLF, folds inside UTF-8 characters.
    res = import_twice(d, k["host"], corpus("bom_crlf_hanoi.ics"))
    assert len(res["created"]) == 2 and res["warnings"] == [], res
    assert by_uid(d, k["host"])["zc-7781234@zoho.com"]["title"].endswith("Hàn Quốc tại Hà Nội")
    # Bare LF (a meetup site), and bare CR.
    assert len(import_twice(d, k["host"], corpus("meetup_saigon.ics"))["created"]) == 3
    cr = corpus("latin1_zurich_agenda.ics").replace(b"\r\n", b"\r").replace(b"0042", b"0099")
    assert len(import_twice(d, k["cabc"], cr)["created"]) == 2
    # A Content-Type that says Latin-1 is believed for the whole text.
    body = ics("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:latin-declared",
               "DTSTART:20261001T020000Z", "SUMMARY:Ã©cole", "END:VEVENT", "END:VCALENDAR")
    r = d.request("POST", "/v1/events", body=body, token=k["busan-city"],
                  headers={"Content-Type": "text/calendar; charset=ISO-8859-1"})
    assert r.status == 200 and len(r.json()["created"]) == 1, r
    assert by_uid(d, k["busan-city"])["latin-declared"]["title"] == "ÃƒÂ©cole"


def test_malformed_optional_properties_are_dropped_with_a_warning(ctx):
    """Zimbra: a mailto URL, an unknown VALUE type, a category too long, an
    unreadable TRIGGER, a VALARM without END:VALARM (which made the whole
    file unreadable), DTEND before DTSTART, an unknown CLASS."""
    db, k, d = world(ctx)
    res = import_twice(d, k["host"], corpus("zimbra_malformed.ics"))
    assert len(res["created"]) == 3 and res["refused"] == [], res
    fields = sorted(w["field"] for w in res["warnings"])
    assert fields == ["end", "location", "reminders", "reminders", "tags", "url"], res
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    b = ev["Dutch innovation mission briefing"]
    assert b["url"] is None and b["location"] == "Room 5" and b["tags"] == ["Startups", "Deep tech"]
    assert b["reminders"] == ["-PT30M"] and b["visibility"] == "private"  # CLASS:X-INTERNAL
    debrief = ev["Mission debrief"]
    assert debrief["url"] == "https://mission.example/debrief" and debrief["reminders"] == []
    # A line of text that its generator did not fold continues the one before.
    assert debrief["description"] == "Agenda\nBring the visit reports", debrief
    assert ev["Return flight"]["end"] is None


def test_cancelled_events_are_stored_cancelled(ctx):
    db, k, d = world(ctx)
    import_twice(d, k["host"], corpus("nextcloud_team.ics"))
    import_twice(d, k["host"], corpus("meetup_saigon.ics"))
    ev = {e["title"]: e for e in events(d, k["host"]).values()}
    for title in ["Vietnam Startup Day info session", "Morning check-in", "CANCELLED: Pitch night #43"]:
        assert ev[title]["status"] == "cancelled", ev[title]
    statuses = {o[3] for o in occ(d, k["host"], "2026-06-01", "2026-07-01")
                if o[0] in ("Morning check-in", "Vietnam Startup Day info session")}
    assert statuses == {"cancelled"}
    # An iTIP cancellation (METHOD:CANCEL, as mail clients attach it) cancels
    # the events it names, whether or not each says STATUS:CANCELLED.
    cancel = ics("BEGIN:VCALENDAR", "VERSION:2.0", "METHOD:CANCEL",
                 "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
                 "BEGIN:VEVENT", "UID:event_301234567@meetup.com", "SEQUENCE:1",
                 "DTSTART;TZID=Asia/Ho_Chi_Minh:20260416T183000",
                 "DTEND;TZID=Asia/Ho_Chi_Minh:20260416T210000",
                 "SUMMARY:Pitch night #42: deep tech founders", "END:VEVENT",
                 "BEGIN:VEVENT", "UID:never-seen@google.com", "DTSTART:20260420T020000Z",
                 "SUMMARY:Cancelled before we knew it", "END:VEVENT", "END:VCALENDAR")
    res = import_twice(d, k["host"], cancel)
    assert len(res["updated"]) == 1 and len(res["created"]) == 1, res
    ev = by_uid(d, k["host"])
    assert ev["event_301234567@meetup.com"]["status"] == "cancelled"
    assert ev["never-seen@google.com"]["status"] == "cancelled"


def test_files_past_the_vevent_limit_say_what_was_skipped(ctx):
    db, k, d = world(ctx)
    body = ics("BEGIN:VCALENDAR", "VERSION:2.0",
               *(f"BEGIN:VEVENT\r\nUID:{i}\r\nEND:VEVENT" for i in range(10005)),
               "END:VCALENDAR")
    r = post(d, k["host"], body)
    assert r.status == 200, r
    res = r.json()
    assert len(res["refused"]) == 10000, len(res["refused"])  # no DTSTART
    (w,) = res["warnings"]
    assert w["uid"] == "" and "10005" in w["message"] and "5 were skipped" in w["message"], w


def night_shift(zone, end):
    return ics("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Google Inc//Google Calendar//EN",
               "BEGIN:VEVENT", f"DTSTART;TZID={zone}:20271017T023000",
               f"DTEND;TZID={zone}:20271017T{end}00", "RRULE:FREQ=WEEKLY;COUNT=4",
               "UID:night-shift@example.org", "SUMMARY:Night shift handover",
               "END:VEVENT", "END:VCALENDAR")


def test_overrides_follow_an_imported_series_at_the_daemons_instants(ctx):
    """A file that changes a series' length or zone moves the overrides
    made in liaison with it (sql/012). Their instants were PostgreSQL's
    (AT TIME ZONE: the later 02:30 on the day Berlin's clocks go back, CET
    a fixed offset), an hour off what /v1/occurrences and the feeds say."""
    from test_series_truth import overrides_at_their_instants
    db, k, d = world(ctx)
    r = post(d, k["host"], night_shift("Europe/Berlin", "0315"))
    assert r.status == 200 and len(r.json()["created"]) == 1, r
    master = r.json()["created"][0]
    for day in ("2027-10-24", "2027-10-31"):
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "series_id": master, "recurrence_id": day + "T02:30:00",
            "start": day + "T02:30:00", "end": day + "T03:15:00", "location": "Gate B"})
        assert r.status == 201, r
    for zone, end in [("Europe/Berlin", "0345"), ("CET", "0345"), ("Europe/Berlin", "0300")]:
        r = post(d, k["host"], night_shift(zone, end))
        assert r.status == 200 and r.json()["updated"] == [master], r
        assert r.json()["refused"] == [], r
        assert overrides_at_their_instants(ctx, db, d, k["host"], master, (zone, end)) == 2
