"""/v1/occurrences: recurrences expanded in the event's zone, exdates,
rdates, overrides, the window, paging."""
import json
import subprocess

from harness import problem
from test_events import world
from test_feeds import EXPAND, make_feed, path_of


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
