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
