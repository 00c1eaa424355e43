"""/v1/events: create, read, merge-patch, cancel, list; time zones,
visibility, roles, idempotency, conflicts."""
import datetime
import uuid

from harness import problem, run_cli

VISIT = {"kind": "visit", "title": "Busan city delegation at HCMC DOST",
         "start": "2024-08-21T14:00:00", "end": "2024-08-21T17:00:00",
         "location": "HCMC DOST, 244 Điện Biên Phủ", "city": "Ho Chi Minh City",
         "country": "VN", "partners": ["busan-city"], "tags": ["delegation"],
         "reminders": ["-P7D", "-PT2H"]}


def world(ctx):
    """A host (HCMC DOST), a partner (Busan) and a third org (CABC), each
    with an admin; editor and viewer keys for the host."""
    db = ctx.database()
    keys = {"host": ctx.org_with_key(db, "hcmc-dost", host=True, tz="Asia/Ho_Chi_Minh")}
    for slug, tz in [("busan-city", "Asia/Seoul"), ("cabc", "America/Toronto")]:
        run_cli(["org", "create", slug, "--name", slug, "--timezone", tz], db)
        keys[slug] = run_cli(["key", "create", slug, "--role", "admin"], db).stdout.strip()
    keys["editor"] = run_cli(["key", "create", "hcmc-dost", "--role", "editor"], db).stdout.strip()
    keys["viewer"] = run_cli(["key", "create", "hcmc-dost"], db).stdout.strip()
    return db, keys, ctx.daemon(db)


def count_events(ctx, db):
    return int(ctx.cluster.psql("SELECT count(*) FROM events", db.split("dbname=")[1]))


def test_create_and_read_a_visit(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", body=VISIT, token=k["editor"])
    assert r.status == 201, r
    e = r.json()
    assert r.header("Location") == f"/v1/events/{e['id']}"
    assert r.header("ETag")
    assert e["org"] == "hcmc-dost" and e["timezone"] == "Asia/Ho_Chi_Minh"
    assert e["start"] == "2024-08-21T14:00:00" and e["end"] == "2024-08-21T17:00:00"
    assert e["uid"].endswith("@liaison") and e["sequence"] == 0
    assert e["status"] == "confirmed" and e["visibility"] == "network"
    assert e["reminders"] == ["-P7D", "-PT2H"] and e["partners"] == ["busan-city"]
    assert e["created_at"].endswith("Z") and len(e["created_at"]) == 20
    assert e["conflicts"] == []
    g = d.request("GET", f"/v1/events/{e['id']}", token=k["cabc"])
    assert g.status == 200 and g.json()["title"] == VISIT["title"]
    assert g.header("ETag") == r.header("ETag")
    assert d.request("GET", f"/v1/events/{e['id']}", token=k["cabc"],
                     headers={"If-None-Match": g.header("ETag")}).status == 304
    problem(d.request("GET", f"/v1/events/{uuid.uuid4()}", token=k["host"]), 404)
    problem(d.request("GET", "/v1/events/not-an-id", token=k["host"]), 404)


def test_all_day_festival(ctx):
    db, k, d = world(ctx)
    fest = {"kind": "festival", "title": "FLY ASIA 2024", "all_day": True,
            "timezone": "Asia/Seoul", "start": "2024-10-17", "end": "2024-10-19",
            "rrule": "FREQ=YEARLY", "city": "Busan", "country": "KR"}
    r = d.request("POST", "/v1/events", body=fest, token=k["busan-city"])
    assert r.status == 201, r
    e = r.json()
    assert e["start"] == "2024-10-17" and e["end"] == "2024-10-19" and e["all_day"] is True
    # Listed in 2026 too: the series began earlier but occurs then.
    items = d.request("GET", "/v1/events?from=2026-10-01&to=2026-11-01",
                      token=k["host"]).json()["items"]
    assert [i["id"] for i in items] == [e["id"]]
    for bad, field in [({"start": "2024-10-17T10:00:00"}, "start"),
                       ({"end": "2024-10-17"}, "end"),
                       ({"rrule": "FREQ=YEARLY;UNTIL=20301231T000000Z"}, "rrule")]:
        p = problem(d.request("POST", "/v1/events", body=dict(fest, **bad),
                              token=k["busan-city"]), 422)
        assert [x["field"] for x in p["errors"]] == [field], p


def test_dst_gap_is_refused_and_fold_takes_first_instant(ctx):
    db, k, d = world(ctx)
    base = {"kind": "meeting", "title": "CABC call", "timezone": "America/Toronto"}
    p = problem(d.request("POST", "/v1/events", token=k["cabc"],
                          body=dict(base, start="2026-03-08T02:30:00")), 422)
    assert p["errors"][0]["field"] == "start" and "does not exist" in p["errors"][0]["message"]
    p = problem(d.request("POST", "/v1/events", token=k["cabc"],
                          body=dict(base, start="2026-03-08T01:00:00",
                                    end="2026-03-08T02:15:00")), 422)
    assert p["errors"][0]["field"] == "end"
    assert count_events(ctx, db) == 0
    r = d.request("POST", "/v1/events", token=k["cabc"],
                  body=dict(base, start="2026-11-01T01:30:00"))
    assert r.status == 201, r
    utc = ctx.cluster.psql(
        "SELECT to_char(start_utc, 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM events",
        db.split("dbname=")[1])
    assert utc == "2026-11-01T05:30:00", utc  # EDT (-4): the first of the two 01:30s


def test_validation_names_every_field_and_writes_nothing(ctx):
    db, k, d = world(ctx)
    body = {"kind": "party", "title": "", "start": "2024-13-01T00:00:00", "timezone": "Mars/Base",
            "rrule": "FREQ=SECONDLY", "reminders": ["-P7D", "P1D", "soon"], "url": "ftp://x",
            "partners": ["busan-city", "NOT A SLUG"], "visibility": "secret", "colour": "red",
            "exdates": ["2024-08-28T14:00:00", 5], "country": "Vietnam", "all_day": "yes"}
    p = problem(d.request("POST", "/v1/events", body=body, token=k["host"]), 422)
    fields = {e["field"] for e in p["errors"]}
    for f in ["kind", "title", "timezone", "rrule", "reminders[1]", "reminders[2]", "url",
              "partners[1]", "visibility", "colour", "exdates[1]", "country", "all_day"]:
        assert f in fields, (f, p)
    assert "reminders[0]" not in fields
    assert count_events(ctx, db) == 0


def test_reminders_at_the_same_time_are_refused(ctx):
    """A trigger fires at the occurrence's instant plus its exact seconds,
    so two triggers of one length (-PT1H and -PT60M, -P1D and -PT24H) would
    send the same reminder.due twice: refused (422 naming the second), so
    what is stored is what was sent. One stored before that (written by
    SQL here) is planned once."""
    from test_series_truth import sql
    db, k, d = world(ctx)
    for rem, field, first in ((["-PT1H", "-PT1H"], "reminders[1]", 0),
                              (["-P7D", "-PT60M", "-PT1H"], "reminders[2]", 1),
                              (["-PT24H", "-P1D"], "reminders[1]", 0)):
        p = problem(d.request("POST", "/v1/events", token=k["host"],
                              body=dict(VISIT, reminders=rem)), 422)
        assert [(e["field"], e["message"]) for e in p["errors"]] == \
            [(field, f"is the same time as the reminder at index {first}")], p
    assert count_events(ctx, db) == 0
    day = datetime.date.today() + datetime.timedelta(days=30)
    week = day + datetime.timedelta(days=7)
    body = dict(VISIT, start=f"{day}T14:00:00", end=f"{day}T17:00:00",
                rrule="FREQ=WEEKLY;COUNT=2", reminders=["-PT1H", "-P1D", "-PT61M"])
    r = d.request("POST", "/v1/events", token=k["host"], body=body)
    assert r.status == 201 and r.json()["reminders"] == body["reminders"], r
    e = r.json()
    url = f"/v1/events/{e['id']}"
    p = problem(d.request("PATCH", url, token=k["host"],
                          body={"reminders": ["-P2D", "-PT48H"]}), 422)
    assert [x["field"] for x in p["errors"]] == ["reminders[1]"], p
    sql(ctx, db, "UPDATE events SET reminders = ARRAY['-PT1H', '-PT60M', '-P1D'] "
        f"WHERE id = '{e['id']}'")
    items = d.request("GET", f"{url}/reminders", token=k["host"]).json()["items"]
    assert sorted((i["occurrence"]["start"], i["trigger"]) for i in items) == [
        (f"{day}T14:00:00", "-P1D"), (f"{day}T14:00:00", "-PT1H"),
        (f"{week}T14:00:00", "-P1D"), (f"{week}T14:00:00", "-PT1H")], items
    # A change that does not send them keeps the first of each length,
    # rather than be refused for what an earlier version stored; one that
    # changes nothing still changes nothing, and a cancel goes through.
    etag = d.request("GET", url, token=k["host"]).header("ETag")
    r = d.request("PATCH", url, token=k["host"], body={})
    assert r.status == 200 and r.header("ETag") == etag, r
    r = d.request("PATCH", url, token=k["host"], body={"title": "Renamed"})
    assert r.status == 200 and r.json()["reminders"] == ["-PT1H", "-P1D"], r
    sql(ctx, db, f"UPDATE events SET reminders = ARRAY['-PT2H', '-PT120M'] WHERE id = '{e['id']}'")
    r = d.request("DELETE", url, token=k["host"])
    assert r.status == 200 and r.json()["status"] == "cancelled", r


def test_events_planned_with_two_reminders_of_one_length_are_planned_again(ctx):
    """sql/035 queues for planning the events an earlier version stored
    with two reminders of one length, whose reminders it planned twice,
    and lets their stored VEVENTs go: not the others'. A feed shows one
    VALARM a length."""
    from test_feeds import make_feed, path_of
    from test_series_truth import sql
    db, k, d = world(ctx)
    ids = {}
    for name, rem in (("twice", "ARRAY['-PT1H', '-PT60M']"), ("once", "ARRAY['-PT1H', '-P1D']"),
                      ("days", "ARRAY['-P1D', '-PT24H', '-P1W']")):
        r = d.request("POST", "/v1/events", token=k["host"],
                      body=dict(VISIT, title=name, start="2027-03-10T14:00:00",
                                end="2027-03-10T17:00:00"))
        assert r.status == 201, r
        ids[name] = r.json()["id"]
        # As an earlier version stored it, its triggers (the queue) left out.
        sql(ctx, db, "SET session_replication_role = replica; "
                     f"UPDATE events SET reminders = {rem} WHERE id = '{ids[name]}'")
    # Rendered (and stored) now: the VALARMs of the last two lengths once.
    feed = d.request("GET", path_of(make_feed(d, k["host"], alarms=True))).body.decode()
    assert feed.count("TRIGGER:-PT1H") == 2 and feed.count("TRIGGER:-P1D") == 2, feed
    assert feed.count("TRIGGER:-P1W") == 1 and "PT60M" not in feed and "PT24H" not in feed
    assert feed.count("BEGIN:VALARM") == 5, feed
    texts = "SELECT count(DISTINCT event_id) FROM vevent_texts"
    assert sql(ctx, db, texts) == "3"
    assert d.stop() == 0
    sql(ctx, db, "DELETE FROM reminder_queue")
    sql(ctx, db, "DELETE FROM schema_migrations WHERE version = 35")
    run_cli(["migrate"], db)
    queued = sql(ctx, db, "SELECT event_id FROM reminder_queue").split()
    assert sorted(queued) == sorted([ids["twice"], ids["days"]]), (queued, ids)
    assert sql(ctx, db, "SELECT event_id FROM vevent_texts").split() == [ids["once"]]


def test_lists_stored_with_two_reminders_of_one_length_take_a_change(ctx):
    """What an earlier version stored with two reminders of one length (an
    agreement's milestone, a visit's programme item, a checklist's task)
    keeps the first of each with a change that does not send them, rather
    than have the change refused for them."""
    from test_agreements import MOU
    from test_series_truth import sql
    from test_visit_tasks import INBOUND, in_year
    from test_visits import BUSAN
    db, k, d = world(ctx)
    host = k["host"]
    a = d.request("POST", "/v1/agreements", token=host, body=MOU).json()
    m = next(x for x in a["milestones"] if x["reminders"] == ["-P7D"])
    sql(ctx, db, f"UPDATE events SET reminders = ARRAY['-P7D', '-PT168H'] "
                 f"WHERE id = '{m['event_id']}'")
    r = d.request("PATCH", f"/v1/agreements/{a['id']}", token=host, body={"stage": "drafting"})
    assert r.status == 200, r
    assert [x["reminders"] for x in r.json()["milestones"] if x["title"] == m["title"]] == \
        [["-P7D"]], r
    v = d.request("POST", "/v1/visits", token=host, body=in_year(BUSAN, 2027)).json()
    item = v["programme"][0]
    sql(ctx, db, f"UPDATE events SET reminders = ARRAY['-P1D', '-PT24H', '-PT2H'] "
                 f"WHERE id = '{item['event_id']}'")
    r = d.request("PATCH", f"/v1/visits/{v['id']}", token=host, body={"purpose": "Renamed"})
    assert r.status == 200 and r.json()["programme"][0]["reminders"] == ["-P1D", "-PT2H"], r
    sql(ctx, db, f"UPDATE events SET reminders = ARRAY['-P1D', '-PT24H'] "
                 f"WHERE id = '{item['event_id']}'")
    r = d.request("DELETE", f"/v1/visits/{v['id']}", token=host)
    assert r.status == 200, r
    c = d.request("POST", "/v1/checklists", token=host, body=INBOUND).json()
    sql(ctx, db, "UPDATE checklists SET tasks = jsonb_set(tasks, '{0,reminders}', "
                 f"'[\"-P7D\", \"-P1D\", \"-PT24H\"]') WHERE id = '{c['id']}'")
    r = d.request("PATCH", f"/v1/checklists/{c['id']}", token=host, body={"name": "Receiving"})
    assert r.status == 200 and r.json()["tasks"][0]["reminders"] == ["-P7D", "-P1D"], r


def test_server_fields_are_ignored(ctx):
    db, k, d = world(ctx)
    body = dict(VISIT, id=str(uuid.uuid4()), org="cabc", sequence=99,
                created_at="2000-01-01T00:00:00Z", conflicts=[])
    e = d.request("POST", "/v1/events", body=body, token=k["host"]).json()
    assert e["id"] != body["id"] and e["org"] == "hcmc-dost" and e["sequence"] == 0


def test_patch_if_match_sequence_and_cancel(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", body=VISIT, token=k["host"])
    e, etag = r.json(), r.header("ETag")
    url = f"/v1/events/{e['id']}"
    r = d.request("PATCH", url, token=k["editor"], body=b'{"tags": ["logistics"]}',
                  headers={"Content-Type": "application/merge-patch+json", "If-Match": etag})
    assert r.status == 200, r
    assert r.json()["tags"] == ["logistics"] and r.json()["sequence"] == 0
    problem(d.request("PATCH", url, token=k["editor"], body={"title": "x"},
                      headers={"If-Match": etag}), 412)
    r = d.request("PATCH", url, token=k["editor"], body={"title": "Moved", "location": None})
    assert r.status == 200 and r.json()["sequence"] == 1 and r.json()["location"] is None, r
    p = problem(d.request("PATCH", url, token=k["editor"], body={"start": "2024-08-21T18:00:00"}), 422)
    assert p["errors"][0]["field"] == "end"
    problem(d.request("PATCH", url, token=k["editor"], body={"uid": "other"}), 422)
    r = d.request("DELETE", url, token=k["editor"])
    assert r.status == 200 and r.json()["status"] == "cancelled" and r.json()["sequence"] == 2
    r = d.request("PATCH", url, token=k["editor"], body={"status": "confirmed"})
    assert r.status == 200 and r.json()["status"] == "confirmed"


def test_roles_and_ownership(ctx):
    db, k, d = world(ctx)
    problem(d.request("POST", "/v1/events", body=VISIT, token=k["viewer"]), 403)
    e = d.request("POST", "/v1/events", body=VISIT, token=k["host"]).json()
    url = f"/v1/events/{e['id']}"
    problem(d.request("PATCH", url, body={"title": "x"}, token=k["viewer"]), 403)
    problem(d.request("PATCH", url, body={"title": "x"}, token=k["cabc"]), 403)
    problem(d.request("DELETE", url, token=k["busan-city"]), 403)
    assert d.request("GET", url, token=k["viewer"]).status == 200


def test_private_events_stay_hidden(ctx):
    db, k, d = world(ctx)
    body = dict(VISIT, visibility="private", location="Room 1")
    e = d.request("POST", "/v1/events", body=body, token=k["host"]).json()
    url = f"/v1/events/{e['id']}"
    assert d.request("GET", url, token=k["busan-city"]).status == 200  # a partner
    problem(d.request("GET", url, token=k["cabc"]), 404)
    problem(d.request("PATCH", url, body={"title": "x"}, token=k["cabc"]), 404)
    problem(d.request("DELETE", url, token=k["cabc"]), 404)
    assert d.request("GET", "/v1/events", token=k["cabc"]).json()["items"] == []
    # A CABC visit at the same place and time: the conflict is not revealed.
    mine = dict(VISIT, partners=[], location="Room 1", timezone="Asia/Ho_Chi_Minh")
    r = d.request("POST", "/v1/events", body=mine, token=k["cabc"])
    assert r.status == 201 and r.json()["conflicts"] == [], r
    cabc_id = r.json()["id"]
    # Busan is a partner of the private visit: it sees both overlaps.
    r = d.request("POST", "/v1/events", body=mine, token=k["busan-city"])
    assert {c["id"] for c in r.json()["conflicts"]} == {e["id"], cabc_id}, (r.json()["conflicts"], e["id"], cabc_id)


def test_conflicts_at_the_same_location(ctx):
    db, k, d = world(ctx)
    a = d.request("POST", "/v1/events", body=VISIT, token=k["host"]).json()
    b = d.request("POST", "/v1/events", token=k["busan-city"],
                  body=dict(VISIT, title="Overlapping", start="2024-08-21T16:00:00",
                            end="2024-08-21T18:00:00", location=VISIT["location"].upper()))
    assert b.status == 201
    assert b.json()["conflicts"] == [{"id": a["id"], "title": a["title"]}]
    c = d.request("POST", "/v1/events", token=k["host"],
                  body=dict(VISIT, start="2024-08-21T17:00:00", end="2024-08-21T18:00:00",
                            location="elsewhere"))
    assert c.json()["conflicts"] == []


def test_idempotency_key(ctx):
    db, k, d = world(ctx)
    h = {"Idempotency-Key": "visit-2024-08-21"}
    a = d.request("POST", "/v1/events", body=VISIT, token=k["host"], headers=h)
    b = d.request("POST", "/v1/events", body=VISIT, token=k["host"], headers=h)
    assert a.status == 201 and b.status == 201
    assert a.json()["id"] == b.json()["id"] and b.header("Idempotent-Replayed") == "true"
    assert count_events(ctx, db) == 1
    p = problem(d.request("POST", "/v1/events", body=dict(VISIT, title="Other"),
                          token=k["host"], headers=h), 409)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    # Keys belong to an org: another org's same key is a new request.
    c = d.request("POST", "/v1/events", body=VISIT, token=k["cabc"], headers=h)
    assert c.status == 201 and c.json()["id"] != a.json()["id"]


def test_references_are_checked(ctx):
    db, k, d = world(ctx)
    p = problem(d.request("POST", "/v1/events", token=k["host"],
                          body=dict(VISIT, partners=["busan-city", "nobody"])), 422)
    assert p["errors"][0]["field"] == "partners[1]"
    p = problem(d.request("POST", "/v1/events", token=k["host"],
                          body=dict(VISIT, parent_id=str(uuid.uuid4()))), 422)
    assert p["errors"][0]["field"] == "parent_id"
    p = problem(d.request("POST", "/v1/events", token=k["host"],
                          body=dict(VISIT, series_id=str(uuid.uuid4()),
                                    recurrence_id="2024-08-28T14:00:00")), 422)
    assert p["errors"][0]["field"] == "series_id"
    assert count_events(ctx, db) == 0
    parent = d.request("POST", "/v1/events", body=VISIT, token=k["host"]).json()
    item = d.request("POST", "/v1/events", token=k["host"],
                     body=dict(VISIT, kind="meeting", title="Lunch", parent_id=parent["id"],
                               location="Restaurant"))
    assert item.status == 201 and item.json()["parent_id"] == parent["id"]


def test_weekly_series_and_override(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly", "start": "2026-03-02T09:00:00",
        "end": "2026-03-02T10:00:00", "rrule": "FREQ=WEEKLY;COUNT=4",
        "exdates": ["2026-03-16T09:00:00"]}).json()
    o = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly (moved)", "start": "2026-03-09T11:00:00",
        "end": "2026-03-09T12:00:00", "series_id": s["id"],
        "recurrence_id": "2026-03-09T09:00:00"})
    assert o.status == 201, o
    assert o.json()["uid"] == s["uid"]  # an override is the same calendar item
    again = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "dup", "start": "2026-03-09T11:00:00",
        "series_id": s["id"], "recurrence_id": "2026-03-09T09:00:00"})
    problem(again, 409)


def test_list_filters_and_cursor(ctx):
    db, k, d = world(ctx)
    ids = []
    for i in range(7):
        body = dict(VISIT, title=f"Visit {i}", start=f"2024-09-0{i + 1}T10:00:00",
                    end=f"2024-09-0{i + 1}T11:00:00", tags=["even" if i % 2 == 0 else "odd"],
                    kind="visit" if i < 5 else "meeting", city="Busan" if i == 6 else "HCMC")
        ids.append(d.request("POST", "/v1/events", body=body, token=k["host"]).json()["id"])
    got, cursor = [], None
    while True:
        q = "/v1/events?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = d.request("GET", q, token=k["host"]).json()
        got += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert got == ids
    def titles(q):
        r = d.request("GET", "/v1/events?" + q, token=k["host"])
        assert r.status == 200, r
        return [i["title"] for i in r.json()["items"]]
    assert titles("kind=meeting") == ["Visit 5", "Visit 6"]
    assert titles("kind=meeting&tag=even") == ["Visit 6"]
    assert titles("tag=odd&tag=even&kind=visit,meeting")[:2] == ["Visit 0", "Visit 1"]
    assert titles("city=busan") == ["Visit 6"]
    assert titles("from=2024-09-03&to=2024-09-05") == ["Visit 2", "Visit 3"]
    assert titles("from=2024-09-03T10:30:00%2B00:00&to=2024-09-03T10:31:00Z") == []
    assert titles("from=2024-09-03T03:30:00Z&to=2024-09-03T03:31:00Z") == ["Visit 2"]
    assert titles("q=visit%205") == ["Visit 5"]
    assert titles("q=%25") == []
    assert titles("partner=busan-city&org=hcmc-dost&country=VN")[:1] == ["Visit 0"]
    for q, field in [("kind=party", "kind[0]"), ("limit=0", "limit"), ("limit=5000", "limit"),
                     ("from=yesterday", "from"), ("cursor=abc", "cursor"), ("colour=red", "colour"),
                     ("org=NOT%20A%20SLUG", "org[0]"), ("country=vn", "country[0]")]:
        p = problem(d.request("GET", "/v1/events?" + q, token=k["host"]), 422)
        assert p["errors"][0]["field"] == field, (q, p)
    # A window that ends at or before it begins holds nothing: refused, as
    # /v1/occurrences refuses it, on every list (once, naming "to").
    for path in ("/v1/events", "/v1/occurrences", "/v1/visits", "/v1/agreements"):
        for q in ("from=2024-09-05&to=2024-09-03", "from=2024-09-03&to=2024-09-03",
                  "from=2024-09-03T10:00:00Z&to=2024-09-03T12:00:00%2B02:00"):
            p = problem(d.request("GET", f"{path}?{q}", token=k["host"]), 422)
            assert p["errors"] == [{"field": "to", "message": "must be after from"}], (path, q, p)


def test_series_listed_only_when_an_occurrence_overlaps(ctx):
    db, k, d = world(ctx)
    fest = d.request("POST", "/v1/events", token=k["busan-city"], body={
        "kind": "festival", "title": "FLY ASIA", "all_day": True, "timezone": "Asia/Seoul",
        "start": "2022-10-13", "end": "2022-10-15", "rrule": "FREQ=YEARLY",
        "exdates": ["2025-10-13"]}).json()
    ids = lambda q: [e["id"] for e in d.request("GET", "/v1/events?" + q, token=k["host"]).json()["items"]]
    assert ids("from=2026-10-01&to=2026-11-01") == [fest["id"]]
    assert ids("from=2026-03-01&to=2026-04-01") == []      # no occurrence in March
    assert ids("from=2025-10-01&to=2025-11-01") == []      # that year's was excluded
    assert ids("") == [fest["id"]]                          # no window: listed


def test_conflicts_are_bounded(ctx):
    db, k, d = world(ctx)
    body = dict(VISIT, partners=[], location="Crowded hall")
    for _ in range(55):
        d.request("POST", "/v1/events", body=body, token=k["host"])
    r = d.request("POST", "/v1/events", body=body, token=k["host"])
    assert r.status == 201 and len(r.json()["conflicts"]) == 50


def test_read_by_id_equals_the_list_representation(ctx):
    """GET /v1/events/{id} builds the JSON in C from plain columns, lists
    build it in SQL: for events of every shape both give the same object,
    with the keys in the same order."""
    db, k, d = world(ctx)
    made = []

    def make(body, token=k["host"]):
        r = d.request("POST", "/v1/events", token=token, body=body)
        assert r.status == 201, r
        made.append(r.json()["id"])
        return r.json()
    series = make({"kind": "meeting", "title": "Weekly \"sync\" \\ {x}", "timezone":
                   "America/Toronto", "start": "2027-03-01T09:00:00", "end": "2027-03-01T10:00:00",
                   "rrule": "FREQ=WEEKLY;COUNT=6", "exdates": ["2027-03-15T09:00:00",
                                                             "2027-03-08T09:00:00"],
                   "rdates": ["2027-04-20T09:00:00"], "reminders": ["-PT15M", "-P1D"],
                   "tags": ["a,b", "quote\"d", "back\\slash", "{braces}", "NULL", "Đà Nẵng", " "],
                   "partners": ["busan-city", "cabc"], "visibility": "private",
                   "description": "line one\nline \"two\"\ttab", "url": "https://example.org/x?a=1&b=2",
                   "location": "HCMC DOST, 244 Điện Biên Phủ", "city": "Toronto", "country": "CA"})
    make({"kind": "meeting", "title": "Moved", "timezone": "America/Toronto",
          "start": "2027-03-22T11:00:00", "end": "2027-03-22T12:00:00",
          "series_id": series["id"], "recurrence_id": "2027-03-22T09:00:00"})
    festival = make({"kind": "festival", "title": "FLY ASIA", "all_day": True,
                     "timezone": "Asia/Seoul", "start": "2027-10-13", "end": "2027-10-16",
                     "rrule": "FREQ=YEARLY;COUNT=3", "exdates": ["2028-10-13"]})
    make({"kind": "meeting", "title": "Lunch", "parent_id": festival["id"], "timezone": "UTC",
          "start": "2027-10-13T12:00:00"})
    gone = make({"kind": "deadline", "title": "Dropped", "start": "2027-05-01T17:00:00"})
    assert d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"]).status in (200, 204)
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "MOU", "stage": "signed", "parties": ["busan-city"], "signed_on": "2027-06-30"})
    assert r.status == 201, r
    made.append(r.json()["signed_event_id"])
    listed = {}
    cursor = None
    while True:
        q = "/v1/events?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = d.request("GET", q, token=k["host"]).json()
        for it in page["items"]:
            listed[it["id"]] = it
        cursor = page.get("next_cursor")
        if not cursor:
            break
    for eid in made:
        r = d.request("GET", f"/v1/events/{eid}", token=k["host"])
        assert r.status == 200, r
        got = r.json()
        want = {key: v for key, v in listed[eid].items() if key != "conflicts"}
        assert got == want, (got, want)
        assert list(got) == list(want)  # the same key order as jsonb


def race(d, token, writes, writers=8, each=12):
    """Statuses of `writers` threads each making `each` writes (method,
    path, body) taken in turn from writes, all at once."""
    import threading
    statuses, lock = [], threading.Lock()

    def writer(n):
        for i in range(each):
            method, path, body = writes((n, i))
            got = d.request(method, path, token=token, body=body)
            with lock:
                statuses.append(got.status)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_unconditional_writes_racing_on_one_row_all_apply(ctx):
    """A PATCH or cancel without If-Match asks for no version: one that
    loses a race with another write (its UPDATE finds a newer version) is
    taken again against the row as it is now (api/write_again.c), never
    answered 412, which is for a condition the client gave. With If-Match,
    a stale version is 412. Events, agreements, visits and checklists."""
    from test_agreements import MOU
    from test_visit_tasks import INBOUND
    from test_visits import BUSAN
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/events", token=k["host"], body=VISIT)
    assert r.status == 201, r
    e, etag = r.json(), r.header("ETag")
    url = f"/v1/events/{e['id']}"
    statuses = race(d, k["host"], lambda ni: (
        ("DELETE", url, None) if ni[1] % 4 == 3 else
        ("PATCH", url, {"title": f"Writer {ni[0]} write {ni[1]}", "status": "confirmed"})))
    assert set(statuses) == {200}, statuses
    final = d.request("GET", url, token=k["host"])
    assert final.status == 200 and final.json()["title"].startswith("Writer ")
    problem(d.request("PATCH", url, token=k["host"], body={"title": "Stale"},
                      headers={"If-Match": etag}), 412)

    for kind, body, field in (("agreements", MOU, "title"), ("visits", BUSAN, "purpose"),
                              ("checklists", INBOUND, "name")):
        r = d.request("POST", f"/v1/{kind}", token=k["host"], body=body)
        assert r.status == 201, r
        url = f"/v1/{kind}/{r.json()['id']}"
        statuses = race(d, k["host"], lambda ni: (
            "PATCH", url, {field: f"{field} by {ni[0]}, {ni[1]}"}), writers=6, each=8)
        assert set(statuses) == {200}, (kind, statuses)
        assert d.request("GET", url, token=k["host"]).json()[field].startswith(f"{field} by ")


def test_if_match_lists_and_strong_comparison(ctx):
    """If-Match (RFC 9110 13.1.1) holds when any entity-tag it lists is the
    current one by the strong comparison: a weak tag never matches, "*"
    matches the current version, a tag that is not quoted matches nothing.
    Every route that takes If-Match: events, agreements, visits,
    checklists and a visit's tasks. If-None-Match (on the reads that take
    it) compares weakly."""
    from test_agreements import MOU
    from test_visit_tasks import INBOUND, checklist, in_year, tasks_of
    from test_visits import BUSAN
    db, k, d = world(ctx)
    H = k["host"]
    checklist(d, H, INBOUND)
    routes = []
    for kind, body, field in (("events", VISIT, "title"), ("agreements", MOU, "title"),
                              ("visits", in_year(BUSAN, 2027), "purpose"),
                              ("checklists", dict(INBOUND, name="Other"), "name")):
        r = d.request("POST", f"/v1/{kind}", token=H, body=body)
        assert r.status == 201, r
        routes.append((f"/v1/{kind}/{r.json()['id']}", field, r.header("ETag")))
        if kind == "visits":
            t = tasks_of(d, H, r.json()["id"])["Invitation letter"]
            url = f"/v1/visits/{r.json()['id']}/tasks/{t['id']}"
            r = d.request("PATCH", url, token=H, body={"state": "open"})
            assert r.status == 200, r
            routes.append((url, "owner", r.header("ETag")))
    for url, field, etag in routes:
        n = [0]

        def patch(im):
            n[0] += 1
            return d.request("PATCH", url, token=H, body={field: f"{field} {n[0]}"},
                             headers={"If-Match": im})
        for im in ("W/" + etag, f'"zzz", W/{etag}', etag.strip('"'), f'{etag}x', '"zzz"'):
            problem(patch(im), 412)
        # Each against the version the last one made.
        for form in ('"zzz", {}', '{} , "zzz"', ',{},', "*", " * "):
            r = patch(form.format(etag))
            assert r.status == 200, (url, form, r)
            assert r.header("ETag") != etag, (url, form, r)
            etag = r.header("ETag")
        problem(patch('"*"'), 412)
        problem(patch(f'*, {etag}'), 412)
        if url.startswith(("/v1/events/", "/v1/visits/")) and "/tasks/" not in url:
            for inm in (etag, "W/" + etag, f'"zzz", {etag}', "*"):
                assert d.request("GET", url, token=H,
                                 headers={"If-None-Match": inm}).status == 304, (url, inm)
            for inm in ('"zzz"', etag.strip('"'), f"{etag}x"):
                assert d.request("GET", url, token=H,
                                 headers={"If-None-Match": inm}).status == 200, (url, inm)
