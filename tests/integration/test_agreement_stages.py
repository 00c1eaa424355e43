"""Agreements that lead somewhere (issue 17): the stage history with its
dates (SPEC's stage names; the issue's taken as input), links to the events that carry an agreement out, termination by
DELETE, Idempotency-Key, and the list's filters and cursor."""
import datetime
import threading
import uuid
import zoneinfo

from harness import problem, wait_for
from test_agreements import feed_events, sql
from test_events import VISIT, world

SF = {"title": "Letter of intent: Hai Phong – San Francisco Chamber of Commerce",
      "stage": "intent", "parties": ["cabc"], "timezone": "America/Los_Angeles"}


def today(tz):
    return datetime.datetime.now(zoneinfo.ZoneInfo(tz)).date()


def day(tz, delta):
    return (today(tz) + datetime.timedelta(days=delta)).isoformat()


def create(d, k, body, who="host", status=201, **kw):
    r = d.request("POST", "/v1/agreements", body=body, token=k[who], **kw)
    assert r.status == status, r
    return r.json()


def patch(d, k, ident, body, who="host", status=200, **kw):
    r = d.request("PATCH", f"/v1/agreements/{ident}", body=body, token=k[who], **kw)
    assert r.status == status, r
    return r


def test_each_stage_change_is_recorded_with_its_date(ctx):
    db, k, d = world(ctx)
    tz = SF["timezone"]
    a = create(d, k, SF)
    assert a["stage"] == "intent"
    assert a["history"] == [{"stage": "intent", "on": today(tz).isoformat()}]
    # Backdated: the trip ended in a letter of intent on 14 October 2024,
    # drafting began in January. Sent in the names, kept and
    # answered in SPEC's.
    sent = [{"stage": "letter_of_intent", "on": "2024-10-14", "note": "signed in San Francisco"},
            {"stage": "negotiation", "on": "2025-01-10"}]
    hist = [{"stage": "intent", "on": "2024-10-14", "note": "signed in San Francisco"},
            {"stage": "drafting", "on": "2025-01-10"}]
    b = patch(d, k, a["id"], {"history": sent}).json()
    assert b["stage"] == "drafting" and b["history"] == hist
    # The signature is recorded on signed_on: the day it came.
    c = patch(d, k, a["id"], {"stage": "signed", "signed_on": "2025-03-01"}).json()
    assert c["history"] == hist + [{"stage": "signed", "on": "2025-03-01"}]
    # A change made today is dated today.
    e = patch(d, k, a["id"], {"stage": "renewal"}).json()
    assert e["stage"] == "renewal"
    assert e["history"][-1] == {"stage": "renewal", "on": today(tz).isoformat()}
    # The same stage again is no change: nothing written, same version.
    r = patch(d, k, a["id"], {"stage": "renewal"})
    assert r.json()["history"] == e["history"]
    assert r.header("ETag") == patch(d, k, a["id"], {}).header("ETag")
    # "renewed" is no stage of SPEC's: refused, saying what to send.
    p = problem(d.request("PATCH", f"/v1/agreements/{a['id']}", body={"stage": "renewed"},
                          token=k["host"]), 422)
    assert p["errors"][0]["field"] == "stage" and "signed again" in p["errors"][0]["message"]
    # In force again ("active", the name) is signed.
    f = patch(d, k, a["id"], {"stage": "active"}).json()
    assert f["stage"] == "signed"
    assert f["history"] == e["history"] + [{"stage": "signed", "on": today(tz).isoformat()}]
    # What the database keeps: SPEC's names, history ending with the stage,
    # for any writer.
    name = db.split("dbname=")[1]
    assert ctx.cluster.psql(f"SELECT stage || ' ' || (history -> -1 ->> 'stage') FROM agreements "
                            f"WHERE id = '{a['id']}'", name) == "signed signed"
    assert ctx.cluster.psql("SELECT count(*) FROM agreements, jsonb_array_elements(history) h "
                            "WHERE h ->> 'stage' NOT IN ('intent', 'drafting', 'signed', "
                            "'renewal', 'expired', 'terminated')", name) == "0"
    ctx.cluster.psql(f"UPDATE agreements SET stage = 'expired' WHERE id = '{a['id']}'", name)
    g = d.request("GET", f"/v1/agreements/{a['id']}", token=k["cabc"]).json()
    assert g["stage"] == "expired" and g["history"][-1]["stage"] == "expired"


def test_a_history_that_cannot_be_is_refused_by_field(ctx):
    db, k, d = world(ctx)
    tz = SF["timezone"]
    a = create(d, k, SF)
    url = f"/v1/agreements/{a['id']}"
    cases = [
        ({"stage": "maybe"}, "stage"),
        ({"stage": "renewed"}, "stage"),
        ({"history": [{"stage": "renewed", "on": "2025-01-01"}]}, "history[0].stage"),
        # the names are SPEC's stages: the same stage twice in a row
        ({"history": [{"stage": "signed", "on": "2025-01-01"},
                      {"stage": "active", "on": "2025-02-01"}]}, "history[1].stage"),
        ({"history": [{"stage": "letter_of_intent", "on": "2025-01-01"},
                      {"stage": "intent", "on": "2025-02-01"}]}, "history[1].stage"),
        ({"history": None}, "history"),
        ({"history": []}, "history"),
        ({"history": "letter_of_intent"}, "history"),
        ({"history": [{"stage": "signed", "on": day(tz, 2)}]}, "history[0].on"),
        ({"history": [{"stage": "signed"}]}, "history[0].on"),
        ({"history": [{"stage": "x'; DROP TABLE agreements; --", "on": "2024-01-01"}]},
         "history[0].stage"),
        ({"history": [{"stage": "negotiation", "on": "2025-02-01"},
                      {"stage": "signed", "on": "2025-01-01"}]}, "history[1].on"),
        ({"history": [{"stage": "negotiation", "on": "2025-01-01"},
                      {"stage": "drafting", "on": "2025-02-01"}]}, "history[1].stage"),
        ({"history": [{"stage": "signed", "on": "2025-01-01", "by": "me"}]}, "history[0].by"),
        ({"history": [{"stage": "signed", "on": "2025-02-30"}]}, "history[0].on"),
        ({"history": [{"stage": "signed", "on": "2025-01-01"}] * 101}, "history"),
    ]
    for body, field in cases:
        p = problem(d.request("PATCH", url, body=body, token=k["host"]), 422)
        assert field in [e["field"] for e in p["errors"]], (body, p)
    assert d.request("GET", url, token=k["host"]).json() == a
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(SF, stage=None)), 422)
    assert p["errors"][0]["field"] == "stage"


def test_links_name_only_events_the_caller_may_see(ctx):
    db, k, d = world(ctx)
    name = db.split("dbname=")[1]
    trip = d.request("POST", "/v1/events", token=k["host"], body=dict(
        VISIT, title="Hai Phong delegation in San Francisco", partners=[])).json()
    hidden = d.request("POST", "/v1/events", token=k["busan-city"], body=dict(
        VISIT, visibility="private", partners=[])).json()
    shared = d.request("POST", "/v1/events", token=k["busan-city"], body=dict(
        VISIT, title="Busan – HCMC working group", visibility="private",
        partners=["hcmc-dost"])).json()
    before = sql(ctx, db, "SELECT count(*) FROM agreements")
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(SF, events=[trip["id"], hidden["id"]])), 422)
    assert [e["field"] for e in p["errors"]] == ["events[1]"]
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(SF, events=[str(uuid.uuid4())])), 422)
    assert [e["field"] for e in p["errors"]] == ["events[0]"]
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(SF, events=["not-an-id"])), 422)
    assert [e["field"] for e in p["errors"]] == ["events[0]"]
    assert sql(ctx, db, "SELECT count(*) FROM agreements") == before
    a = create(d, k, dict(SF, events=[trip["id"], shared["id"], trip["id"]]))
    assert sorted(a["events"]) == sorted([trip["id"], shared["id"]])
    # cabc, a party, sees the agreement but not Busan's private event.
    assert d.request("GET", f"/v1/agreements/{a['id']}",
                     token=k["cabc"]).json()["events"] == [trip["id"]]
    # Busan hides its event from HCMC: the owner no longer lists it, and a
    # patch of the owner's leaves that link alone (it names only what it sees).
    r = d.request("PATCH", f"/v1/events/{shared['id']}", token=k["busan-city"],
                  body={"partners": []})
    assert r.status == 200, r
    assert d.request("GET", f"/v1/agreements/{a['id']}",
                     token=k["host"]).json()["events"] == [trip["id"]]
    patch(d, k, a["id"], {"title": SF["title"] + " (2024)"})
    assert sql(ctx, db, f"SELECT count(*) FROM agreement_links "
                        f"WHERE agreement_id = '{a['id']}'") == "2"
    # Links the caller sees are changed as sent; a change moves the version.
    r = patch(d, k, a["id"], {"events": []})
    assert r.json()["events"] == []
    assert sql(ctx, db, f"SELECT event_id FROM agreement_links "
                        f"WHERE agreement_id = '{a['id']}'") == shared["id"]
    v = r.header("ETag")
    r = patch(d, k, a["id"], {"events": [trip["id"]]})
    assert r.json()["events"] == [trip["id"]] and r.header("ETag") != v
    assert name


def test_delete_terminates_and_cancels_the_dates_ahead(ctx):
    db, k, d = world(ctx)
    tz = "Asia/Ho_Chi_Minh"
    body = {"title": "MOU: HCMC DOST – Busan", "stage": "signed", "parties": ["busan-city"],
            "timezone": tz, "signed_on": "2024-08-22", "expires_on": day(tz, 800),
            "history": [{"stage": "signed", "on": "2024-08-22"}],
            "milestones": [{"title": "First joint activity", "due": "2024-11-20"},
                           {"title": "Annual review", "due": day(tz, 300),
                            "reminders": ["-P7D"]}]}
    a = create(d, k, body)
    url = f"/v1/agreements/{a['id']}"
    past, ahead = a["milestones"][0]["event_id"], a["milestones"][1]["event_id"]
    problem(d.request("DELETE", url, token=k["viewer"]), 403)
    problem(d.request("DELETE", url, token=k["busan-city"]), 403)
    problem(d.request("DELETE", url, token=k["host"], headers={"If-Match": '"99"'}), 412)
    problem(d.request("DELETE", f"/v1/agreements/{uuid.uuid4()}", token=k["host"]), 404)
    # A private one, not Busan's to see: 404, as for any other route.
    hidden = create(d, k, dict(body, visibility="private", parties=[], milestones=[]))
    problem(d.request("DELETE", f"/v1/agreements/{hidden['id']}", token=k["busan-city"]), 404)
    r = d.request("DELETE", url, token=k["host"])
    assert r.status == 200, r
    t = r.json()
    assert t["stage"] == "terminated"
    assert t["history"][-1] == {"stage": "terminated", "on": today(tz).isoformat()}
    assert r.header("ETag") and r.header("ETag") != '"1"'

    def status(ident):
        return d.request("GET", f"/v1/events/{ident}", token=k["host"]).json()["status"]
    assert status(past) == "confirmed" and status(a["signed_event_id"]) == "confirmed"
    assert status(ahead) == "cancelled" and status(a["expires_event_id"]) == "cancelled"
    # The agreement still names its dates; its milestones say what became of them.
    assert [m["status"] for m in t["milestones"]] == ["confirmed", "cancelled"]
    assert t["expires_event_id"] == a["expires_event_id"]
    assert t["dormant"] is False and t["expiring"] is False
    # Feeds show the dates ahead cancelled, as any cancelled item.
    feed = d.request("POST", "/v1/feeds", token=k["host"], body={"name": "All"}).json()
    path = feed["url"][feed["url"].index("/feeds/"):]
    uid = d.request("GET", f"/v1/events/{ahead}", token=k["host"]).json()["uid"]
    wait_for(lambda: feed_events(d, path)[uid]["status"] == "CANCELLED", 10,
             what="the cancelled milestone in the feed")
    # Again: nothing more changes.
    r2 = d.request("DELETE", url, token=k["host"])
    assert r2.status == 200 and r2.header("ETag") == r.header("ETag")
    assert r2.json()["history"] == t["history"]
    # A patch out of terminated brings the dates back, same events.
    back = patch(d, k, a["id"], {"stage": "signed"}).json()
    assert [m["event_id"] for m in back["milestones"]] == [past, ahead]
    assert status(ahead) == "confirmed" and status(a["expires_event_id"]) == "confirmed"
    assert [h["stage"] for h in back["history"]] == ["signed", "terminated", "signed"]


def test_idempotency_key_on_create(ctx):
    db, k, d = world(ctx)
    h = {"Idempotency-Key": "sf-2024-loi"}
    r1 = d.request("POST", "/v1/agreements", body=SF, token=k["host"], headers=h)
    assert r1.status == 201, r1
    r2 = d.request("POST", "/v1/agreements", body=SF, token=k["host"], headers=h)
    assert r2.status == 201 and r2.header("Idempotent-Replayed") == "true", r2
    assert r2.json() == r1.json() and r2.header("Location") == r1.header("Location")
    p = problem(d.request("POST", "/v1/agreements", body=dict(SF, title="Other"),
                          token=k["host"], headers=h), 409)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    p = problem(d.request("POST", "/v1/agreements", body=SF, token=k["host"],
                          headers={"Idempotency-Key": "a\x01b"}), 400)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    # Another org's key of the same name is its own.
    r = d.request("POST", "/v1/agreements", body=SF, token=k["cabc"], headers=h)
    assert r.status == 201 and r.header("Idempotent-Replayed") is None
    # Concurrent retries: one agreement, every answer the same.
    results = []
    body = dict(SF, title="Concurrent")

    def post():
        results.append(d.request("POST", "/v1/agreements", body=body, token=k["host"],
                                 headers={"Idempotency-Key": "race"}))
    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in results} <= {201, 409}, results
    ids = {r.json()["id"] for r in results if r.status == 201}
    assert len(ids) == 1, results
    assert sql(ctx, db, "SELECT count(*) FROM agreements WHERE title = 'Concurrent'") == "1"
    assert sql(ctx, db, "SELECT count(*) FROM agreements") == "3"


def test_list_filters_and_cursor(ctx):
    db, k, d = world(ctx)
    sql(ctx, db, "UPDATE orgs SET country = CASE slug WHEN 'busan-city' THEN 'KR' "
                 "WHEN 'cabc' THEN 'CA' ELSE 'VN' END")
    made = [create(d, k, dict(SF, title=f"LOI {i}", parties=["cabc"] if i % 2 else
                              ["busan-city"])) for i in range(5)]
    signed = create(d, k, {"title": "MOU Busan", "stage": "signed", "parties": ["busan-city"],
                           "signed_on": "2024-08-22", "expires_on": day("Asia/Seoul", 30),
                           "timezone": "Asia/Seoul"})
    old = create(d, k, {"title": "Old LOI", "parties": [],
                        "history": [{"stage": "letter_of_intent", "on": "2019-05-01"},
                                    {"stage": "terminated", "on": "2020-01-01"}]})
    every = made + [signed, old]

    def ids(query, who="host"):
        r = d.request("GET", "/v1/agreements" + query, token=k[who])
        assert r.status == 200, r
        return [a["id"] for a in r.json()["items"]]
    # Pages of two, in creation order (to the second, then id), each once.
    whole = ids("?limit=1000")
    assert sorted(whole) == sorted(a["id"] for a in every)
    seen, cursor = [], None
    while True:
        r = d.request("GET", "/v1/agreements?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                      token=k["host"]).json()
        seen += [a["id"] for a in r["items"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert seen == whole

    def listed(agreements):
        want = {a["id"] for a in agreements}
        return [i for i in whole if i in want]
    assert ids("?partner=cabc") == listed(a for a in made if a["parties"] == ["cabc"])
    assert ids("?country=KR") == listed(a for a in every if a["parties"] == ["busan-city"])
    assert ids("?stage=signed,intent") == listed(made + [signed])
    assert ids("?stage=letter_of_intent") == listed(made)  # the name for intent
    assert ids("?stage=terminated&stage=expired") == [old["id"]]
    assert ids("?q=busan") == [signed["id"]]
    assert ids("?org=cabc") == []
    assert ids("?expiring=true") == [signed["id"]]
    # Signed in 2024 and nothing since: dormant from the day it is recorded.
    assert ids("?dormant=true") == [signed["id"]]
    assert ids("?dormant=false") == listed(made + [old])  # an ended one never is
    # A window takes what overlaps it: the old one ended in 2020.
    assert ids("?from=2019-06-01&to=2019-07-01") == [old["id"]]
    assert old["id"] not in ids("?from=2021-01-01")
    assert ids("?to=2020-01-01") == [old["id"]]
    for query, field in [("?stage=maybe", "stage[0]"), ("?stage=intent,renewed", "stage[1]"),
                         ("?dormant=yes", "dormant"),
                         ("?kind=visit", "kind"), ("?cursor=..%2F", "cursor"),
                         ("?limit=0", "limit"), ("?from=someday", "from"),
                         ("?country=korea", "country[0]")]:
        p = problem(d.request("GET", "/v1/agreements" + query, token=k["host"]), 422)
        assert field in [e["field"] for e in p["errors"]], (query, p)
