"""/v1/agreements: milestones, signing and expiry become deadline events."""
from harness import problem
from test_events import world

LOI = {"title": "Letter of intent: Hai Phong – CABC", "stage": "intent",
       "parties": ["cabc"], "signed_on": "2024-10-14", "timezone": "America/Toronto",
       "milestones": [{"title": "MOU draft due", "due": "2025-06-30", "reminders": ["-P7D"]},
                      {"title": "Kick-off call", "due": "2024-11-04T09:00:00"}]}


def count(ctx, db, table):
    return int(ctx.cluster.psql(f"SELECT count(*) FROM {table}", db.split("dbname=")[1]))


def test_create_read_and_deadline_events(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/agreements", body=LOI, token=k["host"])
    assert r.status == 201, r
    a = r.json()
    assert r.header("Location") == f"/v1/agreements/{a['id']}"
    assert a["org"] == "hcmc-dost" and a["parties"] == ["cabc"] and a["stage"] == "intent"
    assert [(m["title"], m["due"]) for m in a["milestones"]] == [
        ("Kick-off call", "2024-11-04T09:00:00"), ("MOU draft due", "2025-06-30")]
    assert a["signed_event_id"] and a["expires_event_id"] is None
    ev = d.request("GET", f"/v1/events/{a['milestones'][1]['event_id']}", token=k["cabc"]).json()
    assert ev["kind"] == "deadline" and ev["all_day"] is True and ev["agreement_id"] == a["id"]
    assert ev["reminders"] == ["-P7D"] and ev["partners"] == ["cabc"]
    signed = d.request("GET", f"/v1/events/{a['signed_event_id']}", token=k["host"]).json()
    assert signed["start"] == "2024-10-14" and signed["title"].endswith(": signed")
    deadlines = d.request("GET", "/v1/events?kind=deadline", token=k["busan-city"]).json()
    assert len(deadlines["items"]) == 3
    assert d.request("GET", f"/v1/agreements/{a['id']}", token=k["cabc"]).json() == a
    assert [x["id"] for x in d.request("GET", "/v1/agreements", token=k["cabc"]).json()["items"]] == [a["id"]]


def test_patch_keeps_or_replaces_events(ctx):
    db, k, d = world(ctx)
    a = d.request("POST", "/v1/agreements", body=LOI, token=k["host"]).json()
    url = f"/v1/agreements/{a['id']}"
    r = d.request("PATCH", url, body={"stage": "drafting"}, token=k["editor"])
    assert r.status == 200, r
    b = r.json()
    assert b["stage"] == "drafting" and b["milestones"] == a["milestones"]
    r = d.request("PATCH", url, token=k["editor"], body={
        "stage": "signed", "expires_on": "2029-10-14",
        "milestones": [{"title": "MOU signed", "due": "2025-03-01"}]})
    assert r.status == 200, r
    c = r.json()
    assert [m["title"] for m in c["milestones"]] == ["MOU signed"] and c["expires_event_id"]
    old = d.request("GET", f"/v1/events/{a['milestones'][0]['event_id']}", token=k["host"]).json()
    assert old["status"] == "cancelled"
    exp = d.request("GET", f"/v1/events/{c['expires_event_id']}", token=k["host"]).json()
    assert exp["start"] == "2029-10-14" and exp["reminders"] == ["-P30D"]
    problem(d.request("PATCH", url, body={"stage": "x"}, token=k["editor"],
                      headers={"If-Match": '"1"'}), 412)


def test_validation_and_nothing_written(ctx):
    db, k, d = world(ctx)
    bad = dict(LOI, stage="maybe", expires_on="2024-01-01", parties=["cabc", "NOPE"],
               milestones=[{"title": "x", "due": "soon", "colour": 1},
                           {"due": "2025-01-01", "reminders": ["P1D"]}])
    p = problem(d.request("POST", "/v1/agreements", body=bad, token=k["host"]), 422)
    fields = {e["field"] for e in p["errors"]}
    assert {"stage", "expires_on", "parties[1]", "milestones[0].due", "milestones[0].colour",
            "milestones[1].title", "milestones[1].reminders[0]"} <= fields, fields
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(LOI, parties=["cabc", "nobody"])), 422)
    assert p["errors"][0]["field"] == "parties[1]"
    p = problem(d.request("POST", "/v1/agreements", token=k["host"], body=dict(
        LOI, milestones=[{"title": "gap", "due": "2026-03-08T02:30:00"}])), 422)
    assert p["errors"][0]["field"] == "milestones[0].due"
    assert count(ctx, db, "agreements") == 0 and count(ctx, db, "events") == 0


def test_roles_and_visibility(ctx):
    db, k, d = world(ctx)
    problem(d.request("POST", "/v1/agreements", body=LOI, token=k["viewer"]), 403)
    a = d.request("POST", "/v1/agreements", token=k["host"],
                  body=dict(LOI, visibility="private")).json()
    url = f"/v1/agreements/{a['id']}"
    assert d.request("GET", url, token=k["cabc"]).status == 200
    problem(d.request("GET", url, token=k["busan-city"]), 404)
    assert d.request("GET", "/v1/agreements", token=k["busan-city"]).json()["items"] == []
    ev = a["milestones"][0]["event_id"]
    problem(d.request("GET", f"/v1/events/{ev}", token=k["busan-city"]), 404)
    problem(d.request("PATCH", url, body={"stage": "signed"}, token=k["cabc"]), 403)


def test_a_date_is_seen_by_whom_its_agreement_is(ctx):
    """An agreement's dates take its visibility and its parties as
    partners, and their text names the agreement in every feed that shows
    them: a date made network or given another partner through
    /v1/events would show a private agreement's title to orgs that may
    not see it. Such a change is refused (409, the field named) and
    changes nothing; the rest of a date stays the owner's to change."""
    from test_feeds import make_feed, path_of
    db, k, d = world(ctx)
    a = d.request("POST", "/v1/agreements", token=k["host"],
                  body=dict(MOU, title="Private MOU talks", visibility="private")).json()
    mid = a["milestones"][0]["event_id"]
    got = d.request("GET", f"/v1/events/{mid}", token=k["host"])
    before, etag = got.json(), got.header("ETag")
    for body, field in (({"visibility": "network"}, "visibility"),
                        ({"partners": ["cabc", "busan-city"]}, "partners"),
                        ({"partners": []}, "partners"),
                        ({"title": "Seen", "visibility": "network"}, "visibility")):
        p = problem(d.request("PATCH", f"/v1/events/{mid}", token=k["host"], body=body), 409)
        assert [e["field"] for e in p["errors"]] == [field], p
    assert d.request("GET", f"/v1/events/{mid}", token=k["host"]).json() == before
    problem(d.request("GET", f"/v1/events/{mid}", token=k["busan-city"]), 404)
    feed = d.request("GET", path_of(make_feed(d, k["busan-city"]))).body
    assert b"Private MOU talks" not in feed and b"MOU draft due" not in feed
    # Its own partners and visibility sent back, in any order, change nothing.
    r = d.request("PATCH", f"/v1/events/{mid}", token=k["host"],
                  body={"visibility": "private", "partners": list(reversed(before["partners"]))})
    assert r.status == 200 and r.header("ETag") == etag, r
    r = d.request("PATCH", f"/v1/events/{mid}", token=k["host"], body={"title": "Draft due"})
    assert r.status == 200 and r.json()["title"] == "Draft due", r


# ---- editing updates the date events in place (issue 14) ----------------------

# A feed's VEVENTs as {uid: {...}} with the description; a UID twice fails.
FEED = r'''
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for e in cal.walk("VEVENT"):
    st = e.decoded("DTSTART")
    out.append({"uid": str(e["UID"]), "summary": str(e["SUMMARY"]),
                "status": str(e.get("STATUS")), "sequence": int(e.get("SEQUENCE", 0)),
                "start": st.isoformat(), "description": str(e.get("DESCRIPTION", ""))})
print(json.dumps(out))
'''

MOU = {"title": "Letter of intent: Hai Phong – CABC", "stage": "intent",
       "parties": ["cabc"], "signed_on": "2027-10-14", "timezone": "America/Toronto",
       "milestones": [{"title": "MOU draft due", "due": "2028-06-30", "reminders": ["-P7D"]},
                      {"title": "Kick-off call", "due": "2027-11-04T09:00:00"},
                      {"title": "Legal review", "due": "2028-01-15"}]}
TYPES = ["event.created", "event.updated", "event.cancelled", "agreement.created",
         "agreement.updated"]


def feed_events(d, path):
    import json
    import subprocess
    out = subprocess.run(["/usr/bin/python3", "-c", FEED], input=d.request("GET", path).body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    evs = json.loads(out.stdout)
    uids = [e["uid"] for e in evs]
    assert len(uids) == len(set(uids)), uids
    return {e["uid"]: e for e in evs}


def sql(ctx, db, query):
    return ctx.cluster.psql(query, db.split("dbname=")[1])


def delivered(ctx, db, rx):
    """Every message in the outbox has reached rx: what it got is all there is."""
    from harness import wait_for
    wait_for(lambda: sql(ctx, db, "SELECT count(*) FROM webhook_messages "
                                  "WHERE state <> 'delivered'") == "0", 20,
             what="the outbox to empty")
    total = int(sql(ctx, db, "SELECT count(*) FROM webhook_messages"))
    wait_for(lambda: len(rx.messages()) >= total, 5, what="the receiver")
    assert len(rx.messages()) == total
    got = {}
    for m in rx.messages():
        data = m["json"]["data"]
        what = data["event"]["id"] if "event" in data else data["agreement"]["id"]
        got.setdefault(m["json"]["type"], []).append(what)
    return {t: sorted(v) for t, v in got.items()}


def event(d, k, ident):
    r = d.request("GET", f"/v1/events/{ident}", token=k["host"])
    assert r.status == 200, r
    return dict(r.json(), etag=r.header("ETag"))


def patch(d, k, url, body, etag):
    r = d.request("PATCH", url, body=body, token=k["editor"], headers={
        "If-Match": etag, "Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r
    return r


def test_two_edits_keep_each_date_its_event(ctx):
    """A title change, then a moved and a removed milestone: every date
    keeps its event and UID; the feed holds the live dates and one
    cancelled one, no duplicates; webhooks say exactly what changed."""
    from harness import wait_for
    from test_feeds import make_feed, path_of
    from test_webhooks import setup
    db, k, d, rx, ep = setup(ctx, types=TYPES)
    r = d.request("POST", "/v1/agreements", body=MOU, token=k["host"])
    assert r.status == 201, r
    a, etag = r.json(), r.header("ETag")
    url = f"/v1/agreements/{a['id']}"
    ms = {m["title"]: m["event_id"] for m in a["milestones"]}
    draft, kickoff, legal, signed = (ms["MOU draft due"], ms["Kick-off call"],
                                     ms["Legal review"], a["signed_event_id"])
    dates = sorted([draft, kickoff, legal, signed])
    assert delivered(ctx, db, rx) == {"event.created": dates, "agreement.created": [a["id"]]}
    before = {i: event(d, k, i) for i in dates}
    path = path_of(make_feed(d, k["host"]))
    feed = feed_events(d, path)
    assert sorted(feed) == sorted(e["uid"] for e in before.values())

    # 1. A new title: the signed event's title changes (one event.updated,
    # SEQUENCE up); the milestones' events are not written at all, yet the
    # feed shows the new title in every date's DESCRIPTION (the VEVENT's
    # stamp carries the agreement's version).
    r = patch(d, k, url, {"title": "MOU: Hai Phong – CABC"}, etag)
    b, etag2 = r.json(), r.header("ETag")
    assert etag2 != etag and b["milestones"] == a["milestones"]
    assert b["signed_event_id"] == signed
    after = {i: event(d, k, i) for i in dates}
    for i in (draft, kickoff, legal):
        assert after[i] == before[i], i
    assert after[signed]["title"] == "MOU: Hai Phong – CABC: signed"
    assert after[signed]["uid"] == before[signed]["uid"]
    assert after[signed]["sequence"] == before[signed]["sequence"] + 1
    assert delivered(ctx, db, rx) == {
        "event.created": dates, "agreement.created": [a["id"]],
        "agreement.updated": [a["id"]], "event.updated": [signed]}
    feed = wait_for(lambda: (lambda f: f if all(
        "Agreement: MOU: Hai Phong – CABC (letter of intent, signed 14 Oct 2027) with cabc"
        in e["description"]
        for e in f.values()) else None)(feed_events(d, path)), 10, what="the new title")
    assert sorted(feed) == sorted(e["uid"] for e in before.values())
    assert all(e["status"] == "CONFIRMED" for e in feed.values())
    assert feed[before[signed]["uid"]]["summary"] == "MOU: Hai Phong – CABC: signed"
    seq = {uid: e["sequence"] for uid, e in feed.items()}

    # 2. Kick-off moves (sent back with its event_id), the draft is sent
    # without one (matched by title), the legal review is gone.
    r = patch(d, k, url, {"milestones": [
        {"title": "MOU draft due", "due": "2028-06-30", "reminders": ["-P7D"]},
        {"title": "Kick-off call", "due": "2027-11-18T09:00:00", "event_id": kickoff}]}, etag2)
    c, etag3 = r.json(), r.header("ETag")
    assert etag3 != etag2
    assert [(m["title"], m["due"], m["event_id"]) for m in c["milestones"]] == [
        ("Kick-off call", "2027-11-18T09:00:00", kickoff),
        ("MOU draft due", "2028-06-30", draft)]
    now = {i: event(d, k, i) for i in dates}
    assert now[draft] == after[draft] and now[signed] == after[signed]
    assert now[kickoff]["start"] == "2027-11-18T09:00:00"
    assert now[kickoff]["uid"] == before[kickoff]["uid"]
    assert now[kickoff]["sequence"] == before[kickoff]["sequence"] + 1
    assert now[legal]["status"] == "cancelled" and now[legal]["uid"] == before[legal]["uid"]
    assert delivered(ctx, db, rx) == {
        "event.created": dates, "agreement.created": [a["id"]],
        "agreement.updated": [a["id"], a["id"]], "event.updated": sorted([signed, kickoff]),
        "event.cancelled": [legal]}
    kick_uid, legal_uid = before[kickoff]["uid"], before[legal]["uid"]
    feed = wait_for(lambda: (lambda f: f if f[legal_uid]["status"] == "CANCELLED" else None)(
        feed_events(d, path)), 10, what="the cancelled milestone in the feed")
    assert sorted(feed) == sorted(e["uid"] for e in before.values())
    assert [uid for uid, e in feed.items() if e["status"] == "CANCELLED"] == [legal_uid]
    assert feed[kick_uid]["sequence"] > seq[kick_uid]
    assert feed[kick_uid]["start"].startswith("2027-11-18T09:00:00")
    assert len(sql(ctx, db, "SELECT id FROM events").split()) == 4

    # 3. Patches that change nothing: no version, no webhook, no write.
    versions = sql(ctx, db, "SELECT string_agg(id || ':' || version, ',' ORDER BY id) "
                            "FROM events")
    body = d.request("GET", url, token=k["host"]).json()
    for nothing in ({}, body, {"title": body["title"], "parties": ["cabc", "cabc"],
                              "signed_on": "2027-10-14", "stage": "intent"}):
        r = patch(d, k, url, nothing, etag3)
        assert r.header("ETag") == etag3 and r.json() == c, nothing
    assert sql(ctx, db, "SELECT string_agg(id || ':' || version, ',' ORDER BY id) "
                        "FROM events") == versions
    assert delivered(ctx, db, rx)["agreement.updated"] == [a["id"], a["id"]]
    assert len(rx.messages()) == 10


def versions(ctx, db):
    """{event id: (version, status)} of every event."""
    rows = sql(ctx, db, "SELECT id || ' ' || version || ' ' || status FROM events").split("\n")
    return {r.split()[0]: tuple(r.split()[1:]) for r in rows if r}


def test_signed_and_expiry_keep_their_events_and_parties_touch_what_changes(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/agreements", body=MOU, token=k["host"])
    a, etag = r.json(), r.header("ETag")
    url = f"/v1/agreements/{a['id']}"
    signed = a["signed_event_id"]
    first = event(d, k, signed)
    v0 = versions(ctx, db)

    # Removing signed_on cancels its event; setting it again brings the
    # same event (UID) back, moved, rather than making another.
    r = patch(d, k, url, {"signed_on": None}, etag)
    assert r.json()["signed_event_id"] is None
    assert event(d, k, signed)["status"] == "cancelled"
    r = patch(d, k, url, {"signed_on": "2027-10-21"}, r.header("ETag"))
    assert r.json()["signed_event_id"] == signed
    back = event(d, k, signed)
    assert back["status"] == "confirmed" and back["uid"] == first["uid"]
    assert back["start"] == "2027-10-21" and back["sequence"] == first["sequence"] + 2
    v1 = versions(ctx, db)
    assert {i: v for i, v in v1.items() if i != signed} == \
        {i: v for i, v in v0.items() if i != signed}

    # expires_on: a new event, then moved in place.
    r = patch(d, k, url, {"expires_on": "2032-10-21"}, r.header("ETag"))
    expires = r.json()["expires_event_id"]
    assert expires and event(d, k, expires)["reminders"] == ["-P30D"]
    r = patch(d, k, url, {"expires_on": "2032-12-31"}, r.header("ETag"))
    assert r.json()["expires_event_id"] == expires
    assert event(d, k, expires)["start"] == "2032-12-31"
    assert len(versions(ctx, db)) == 5

    # A stage change is the agreement's alone: no event is written.
    before = versions(ctx, db)
    r = patch(d, k, url, {"stage": "signed"}, r.header("ETag"))
    assert versions(ctx, db) == before

    # Parties reach every date whose partners change, once.
    r = patch(d, k, url, {"parties": ["cabc", "busan-city"]}, r.header("ETag"))
    etag = r.header("ETag")
    now = versions(ctx, db)
    assert {i: int(v[0]) for i, v in now.items()} == {i: int(v[0]) + 1 for i, v in before.items()}
    for i in now:
        assert event(d, k, i)["partners"] == ["cabc", "busan-city"]
    r = patch(d, k, url, {"parties": ["cabc", "busan-city"], "visibility": "network"}, etag)
    assert r.header("ETag") == etag and versions(ctx, db) == now

    # A rejected patch changes nothing, even when its milestones differ.
    problem(d.request("PATCH", url, token=k["editor"], body={
        "parties": ["cabc", "nobody"], "milestones": []}), 422)
    assert versions(ctx, db) == now
    assert d.request("GET", url, token=k["host"]).header("ETag") == etag
    problem(d.request("PATCH", url, token=k["editor"], headers={"If-Match": '"1"'},
                      body={"milestones": []}), 412)
    assert versions(ctx, db) == now


def test_milestones_are_matched_by_id_then_title_and_due_then_position(ctx):
    import uuid
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/agreements", token=k["host"], body=dict(
        MOU, signed_on=None, milestones=[
            {"title": "Steering committee", "due": "2027-11-01"},
            {"title": "Draft exchange", "due": "2027-12-01"},
            {"title": "Signing ceremony", "due": "2028-01-10"}]))
    assert r.status == 201, r
    a = r.json()
    url = f"/v1/agreements/{a['id']}"
    ids = {m["title"]: m["event_id"] for m in a["milestones"]}
    steering, draft, signing = (ids["Steering committee"], ids["Draft exchange"],
                                ids["Signing ceremony"])

    def milestones(r):
        return [(m["title"], m["due"], m["event_id"]) for m in r.json()["milestones"]]

    # No ids: title and due, then title (moved), then due (renamed).
    r = patch(d, k, url, {"milestones": [
        {"title": "Signing ceremony", "due": "2028-01-10"},
        {"title": "Draft exchange", "due": "2027-12-08"},
        {"title": "Steering committee (Busan)", "due": "2027-11-01"}]}, r.header("ETag"))
    assert milestones(r) == [("Steering committee (Busan)", "2027-11-01", steering),
                             ("Draft exchange", "2027-12-08", draft),
                             ("Signing ceremony", "2028-01-10", signing)]

    # An event_id sent back wins over a title; one that is not a milestone
    # of this agreement is ignored.
    r = patch(d, k, url, {"milestones": [
        {"title": "Draft exchange", "due": "2027-11-02", "event_id": steering},
        {"title": "Signing ceremony", "due": "2028-01-10", "event_id": str(uuid.uuid4())}]},
        r.header("ETag"))
    assert milestones(r) == [("Draft exchange", "2027-11-02", steering),
                             ("Signing ceremony", "2028-01-10", signing)]
    assert event(d, k, draft)["status"] == "cancelled"

    # Nothing alike but as many left on both sides: paired in time order.
    r = patch(d, k, url, {"milestones": [
        {"title": "Board approval", "due": "2028-02-01"},
        {"title": "Press release", "due": "2027-11-20"}]}, r.header("ETag"))
    assert milestones(r) == [("Press release", "2027-11-20", steering),
                             ("Board approval", "2028-02-01", signing)]
    assert len(versions(ctx, db)) == 3

    # Unequal leftovers: nothing says which is which, so new events.
    r = patch(d, k, url, {"milestones": [
        {"title": "Board approval", "due": "2028-02-01"},
        {"title": "Translation", "due": "2028-03-01"},
        {"title": "Ratification", "due": "2028-04-01"}]}, r.header("ETag"))
    got = milestones(r)
    assert got[0] == ("Board approval", "2028-02-01", signing)
    assert {m[2] for m in got[1:]}.isdisjoint({steering, draft, signing})
    assert event(d, k, steering)["status"] == "cancelled"
    assert len(versions(ctx, db)) == 5


def test_a_long_title_is_cut_in_its_dates_titles(ctx):
    """An event's title holds 500 characters, an agreement's 500 bytes:
    "<title>: expires" is cut at a character, with an ellipsis."""
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "a" * 500, "stage": "signed", "signed_on": "2027-01-01",
        "expires_on": "2032-01-01"})
    assert r.status == 201, r
    a = r.json()
    title = event(d, k, a["expires_event_id"])["title"]
    assert title == "a" * 490 + "…: expires" and len(title) == 500
    r = patch(d, k, f"/v1/agreements/{a['id']}", {"title": "ư" * 250}, r.header("ETag"))
    assert event(d, k, a["signed_event_id"])["title"] == "ư" * 250 + ": signed"
