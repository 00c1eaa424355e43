"""iCalendar import: files in the style of Google Calendar, Outlook and
Apple Calendar exports, written for this test."""
from harness import problem
from test_events import world


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
    custom = ev["custom-1@outlook"]  # known only by its VTIMEZONE: placed via UTC
    assert custom["timezone"] == "Asia/Ho_Chi_Minh" and custom["start"] == "2024-10-01T11:30:00"


def test_apple_style_export_and_messy_parts(ctx):
    db, k, d = world(ctx)
    r = post(d, k["busan-city"], APPLE)
    assert r.status == 200, r
    res = r.json()
    assert len(res["created"]) == 1, res
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
    assert empty == {"created": [], "updated": [], "unchanged": [], "refused": []}


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
            assert set(res) == {"created", "updated", "unchanged", "refused"}
    assert d.alive() and d.request("GET", "/healthz").status == 200
    titles = {e["uid"]: e for e in d.request("GET", "/v1/events?limit=1000",
                                             token=k["host"]).json()["items"]}
    # Whatever was kept is valid: no SECONDLY rule, no 100 KB title, no gap time.
    assert "rrule-huge" not in titles and "long" not in titles and "gap" not in titles
    assert "' OR 1=1; DROP TABLE events; --" in titles  # stored as text, harmlessly
