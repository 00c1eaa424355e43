"""Protocol deadlines (sql/016): an org's checklists of tasks due some
days before or after a visit's arrival or departure; a visit the org
creates gets them, each with a deadline event (private to the org, with
reminders) that moves with the visit while the task is open; a done task
is reminded no more; an open task past its deadline is told once as
visit.task_overdue."""
import copy
import datetime
import json
import threading
import time
import uuid

from harness import problem
from receiver import Receiver
from test_events import world
from test_feeds import make_feed, parse, path_of
from test_series_truth import sql, utc_epoch
from test_visits import BUSAN
from test_webhooks import daemon_alone

# The checklist for a delegation received: letters, programme,
# bookings, gifts, thanks.
INBOUND = {
    "name": "Receiving a delegation", "direction": "inbound",
    "tasks": [
        {"title": "Invitation letter", "anchor": "arrive", "offset_days": -90,
         "owner": "International cooperation office", "reminders": ["-P7D", "-P1D"]},
        {"title": "Visa support letters", "offset_days": -60, "reminders": ["-P3D"]},
        {"title": "Programme to the partner", "offset_days": -14},
        {"title": "Venue and security booking", "offset_days": -7},
        {"title": "Gifts and flags", "offset_days": -3, "owner": "Protocol office"},
        {"title": "Thank-you letter", "anchor": "depart", "offset_days": 3,
         "reminders": ["-P1D"]}]}
OUTBOUND = {"name": "Going abroad", "direction": "outbound",
            "tasks": [{"title": "Flights and hotel", "offset_days": -30}]}


def in_year(v, year):
    return json.loads(json.dumps(v).replace('"2024-', f'"{year}-'))


def checklist(d, token, body=INBOUND):
    r = d.request("POST", "/v1/checklists", token=token, body=body)
    assert r.status == 201, r
    return r.json()


def tasks_of(d, token, vid):
    r = d.request("GET", f"/v1/visits/{vid}/tasks", token=token)
    assert r.status == 200, r
    return {t["title"]: t for t in r.json()["items"]}


def set_task(d, token, vid, task, **body):
    return d.request("PATCH", f"/v1/visits/{vid}/tasks/{task['id']}", token=token, body=body,
                     headers={"Content-Type": "application/merge-patch+json"})


def test_checklists_are_the_orgs_and_checked(ctx):
    db, k, d = world(ctx)
    c = checklist(d, k["editor"])
    assert d.request("POST", "/v1/checklists", token=k["viewer"], body=INBOUND).status == 403
    assert c["direction"] == "inbound" and len(c["tasks"]) == 6
    assert c["tasks"][1] == {"title": "Visa support letters", "anchor": "arrive",
                             "offset_days": -60, "owner": None, "reminders": ["-P3D"]}
    url = f"/v1/checklists/{c['id']}"
    g = d.request("GET", url, token=k["viewer"])
    assert g.status == 200 and g.json() == c and g.header("ETag") == '"1"'
    assert [x["id"] for x in d.request("GET", "/v1/checklists", token=k["viewer"]).json()["items"]] \
        == [c["id"]]
    # Another org's checklist is not found; its list is its own.
    problem(d.request("GET", url, token=k["cabc"]), 404)
    problem(d.request("PATCH", url, token=k["cabc"], body={"name": "x"}), 404)
    assert d.request("GET", "/v1/checklists", token=k["cabc"]).json()["items"] == []
    r = d.request("PATCH", url, token=k["editor"], body={"direction": None, "name": "Any visit"},
                  headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and r.json()["direction"] is None and r.header("ETag") == '"2"', r
    problem(d.request("PATCH", url, token=k["editor"], body={"name": "y"},
                      headers={"If-Match": '"1"'}), 412)
    bad = copy.deepcopy(INBOUND)
    bad["direction"] = "sideways"
    bad["tasks"][0]["offset_days"] = -401
    bad["tasks"][1]["anchor"] = "leave"
    bad["tasks"][2]["reminders"] = ["P1D", 5]
    bad["tasks"][3]["title"] = ""
    bad["tasks"][4]["colour"] = "red"
    bad["tasks"][5]["offset_days"] = 1.5
    bad["tasks"].append("letters")
    p = problem(d.request("POST", "/v1/checklists", token=k["host"], body=bad), 422)
    assert sorted(e["field"] for e in p["errors"]) == sorted([
        "direction", "tasks[0].offset_days", "tasks[1].anchor", "tasks[2].reminders[0]",
        "tasks[2].reminders[1]", "tasks[3].title", "tasks[4].colour", "tasks[5].offset_days",
        "tasks[6]"])
    for body, field in [({"name": "x", "tasks": []}, "tasks"), ({"tasks": INBOUND["tasks"]}, "name"),
                        (dict(INBOUND, tasks=[INBOUND["tasks"][0]] * 51), "tasks")]:
        p = problem(d.request("POST", "/v1/checklists", token=k["host"], body=body), 422)
        assert [e["field"] for e in p["errors"]] == [field], (field, p)
    assert d.request("DELETE", url, token=k["editor"]).status == 204
    problem(d.request("DELETE", url, token=k["editor"]), 404)
    problem(d.request("GET", url, token=k["host"]), 404)


def test_a_visit_gets_its_tasks_with_deadline_events(ctx):
    db, k, d = world(ctx)
    checklist(d, k["host"])
    checklist(d, k["host"], OUTBOUND)
    checklist(d, k["busan-city"], dict(INBOUND, name="Busan's own"))
    v = d.request("POST", "/v1/visits", token=k["host"], body=in_year(BUSAN, 2027)).json()
    tasks = tasks_of(d, k["viewer"], v["id"])
    # The inbound checklist's, not the outbound one's nor another org's.
    assert sorted(tasks) == sorted(t["title"] for t in INBOUND["tasks"])
    assert {t: x["due"] for t, x in tasks.items()} == {
        "Invitation letter": "2027-05-23", "Visa support letters": "2027-06-22",
        "Programme to the partner": "2027-08-07", "Venue and security booking": "2027-08-14",
        "Gifts and flags": "2027-08-18", "Thank-you letter": "2027-08-25"}
    inv = tasks["Invitation letter"]
    assert inv["state"] == "open" and inv["owner"] == "International cooperation office"
    assert inv["overdue"] is False and inv["reminders"] == ["-P7D", "-P1D"]
    ev = d.request("GET", f"/v1/events/{inv['event_id']}", token=k["host"]).json()
    assert (ev["kind"], ev["all_day"], ev["start"], ev["end"]) == \
        ("deadline", True, "2027-05-23", "2027-05-24")
    assert ev["timezone"] == "Asia/Ho_Chi_Minh" and ev["visibility"] == "private"
    assert ev["parent_id"] == v["id"] and ev["reminders"] == ["-P7D", "-P1D"]
    assert ev["title"] == "Invitation letter: " + BUSAN["title"]["en"]
    assert "Due 90 days before arrival." in ev["description"]
    assert "Owner: International cooperation office" in ev["description"]
    coming = d.request("GET", f"/v1/events/{inv['event_id']}/reminders", token=k["host"]).json()
    assert [c["trigger"] for c in coming["items"]] == ["-P7D", "-P1D"]
    # The org's work: partners and others see neither the tasks nor their events.
    problem(d.request("GET", f"/v1/visits/{v['id']}/tasks", token=k["busan-city"]), 403)
    problem(d.request("GET", f"/v1/events/{inv['event_id']}", token=k["busan-city"]), 404)
    problem(d.request("GET", f"/v1/visits/{uuid.uuid4()}/tasks", token=k["host"]), 404)
    # The org's programme feed carries the deadlines, as dates, parsed
    # independently; the partner's does not.
    mine = parse(d.request("GET", path_of(make_feed(d, k["host"],
                                                    filter={"visits": [v["id"]]}))).body)
    deadlines = {e["summary"]: e for e in mine["events"] if e["all_day"]}
    assert deadlines["Thank-you letter: " + BUSAN["title"]["en"]]["start"] == "2027-08-25"
    assert len(deadlines) == 6
    theirs = parse(d.request("GET", path_of(make_feed(d, k["busan-city"],
                                                      filter={"visits": [v["id"]]}))).body)
    assert not [e for e in theirs["events"] if e["all_day"]]
    # An outbound visit gets the outbound checklist's; a visit made before
    # a checklist keeps what it had.
    sf = in_year({"direction": "outbound", "title": "Hai Phong delegation to San Francisco",
                  "timezone": "America/Los_Angeles", "arrive": "2024-10-11T08:00:00",
                  "depart": "2024-10-13T20:00:00"}, 2027)
    out = d.request("POST", "/v1/visits", token=k["host"], body=sf).json()
    assert {t: x["due"] for t, x in tasks_of(d, k["host"], out["id"]).items()} == \
        {"Flights and hotel": "2027-09-11"}
    checklist(d, k["host"], dict(OUTBOUND, name="More", tasks=[{"title": "Gifts",
                                                                 "offset_days": -5}]))
    assert list(tasks_of(d, k["host"], out["id"])) == ["Flights and hotel"]


def test_moving_a_visit_moves_open_deadlines(ctx):
    db, k, d = world(ctx)
    checklist(d, k["host"])
    v = d.request("POST", "/v1/visits", token=k["host"],
                  body=dict(in_year(BUSAN, 2027), programme=[])).json()
    tasks = tasks_of(d, k["host"], v["id"])
    done, skip = tasks["Visa support letters"], tasks["Gifts and flags"]
    r = set_task(d, k["editor"], v["id"], done, state="done", owner="Ms Lan")
    assert r.status == 200 and r.json()["state"] == "done" and r.header("ETag") == '"2"', r
    assert set_task(d, k["host"], v["id"], skip, state="not_needed").status == 200
    before = {t: d.request("GET", f"/v1/events/{x['event_id']}", token=k["host"]).json()
              for t, x in tasks.items()}
    # A week later, and two days longer.
    r = d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                  body={"arrive": "2027-08-28T09:00:00", "depart": "2027-08-31T18:00:00"})
    assert r.status == 200, r
    after = tasks_of(d, k["host"], v["id"])
    assert after["Invitation letter"]["due"] == "2027-05-30"
    assert after["Thank-you letter"]["due"] == "2027-09-03"
    assert after["Visa support letters"]["due"] == "2027-06-22"  # done: stays
    assert after["Gifts and flags"]["due"] == "2027-08-18"       # not needed: stays
    inv = d.request("GET", f"/v1/events/{after['Invitation letter']['event_id']}",
                    token=k["host"]).json()
    assert (inv["start"], inv["end"]) == ("2027-05-30", "2027-05-31")
    assert inv["uid"] == before["Invitation letter"]["uid"]
    assert inv["sequence"] > before["Invitation letter"]["sequence"]
    coming = d.request("GET", f"/v1/events/{inv['id']}/reminders", token=k["host"]).json()
    assert [c["fire_at"][:10] for c in coming["items"]] == ["2027-05-22", "2027-05-28"]
    visa = d.request("GET", f"/v1/events/{done['event_id']}", token=k["host"]).json()
    assert visa["reminders"] == [] and visa["status"] == "confirmed"
    assert "State: done" in visa["description"] and "Owner: Ms Lan" in visa["description"]
    assert d.request("GET", f"/v1/events/{done['event_id']}/reminders",
                     token=k["host"]).json()["items"] == []
    gifts = d.request("GET", f"/v1/events/{skip['event_id']}", token=k["host"]).json()
    assert gifts["status"] == "cancelled"
    # A deadline event is written through the task, not /v1/events.
    problem(d.request("PATCH", f"/v1/events/{inv['id']}", token=k["host"],
                      body={"title": "x"}), 409)
    # Cancelled visit: every deadline cancelled, nothing reminded; back, back.
    assert d.request("DELETE", f"/v1/visits/{v['id']}", token=k["host"]).status == 200
    inv = d.request("GET", f"/v1/events/{inv['id']}", token=k["host"]).json()
    assert inv["status"] == "cancelled" and inv["reminders"] == []
    assert d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                     body={"status": "confirmed"}).status == 200
    inv = d.request("GET", f"/v1/events/{inv['id']}", token=k["host"]).json()
    assert inv["status"] == "confirmed" and inv["reminders"] == ["-P7D", "-P1D"]
    # Reopened, a task moves again.
    assert set_task(d, k["host"], v["id"], done, state="open").status == 200
    assert d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                     body={"arrive": "2027-08-29T09:00:00"}).status == 200
    assert tasks_of(d, k["host"], v["id"])["Visa support letters"]["due"] == "2027-06-30"


def test_task_changes_are_checked(ctx):
    db, k, d = world(ctx)
    checklist(d, k["host"])
    v = d.request("POST", "/v1/visits", token=k["host"], body=in_year(BUSAN, 2027)).json()
    t = tasks_of(d, k["host"], v["id"])["Invitation letter"]
    url = f"/v1/visits/{v['id']}/tasks/{t['id']}"
    p = problem(d.request("PATCH", url, token=k["host"],
                          body={"state": "finished", "owner": "x" * 201, "due": "2027-01-01",
                                "colour": "red"}), 422)
    assert sorted(e["field"] for e in p["errors"]) == ["colour", "owner", "state"]
    problem(d.request("PATCH", url, token=k["viewer"], body={"state": "done"}), 403)
    problem(d.request("PATCH", url, token=k["busan-city"], body={"state": "done"}), 403)
    problem(d.request("PATCH", url, token=k["host"], body={"state": "done"},
                      headers={"If-Match": '"9"'}), 412)
    problem(d.request("PATCH", f"/v1/visits/{v['id']}/tasks/{uuid.uuid4()}", token=k["host"],
                      body={"state": "done"}), 404)
    problem(d.request("PATCH", f"/v1/visits/{v['id']}/tasks/x", token=k["host"],
                      body={"state": "done"}), 404)
    # The same values change nothing: same version.
    r = d.request("PATCH", url, token=k["host"], body={"state": "open"})
    assert r.status == 200 and r.header("ETag") == '"1"', r
    r = d.request("PATCH", url, token=k["host"], body={"owner": None})
    assert r.status == 200 and r.json()["owner"] is None and r.header("ETag") == '"2"', r


def test_a_done_task_is_reminded_no_more(ctx):
    """Two tasks due tomorrow (UTC) with a reminder due in a few seconds:
    the one marked done sends nothing, the open one its reminder."""
    db, k, d = daemon_alone(ctx)
    rx = Receiver()
    r = d.request("POST", "/v1/webhooks", token=k["host"],
                  body={"url": rx.url, "types": ["reminder.due"]})
    assert r.status == 201, r
    rx.secrets.append(r.json()["secret"])
    now = datetime.datetime.now(datetime.timezone.utc)
    day = now.date() + datetime.timedelta(days=1)
    left = (datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc) - now)
    if left.total_seconds() < 60:
        day += datetime.timedelta(days=1)
        left += datetime.timedelta(days=1)
    # Due in about 8 s: the checklist, the visit and the task marked done
    # must all come before it, even on a loaded machine.
    trigger = f"-PT{int(left.total_seconds()) - 8}S"
    fire = now + datetime.timedelta(seconds=left.total_seconds() - int(left.total_seconds()) + 8)
    checklist(d, k["host"], {"name": "Tomorrow", "tasks": [
        {"title": "Open one", "offset_days": 0, "reminders": [trigger]},
        {"title": "Done one", "offset_days": 0, "reminders": [trigger]}]})
    v = d.request("POST", "/v1/visits", token=k["host"], body={
        "direction": "inbound", "title": "Quick visit", "timezone": "UTC",
        "arrive": f"{day}T10:00:00", "depart": f"{day}T18:00:00"}).json()
    tasks = tasks_of(d, k["host"], v["id"])
    assert set_task(d, k["host"], v["id"], tasks["Done one"], state="done").status == 200
    assert datetime.datetime.now(datetime.timezone.utc) < fire - datetime.timedelta(seconds=0.5), \
        "marked done too late to judge"
    m = rx.wait(1, type_="reminder.due")[0]
    assert m["valid"] and m["json"]["data"]["event"]["id"] == tasks["Open one"]["event_id"]
    time.sleep(2)
    assert [x["json"]["data"]["event"]["title"] for x in rx.messages("reminder.due")] == \
        ["Open one: Quick visit"]
    d.stop()
    rx.close()


def test_an_open_task_past_its_deadline_is_told_once(ctx):
    db, k, d = daemon_alone(ctx)
    types = ["visit.task_overdue"]
    host, partner = Receiver(), Receiver()
    for rx, key in [(host, "host"), (partner, "busan-city")]:
        r = d.request("POST", "/v1/webhooks", token=k[key], body={"url": rx.url, "types": types})
        assert r.status == 201, r
        rx.secrets.append(r.json()["secret"])
    checklist(d, k["host"])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    far = today + datetime.timedelta(days=200)
    visit = in_year(BUSAN, 2027)
    visit.update(arrive=f"{far}T09:00:00", depart=f"{far + datetime.timedelta(days=1)}T18:00:00",
                 programme=[])
    v = d.request("POST", "/v1/visits", token=k["host"], body=visit).json()
    tasks = tasks_of(d, k["host"], v["id"])
    assert not any(t["overdue"] for t in tasks.values())
    assert set_task(d, k["host"], v["id"], tasks["Invitation letter"], state="done").status == 200
    assert set_task(d, k["host"], v["id"], tasks["Visa support letters"],
                    state="not_needed").status == 200
    # Moved to arrive in 10 days: three open tasks' deadlines have passed
    # (programme to the partner 14 days before: 4 days ago; the invitation,
    # done, and the visa letters, not needed, stay where they were).
    soon = today + datetime.timedelta(days=10)
    r = d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"], body={
        "arrive": f"{soon}T09:00:00", "depart": f"{soon + datetime.timedelta(days=1)}T18:00:00"})
    assert r.status == 200, r
    got = host.wait(1, type_="visit.task_overdue")
    time.sleep(2)
    got = host.messages("visit.task_overdue")
    assert [m["json"]["data"]["task"]["title"] for m in got] == ["Programme to the partner"]
    m = got[0]
    assert m["valid"] and m["json"]["data"]["task"]["overdue"] is True
    assert m["json"]["data"]["task"]["due"] == str(soon - datetime.timedelta(days=14))
    assert m["json"]["data"]["visit"]["id"] == v["id"]
    assert m["json"]["data"]["visit"]["delegates"][0]["name"] == "Kim Min-jun"  # its own org
    assert partner.messages() == []  # the tasks are the host's work
    listed = tasks_of(d, k["host"], v["id"])
    assert listed["Programme to the partner"]["overdue"] is True
    assert listed["Invitation letter"]["overdue"] is False
    # Moved away and back: a deadline that passes anew is told anew.
    assert d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"], body={
        "arrive": f"{far}T09:00:00", "depart": f"{far + datetime.timedelta(days=1)}T18:00:00"}
    ).status == 200
    assert d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"], body={
        "arrive": f"{soon}T09:00:00", "depart": f"{soon + datetime.timedelta(days=1)}T18:00:00"}
    ).status == 200
    host.wait(2, type_="visit.task_overdue")
    # Done once told: not told again, and its deliveries show the task.
    assert set_task(d, k["host"], v["id"], listed["Programme to the partner"],
                    state="done").status == 200
    time.sleep(1.5)
    assert len(host.messages("visit.task_overdue")) == 2
    ep = d.request("GET", "/v1/webhooks", token=k["host"]).json()["items"][0]
    deliveries = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries",
                           token=k["host"]).json()["items"]
    assert {x["task_id"] for x in deliveries} == {listed["Programme to the partner"]["id"]}
    d.stop()
    host.close()
    partner.close()


def midnight_utc(day, zone):
    """Where day begins in zone, as the daemon reads a wall time: the
    first of two instants in a fold."""
    from zoneinfo import ZoneInfo
    at = datetime.datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))
    return int(at.timestamp())


def deadlines_at_their_midnights(ctx, db, d, token, vid, step):
    """Each task's deadline event is stored from the midnight its day
    begins in the visit's zone to the next, as tz.c converts them."""
    rows = sql(ctx, db, "SELECT e.id, e.timezone, e.start_local::date, e.end_local::date,"
               " extract(epoch FROM e.start_utc)::bigint, extract(epoch FROM e.end_utc)::bigint,"
               " extract(epoch FROM e.last_end_utc)::bigint"
               f" FROM visit_tasks t JOIN events e ON e.id = t.event_id"
               f" WHERE t.visit_id = '{vid}'").split("\n")
    for row in rows:
        eid, zone, day, end, start_utc, end_utc, last_end_utc = row.split("|")
        want = [midnight_utc(day, zone), midnight_utc(end, zone)]
        assert [int(start_utc), int(end_utc), int(last_end_utc)] == want + want[1:], (step, row)
        # The API and its windows say the same.
        around = [datetime.date.fromisoformat(x) + datetime.timedelta(days=n)
                  for x, n in ((day, -2), (end, 2))]
        occ = d.request("GET", f"/v1/occurrences?from={around[0]}&to={around[1]}",
                        token=token).json()["items"]
        mine = [o for o in occ if o["event_id"] == eid]
        assert [(utc_epoch(o["start_utc"]), utc_epoch(o["end_utc"])) for o in mine] == \
            [tuple(want)], (step, row, occ)
    return {r.split("|")[2] for r in rows}


def test_deadlines_begin_at_the_daemons_midnights(ctx):
    """A deadline's day begins where tz.c says, not where PostgreSQL's AT
    TIME ZONE does: CET in summer is UTC+2 (PostgreSQL reads it as +1),
    and Havana's midnight on 2027-11-07 comes twice (the first one)."""
    db, k, d = world(ctx)
    checklist(d, k["host"], {"name": "Short", "tasks": [
        {"title": "Brief", "anchor": "arrive", "offset_days": -10},
        {"title": "Thanks", "anchor": "depart", "offset_days": 3}]})
    v = d.request("POST", "/v1/visits", token=k["host"], body={
        "direction": "inbound", "title": "Summer visit", "timezone": "CET",
        "arrive": "2027-07-20T09:00:00", "depart": "2027-07-22T18:00:00",
        "delegates": [{"name": "Kim Min-jun"}]}).json()
    assert deadlines_at_their_midnights(ctx, db, d, k["host"], v["id"], "created") == \
        {"2027-07-10", "2027-07-25"}
    # A task marked done keeps its day's instants.
    tasks = tasks_of(d, k["host"], v["id"])
    assert set_task(d, k["host"], v["id"], tasks["Thanks"], state="done").status == 200
    deadlines_at_their_midnights(ctx, db, d, k["host"], v["id"], "done")
    # Moved to Havana: the open task to the day of the fold, the done one
    # stays on its day, in the new zone. Back to CET: the done task's
    # day, summer again, in its new zone.
    assert midnight_utc("2027-11-07", "America/Havana") == \
        int(datetime.datetime(2027, 11, 7, 4, tzinfo=datetime.timezone.utc).timestamp())
    for zone, arrive, brief in (("America/Havana", "2027-11-17", "2027-11-07"),
                                ("CET", "2027-10-20", "2027-10-10")):
        depart = str(datetime.date.fromisoformat(arrive) + datetime.timedelta(days=2))
        r = d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                      body={"timezone": zone, "arrive": f"{arrive}T09:00:00",
                            "depart": f"{depart}T18:00:00"})
        assert r.status == 200, r
        assert deadlines_at_their_midnights(ctx, db, d, k["host"], v["id"], zone) == \
            {brief, "2027-07-25"}
    # Reopened, the task moves with the visit's next version, here a
    # delegate deleted: to three days after departure, summer in CET.
    assert set_task(d, k["host"], v["id"], tasks["Thanks"], state="open").status == 200
    r = d.request("DELETE", f"/v1/visits/{v['id']}/delegates/{v['delegates'][0]['id']}",
                  token=k["host"])
    assert r.status == 204, r
    assert deadlines_at_their_midnights(ctx, db, d, k["host"], v["id"], "reopened") == \
        {"2027-10-10", "2027-10-25"}


HOLD_VISITS = """
CREATE FUNCTION test_hold_visit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(2);
    RETURN NEW;
END $$;
CREATE TRIGGER aaa_test_hold BEFORE INSERT ON visits
    FOR EACH ROW EXECUTE FUNCTION test_hold_visit();
"""


def test_a_task_that_came_in_meanwhile_is_warned_of_and_mended(ctx):
    """A checklist made while a visit is written gives it a task whose
    day the daemon read no instant for (it read the days first): the
    trigger converts with AT TIME ZONE, the daemon's log says so, and the
    visit's next write puts the deadline at the daemon's midnight."""
    db, k, d = world(ctx)
    checklist(d, k["host"], {"name": "Early", "tasks": [
        {"title": "Brief", "offset_days": -10}]})
    sql(ctx, db, HOLD_VISITS)
    made = {}

    def write():
        made["r"] = d.request("POST", "/v1/visits", token=k["host"], body={
            "direction": "inbound", "title": "Summer visit", "timezone": "CET",
            "arrive": "2027-07-20T09:00:00", "depart": "2027-07-22T18:00:00"})

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.8)  # the visit's statement waits in the test's trigger
    checklist(d, k["host"], {"name": "Late", "tasks": [
        {"title": "Gifts", "offset_days": -3}]})
    t.join()
    assert made["r"].status == 201, made["r"]
    v = made["r"].json()
    assert sorted(tasks_of(d, k["host"], v["id"])) == ["Brief", "Gifts"]
    assert "database warns: no instant was handed for CET 2027-07-17T00:00:00" in d.logtext()
    late = sql(ctx, db, "SELECT extract(epoch FROM e.start_utc)::bigint FROM visit_tasks t"
               " JOIN events e ON e.id = t.event_id WHERE t.title = 'Gifts'")
    assert int(late) == midnight_utc("2027-07-17", "CET") + 3600  # AT TIME ZONE's +1
    r = d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                  body={"title": "Summer delegation"})
    assert r.status == 200, r
    deadlines_at_their_midnights(ctx, db, d, k["host"], v["id"], "mended")
