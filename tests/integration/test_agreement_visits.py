"""An agreement's `visits` (issue 17): the delegation visits that
prepared it. Only visits the caller may see can be linked; an answer and a
webhook body list those their reader may see; a patch touches only links
to visits the caller sees; a visit held is activity (last_activity_on)."""
import uuid

from harness import problem, wait_for
from receiver import Receiver
from test_agreement_stages import create, patch
from test_agreements import sql
from test_events import world
from test_visits import BUSAN, SF
from test_webhooks import daemon_alone

MOU = {"title": "MOU: HCMC DOST – Busan Metropolitan City", "stage": "intent",
       "parties": ["cabc"], "timezone": "Asia/Ho_Chi_Minh",
       "history": [{"stage": "intent", "on": "2024-01-05"}]}


def visit(d, k, who, body):
    r = d.request("POST", "/v1/visits", body=body, token=k[who])
    assert r.status == 201, r
    return r.json()


def three(d, k):
    """The host's Busan visit (network), Busan's private one the host is
    not party to, and Busan's private one with the host (not CABC's to
    see)."""
    busan = visit(d, k, "host", dict(BUSAN, programme=[], delegates=[]))
    hidden = visit(d, k, "busan-city", dict(SF, title="Busan alone", partners=[],
                                           visibility="private", programme=[]))
    shared = visit(d, k, "busan-city", dict(SF, title="Busan – HCMC working visit",
                                           partners=["hcmc-dost"], visibility="private",
                                           arrive="2024-09-02T09:00:00",
                                           depart="2024-09-03T18:00:00", programme=[]))
    return busan, hidden, shared


def test_visits_link_only_what_the_caller_may_see(ctx):
    db, k, d = world(ctx)
    busan, hidden, shared = three(d, k)
    before = sql(ctx, db, "SELECT count(*) FROM agreements")
    for visits, field in [([busan["id"], hidden["id"]], "visits[1]"),
                          ([str(uuid.uuid4())], "visits[0]"),
                          (["not-an-id"], "visits[0]"), ({"id": 1}, "visits"),
                          ([busan["id"]] * 201, "visits")]:
        p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                              body=dict(MOU, visits=visits)), 422)
        assert [e["field"] for e in p["errors"]] == [field], (visits, p)
    assert sql(ctx, db, "SELECT count(*) FROM agreements") == before
    # An event id is not a visit id, though a visit is an event too.
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Call", "start": "2024-08-01T09:00:00",
        "timezone": "Asia/Ho_Chi_Minh"}).json()
    p = problem(d.request("POST", "/v1/agreements", token=k["host"],
                          body=dict(MOU, visits=[ev["id"]])), 422)
    assert [e["field"] for e in p["errors"]] == ["visits[0]"]

    a = create(d, k, dict(MOU, visits=[shared["id"], busan["id"], busan["id"]]))
    assert a["visits"] == [busan["id"], shared["id"]]  # in order of arrival, each once
    assert a["events"] == []
    # CABC, a party, sees the agreement but not Busan's private visit.
    assert d.request("GET", f"/v1/agreements/{a['id']}",
                     token=k["cabc"]).json()["visits"] == [busan["id"]]
    # Busan no longer names the host: the host lists it no more, and a
    # patch of the host's leaves that link alone.
    r = d.request("PATCH", f"/v1/visits/{shared['id']}", token=k["busan-city"],
                  body={"partners": []},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r
    assert d.request("GET", f"/v1/agreements/{a['id']}",
                     token=k["host"]).json()["visits"] == [busan["id"]]
    r = patch(d, k, a["id"], {"visits": []})
    assert r.json()["visits"] == []
    assert sql(ctx, db, f"SELECT visit_id FROM agreement_links "
                        f"WHERE agreement_id = '{a['id']}' AND kind = 'visit'") == shared["id"]
    # A change of links moves the version; the same links again do not.
    v = r.header("ETag")
    r = patch(d, k, a["id"], {"visits": [busan["id"]]})
    assert r.json()["visits"] == [busan["id"]] and r.header("ETag") != v
    assert patch(d, k, a["id"], {"visits": [busan["id"]]}).header("ETag") == r.header("ETag")
    # The list filters are unchanged by links, and a visit's link shows in
    # the list's items as in the agreement.
    items = d.request("GET", "/v1/agreements", token=k["host"]).json()["items"]
    assert [x["visits"] for x in items if x["id"] == a["id"]] == [[busan["id"]]]


def test_a_visit_held_is_activity(ctx):
    db, k, d = world(ctx)
    busan = visit(d, k, "host", dict(BUSAN, programme=[], delegates=[]))
    proposed = visit(d, k, "host", dict(BUSAN, status="proposed", programme=[], delegates=[],
                                        arrive="2024-10-01T09:00:00",
                                        depart="2024-10-02T18:00:00"))
    a = create(d, k, MOU)
    assert a["last_activity_on"] == "2024-01-05" and a["dormant"] is True
    # Only proposed: it did not take place.
    b = patch(d, k, a["id"], {"visits": [proposed["id"]]}).json()
    assert b["last_activity_on"] == "2024-01-05"
    # Held on 21-22 August 2024: activity up to its departure.
    c = patch(d, k, a["id"], {"visits": [proposed["id"], busan["id"]]}).json()
    assert c["last_activity_on"] == "2024-08-22"
    # Cancelled, it is no activity any more.
    r = d.request("DELETE", f"/v1/visits/{busan['id']}", token=k["host"])
    assert r.status == 200, r
    e = d.request("GET", f"/v1/agreements/{a['id']}", token=k["host"]).json()
    assert e["last_activity_on"] == "2024-01-05"


def test_webhook_bodies_list_the_visits_their_org_may_see(ctx):
    db, k, d = daemon_alone(ctx)
    rx = {who: Receiver() for who in ("host", "cabc")}
    for who, r in rx.items():
        ep = d.request("POST", "/v1/webhooks", token=k[who], body={
            "url": r.url, "types": ["agreement.created"]})
        assert ep.status == 201, ep
        r.secrets.append(ep.json()["secret"])
    busan, hidden, shared = three(d, k)
    a = create(d, k, dict(MOU, visits=[busan["id"], shared["id"]]))

    def bodies(who):
        return [m["json"]["data"]["agreement"] for m in rx[who].messages()
                if m["json"]["type"] == "agreement.created"]
    wait_for(lambda: bodies("host") and bodies("cabc"), 20, what="both messages")
    assert all(m["valid"] for r in rx.values() for m in r.messages())
    assert bodies("host")[0]["visits"] == [busan["id"], shared["id"]]
    assert bodies("cabc")[0]["id"] == a["id"]
    assert bodies("cabc")[0]["visits"] == [busan["id"]]  # Busan's private one: not CABC's
    assert shared["id"] not in str(rx["cabc"].messages())
    assert hidden["id"] not in str(rx["host"].messages())
