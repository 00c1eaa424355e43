"""One truth for a series: a master, its overrides and its exdates, as the
API, the feeds (expanded by an independent parser, Debian's
python3-recurring-ical-events), the reminders and the webhooks describe
it, through cancellations, moves, restores, and as time passes."""
import datetime
import email.utils
import json
import subprocess
import time

import harness
from harness import problem
from test_events import world
from test_feeds import EXPAND, make_feed, parse, path_of

WEEKLY = {"kind": "meeting", "title": "Partner sync", "timezone": "Asia/Ho_Chi_Minh",
          "start": "2027-01-04T09:00:00", "end": "2027-01-04T10:00:00",
          "rrule": "FREQ=WEEKLY;COUNT=6", "location": "Room 1", "reminders": ["-PT1H"],
          "partners": ["busan-city"]}
WINDOW = ("2026-06-01T00:00:00+00:00", "2028-06-01T00:00:00+00:00")


def feed_occurrences(d, feed):
    """What a calendar app shows as happening: the feed expanded by
    recurring_ical_events, cancelled items left out."""
    body = d.request("GET", path_of(feed)).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, *WINDOW], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return sorted(o[:3] for o in json.loads(out.stdout) if o[3] != "CANCELLED")


def api_occurrences(d, token, cancelled=False):
    items = d.request("GET", "/v1/occurrences?from=2026-06-01&to=2027-06-01&limit=1000",
                      token=token).json()["items"]
    items += d.request("GET", "/v1/occurrences?from=2027-06-01&to=2028-06-01&limit=1000",
                       token=token).json()["items"]
    return sorted([o["title"], o["start"], None if o["all_day"] else o["start_utc"]]
                  for o in items if (o["status"] == "cancelled") == cancelled)


def agree(d, token, feed):
    """The feed and the API show the same occurrences; returns them."""
    shown = feed_occurrences(d, feed)
    assert shown == api_occurrences(d, token), (shown, api_occurrences(d, token))
    return shown


def starts(occ, title="Partner sync"):
    return [o[1] for o in occ if o[0] == title]


def utc_epoch(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


def overrides_at_their_instants(ctx, db, d, token, series_id, step):
    """Each override of the series is stored at the instants
    /v1/occurrences works out from its wall time; returns how many there
    are."""
    rows = sql(ctx, db, "SELECT id, extract(epoch FROM start_utc)::bigint,"
               " extract(epoch FROM end_utc)::bigint, extract(epoch FROM last_end_utc)::bigint"
               f" FROM events WHERE series_id = '{series_id}' ORDER BY id").split("\n")
    occ = d.request("GET", "/v1/occurrences?from=2027-10-01&to=2027-12-01",
                    token=token).json()["items"]
    by_id = {o["override_id"]: o for o in occ if o.get("override_id")}
    for row in rows:
        oid, start, end, last_end = row.split("|")
        o = by_id[oid]
        want = [utc_epoch(o["start_utc"]), utc_epoch(o["end_utc"])]
        assert [int(start), int(end), int(last_end)] == want + want[1:], (step, row, o)
    return len(rows)


def sql(ctx, db, q):
    return ctx.cluster.psql(q, db.split("dbname=")[1])


def test_cancelling_one_occurrence_reaches_feeds_in_one_line(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY).json()
    feed = make_feed(d, k["host"])
    assert len(starts(agree(d, k["host"], feed))) == 6
    # {series_id, recurrence_id, status} is all it takes: the rest is the series'.
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-11T09:00:00", "status": "cancelled"})
    assert r.status == 201, r
    o = r.json()
    assert o["status"] == "cancelled" and o["title"] == "Partner sync" and o["uid"] == s["uid"]
    assert o["start"] == "2027-01-11T09:00:00" and o["end"] == "2027-01-11T10:00:00"
    assert o["location"] == "Room 1" and o["partners"] == ["busan-city"]
    # The feed: the master carries the cancelled occurrence as an EXDATE,
    # and no VEVENT says it happens.
    text = d.request("GET", path_of(feed)).body.decode()
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20270111T090000" in text, text
    shown = agree(d, k["host"], feed)
    assert "2027-01-11T09:00:00" not in starts(shown) and len(starts(shown)) == 5
    assert starts(api_occurrences(d, k["host"], cancelled=True)) == ["2027-01-11T09:00:00"]
    # The other way: DELETE of the occurrence, answered with its override.
    r = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                  token=k["host"])
    assert r.status == 200 and r.json()["status"] == "cancelled", r
    again = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                      token=k["host"])
    assert again.status == 200 and again.header("ETag") == r.header("ETag"), again
    shown = agree(d, k["host"], feed)
    assert starts(shown) == ["2027-01-04T09:00:00", "2027-01-25T09:00:00",
                             "2027-02-01T09:00:00", "2027-02-08T09:00:00"]
    # The partner's feed (its org may see the series) tells the same.
    assert starts(agree(d, k["busan-city"], make_feed(d, k["busan-city"]))) == starts(shown)
    # No reminder for a cancelled occurrence.
    rem = d.request("GET", f"/v1/events/{s['id']}/reminders?limit=100", token=k["host"]).json()
    planned = sorted(x["occurrence"]["start"] for x in rem["items"])
    assert "2027-01-11T09:00:00" not in planned and "2027-01-18T09:00:00" not in planned
    assert len(planned) == 4, planned


def test_an_override_must_name_an_occurrence(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"],
                  body=dict(WEEKLY, exdates=["2027-01-25T09:00:00"])).json()
    for rid in ["2027-01-12T09:00:00", "2027-01-11T09:30:00", "2027-01-25T09:00:00",
                "2027-03-01T09:00:00"]:
        p = problem(d.request("POST", "/v1/events", token=k["host"], body={
            "series_id": s["id"], "recurrence_id": rid, "status": "cancelled"}), 422)
        assert p["errors"][0]["field"] == "recurrence_id", (rid, p)
        problem(d.request("DELETE", f"/v1/events/{s['id']}/occurrences/{rid}",
                          token=k["host"]), 422)
    assert sql(ctx, db, "SELECT count(*) FROM events") == "1"
    # One override per occurrence.
    assert d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-11T09:00:00",
        "title": "Partner sync (in Room 2)", "location": "Room 2"}).status == 201
    p = problem(d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-11T09:00:00", "status": "cancelled"}),
        409)
    assert p["errors"][0]["field"] == "recurrence_id"
    # Cancelling that occurrence cancels its override.
    r = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-11T09:00:00",
                  token=k["host"])
    assert r.status == 200 and r.json()["title"] == "Partner sync (in Room 2)", r
    assert r.json()["status"] == "cancelled"
    # Another org cannot cancel an occurrence of this series.
    problem(d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                      token=k["busan-city"]), 422)
    problem(d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                      token=k["viewer"]), 403)


def test_cancelled_items_stay_cancelled_as_time_passes(ctx):
    """31 days after a cancellation a cancelled occurrence of a live series
    does not come back; a cancelled single item leaves the feed 30 days
    after its occurrence or its cancellation, whichever is later."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY).json()
    d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-11T09:00:00", token=k["host"])
    soon = datetime.date.today() + datetime.timedelta(days=3)
    past = datetime.date.today() - datetime.timedelta(days=40)
    future = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Future visit", "start": f"{soon}T10:00:00",
        "status": "cancelled"}).json()
    gone = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Past visit", "start": f"{past}T10:00:00"}).json()
    d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"])
    feed = make_feed(d, k["host"])
    cal = {e["summary"]: e for e in parse(d.request("GET", path_of(feed)).body)["events"]}
    # Created already cancelled, it reaches feeds as cancelled.
    assert cal["Future visit"]["status"] == "CANCELLED" and future["status"] == "cancelled"
    assert cal["Past visit"]["status"] == "CANCELLED"
    sql(ctx, db, "UPDATE events SET cancelled_at = cancelled_at - interval '31 days', "
                 "updated_at = updated_at - interval '31 days' WHERE status = 'cancelled'")
    # A write made outside the daemon reaches its feeds through NOTIFY.
    calendar = lambda: {e["summary"]: e for e in parse(d.request("GET", path_of(feed)).body)["events"]}  # noqa
    cal = harness.wait_for(lambda: (lambda c: c if "Past visit" not in c else None)(calendar()),
                           10, what="the feed to drop the past cancelled visit")
    assert cal["Future visit"]["status"] == "CANCELLED"
    shown = agree(d, k["host"], feed)
    assert "2027-01-11T09:00:00" not in starts(shown) and len(starts(shown)) == 5
    assert starts(api_occurrences(d, k["host"], cancelled=True)) == ["2027-01-11T09:00:00"]


def test_moving_a_series_takes_its_overrides_along(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY).json()
    moved = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-11T09:00:00",
        "start": "2027-01-11T14:00:00", "end": "2027-01-11T15:00:00",
        "title": "Partner sync (afternoon)"}).json()
    feed = make_feed(d, k["host"])
    shown = agree(d, k["host"], feed)
    assert "2027-01-11T14:00:00" in starts(shown, "Partner sync (afternoon)")
    # 09:00 -> 10:00: the override keyed 09:00 names no occurrence now: it
    # is cancelled and listed, and the week is there once, at 10:00.
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"],
                  body={"start": "2027-01-04T10:00:00", "end": "2027-01-04T11:00:00"})
    assert r.status == 200, r
    assert r.json()["cancelled_overrides"] == [moved["id"]]
    o = d.request("GET", f"/v1/events/{moved['id']}", token=k["host"]).json()
    assert o["status"] == "cancelled"
    shown = agree(d, k["host"], feed)
    assert [x[1] for x in shown] == [f"2027-{m}T10:00:00" for m in
                                     ["01-04", "01-11", "01-18", "01-25", "02-01", "02-08"]]
    # An override that still matches follows the series; one past the new
    # end of the rule goes.
    keep = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-18T10:00:00",
        "title": "Partner sync with Busan"}).json()
    drop = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-02-01T10:00:00",
        "title": "Partner sync (last)"}).json()
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"],
                  body={"rrule": "FREQ=WEEKLY;COUNT=4"}).json()
    assert r["cancelled_overrides"] == [drop["id"]]
    shown = agree(d, k["host"], feed)
    assert [x[:2] for x in shown] == [["Partner sync", "2027-01-04T10:00:00"],
                                      ["Partner sync", "2027-01-11T10:00:00"],
                                      ["Partner sync", "2027-01-25T10:00:00"],
                                      ["Partner sync with Busan", "2027-01-18T10:00:00"]]
    assert d.request("GET", f"/v1/events/{keep['id']}", token=k["host"]).json()["status"] \
        == "confirmed"


def test_cancelling_the_master_cancels_its_overrides_and_restoring_restores(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY).json()
    tentative = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-01-11T09:00:00", "status": "tentative",
        "title": "Partner sync (maybe)"}).json()
    alone = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                      token=k["host"]).json()
    feed = make_feed(d, k["host"])
    assert len(agree(d, k["host"], feed)) == 5
    assert d.request("DELETE", f"/v1/events/{s['id']}", token=k["host"]).status == 200
    get = lambda e: d.request("GET", f"/v1/events/{e['id']}", token=k["host"]).json()  # noqa
    assert get(tentative)["status"] == "cancelled"
    assert agree(d, k["host"], feed) == []
    cal = parse(d.request("GET", path_of(feed)).body)["events"]
    assert [e["status"] for e in cal] == ["CANCELLED"], cal  # the master, whole
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"], body={"status": "confirmed"})
    assert r.status == 200, r
    assert get(tentative)["status"] == "tentative"
    assert get(alone)["status"] == "cancelled"  # cancelled on its own: stays so
    shown = agree(d, k["host"], feed)
    assert len(shown) == 5 and "2027-01-18T09:00:00" not in starts(shown)


def test_a_patch_that_changes_nothing_changes_nothing(ctx):
    db, k, d = world(ctx)
    hook = d.request("POST", "/v1/webhooks", token=k["host"], body={
        "url": "https://hooks.example.org/liaison", "types": ["event.updated"]})
    assert hook.status == 201, hook
    e = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY)
    ev = e.json()
    time.sleep(1.1)  # a write now would show in updated_at
    for patch in [{}, {"title": "Partner sync"}, {"end": "2027-01-04T10:00:00", "url": None},
                  {"partners": ["busan-city"], "id": ev["id"], "sequence": 7},
                  # null for a field at its default: the default (the org's
                  # zone, no tags, confirmed...), not a change
                  {"timezone": None, "tags": None, "exdates": None, "rdates": None,
                   "status": None, "visibility": None, "all_day": None}]:
        r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body=patch,
                      headers={"If-Match": e.header("ETag")})
        assert r.status == 200, (patch, r)
        assert r.header("ETag") == e.header("ETag"), patch
        got = r.json()
        assert got["updated_at"] == ev["updated_at"] and got["sequence"] == 0, (patch, got)
    assert d.request("DELETE", f"/v1/events/{ev['id']}", token=k["host"]).status == 200
    cancelled = d.request("GET", f"/v1/events/{ev['id']}", token=k["host"])
    again = d.request("DELETE", f"/v1/events/{ev['id']}", token=k["host"])
    assert again.status == 200 and again.header("ETag") == cancelled.header("ETag")
    assert sql(ctx, db, "SELECT count(*) FROM webhook_messages WHERE type = 'event.updated'") \
        == "0"
    assert sql(ctx, db, "SELECT count(*) FROM webhook_messages WHERE type = 'event.cancelled'") \
        == "0"  # the endpoint takes event.updated only
    assert sql(ctx, db, f"SELECT version FROM events WHERE id = '{ev['id']}'") == "2"


def test_a_series_starts_on_its_rule(ctx):
    db, k, d = world(ctx)
    p = problem(d.request("POST", "/v1/events", token=k["host"], body=dict(
        WEEKLY, rrule="FREQ=MONTHLY;BYDAY=2TU;COUNT=5")), 422)  # 2027-01-04 is a Monday
    assert p["errors"][0]["field"] == "start" and "2027-01-12T09:00:00" in \
        p["errors"][0]["message"], p
    s = d.request("POST", "/v1/events", token=k["host"], body=dict(
        WEEKLY, start="2027-01-12T09:00:00", end="2027-01-12T10:00:00",
        rrule="FREQ=MONTHLY;BYDAY=2TU;COUNT=5"))
    assert s.status == 201, s
    p = problem(d.request("PATCH", f"/v1/events/{s.json()['id']}", token=k["host"],
                          body={"rrule": "FREQ=MONTHLY;BYDAY=1WE"}), 422)
    assert p["errors"][0]["field"] == "start", p
    feed = make_feed(d, k["host"])
    assert len(agree(d, k["host"], feed)) == 5


def test_last_modified_never_after_date_and_304_only_when_unchanged(ctx):
    db, k, d = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body=dict(
        WEEKLY, rrule=None, visibility="network")).json()
    feed = make_feed(d, k["cabc"])  # another org's feed: the event is network
    when = lambda r, h: email.utils.parsedate_to_datetime(r.header(h))  # noqa: E731
    for _ in range(3):
        a = d.request("GET", path_of(feed))
        assert when(a, "Last-Modified") <= when(a, "Date"), a.headers
        r = d.request("GET", path_of(feed), headers={"If-Modified-Since": a.header("Last-Modified")})
        if r.status == 304:
            break
        time.sleep(1)  # within the second of a change, a 200 until it has passed
    assert r.status == 304
    # The event leaves cabc's feed (made private): nothing left in it says
    # when, yet If-Modified-Since must not keep the old copy.
    d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"visibility": "private"})
    b = d.request("GET", path_of(feed), headers={"If-Modified-Since": a.header("Last-Modified")})
    assert b.status == 200 and "Partner sync" not in b.body.decode(), b
    assert when(b, "Last-Modified") <= when(b, "Date")
    # A change within the second of the last one is a 200 too.
    d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"visibility": "network"})
    c = d.request("GET", path_of(feed))
    d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Renamed"})
    r = d.request("GET", path_of(feed), headers={"If-Modified-Since": c.header("Last-Modified")})
    assert r.status == 200 and "Renamed" in r.body.decode(), r
    assert when(r, "Last-Modified") <= when(r, "Date")


def test_feed_window_and_size(ctx):
    db, k, d = world(ctx)
    today = datetime.date.today()
    for title, days in [("Long ago", -200), ("Last month", -20), ("Soon", 10), ("Far", 300)]:
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "meeting", "title": title,
            "start": f"{today + datetime.timedelta(days=days)}T10:00:00"})
        assert r.status == 201, r
    full = make_feed(d, k["host"], name="All")
    near = make_feed(d, k["host"], name="Near", past_days=30, future_days=60)
    assert near["past_days"] == 30 and near["future_days"] == 60
    assert full["past_days"] == 365 and full["future_days"] is None
    titles = lambda f: sorted(e["summary"] for e in parse(d.request("GET", path_of(f)).body)["events"])  # noqa
    assert titles(full) == ["Far", "Last month", "Long ago", "Soon"]
    assert titles(near) == ["Last month", "Soon"]
    size = len(d.request("GET", path_of(near)).body)
    # Fetches are written about a second after (api/feed_fetches.c): until
    # then the feed is "never fetched".
    harness.wait_for(lambda: d.request("GET", f"/v1/feeds/{near['id']}",
                                       token=k["host"]).json()["fetches_24h"], 10, what="fetch")
    got = d.request("GET", f"/v1/feeds/{near['id']}", token=k["host"]).json()
    assert got["size_bytes"] == size and got["events"] == 2 and got["warnings"] == [], got
    r = d.request("PATCH", f"/v1/feeds/{near['id']}", token=k["host"],
                  body={"past_days": 365, "future_days": None})
    assert r.status == 200 and r.json()["future_days"] is None, r
    assert titles(near) == ["Far", "Last month", "Long ago", "Soon"]
    for bad in [{"past_days": -1}, {"past_days": "30"}, {"future_days": 0},
                {"future_days": 100000}]:
        p = problem(d.request("PATCH", f"/v1/feeds/{near['id']}", token=k["host"], body=bad), 422)
        assert p["errors"][0]["field"] == list(bad)[0], p
    size = len(d.request("GET", path_of(near)).body)
    metrics = d.request("GET", "/metrics").body.decode()
    assert f'liaison_feed_size_bytes{{feed="{near["id"]}"}} {size}' in metrics, metrics[-800:]


def test_feed_tells_the_api_truth_through_every_edit(ctx):
    """The occurrence set a calendar app computes from the feed (python3-
    recurring-ical-events) equals the API's after each of: cancel one,
    move the series, cancel the master, restore, edit an agreement twice,
    31 days pass."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=WEEKLY).json()
    ag = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "MOU: HCMC DOST - Busan", "stage": "drafting", "parties": ["busan-city"],
        "signed_on": "2027-03-02", "milestones": [
            {"title": "Draft to Busan", "due": "2027-02-01"},
            {"title": "Comments back", "due": "2027-02-15"}]}).json()
    feed = make_feed(d, k["host"])
    partner = make_feed(d, k["busan-city"])
    steps = []

    def check(step, n_series):
        shown = agree(d, k["host"], feed)
        assert agree(d, k["busan-city"], partner) == shown, step
        assert len([o for o in shown if o[0].startswith("Partner sync")]) == n_series, (step, shown)
        cal = parse(d.request("GET", path_of(feed)).body)["events"]
        uids = [e["uid"] for e in cal if e["status"] != "CANCELLED"]
        assert len(uids) == len(set(uids)) or step.startswith("override"), (step, cal)
        steps.append((step, cal))
        return cal

    check("start", 6)
    d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-11T09:00:00", token=k["host"])
    check("cancel one", 5)
    d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"],
              body={"start": "2027-01-04T10:00:00", "end": "2027-01-04T11:00:00"})
    check("move the series", 6)  # the 09:00 cancellation named no occurrence left
    d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T10:00:00", token=k["host"])
    check("cancel one again", 5)
    d.request("DELETE", f"/v1/events/{s['id']}", token=k["host"])
    check("cancel the master", 0)
    d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"], body={"status": "confirmed"})
    check("restore", 5)
    before = {e["summary"]: e for e in check("agreement", 5)}
    d.request("PATCH", f"/v1/agreements/{ag['id']}", token=k["host"],
              body={"title": "MOU: HCMC DOST - Busan Metropolitan City"})
    d.request("PATCH", f"/v1/agreements/{ag['id']}", token=k["host"], body={"milestones": [
        {"title": "Draft to Busan", "due": "2027-02-08"}]})
    cal = check("agreement edited twice", 5)
    dates = [e for e in cal if e["summary"] in ("Draft to Busan", "Comments back")
             or e["summary"].endswith(": signed")]
    assert sorted((e["summary"], e["status"]) for e in dates) == [
        ("Comments back", "CANCELLED"), ("Draft to Busan", "CONFIRMED"),
        ("MOU: HCMC DOST - Busan Metropolitan City: signed", "CONFIRMED")], dates
    draft = [e for e in dates if e["summary"] == "Draft to Busan"][0]
    assert draft["uid"] == before["Draft to Busan"]["uid"]
    assert draft["sequence"] > before["Draft to Busan"]["sequence"]
    sql(ctx, db, "UPDATE events SET cancelled_at = cancelled_at - interval '31 days' "
                 "WHERE status = 'cancelled'")
    time.sleep(1)  # a write made outside the daemon reaches its feeds through NOTIFY
    cal = check("31 days pass", 5)
    # The cancelled milestone's date has not passed: it stays, cancelled.
    assert [e["status"] for e in cal if e["summary"] == "Comments back"] == ["CANCELLED"]
    assert starts(api_occurrences(d, k["host"], cancelled=True)) == ["2027-01-18T10:00:00"]


def test_overrides_that_follow_their_series_keep_the_daemons_instants(ctx):
    """An override that follows its series (sql/012: a new title, length
    or zone) had its instants worked out again by PostgreSQL's AT TIME
    ZONE, which takes the later instant where the clocks go back and reads
    CET as a fixed offset. /v1/occurrences and the feeds say otherwise, so
    lists, free/busy and conflicts put the override an hour away. Here the
    stored instants of every override must stay those /v1/occurrences
    gives, through each kind of follow."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Night shift handover", "timezone": "Europe/Berlin",
        "start": "2027-10-17T02:30:00", "end": "2027-10-17T03:15:00",
        "rrule": "FREQ=WEEKLY;COUNT=4"}).json()
    # 10-24 in summer time; 10-31 the day Berlin's clocks go back, its
    # 02:30 twice (RFC 5545: the first).
    for day in ("2027-10-24", "2027-10-31"):
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "series_id": s["id"], "recurrence_id": day + "T02:30:00",
            "start": day + "T02:30:00", "end": day + "T03:15:00",
            "location": "Gate " + day[-2:]})
        assert r.status == 201, r

    def stored_vs_api(step):
        assert overrides_at_their_instants(ctx, db, d, k["host"], s["id"], step) == 2
        # A window of the first 02:30 alone lists the series' override.
        listed = d.request("GET", "/v1/events?from=2027-10-31T00:15:00Z"
                           "&to=2027-10-31T00:45:00Z", token=k["host"]).json()["items"]
        assert [e["location"] for e in listed if e.get("series_id")] == ["Gate 31"], \
            (step, listed)

    stored_vs_api("created")
    for step, patch in [("a new title", {"title": "Handover"}),
                        ("a new length", {"end": "2027-10-17T03:45:00"}),
                        ("a zone PostgreSQL reads as a fixed offset", {"timezone": "CET"}),
                        ("back", {"timezone": "Europe/Berlin", "end": "2027-10-17T03:00:00"})]:
        r = d.request("PATCH", f"/v1/events/{s['id']}", token=k["host"], body=patch)
        assert r.status == 200, (step, r)
        stored_vs_api(step)


def test_every_kind_of_override_follows_at_the_daemons_instants(ctx):
    """The follow of sql/029 for overrides the first test has not: one in
    a zone of its own, one moved off its occurrence, one whose end falls
    in the hour Berlin's clocks repeat, and the all-day override of a
    series without end whose day begins twice in Havana (2027-11-07)."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Early call", "timezone": "Europe/Berlin",
        "start": "2027-10-17T01:30:00", "end": "2027-10-17T02:15:00",
        "rrule": "FREQ=WEEKLY;COUNT=3"}).json()
    for rid, extra in [("2027-10-17", {"timezone": "CET", "start": "2027-10-17T01:30:00",
                                       "end": "2027-10-17T02:15:00"}),
                       ("2027-10-24", {"start": "2027-10-24T05:00:00",
                                       "end": "2027-10-24T06:00:00"}),
                       ("2027-10-31", {"start": "2027-10-31T01:30:00",
                                       "end": "2027-10-31T02:15:00"})]:
        r = d.request("POST", "/v1/events", token=k["host"], body=dict(
            extra, series_id=s["id"], recurrence_id=rid + "T01:30:00", location="Room " + rid))
        assert r.status == 201, r
    days = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "deadline", "title": "Sunday report", "timezone": "America/New_York",
        "all_day": True, "start": "2027-10-24", "rrule": "FREQ=WEEKLY;COUNT=4"}).json()
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": days["id"], "recurrence_id": "2027-11-07", "start": "2027-11-07",
        "location": "Desk"})
    assert r.status == 201, r
    assert overrides_at_their_instants(ctx, db, d, k["host"], s["id"], "created") == 3
    for step, master, patch in [
            # The own-zone override and the one at its occurrence get the new
            # length; the latter ends at 02:45 in the repeated hour.
            ("a new length", s, {"end": "2027-10-17T02:45:00"}),
            # The moved one and the one in the fold follow into CET.
            ("into CET", s, {"timezone": "CET"}),
            ("into Havana", days, {"timezone": "America/Havana"})]:
        r = d.request("PATCH", f"/v1/events/{master['id']}", token=k["host"], body=patch)
        assert r.status == 200, (step, r)
        assert overrides_at_their_instants(ctx, db, d, k["host"], s["id"], step) == 3
        assert overrides_at_their_instants(ctx, db, d, k["host"], days["id"], step) == 1


def planned_starts(d, token, event_id):
    rem = d.request("GET", f"/v1/events/{event_id}/reminders?limit=100", token=token).json()
    return sorted(x["occurrence"]["start"] for x in rem["items"])


def series_with_override(d, token, rid, title):
    """WEEKLY, a feed, and an override of occurrence rid titled title."""
    s = d.request("POST", "/v1/events", token=token, body=WEEKLY).json()
    feed = make_feed(d, token)
    o = d.request("POST", "/v1/events", token=token, body={
        "series_id": s["id"], "recurrence_id": rid, "title": title})
    assert o.status == 201, o
    return s, feed, o


def test_a_series_made_all_day_keeps_every_day_its_rule_gives(ctx):
    """Making a timed series all-day takes away the occurrences its
    overrides named (09:00 on a day is no occurrence of an all-day series):
    they are listed as cancelled overrides, and the days themselves happen.
    The overrides' recurrence ids were read in the series' form, so the feed
    made a day's EXDATE of one (09:00 cut to its date) and the reminders
    left that day out, while the API listed it."""
    db, k, d = world(ctx)
    host = k["host"]
    s, feed, o = series_with_override(d, host, "2027-01-11T09:00:00", "Moved sync")
    c = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/2027-01-18T09:00:00",
                  token=host)
    assert c.status == 200, c
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=host,
                  body={"all_day": True, "start": "2027-01-04", "end": "2027-01-05"})
    assert r.status == 200, r
    assert r.json()["cancelled_overrides"] == [o.json()["id"]], (r.json(), c.json()["id"])
    days = ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01", "2027-02-08"]
    assert starts(agree(d, host, feed)) == days
    assert "EXDATE" not in d.request("GET", path_of(feed)).body.decode()
    assert planned_starts(d, host, s["id"]) == days
    # sql/034 lets such a master's stored text go (rendered by an earlier
    # daemon with the EXDATE) and queues its reminders to be planned again.
    texts = f"SELECT count(*) FROM vevent_texts WHERE event_id = '{s['id']}'"
    assert sql(ctx, db, texts) != "0"
    sql(ctx, db, "DELETE FROM schema_migrations WHERE version = 34")
    harness.run_cli(["migrate"], db)
    assert sql(ctx, db, texts) == "0"


def test_a_series_that_loses_its_rule_loses_its_overrides(ctx):
    """A series whose rule is taken away is a single event, which has no
    overrides: the override of its first occurrence goes with the others
    (cancelled, listed, given back with the rule). Kept, it stood in for
    the event in the feed and the reminders while /v1/occurrences listed
    the event and the override both."""
    db, k, d = world(ctx)
    host = k["host"]
    s, feed, first = series_with_override(d, host, "2027-01-04T09:00:00", "Kick-off")
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=host, body={"rrule": None})
    assert r.status == 200 and r.json()["cancelled_overrides"] == [first.json()["id"]], r
    shown = agree(d, host, feed)
    assert shown == [["Partner sync", "2027-01-04T09:00:00", "2027-01-04T02:00:00Z"]], shown
    assert "RECURRENCE-ID" not in d.request("GET", path_of(feed)).body.decode()
    assert planned_starts(d, host, s["id"]) == ["2027-01-04T09:00:00"]
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=host,
                  body={"rrule": WEEKLY["rrule"]})
    assert r.status == 200 and r.json()["restored_overrides"] == [first.json()["id"]], r
    shown = agree(d, host, feed)
    assert starts(shown, "Kick-off") == ["2027-01-04T09:00:00"]
    assert len(starts(shown)) == 5
