"""Time, as SPEC's Time section states it: only real zones of the tz
database, aliases stored and emitted as their zone's canonical name; feeds
checked with Debian's python3-icalendar."""
import json

from harness import problem, run_cli
from test_events import world
from test_feeds import make_feed, parse, path_of

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
