"""Follow-through of agreements (issue 17): the org's follow-up template
makes milestones at signature; last activity, dormancy and expiry in the
agreement, in /metrics, and as agreement.dormant / agreement.expiring
webhooks sent once (per dormancy, per expiry date) across restarts and
two instances, only to endpoints whose org may see the agreement."""
import datetime
import re
import time

from harness import problem, wait_for
from receiver import Receiver
from test_agreement_stages import create, day, patch, today
from test_agreements import sql
from test_events import VISIT, world
from test_webhooks import FAST, daemon_alone

STEPS = [{"title": "First joint activity", "days": 90, "reminders": ["-P14D"]},
         {"title": "Report to partner", "days": 180},
         {"title": "Annual review", "days": 365, "reminders": ["-P30D", "-P7D"]}]
MOU = {"title": "MOU: Hai Phong – San Francisco Chamber of Commerce", "stage": "drafting",
       "parties": ["cabc"], "timezone": "America/Los_Angeles"}


def test_the_follow_up_template_makes_milestones_at_signature(ctx):
    db, k, d = world(ctx)
    assert d.request("GET", "/v1/follow-up-template",
                     token=k["viewer"]).json() == {"steps": [], "updated_at": None}
    problem(d.request("PUT", "/v1/follow-up-template", token=k["editor"],
                      body={"steps": STEPS}), 403)
    for body, field in [({"steps": [{"title": "x", "days": 4000}]}, "steps[0].days"),
                        ({"steps": [{"title": "x", "days": "90"}]}, "steps[0].days"),
                        ({"steps": [{"days": 1}]}, "steps[0].title"),
                        ({"steps": [{"title": "x", "days": 1, "reminders": ["P1D"]}]},
                         "steps[0].reminders[0]"),
                        ({"steps": [{"title": "x", "days": 1, "owner": "me"}]},
                         "steps[0].owner"),
                        ({"steps": [STEPS[0]] * 21}, "steps"), ({}, "steps"),
                        ({"steps": STEPS, "colour": 1}, "colour")]:
        p = problem(d.request("PUT", "/v1/follow-up-template", token=k["host"], body=body), 422)
        assert field in [e["field"] for e in p["errors"]], (body, p)
    r = d.request("PUT", "/v1/follow-up-template", token=k["host"], body={"steps": STEPS})
    assert r.status == 200 and r.json()["steps"] == STEPS, r
    assert d.request("GET", "/v1/follow-up-template", token=k["viewer"]).json()["steps"] == STEPS
    # Another org's template is its own.
    assert d.request("GET", "/v1/follow-up-template",
                     token=k["cabc"]).json()["steps"] == []

    a = create(d, k, MOU)
    assert a["milestones"] == []
    s = patch(d, k, a["id"], {"stage": "signed", "signed_on": "2025-03-01"}).json()
    got = [(m["title"], m["due"]) for m in s["milestones"]]
    assert got == [("First joint activity", "2025-05-30"), ("Report to partner", "2025-08-28"),
                   ("Annual review", "2026-03-01")], got
    ev = d.request("GET", f"/v1/events/{s['milestones'][2]['event_id']}", token=k["cabc"]).json()
    assert ev["kind"] == "deadline" and ev["agreement_id"] == a["id"]
    assert ev["reminders"] == ["-P30D", "-P7D"] and ev["partners"] == ["cabc"]
    # Only at signature: later stages and edits make none again.
    t = patch(d, k, a["id"], {"stage": "renewal",
                              "milestones": s["milestones"][:2]}).json()
    assert [m["title"] for m in t["milestones"]] == ["First joint activity",
                                                      "Report to partner"]
    patch(d, k, a["id"], {"stage": "signed"})
    assert len(d.request("GET", f"/v1/agreements/{a['id']}",
                         token=k["host"]).json()["milestones"]) == 2
    # Signed at creation: the template applies, and a milestone the body
    # gives by the same title is not made twice.
    b = create(d, k, dict(MOU, stage="signed", signed_on="2025-06-01", milestones=[
        {"title": "Annual review", "due": "2026-05-15"}]))
    assert [(m["title"], m["due"]) for m in b["milestones"]] == [
        ("First joint activity", "2025-08-30"), ("Report to partner", "2025-11-28"),
        ("Annual review", "2026-05-15")]
    # Without signed_on, the signature's day in the history counts.
    c = create(d, k, dict(MOU, stage="signed", history=[
        {"stage": "drafting", "on": "2025-01-02"}, {"stage": "signed", "on": "2025-02-01"}]))
    assert c["milestones"][0]["due"] == "2025-05-02"
    # An org without a template gets none.
    e = create(d, k, dict(MOU, stage="signed", signed_on="2025-06-01", parties=[]), who="cabc")
    assert e["milestones"] == []


def metric(d, name):
    m = re.search(rf"^{name} (\d+)$", d.request("GET", "/metrics").body.decode(), re.M)
    return int(m.group(1)) if m else None


def test_last_activity_dormancy_and_expiry(ctx):
    db, k, d = world(ctx)
    tz = MOU["timezone"]
    held = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, partners=[])).json()
    # Last heard of in January 2024: dormant (180 days by default).
    a = create(d, k, dict(MOU, history=[{"stage": "intent", "on": "2024-01-05"},
                                        {"stage": "drafting", "on": "2024-01-20"}]))
    assert a["last_activity_on"] == "2024-01-20" and a["dormant"] is True
    assert a["dormant_after_days"] == 180 and a["expiring_notice_days"] == 90
    # A linked event held later is activity (VISIT: 21 August 2024).
    b = patch(d, k, a["id"], {"events": [held["id"]]}).json()
    assert b["last_activity_on"] == "2024-08-21" and b["dormant"] is True
    c = patch(d, k, a["id"], {"dormant_after_days": 3650}).json()
    assert c["dormant"] is False
    # A milestone done is activity too.
    e = patch(d, k, a["id"], {"dormant_after_days": None, "milestones": [
        {"title": "Draft exchanged", "due": "2024-09-30", "done_on": day(tz, -3)}]}).json()
    assert e["milestones"][0]["done_on"] == day(tz, -3)
    assert e["last_activity_on"] == day(tz, -3) and e["dormant"] is False
    p = problem(d.request("PATCH", f"/v1/agreements/{a['id']}", token=k["host"], body={
        "milestones": [{"title": "x", "due": "2024-09-30", "done_on": day(tz, 5)}]}), 422)
    assert p["errors"][0]["field"] == "milestones[0].done_on"
    for bad in [0, 3651, "180", 1.5]:
        p = problem(d.request("PATCH", f"/v1/agreements/{a['id']}", token=k["host"],
                              body={"dormant_after_days": bad}), 422)
        assert p["errors"][0]["field"] == "dormant_after_days"
    # Expiring within 90 days, or within the agreement's own notice.
    x = create(d, k, dict(MOU, stage="signed", expires_on=day(tz, 60)))
    assert x["expiring"] is True and x["dormant"] is False
    y = patch(d, k, x["id"], {"expiring_notice_days": 30}).json()
    assert y["expiring"] is False
    # An agreement that has ended is neither.
    z = patch(d, k, a["id"], {"history": [{"stage": "signed", "on": "2023-01-01"}],
                              "milestones": [], "stage": "expired"}).json()
    assert z["dormant"] is False and z["expiring"] is False
    # /metrics counts them as the scheduler last did.
    create(d, k, dict(MOU, history=[{"stage": "drafting", "on": "2020-02-02"}]))
    create(d, k, dict(MOU, stage="signed", expires_on=day(tz, 10)))
    wait_for(lambda: metric(d, "liaison_agreements_dormant") == 1 and
             metric(d, "liaison_agreements_expiring") == 1, 10,
             what="the counts in /metrics")


def test_dormant_and_expiring_webhooks_once_across_instances_and_restarts(ctx):
    db, k, d1 = daemon_alone(ctx)
    d2 = ctx.daemon(db, args=FAST)
    rx = Receiver()
    r = d1.request("POST", "/v1/webhooks", token=k["host"], body={
        "url": rx.url, "types": ["agreement.dormant", "agreement.expiring"]})
    assert r.status == 201, r
    rx.secrets.append(r.json()["secret"])
    tz = MOU["timezone"]
    old = [{"stage": "drafting", "on": "2024-01-20"}]
    hidden = d1.request("POST", "/v1/events", token=k["busan-city"], body=dict(
        VISIT, visibility="private", partners=[])).json()
    # The host's own, dormant; one expiring; Busan's network one, dormant,
    # that links an event of Busan's the host may not see; Busan's private
    # one, dormant, that the host may not see at all.
    mine = create(d1, k, dict(MOU, history=old))
    soon = create(d2, k, dict(MOU, stage="signed", expires_on=day(tz, 30)))
    theirs = create(d2, k, dict(MOU, history=old, parties=[], events=[hidden["id"]]),
                    who="busan-city")
    private = create(d1, k, dict(MOU, history=old, parties=[], visibility="private"),
                     who="busan-city")
    create(d1, k, dict(MOU, stage="signed"))  # lively: nothing to say

    def got():
        out = {}
        for m in rx.messages():
            out.setdefault(m["json"]["type"], []).append(m["json"]["data"]["agreement"]["id"])
        return {t: sorted(v) for t, v in out.items()}
    want = {"agreement.dormant": sorted([mine["id"], theirs["id"]]),
            "agreement.expiring": [soon["id"]]}
    wait_for(lambda: got() == want, 20, what="one notice of each")
    time.sleep(2)
    assert got() == want and all(m["valid"] for m in rx.messages())
    body = {m["json"]["data"]["agreement"]["id"]: m["json"] for m in rx.messages()}
    assert body[theirs["id"]]["data"]["agreement"]["events"] == []  # not the host's to see
    assert body[mine["id"]]["data"]["agreement"]["dormant"] is True
    assert body[soon["id"]]["data"]["agreement"]["expiring"] is True
    assert private["id"] not in str(rx.messages())
    rows = sql(ctx, db, "SELECT count(*) FROM webhook_messages WHERE type LIKE 'agreement.%'")
    assert rows == "3", rows
    # Restarted, both of them: nothing is announced again.
    d1.stop()
    d2.stop()
    d3 = ctx.daemon(db, args=FAST)
    ctx.daemon(db, args=FAST)
    wait_for(lambda: metric(d3, "liaison_agreements_dormant") == 3, 10,
             what="the scheduler's first pass")
    time.sleep(2)
    assert got() == want
    # Four notices: Busan's private one has its own, told to no one here.
    assert sql(ctx, db, "SELECT count(*) FROM agreement_notices") == "4"
    # Activity ends a dormancy; when time has passed again without any (the
    # history moved back 200 days), that is a new dormancy, told once.
    patch(d3, k, mine["id"], {"stage": "signed"})
    ago = day(tz, -200)
    sql(ctx, db, f"""UPDATE agreements SET history = '[{{"stage": "drafting",
                 "on": "2024-01-20"}}, {{"stage": "signed", "on": "{ago}"}}]'
                 WHERE id = '{mine["id"]}'""")
    want["agreement.dormant"] = sorted([mine["id"], mine["id"], theirs["id"]])
    wait_for(lambda: got() == want, 20, what="the second dormancy")
    time.sleep(2)
    assert got() == want
    assert today(tz)


def test_a_linked_series_whose_early_rdate_was_held_is_activity(ctx):
    """A series whose DTSTART is still ahead but whose RDATE before it has
    been held: the agreement's last activity counted the series from its
    start, so the agreement was dormant."""
    db, k, d = world(ctx)
    tz = MOU["timezone"]
    start = datetime.date.today() + datetime.timedelta(days=30)
    held = datetime.date.today() - datetime.timedelta(days=10)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Working group", "timezone": "UTC",
        "start": f"{start}T09:00:00", "end": f"{start}T10:00:00",
        "rrule": "FREQ=MONTHLY;COUNT=3", "rdates": [f"{held}T09:00:00"]})
    assert r.status == 201, r
    a = create(d, k, dict(MOU, history=[{"stage": "drafting", "on": "2024-01-20"}]))
    assert a["dormant"] is True
    b = patch(d, k, a["id"], {"events": [r.json()["id"]]}).json()
    assert b["dormant"] is False and b["last_activity_on"] == day(tz, 0), b
