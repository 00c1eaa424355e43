"""Feeds: management, and the .ics itself checked with an independent
parser (Debian's python3-icalendar and python3-recurring-ical-events)."""
import datetime
import os
import re
import subprocess
import threading
import time

from harness import problem
from test_events import VISIT as VISIT_2024, world

# Feeds show items from a year back onward: these tests use 2027.
VISIT = dict(VISIT_2024, start="2027-03-10T14:00:00", end="2027-03-10T17:00:00")

PARSE = r'''
import sys, json, datetime, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = {"name": str(cal.get("NAME")), "calname": str(cal.get("X-WR-CALNAME")),
       "tzids": sorted(str(c["TZID"]) for c in cal.walk("VTIMEZONE")), "events": []}
for ev in cal.walk("VEVENT"):
    st = ev.decoded("DTSTART")
    out["events"].append({
        "uid": str(ev["UID"]), "summary": str(ev["SUMMARY"]), "status": str(ev.get("STATUS")),
        "sequence": int(ev.get("SEQUENCE", 0)), "tzid": ev["DTSTART"].params.get("TZID"),
        "start": st.isoformat(), "all_day": not isinstance(st, datetime.datetime),
        "rrule": ev["RRULE"].to_ical().decode() if "RRULE" in ev else None,
        "alarms": len(ev.walk("VALARM")),
        "categories": sorted(str(c) for cats in ([ev["CATEGORIES"]] if not isinstance(ev.get("CATEGORIES"), list) else ev["CATEGORIES"]) if cats for c in cats.cats) if "CATEGORIES" in ev else []})
print(json.dumps(out))
'''


def parse(body):
    out = subprocess.run(["/usr/bin/python3", "-c", PARSE], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    import json
    return json.loads(out.stdout)


def make_feed(d, token, **body):
    r = d.request("POST", "/v1/feeds", token=token, body=dict({"name": "HCMC DOST"}, **body))
    assert r.status == 201, r
    return r.json()


def path_of(feed):
    return feed["url"][feed["url"].index("/feeds/"):]


def test_feed_parses_and_shows_events(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly", "timezone": "America/Toronto",
        "start": "2026-02-23T09:00:00", "end": "2026-02-23T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=4", "reminders": ["-PT15M"]})
    d.request("POST", "/v1/events", token=k["busan-city"], body={
        "kind": "festival", "title": "FLY ASIA", "all_day": True, "timezone": "Asia/Seoul",
        "start": "2026-10-13", "end": "2026-10-15", "tags": ["startups"]})
    feed = make_feed(d, k["host"])
    assert feed["url"].startswith(f"http://127.0.0.1:{d.port}/feeds/") and feed["url"].endswith(".ics")
    r = d.request("GET", path_of(feed))
    assert r.status == 200 and r.header("Content-Type") == "text/calendar; charset=utf-8", r
    text = r.body.decode("utf-8")
    for line in r.body.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")
    assert r.body.endswith(b"\r\n") and b"\n" not in r.body.replace(b"\r\n", b"")
    assert "TZID:Asia/Ho_Chi_Minh" in text and "DTSTART;TZID=America/Toronto:20260223T090000" in text
    assert "freeassociation" not in text and "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in text
    cal = parse(r.body)
    assert cal["name"] == "HCMC DOST" and cal["calname"] == "HCMC DOST"
    assert cal["tzids"] == ["America/Toronto", "Asia/Ho_Chi_Minh"]
    evs = {e["summary"]: e for e in cal["events"]}
    assert evs["CABC weekly"]["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert evs["CABC weekly"]["alarms"] == 0  # alarms only when asked for
    assert evs["FLY ASIA"]["all_day"] and evs["FLY ASIA"]["start"] == "2026-10-13"
    assert "startups" in evs["FLY ASIA"]["categories"] and "festival" in evs["FLY ASIA"]["categories"]
    with_alarms = make_feed(d, k["host"], name="With alarms", alarms=True)
    evs = {e["summary"]: e for e in parse(d.request("GET", path_of(with_alarms)).body)["events"]}
    assert evs["CABC weekly"]["alarms"] == 1 and evs[VISIT["title"]]["alarms"] == 2


def test_etag_304_head_and_accept(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    feed = make_feed(d, k["host"])
    a = d.request("GET", path_of(feed))
    b = d.request("GET", path_of(feed), headers={"Accept": "text/calendar,text/plain;q=0.8,*/*;q=0.5"})
    assert a.body == b.body and a.header("ETag") == b.header("ETag")  # byte-identical
    assert d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")}).status == 304
    assert d.request("GET", path_of(feed),
                     headers={"If-Modified-Since": a.header("Last-Modified")}).status == 304
    h = d.request("HEAD", path_of(feed))
    assert h.status == 200 and h.body == b"" and h.header("Content-Length") == str(len(a.body))
    ev = d.request("GET", "/v1/events", token=k["host"]).json()["items"][0]
    d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Renamed"})
    c = d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")})
    assert c.status == 200 and c.header("ETag") != a.header("ETag")
    e = parse(c.body)["events"][0]
    assert e["summary"] == "Renamed" and e["sequence"] == 1


def test_filters_cancelled_and_revocation(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, tags=["keep"]))
    d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, kind="meeting", title="Other"))
    gone = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="Cancelled", tags=["keep"])).json()
    d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"])
    feed = make_feed(d, k["host"], filter={"kinds": ["visit"], "tags": ["keep"]})
    evs = {e["summary"]: e for e in parse(d.request("GET", path_of(feed)).body)["events"]}
    assert set(evs) == {VISIT["title"], "Cancelled"}
    assert evs["Cancelled"]["status"] == "CANCELLED" and evs[VISIT["title"]]["status"] == "CONFIRMED"
    listed = d.request("GET", "/v1/feeds", token=k["host"]).json()["items"]
    assert [f["id"] for f in listed] == [feed["id"]] and "token" not in listed[0] and "url" not in listed[0]
    rotated = d.request("POST", f"/v1/feeds/{feed['id']}/rotate", token=k["host"]).json()
    assert d.request("GET", path_of(feed)).status == 404
    assert d.request("GET", path_of(rotated)).status == 200
    assert d.request("DELETE", f"/v1/feeds/{feed['id']}", token=k["host"]).status == 204
    problem(d.request("GET", path_of(rotated)), 404)


def test_feed_validation_and_odd_paths(ctx):
    db, k, d = world(ctx)
    problem(d.request("POST", "/v1/feeds", token=k["editor"], body={"name": "x"}), 403)
    for body, field in [({"name": "x", "filter": {"kinds": ["party"]}}, "filter.kinds[0]"),
                        ({"name": "x", "filter": {"colours": ["red"]}}, "filter.colours"),
                        ({"name": "x", "filter": {"orgs": ["nobody"]}}, "filter.orgs"),
                        ({"name": "x", "filter": {"countries": ["vn"]}}, "filter.countries[0]"),
                        ({"name": "x", "filter": []}, "filter"), ({"name": "x", "alarms": "yes"}, "alarms"),
                        ({"filter": {}}, "name")]:
        p = problem(d.request("POST", "/v1/feeds", token=k["host"], body=body), 422)
        assert p["errors"][0]["field"] == field, (body, p)
    for path in ["/feeds/../etc/passwd", "/feeds/" + "A" * 4096 + ".ics", "/feeds/" + "A" * 43,
                 "/feeds/" + "%C3%A9" * 20 + ".ics", "/feeds/" + "A" * 43 + ".ics", "/feeds/.ics",
                 "/feeds/" + "A" * 42 + "+.ics"]:
        r = d.request("GET", path)
        assert r.status == 404, (path, r)


def test_gzip_has_its_own_etag(ctx):
    import gzip
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    feed = make_feed(d, k["host"])
    plain = d.request("GET", path_of(feed))
    gz = d.request("GET", path_of(feed), headers={"Accept-Encoding": "gzip, deflate"})
    assert gz.header("Content-Encoding") == "gzip" and plain.header("Content-Encoding") is None
    assert gzip.decompress(gz.body) == plain.body
    assert gz.header("ETag") != plain.header("ETag")
    assert gz.header("Vary") == "Accept-Encoding" == plain.header("Vary")
    assert d.request("GET", path_of(feed), headers={"Accept-Encoding": "gzip",
                     "If-None-Match": gz.header("ETag")}).status == 304
    # Accept-Encoding as RFC 9110 reads it, hostile forms included.
    for header, gzipped in [("gzip;q=0.5", True), ("GZIP", True), ("x-gzip", True),
                            ("deflate, gzip ; q=1.0", True), ("*;q=0.1", True),
                            ("br, *", True), ("gzip;q=0", False), ("gzip; q=0.000", False),
                            ("*;q=0.5, gzip;q=0", False), ("identity, *;q=0", False),
                            ("deflate", False), ("gzipx", False), ("gzip;q=2", False),
                            ("gzip;q=abc", False), ("gzip;q=", False), (";;;,,,", False),
                            (",".join(["x"] * 2000) + ",gzip", True), ("\tgzip\t", True)]:
        r = d.request("GET", path_of(feed), headers={"Accept-Encoding": header})
        assert r.status == 200 and (r.header("Content-Encoding") == "gzip") == gzipped, header
        assert (gzip.decompress(r.body) if gzipped else r.body) == plain.body, header


def test_change_through_one_instance_shows_in_another(ctx):
    import harness
    db, k, d = world(ctx)
    other = ctx.daemon(db)
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    feed = make_feed(d, k["host"])
    before = other.request("GET", path_of(feed))  # now cached in that instance
    assert VISIT["title"].encode() in before.body
    d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Moved to Busan"})
    # Told by NOTIFY: cached, the rendering would stand for up to 300 s.
    harness.wait_for(lambda: b"Moved to Busan" in other.request("GET", path_of(feed)).body,
                     10, what="the change in the other instance's feed")


def test_cached_feed_served_while_database_is_down(ctx):
    import harness
    cluster = ctx.private_cluster()
    db = cluster.conninfo()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=["--threads", "1"])
    d.request("POST", "/v1/events", token=token, body=VISIT)
    cached = make_feed(d, token, name="cached")
    cold = make_feed(d, token, name="cold")
    first = d.request("GET", path_of(cached))
    assert first.status == 200
    cluster.stop()
    harness.wait_for(lambda: d.request("GET", "/readyz").status == 503, 10, what="outage")
    again = d.request("GET", path_of(cached))
    assert again.status == 200 and again.body == first.body
    r = d.request("GET", path_of(cold))
    problem(r, 503)
    assert r.header("Retry-After")



def test_large_feed_is_sent_from_a_memory_file(ctx):
    """A feed larger than one write, once asked for again, is kept in a
    memory file and sent from there (sendfile): the same bytes as before,
    for GET, HEAD, gzip, 304 and while the database is down; a new
    rendering closes the old file."""
    import gzip
    import harness
    cluster = ctx.private_cluster()
    db = cluster.conninfo()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=["--threads", "1"])
    for i in range(60):
        r = d.request("POST", "/v1/events", token=token, body=dict(
            VISIT, partners=[], title=f"Visit {i} " + "kết nối hệ sinh thái " * 8,
            start=f"2027-03-{1 + i % 28:02d}T14:00:00", end=f"2027-03-{1 + i % 28:02d}T17:00:00"))
        assert r.status == 201, r
    feed = make_feed(d, token)

    def files():
        return harness.memory_files(d.proc.pid)

    assert files() == 0
    a = d.request("GET", path_of(feed))
    assert a.status == 200 and len(a.body) > 32768 and len(parse(a.body)["events"]) == 60
    assert files() == 0  # its first answer went from memory
    b = d.request("GET", path_of(feed))
    assert b.body == a.body and b.header("ETag") == a.header("ETag")

    def sent_from_a_file():
        # A NOTIFY of the writes above heard only now renders the feed
        # again (the same bytes): its next answer is the second.
        if files() == 1:
            return True
        again = d.request("GET", path_of(feed))
        assert again.body == a.body and again.header("ETag") == a.header("ETag")
        return files() == 1
    harness.wait_for(sent_from_a_file, 5, what="the file")
    h = d.request("HEAD", path_of(feed))
    assert h.status == 200 and h.body == b"" and h.header("Content-Length") == str(len(a.body))
    assert d.request("GET", path_of(feed), headers={"If-None-Match": a.header("ETag")}).status == 304
    gz = d.request("GET", path_of(feed), headers={"Accept-Encoding": "gzip"})
    assert gz.header("Content-Encoding") == "gzip" and gzip.decompress(gz.body) == a.body
    ev = d.request("GET", "/v1/events?limit=1", token=token).json()["items"][0]
    d.request("PATCH", f"/v1/events/{ev['id']}", token=token, body={"title": "Renamed"})
    c = d.request("GET", path_of(feed))
    assert c.status == 200 and c.body != a.body and b"SUMMARY:Renamed" in c.body
    assert files() == 0  # the old rendering's file is closed, the new one in memory
    cluster.stop()
    harness.wait_for(lambda: d.request("GET", "/readyz").status == 503, 10, what="outage")
    stale = d.request("GET", path_of(feed))
    assert stale.status == 200 and stale.body == c.body


EXPAND = r'''
import sys, json, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
start, end = (datetime.datetime.fromisoformat(a) for a in sys.argv[1:3])
out = []
for ev in recurring_ical_events.of(cal).between(start, end):
    st = ev["DTSTART"].dt
    if isinstance(st, datetime.datetime):
        utc = st.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        local = st.strftime("%Y-%m-%dT%H:%M:%S")
    else:
        utc, local = None, st.isoformat()
    out.append([str(ev["SUMMARY"]), local, utc, str(ev.get("STATUS"))])
print(json.dumps(sorted(out)))
'''


def test_feed_occurrences_equal_api_occurrences(ctx):
    import json
    db, k, d = world(ctx)
    long_title = ("Đà Nẵng kết nối hệ sinh thái khởi nghiệp, đổi mới sáng tạo với các "
                  "doanh nghiệp Trung Quốc")
    s = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly", "timezone": "America/Toronto",
        "start": "2026-02-23T09:00:00", "end": "2026-02-23T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=6", "exdates": ["2026-03-16T09:00:00"]}).json()
    d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly (moved)", "timezone": "America/Toronto",
        "start": "2026-03-09T11:00:00", "end": "2026-03-09T12:00:00", "series_id": s["id"],
        "recurrence_id": "2026-03-09T09:00:00"})
    d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": long_title, "start": "2026-03-05T09:00:00",
        "end": "2026-03-05T11:30:00", "rrule": "FREQ=DAILY;COUNT=3"})
    d.request("POST", "/v1/events", token=k["busan-city"], body={
        "kind": "festival", "title": "FLY ASIA", "all_day": True, "timezone": "Asia/Seoul",
        "start": "2025-10-13", "end": "2025-10-15", "rrule": "FREQ=YEARLY"})
    feed = make_feed(d, k["host"])
    body = d.request("GET", path_of(feed)).body
    lines = body.split(b"\r\n")
    assert all(len(l) <= 75 for l in lines) and any(l.startswith(b"SUMMARY:\xc4\x90") for l in lines)
    window = ("2026-02-01T00:00:00+00:00", "2026-12-31T00:00:00+00:00")
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, *window], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    from_feed = json.loads(out.stdout)
    api = d.request("GET", "/v1/occurrences?from=2026-02-01&to=2026-12-31&limit=1000",
                    token=k["host"]).json()["items"]
    from_api = sorted([o["title"], o["start"], None if o["all_day"] else o["start_utc"],
                       o["status"].upper()] for o in api)
    assert from_feed == from_api, (from_feed, from_api)
    toronto = [o for o in from_api if o[0] == "CABC weekly"]
    assert [o[2] for o in toronto] == ["2026-02-23T14:00:00Z", "2026-03-02T14:00:00Z",
                                       "2026-03-23T13:00:00Z", "2026-03-30T13:00:00Z"]


def test_agreement_dates_carry_the_agreement_in_the_description(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "Letter of intent: Hai Phong – CABC", "stage": "intent",
        "parties": ["cabc"], "signed_on": "2027-10-14",
        "milestones": [{"title": "MOU due", "due": "2028-06-30"}]})
    assert r.status == 201, r
    feed = make_feed(d, k["host"])
    body = d.request("GET", path_of(feed)).body
    out = subprocess.run(["/usr/bin/python3", "-c", r'''
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
print(json.dumps({str(e["SUMMARY"]): str(e.get("DESCRIPTION", "")) for e in cal.walk("VEVENT")}))
'''], input=body, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    import json
    desc = json.loads(out.stdout)
    assert len(desc) == 2, desc
    for text in desc.values():
        # One line a person reads at a glance; the parties, who are the
        # items' partners, are said once (the world's orgs are named by
        # their slugs: test_feeds_name_orgs_by_their_names has real names).
        assert text == ("Held by: Org hcmc-dost\nAgreement: Letter of intent: Hai Phong – CABC "
                        "(letter of intent, signed 14 Oct 2027) with cabc"), text


def test_large_feed_is_rendered_in_chunks_and_from_the_cache(ctx):
    """More events than one query chunk (500): every one is in the feed,
    once, in order of their instants; a second feed over the same events and a render
    after one change give the same events with the change applied."""
    db, k, d = world(ctx)
    ctx.cluster.psql("""
        INSERT INTO events (org_id, uid, kind, title, timezone, start_local, end_local,
                            start_utc, end_utc, last_end_utc)
        SELECT o.id, 'bulk-' || g || '@test', 'meeting', 'Bulk ' || g, z,
               timestamp '2027-02-01 09:00' + g * interval '1 hour',
               timestamp '2027-02-01 10:00' + g * interval '1 hour',
               (timestamp '2027-02-01 09:00' + g * interval '1 hour') AT TIME ZONE z,
               (timestamp '2027-02-01 10:00' + g * interval '1 hour') AT TIME ZONE z,
               (timestamp '2027-02-01 10:00' + g * interval '1 hour') AT TIME ZONE z
        FROM orgs o, generate_series(1, 1234) g,
             LATERAL (SELECT (ARRAY['Asia/Seoul', 'America/Toronto'])[1 + g % 2] AS z) zz
        WHERE o.slug = 'hcmc-dost'""", db.split("dbname=")[1])
    first = make_feed(d, k["host"])
    cal = parse(d.request("GET", path_of(first)).body)
    titles = [e["summary"] for e in cal["events"]]
    assert len(titles) == 1234 and len(set(titles)) == 1234
    starts = [datetime.datetime.fromisoformat(e["start"]) for e in cal["events"]]
    assert starts == sorted(starts)  # in start order, across zones
    assert cal["tzids"] == ["America/Toronto", "Asia/Seoul"]
    second = make_feed(d, k["host"], name="Second")
    again = parse(d.request("GET", path_of(second)).body)
    assert [e["summary"] for e in again["events"]] == titles
    ev = d.request("GET", "/v1/events?limit=1", token=k["host"]).json()["items"][0]
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Changed"})
    assert r.status == 200, r
    after = parse(d.request("GET", path_of(first)).body)
    changed = [e for e in after["events"] if e["summary"] == "Changed"]
    assert len(after["events"]) == 1234 and len(changed) == 1 and changed[0]["sequence"] == 1
    # The longest a query's callback held a worker's loop is reported, per
    # worker: rendering 1,234 events took some, on one of the two.
    held = re.findall(rb'^liaison_db_callback_max_seconds\{worker="(\d)"\} ([0-9.]+)$',
                      d.request("GET", "/metrics").body, re.M)
    assert sorted(w for w, _ in held) == [b"0", b"1"], held
    assert max(float(v) for _, v in held) > 0, held


def test_stored_vevents_serve_a_restarted_daemon_only_while_current(ctx):
    """Rendered VEVENTs are written to vevent_texts; a daemon that starts
    with an empty memory assembles the feed from them (shown by a stored
    body altered in the database coming back), but never from a row of an
    older stamp or of another renderer: those events are rendered again and
    their rows written over."""
    import harness
    db, k, d = world(ctx)
    dbname = db.split("dbname=")[1]
    sql = lambda q: ctx.cluster.psql(q, dbname)  # noqa: E731
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    other = d.request("POST", "/v1/events", token=k["host"],
                      body=dict(VISIT, title="Second visit", reminders=["-PT1H"],
                                description='Quote " backslash \\ braces {a,b} NULL')).json()
    feed = make_feed(d, k["host"])
    alarms = make_feed(d, k["host"], name="With alarms", alarms=True)
    plain = d.request("GET", path_of(feed)).body
    with_alarms = d.request("GET", path_of(alarms)).body
    harness.wait_for(lambda: sql("SELECT count(*) FROM vevent_texts") == "4", 5,
                     what="four stored VEVENTs (two events, with and without alarms)")
    stored = sql(f"SELECT body FROM vevent_texts WHERE event_id = '{other['id']}' AND alarms")
    norm = lambda t: t.replace("\r\n", "\n").strip()  # noqa: E731
    assert "BEGIN:VALARM" in stored and norm(stored) in norm(with_alarms.decode())
    assert "BEGIN:VALARM" not in sql(
        f"SELECT body FROM vevent_texts WHERE event_id = '{other['id']}' AND NOT alarms")

    # A restarted daemon takes the stored text: an altered body shows.
    sql("UPDATE vevent_texts SET body = replace(body, 'Second visit', 'From the store')")
    d.stop()
    d = ctx.daemon(db)
    body = d.request("GET", path_of(feed)).body
    assert b"From the store" in body and b"Second visit" not in body
    assert body.replace(b"From the store", b"Second visit") == plain

    # A row of another renderer is not used, and is written over.
    sql(f"UPDATE vevent_texts SET renderer = '0000000000000000', "
        f"body = replace(body, 'Second visit', 'Old renderer') WHERE event_id = '{other['id']}'")
    d.stop()
    d = ctx.daemon(db)
    assert d.request("GET", path_of(feed)).body == plain
    harness.wait_for(lambda: sql(f"SELECT count(*) FROM vevent_texts WHERE event_id = "
                                 f"'{other['id']}' AND renderer <> '0000000000000000' "
                                 f"AND body NOT LIKE '%Old renderer%' AND NOT alarms") == "1",
                     5, what="the old renderer's row written over")

    # A changed event is rendered again, whatever its stored row says.
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Moved"})
    assert r.status == 200, r
    d.stop()
    d = ctx.daemon(db)
    cal = parse(d.request("GET", path_of(feed)).body)
    assert sorted(e["summary"] for e in cal["events"]) == ["Moved", "Second visit"]
    harness.wait_for(lambda: "SUMMARY:Moved" in sql(
        f"SELECT body FROM vevent_texts WHERE event_id = '{ev['id']}' AND NOT alarms"),
        5, what="the changed event's row written over")


def test_stored_digests_make_a_restarted_daemons_etag(ctx):
    """Each stored VEVENT keeps its text's SHA-256 (sql/033), which a
    daemon just started takes instead of hashing the text again: the feed
    it assembles from the store has the bytes and the ETag of the first
    rendering, and a digest altered in the database shows in the ETag
    alone. A text written over without its digest (as a daemon of an
    earlier version writes it) loses its digest, so that the ETag follows
    the new text, never the old digest."""
    import harness
    db, k, d = world(ctx)
    sql = lambda q: ctx.cluster.psql(q, db.split("dbname=")[1])  # noqa: E731
    for title in ("First visit", "Second visit"):
        r = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title=title))
        assert r.status == 201, r
    feed = make_feed(d, k["host"])
    first = d.request("GET", path_of(feed))
    harness.wait_for(lambda: sql("SELECT count(*) FROM vevent_texts") == "2", 5,
                     what="two stored VEVENTs")
    assert sql("SELECT count(*) FROM vevent_texts "
               "WHERE digest = sha256(convert_to(body, 'UTF8'))") == "2"

    def restarted():
        nonlocal d
        d.stop()
        d = ctx.daemon(db)
        return d.request("GET", path_of(feed))

    again = restarted()
    assert again.body == first.body and again.header("ETag") == first.header("ETag")

    # The digest is the store's: another one changes the ETag, not the bytes.
    sql("UPDATE vevent_texts SET digest = sha256('another text') "
        "WHERE body LIKE '%First visit%'")
    altered = restarted()
    assert altered.body == first.body and altered.header("ETag") != first.header("ETag")

    # An older daemon's write: the text changes, its digest is forgotten,
    # and the ETag is the new text's (the one its right digest makes).
    sql("UPDATE vevent_texts SET digest = sha256(convert_to(body, 'UTF8'))")
    sql("UPDATE vevent_texts SET body = replace(body, 'Second visit', 'From the store')")
    assert sql("SELECT count(*) FROM vevent_texts WHERE digest IS NULL") == "1"
    hashed = restarted()
    assert b"From the store" in hashed.body and hashed.header("ETag") != first.header("ETag")
    sql("UPDATE vevent_texts SET digest = sha256(convert_to(body, 'UTF8'))")
    right = restarted()
    assert right.body == hashed.body and right.header("ETag") == hashed.header("ETag")


def test_stored_texts_come_with_the_list_or_after_it(ctx):
    """A daemon whose memory holds little (just started) asks for the
    stored texts beside the feed's list of events; one that found its last
    feed's VEVENTs in memory asks for the list alone, then for the stored
    texts of what it lacks. Either way the text comes from the store (an
    altered stored body shows), and the bytes are the same."""
    import harness
    db, k, d = world(ctx)
    sql = lambda q: ctx.cluster.psql(q, db.split("dbname=")[1])  # noqa: E731
    for title, tag in [("Kept in memory", "a"), ("Only stored", "b")]:
        r = d.request("POST", "/v1/events", token=k["host"],
                      body=dict(VISIT, title=title, tags=[tag]))
        assert r.status == 201, r
    feed_a, again_a, feed_b, again_b = (
        make_feed(d, k["host"], name=n, filter={"tags": [t]})
        for n, t in [("A", "a"), ("A again", "a"), ("B", "b"), ("B again", "b")])
    plain_b = d.request("GET", path_of(feed_b)).body
    assert b"Only stored" in plain_b
    harness.wait_for(lambda: sql("SELECT count(*) FROM vevent_texts WHERE body LIKE "
                                 "'%Only stored%'") == "1", 5, what="B's VEVENT stored")
    sql("UPDATE vevent_texts SET body = replace(body, 'Only stored', 'From the store')")
    expected = plain_b.replace(b"Only stored", b"From the store")
    metric = re.compile(rb"^liaison_feed_vevents_(\w+)_total (\d+)", re.M)

    def counts(daemon):
        return {m[0].decode(): int(m[1]) for m in metric.findall(
            daemon.request("GET", "/metrics").body)}

    d.stop()
    d = ctx.daemon(db, args=["--log-level", "debug"])
    assert d.request("GET", path_of(feed_b)).body == expected
    assert counts(d) == {"memory": 0, "stored": 1, "rendered": 0}
    assert "1 events, 0 from memory, 1 stored, 0 rendered; stored texts asked for beside the list" \
        in d.logtext()
    # A text taken from the store is in memory for the next feed over it.
    assert d.request("GET", path_of(again_b)).body.replace(b"B again", b"B") == expected
    assert counts(d) == {"memory": 1, "stored": 1, "rendered": 0}

    d.stop()
    d = ctx.daemon(db, args=["--log-level", "debug"])
    assert d.request("GET", path_of(feed_a)).status == 200
    assert d.request("GET", path_of(again_a)).status == 200  # all from memory
    before = counts(d)
    assert before["memory"] == 1
    assert d.request("GET", path_of(feed_b)).body == expected
    after = counts(d)
    assert {n: after[n] - before[n] for n in after} == {"memory": 0, "stored": 1, "rendered": 0}
    assert "1 events, 0 from memory, 1 stored, 0 rendered; stored texts asked for after the list" \
        in d.logtext()


def _stored_feed(ctx):
    """A world whose feed's one VEVENT is stored with an altered body (so
    that a text taken from the store shows), and a daemon just started
    (its memory empty: it asks for the stored texts beside the list),
    past its first background pass (jobs/warmer.c, 2 s after a start),
    which reads the same stamps as the list."""
    import harness
    db, k, d = world(ctx)
    sql = lambda q: ctx.cluster.psql(q, db.split("dbname=")[1])  # noqa: E731
    r = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title="Only stored"))
    assert r.status == 201, r
    feed = make_feed(d, k["host"], name="B")
    plain = d.request("GET", path_of(feed)).body
    assert b"Only stored" in plain
    harness.wait_for(lambda: sql("SELECT count(*) FROM vevent_texts WHERE body LIKE "
                                 "'%Only stored%'") == "1", 5, what="the VEVENT stored")
    sql("UPDATE vevent_texts SET body = replace(body, 'Only stored', 'From the store')")
    d.stop()
    d = ctx.daemon(db, args=["--log-level", "debug"])
    time.sleep(3)
    harness.wait_for(lambda: sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%org_names n%' AND pid <> pg_backend_pid()") == "0",
        10, what="the background pass")
    return db, sql, d, feed, plain.replace(b"Only stored", b"From the store")


def _hold_locks(ctx, db, sql, tables, seconds):
    """Holds ACCESS EXCLUSIVE locks on tables for seconds from another
    session; returns the session once they are held."""
    import harness
    locker = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-d", db, "-c",
         f"BEGIN; LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE; "
         f"SELECT pg_sleep({seconds}); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_for(lambda: sql(
        "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted "
        f"AND relation IN ({', '.join(repr(t) + '::regclass' for t in tables)})")
        == str(len(tables)), 10, what="the locks")
    return locker


def _waiting(sql, table):
    """How many sessions wait for a lock on table."""
    return sql(f"SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '{table}'::regclass")


def _ask_in_background(d, path):
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", d.request("GET", path)))
    t.start()
    return t, got


def test_stored_texts_that_come_before_the_list_are_used(ctx):
    """The stored texts are asked for beside the list, on another
    connection. When they answer first (here the list's stamps take a
    second: liaison_title_stamp made slow, which only the list calls),
    they are kept until the list comes, and the feed is the same bytes,
    its VEVENT from the store, not rendered again."""
    import harness
    db, sql, d, feed, expected = _stored_feed(ctx)
    sql("CREATE OR REPLACE FUNCTION liaison_title_stamp(titles jsonb, lang text, title text) "
        "RETURNS text LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN ''; END $$")
    t, got = _ask_in_background(d, path_of(feed))
    # (pg_stat_activity keeps a query's first 1,024 bytes: matched by its start)
    harness.wait_for(lambda: sql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
        "AND query LIKE '%e.start_utc, e.version%'") == "1", 10, what="the list under way")
    harness.wait_for(lambda: sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%NULL::text AS stamp%' AND pid <> pg_backend_pid()") == "0",
        10, what="the texts answered")
    assert sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
               "AND query LIKE '%e.start_utc, e.version%'") == "1"  # the list came after
    t.join(30)
    assert got["r"].status == 200 and got["r"].body == expected, got["r"]
    assert "1 events, 0 from memory, 1 stored, 0 rendered; stored texts asked for beside the list" \
        in d.logtext()


def test_a_list_that_fails_while_its_texts_are_asked_for_ends_cleanly(ctx):
    """The list fails (cancelled) while the texts asked for beside it still
    wait: the request is answered at once, the texts' late answer is
    dropped (no use of the freed fetch: make asan runs this too), and the
    next request gets the feed."""
    import harness
    db, sql, d, feed, expected = _stored_feed(ctx)
    locker = _hold_locks(ctx, db, sql, ["org_names", "vevent_texts"], 3)
    t, got = _ask_in_background(d, path_of(feed))
    harness.wait_for(lambda: (_waiting(sql, "org_names"), _waiting(sql, "vevent_texts"))
                     == ("1", "1"), 10, what="the list and the texts waiting")
    assert sql("SELECT count(pg_cancel_backend(pid)) FROM pg_locks "
               "WHERE NOT granted AND relation = 'org_names'::regclass") == "1"
    t.join(10)
    assert got["r"].status == 503, got["r"]
    assert locker.poll() is None  # the texts were still waiting
    locker.wait()
    harness.wait_for(lambda: _waiting(sql, "vevent_texts") == "0", 10, what="the texts answered")
    r = d.request("GET", path_of(feed))
    assert r.status == 200 and r.body == expected, r
    assert d.request("GET", "/healthz").status == 200


def test_stored_vevents_are_kept_current_in_the_background(ctx):
    """The scheduler's loop stores the VEVENT of every event a feed may show
    and that lacks a current stored text, with no feed asked for: after
    events are made, and after a start that finds texts of another renderer
    (as after an upgrade). Events too old for any feed are left alone, and
    the stored text is exactly what a feed then carries."""
    import harness
    db, k, d = world(ctx)
    dbname = db.split("dbname=")[1]
    sql = lambda q: ctx.cluster.psql(q, dbname)  # noqa: E731
    ev = d.request("POST", "/v1/events", token=k["host"], body=VISIT).json()
    old = d.request("POST", "/v1/events", token=k["host"], body=VISIT_2024).json()
    # A pass runs 2 s after a start: a daemon started after the events
    # were made sees them, however slowly this test runs (valgrind).
    d.stop()
    d = ctx.daemon(db)
    row = (f"SELECT count(*) FROM vevent_texts WHERE event_id = '{ev['id']}' AND NOT alarms "
           f"AND stamp = (SELECT version || '.0.0.' || (SELECT rev FROM org_names) "
           f"             FROM events WHERE id = event_id) "
           f"AND renderer <> '0000000000000000' "
           f"AND body LIKE 'BEGIN:VEVENT%'")
    harness.wait_for(lambda: sql(row) == "1", 15, what="the new event's VEVENT stored")
    # Both events were in the one batch that wrote that row.
    assert sql(f"SELECT count(*) FROM vevent_texts WHERE event_id = '{old['id']}'") == "0"
    assert sql("SELECT count(*) FROM vevent_texts WHERE alarms") == "0"

    sql("UPDATE vevent_texts SET renderer = '0000000000000000', body = 'stale'")
    d.stop()
    d = ctx.daemon(db)
    harness.wait_for(lambda: sql(row) == "1", 15, what="the old renderer's text written over")
    stored = sql(f"SELECT body FROM vevent_texts WHERE event_id = '{ev['id']}'")
    feed = d.request("GET", path_of(make_feed(d, k["host"]))).body.decode()
    assert stored.replace("\n", "\r\n") in feed or stored in feed, (stored, feed)


def rich_world(ctx):
    """Every kind of item a feed carries: timed items in three zones, a
    weekly series across a DST change with an exdate and a moved occurrence,
    an all-day festival series, an itinerary item, a cancelled visit, a
    deadline, an agreement with a milestone, reminders, long Vietnamese
    text."""
    db, k, d = world(ctx)
    post = lambda who, body: d.request("POST", "/v1/events", token=k[who], body=body).json()  # noqa: E731
    s = post("cabc", {
        "kind": "meeting", "title": "CABC weekly", "timezone": "America/Toronto",
        "start": "2026-02-23T09:00:00", "end": "2026-02-23T10:00:00", "reminders": ["-PT15M"],
        "rrule": "FREQ=WEEKLY;COUNT=6", "exdates": ["2026-03-16T09:00:00"]})
    post("cabc", {
        "kind": "meeting", "title": "CABC weekly (moved)", "timezone": "America/Toronto",
        "start": "2026-03-09T11:00:00", "end": "2026-03-09T12:00:00", "series_id": s["id"],
        "recurrence_id": "2026-03-09T09:00:00"})
    visit = post("host", dict(VISIT, title=(
        "Đà Nẵng kết nối hệ sinh thái khởi nghiệp, đổi mới sáng tạo với các doanh nghiệp "
        "Trung Quốc"), description="Agenda; line two, with \\ and \"quotes\"\nand a newline"))
    post("host", {"kind": "meeting", "title": "Site visit, Saigon Hi-Tech Park",
                  "start": "2027-03-10T15:00:00", "end": "2027-03-10T16:00:00",
                  "parent_id": visit["id"]})
    post("busan-city", {"kind": "festival", "title": "FLY ASIA", "all_day": True,
                        "timezone": "Asia/Seoul", "start": "2026-10-13", "end": "2026-10-15",
                        "rrule": "FREQ=YEARLY", "tags": ["startups", "busan"]})
    gone = post("host", dict(VISIT, title="Cancelled visit", start="2027-04-01T09:00:00",
                             end="2027-04-01T10:00:00"))
    d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"])
    post("host", {"kind": "deadline", "title": "Report due", "start": "2027-05-01T17:00:00",
                  "timezone": "UTC"})
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "Letter of intent: Hai Phong – CABC", "stage": "intent", "parties": ["cabc"],
        "signed_on": "2027-10-14", "milestones": [{"title": "MOU due", "due": "2028-06-30"}]})
    assert r.status == 201, r
    return db, k, d


def test_feed_opens_in_calcurse(ctx):
    """A calendar application of its own (calcurse, with its own iCalendar
    reader) imports the feed of every kind of item with nothing skipped."""
    import os
    import shutil
    import tempfile
    assert shutil.which("calcurse"), "calcurse is not installed (scripts/deps.sh check)"
    db, k, d = rich_world(ctx)
    feed = make_feed(d, k["host"], alarms=True)
    body = d.request("GET", path_of(feed)).body
    vevents = body.count(b"BEGIN:VEVENT")
    assert vevents == 9
    with tempfile.TemporaryDirectory() as home:
        ics = os.path.join(home, "feed.ics")
        open(ics, "wb").write(body)
        # calcurse shows times in TZ's local time.
        out = subprocess.run(["calcurse", "-D", home, "-i", ics], capture_output=True, text=True,
                             env=dict(os.environ, TZ="America/Toronto", HOME=home), timeout=60)
        apts = open(os.path.join(home, "apts"), encoding="utf-8").read()
    assert out.returncode == 0 and out.stderr == "", out
    m = re.search(r"(\d+) apps / (\d+) events / 0 todos / (\d+) skipped", out.stdout)
    assert m and int(m[1]) + int(m[2]) == vevents and m[3] == "0", out.stdout
    lines = apts.splitlines()

    def line(title):
        found = [l for l in lines if l.endswith(title)]
        assert len(found) == 1, (title, apts)
        return found[0]
    # The Toronto series at 09:00 local on both sides of 2026-03-08, with its
    # exdate and its alarm ("!"); the moved occurrence on its own.
    assert line("!CABC weekly").startswith("02/23/2026 @ 09:00 -> 02/23/2026 @ 10:00 {1W -> ")
    assert "!03/16/2026}" in line("!CABC weekly")
    assert line("CABC weekly (moved)").startswith("03/09/2026 @ 11:00 -> 03/09/2026 @ 12:00")
    # 14:00 in Ho Chi Minh City is 02:00 in Toronto; 17:00Z is 13:00 EDT.
    assert line("!" + "Đà Nẵng kết nối hệ sinh thái khởi nghiệp, đổi mới sáng tạo với các "
                "doanh nghiệp Trung Quốc").startswith("03/10/2027 @ 02:00 -> 03/10/2027 @ 05:00")
    assert line("|Report due").startswith("05/01/2027 @ 13:00")
    assert line(" FLY ASIA").startswith("10/13/2026 [1] {1Y}")
    assert line(" MOU due").startswith("06/30/2028 [1]")
