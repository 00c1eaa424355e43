"""Time, as SPEC's Time section states it: only real zones of the tz
database (aliases stored and emitted as their zone's canonical name), and
an occurrence of a series in a DST gap moved forward by the gap, the same
instant in the API, the feed's expansion (Debian's python3-icalendar and
python3-recurring-ical-events) and the reminders."""
import datetime
import json
import subprocess
import zoneinfo

from harness import problem, run_cli
from test_events import world
from test_feeds import EXPAND, make_feed, parse, path_of

NOT_ZONES = ["localtime", "posixrules", "posix/Asia/Seoul", "right/UTC", "Factory"]


def fields(p):
    return [e["field"] for e in p.get("errors", [])]


def test_zone_aliases_are_stored_as_their_canonical_name(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Saigon Innovation Hub visit", "timezone": "Asia/Saigon",
        "start": "2027-04-20T09:00:00", "end": "2027-04-20T11:00:00"})
    assert r.status == 201, r
    e = r.json()
    assert e["timezone"] == "Asia/Ho_Chi_Minh", e
    got = d.request("GET", f"/v1/events/{e['id']}", token=k["host"]).json()
    assert got["timezone"] == "Asia/Ho_Chi_Minh"
    listed = d.request("GET", "/v1/events?from=2027-04-01&to=2027-05-01", token=k["host"]).json()
    assert [x["timezone"] for x in listed["items"]] == ["Asia/Ho_Chi_Minh"]
    occ = d.request("GET", "/v1/occurrences?from=2027-04-01&to=2027-05-01",
                    token=k["host"]).json()["items"]
    assert [(o["timezone"], o["start_utc"]) for o in occ] == [
        ("Asia/Ho_Chi_Minh", "2027-04-20T02:00:00Z")]
    # A patch with another alias of the same zone changes nothing.
    r = d.request("PATCH", f"/v1/events/{e['id']}", token=k["host"],
                  headers={"Content-Type": "application/merge-patch+json"},
                  body=json.dumps({"timezone": "Asia/Saigon"}))
    assert r.status == 200 and r.json()["timezone"] == "Asia/Ho_Chi_Minh", r
    # UTC under its other names is "UTC", written with Z in feeds.
    for i, name in enumerate(["Etc/UTC", "Zulu", "GMT", "Etc/Greenwich"]):
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "deadline", "title": f"Report {i}", "timezone": name,
            "start": "2027-04-21T12:00:00"})
        assert r.status == 201 and r.json()["timezone"] == "UTC", (name, r)
    feed = d.request("GET", path_of(make_feed(d, k["host"])))
    assert feed.status == 200
    text = feed.body.decode()
    assert "DTSTART;TZID=Asia/Ho_Chi_Minh:20270420T090000" in text, text
    assert "Saigon" not in text.replace("Saigon Innovation Hub", "") and "Etc/" not in text
    assert "DTSTART:20270421T120000Z" in text
    cal = parse(feed.body)
    assert cal["tzids"] == ["Asia/Ho_Chi_Minh"]
    visit = [x for x in cal["events"] if x["summary"] == "Saigon Innovation Hub visit"][0]
    assert visit["tzid"] == "Asia/Ho_Chi_Minh" and visit["start"] == "2027-04-20T09:00:00+07:00"


def test_orgs_and_agreements_store_the_canonical_name(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/orgs", token=k["host"],
                  body={"slug": "sihub", "name": "SIHUB", "timezone": "Asia/Saigon"})
    assert r.status == 201 and r.json()["timezone"] == "Asia/Ho_Chi_Minh", r
    run_cli(["org", "create", "nyc-partner", "--name", "NYC", "--timezone", "US/Eastern"], db)
    orgs = {o["slug"]: o for o in d.request("GET", "/v1/orgs", token=k["host"]).json()["items"]}
    assert orgs["nyc-partner"]["timezone"] == "America/New_York", orgs
    assert orgs["sihub"]["timezone"] == "Asia/Ho_Chi_Minh"
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "MOU: SIHUB - Busan", "stage": "intent", "parties": ["busan-city"],
        "timezone": "Asia/Saigon", "milestones": [{"title": "Draft", "due": "2027-05-02T09:00:00"}]})
    assert r.status == 201, r
    a = r.json()
    assert a["timezone"] == "Asia/Ho_Chi_Minh"
    ev = d.request("GET", f"/v1/events/{a['milestones'][0]['event_id']}", token=k["host"]).json()
    assert ev["timezone"] == "Asia/Ho_Chi_Minh"


def test_files_of_the_tz_directory_that_are_not_zones_are_refused(ctx):
    db, k, d = world(ctx)
    for name in NOT_ZONES:
        p = problem(d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "meeting", "title": "x", "timezone": name,
            "start": "2027-04-20T09:00:00"}), 422)
        assert fields(p) == ["timezone"], (name, p)
        p = problem(d.request("POST", "/v1/orgs", token=k["host"],
                              body={"slug": "bad-zone", "name": "x", "timezone": name}), 422)
        assert fields(p) == ["timezone"], (name, p)
        p = problem(d.request("POST", "/v1/agreements", token=k["host"], body={
            "title": "x", "stage": "intent", "parties": ["cabc"], "timezone": name,
            "signed_on": "2027-04-20"}), 422)
        assert "timezone" in fields(p), (name, p)
        out = run_cli(["org", "create", "bad-zone", "--name", "x", "--timezone", name], db,
                      check=False)
        assert out.returncode != 0 and "time zone" in out.stderr, (name, out.stderr)
    e = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Kept", "timezone": "Asia/Seoul",
        "start": "2027-04-20T09:00:00"}).json()
    for name in NOT_ZONES:
        r = d.request("PATCH", f"/v1/events/{e['id']}", token=k["host"],
                      body={"timezone": name})
        assert fields(problem(r, 422)) == ["timezone"], (name, r)
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    assert b"localtime" not in body and b"posix" not in body and b"Factory" not in body
    assert [x["summary"] for x in parse(body)["events"]] == ["Kept"]


# Daily at 02:30 in New York across 2027-03-14, when clocks go from 02:00
# EST to 03:00 EDT: that day's occurrence is 03:30 EDT (07:30Z).
GAP_SERIES = {"kind": "meeting", "title": "NYC partners call", "timezone": "America/New_York",
              "start": "2027-03-12T02:30:00", "end": "2027-03-12T03:30:00",
              "rrule": "FREQ=DAILY;COUNT=5", "reminders": ["-PT15M"]}


def utc_of(local, zone):
    t = datetime.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_occurrence_in_a_dst_gap_moves_forward_by_the_gap(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", token=k["cabc"], body=GAP_SERIES)
    assert r.status == 201, r
    s = r.json()
    occ = d.request("GET", "/v1/occurrences?from=2027-03-10&to=2027-03-20",
                    token=k["cabc"]).json()["items"]
    got = [(o["start"], o["start_utc"], o["end"], o["end_utc"]) for o in occ]
    assert got == [
        ("2027-03-12T02:30:00", "2027-03-12T07:30:00Z", "2027-03-12T03:30:00", "2027-03-12T08:30:00Z"),
        ("2027-03-13T02:30:00", "2027-03-13T07:30:00Z", "2027-03-13T03:30:00", "2027-03-13T08:30:00Z"),
        ("2027-03-14T03:30:00", "2027-03-14T07:30:00Z", "2027-03-14T04:30:00", "2027-03-14T08:30:00Z"),
        ("2027-03-15T02:30:00", "2027-03-15T06:30:00Z", "2027-03-15T03:30:00", "2027-03-15T07:30:00Z"),
        ("2027-03-16T02:30:00", "2027-03-16T06:30:00Z", "2027-03-16T03:30:00", "2027-03-16T07:30:00Z"),
    ], got
    for o in occ:  # every local time exists and is its UTC instant
        assert utc_of(o["start"], "America/New_York") == o["start_utc"], o
        assert utc_of(o["end"], "America/New_York") == o["end_utc"], o
    assert occ[2]["recurrence_id"] == "2027-03-14T03:30:00"

    # The reminders: planned from the same instant, and saying so.
    items = d.request("GET", f"/v1/events/{s['id']}/reminders", token=k["cabc"]).json()["items"]
    gap = [i for i in items if i["occurrence"]["start_utc"] == "2027-03-14T07:30:00Z"]
    assert len(items) == 5 and len(gap) == 1, items
    assert gap[0]["fire_at"] == "2027-03-14T07:15:00Z"
    assert gap[0]["occurrence"] == {"start": "2027-03-14T03:30:00", "end": "2027-03-14T04:30:00",
                                    "start_utc": "2027-03-14T07:30:00Z",
                                    "end_utc": "2027-03-14T08:30:00Z"}, gap[0]

    # The feed's expansion by an independent library: the same instants.
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    window = ("2027-03-10T00:00:00+00:00", "2027-03-20T00:00:00+00:00")
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND_ENDS, *window], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout) == [[o["start_utc"], o["end_utc"]] for o in occ]


# recurring_ical_events 2.0.1 (Debian 12) keeps the rule's 02:30 with the
# offset before the gap (-05:00), which is the RFC's instant: compare
# instants, not wall times.
EXPAND_ENDS = r'''
import sys, json, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
start, end = (datetime.datetime.fromisoformat(a) for a in sys.argv[1:3])
z = lambda t: t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps(sorted([z(ev["DTSTART"].dt), z(ev["DTEND"].dt)]
                        for ev in recurring_ical_events.of(cal).between(start, end))))
'''


# Two series over Toronto's fall-back hour (2027-11-07 02:00 EDT): a night
# block and a Friday-to-Sunday workshop.
ACROSS_FALL_BACK = [
    {"kind": "meeting", "title": "Night shift handover", "timezone": "America/Toronto",
     "start": "2027-11-06T00:30:00", "end": "2027-11-06T03:30:00",
     "rrule": "FREQ=DAILY;COUNT=3", "reminders": ["-PT15M"]},
    {"kind": "festival", "title": "Weekend workshop", "timezone": "America/Toronto",
     "start": "2027-10-29T09:00:00", "end": "2027-10-31T17:00:00",
     "rrule": "FREQ=WEEKLY;COUNT=3", "reminders": ["-P1D"]},
]


def test_every_occurrence_lasts_the_first_ones_exact_time(ctx):
    """The feed gives a series its first DTSTART and DTEND, and RFC 5545
    (3.8.5.3) gives every occurrence that exact duration: the API says
    what subscribed calendars show, where it once added the wall times
    (03:30 and 17:00 local on the fall-back day, an hour after them)."""
    db, k, d = world(ctx)
    ids = []
    for body in ACROSS_FALL_BACK:
        r = d.request("POST", "/v1/events", token=k["cabc"], body=body)
        assert r.status == 201, r
        ids.append(r.json()["id"])
    occ = d.request("GET", "/v1/occurrences?from=2027-10-25&to=2027-11-20",
                    token=k["cabc"]).json()["items"]
    ends = {(o["title"], o["start"]): (o["end"], o["end_utc"]) for o in occ}
    assert ends[("Night shift handover", "2027-11-06T00:30:00")] == (
        "2027-11-06T03:30:00", "2027-11-06T07:30:00Z")
    assert ends[("Night shift handover", "2027-11-07T00:30:00")] == (
        "2027-11-07T02:30:00", "2027-11-07T07:30:00Z")
    assert ends[("Weekend workshop", "2027-11-05T09:00:00")] == (
        "2027-11-07T16:00:00", "2027-11-07T21:00:00Z")
    assert ends[("Weekend workshop", "2027-11-12T09:00:00")] == (
        "2027-11-14T17:00:00", "2027-11-14T22:00:00Z")
    for o in occ:
        assert utc_of(o["end"], "America/Toronto") == o["end_utc"], o
    # Renaming the fall-back night's occurrence keeps its end.
    r = d.request("POST", "/v1/events", token=k["cabc"], body={
        "series_id": ids[0], "recurrence_id": "2027-11-07T00:30:00", "title": "Handover (moved)"})
    assert r.status == 201 and r.json()["end"] == "2027-11-07T02:30:00", r
    ids.append(r.json()["id"])  # it plans that occurrence's reminder now
    occ = d.request("GET", "/v1/occurrences?from=2027-10-25&to=2027-11-20",
                    token=k["cabc"]).json()["items"]
    renamed = [o for o in occ if o["title"] == "Handover (moved)"]
    assert [(o["end"], o["end_utc"]) for o in renamed] == [
        ("2027-11-07T02:30:00", "2027-11-07T07:30:00Z")], renamed

    # The reminders name the same ends.
    by_start = {o["start_utc"]: (o["end"], o["end_utc"]) for o in occ}
    reminded = []
    for i in ids:
        reminded += d.request("GET", f"/v1/events/{i}/reminders",
                              token=k["cabc"]).json()["items"]
    assert len(reminded) == 6, reminded
    for it in reminded:
        o = it["occurrence"]
        assert (o["end"], o["end_utc"]) == by_start[o["start_utc"]], it

    # And the feed's expansion by an independent library, instant for instant.
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    window = ("2027-10-25T00:00:00+00:00", "2027-11-20T00:00:00+00:00")
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND_ENDS, *window], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout) == sorted([o["start_utc"], o["end_utc"]] for o in occ)


def test_the_occurrence_in_the_gap_is_named_by_its_real_time(ctx):
    """Overrides and exdates name the moved occurrence by the wall time it
    has (02:30 does not exist that day and is refused); the feed and the
    API then agree on what happens."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["cabc"], body=GAP_SERIES).json()
    p = problem(d.request("POST", "/v1/events", token=k["cabc"], body={
        "series_id": s["id"], "recurrence_id": "2027-03-14T02:30:00", "status": "cancelled",
        "kind": "meeting", "title": "x", "timezone": "America/New_York",
        "start": "2027-03-14T03:30:00"}), 422)
    assert fields(p) == ["recurrence_id"], p
    r = d.request("POST", "/v1/events", token=k["cabc"], body={
        "series_id": s["id"], "recurrence_id": "2027-03-14T03:30:00",
        "kind": "meeting", "title": "NYC partners call (moved)", "timezone": "America/New_York",
        "start": "2027-03-14T09:00:00", "end": "2027-03-14T10:00:00"})
    assert r.status == 201, r
    other = dict(GAP_SERIES, title="NYC second call", exdates=["2027-03-14T03:30:00"])
    assert d.request("POST", "/v1/events", token=k["cabc"], body=other).status == 201
    api = d.request("GET", "/v1/occurrences?from=2027-03-10&to=2027-03-20&limit=1000",
                    token=k["cabc"]).json()["items"]
    on_14th = sorted((o["title"], o["start"]) for o in api if o["start"].startswith("2027-03-14"))
    assert on_14th == [("NYC partners call (moved)", "2027-03-14T09:00:00")], on_14th
    assert len(api) == 9
    body = d.request("GET", path_of(make_feed(d, k["host"]))).body
    window = ("2027-03-10T00:00:00+00:00", "2027-03-20T00:00:00+00:00")
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, *window], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    from_feed = sorted([t, u] for t, _, u, _ in json.loads(out.stdout))
    assert from_feed == sorted([o["title"], o["start_utc"]] for o in api), (from_feed, api)
