"""Visits in feeds and webhooks: a visit's events reach feeds and event
webhooks like any event, the filters "visits" and "people" give a
programme feed per visit and a personal schedule per person, and the
visit.* messages are signed and carry delegates only to the orgs party
to the visit. Personal data never reaches a feed or endpoint of another
org, not even through a filter that names a person."""
import copy
import json
import re
import subprocess
import time

from harness import problem
from receiver import Receiver
from test_feeds import make_feed, parse, path_of
from test_visits import BUSAN
from test_webhooks import daemon_alone
from test_events import world


def in_2027(v):
    """v moved to 2027 (feeds show a year back onward)."""
    return json.loads(json.dumps(v).replace('"2024-', '"2027-'))


BUSAN27 = in_2027(BUSAN)
NAMES = [x["name"] for x in BUSAN["delegates"]]
EINDHOVEN = {
    "direction": "inbound", "title": "Eindhoven Brainport delegation",
    "timezone": "Asia/Ho_Chi_Minh", "arrive": "2027-08-21T08:00:00",
    "depart": "2027-08-21T20:00:00", "partners": ["busan-city"],
    "delegates": [{"name": "Trần Thị Mai", "role": "interpreter"},
                  {"name": "Joost de Vries", "role": "head"}],
    "programme": [{"title": "Brainport briefing", "start": "2027-08-21T15:00:00",
                   "end": "2027-08-21T16:00:00", "location": "QTSC",
                   "people": ["Joost de Vries"], "interpreter": "Trần Thị Mai"}]}

DESCRIPTIONS = r'''
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
print(json.dumps([{"summary": str(e["SUMMARY"]), "description": str(e.get("DESCRIPTION", "")),
                   "related": str(e.get("RELATED-TO", "")), "status": str(e.get("STATUS"))}
                  for e in cal.walk("VEVENT")]))
'''


def vevents(body):
    out = subprocess.run(["/usr/bin/python3", "-c", DESCRIPTIONS], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


def test_programme_and_personal_feeds(ctx):
    db, k, d = world(ctx)
    busan = d.request("POST", "/v1/visits", body=BUSAN27, token=k["host"]).json()
    eind = d.request("POST", "/v1/visits", body=EINDHOVEN, token=k["host"]).json()
    assert eind["programme"][0]["conflicts"][0]["person"] == "Trần Thị Mai"
    # A programme feed: the visit and its items, parsed independently.
    feed = make_feed(d, k["busan-city"], name="Busan visit", filter={"visits": [busan["id"]]})
    body = d.request("GET", path_of(feed)).body
    cal = parse(body)
    assert sorted(e["summary"] for e in cal["events"]) == sorted(
        [BUSAN["title"]["en"], "Working session with HCMC DOST", "Saigon Innovation Hub (SIHUB)",
         "Working lunch"])
    assert cal["tzids"] == ["Asia/Ho_Chi_Minh"]
    evs = {e["summary"]: e for e in vevents(body)}
    span_uid = d.request("GET", f"/v1/events/{busan['id']}", token=k["host"]).json()["uid"]
    meeting = evs["Working session with HCMC DOST"]
    assert meeting["description"].startswith("Visit: " + BUSAN["title"]["en"])
    assert meeting["related"] == span_uid
    text = body.decode("utf-8")
    for name in NAMES:
        assert name not in text.replace("\r\n ", "")
    # A personal schedule: the items that name the interpreter, in both
    # visits, for an org party to them; nothing for one that is not.
    mine = make_feed(d, k["host"], name="Ms Mai", filter={"people": ["trần  thị mai"]})
    assert sorted(e["summary"] for e in parse(d.request("GET", path_of(mine)).body)["events"]) \
        == ["Brainport briefing", "Saigon Innovation Hub (SIHUB)",
            "Working session with HCMC DOST"]
    nosy = make_feed(d, k["cabc"], name="Nosy", filter={"people": ["Trần Thị Mai"]})
    assert parse(d.request("GET", path_of(nosy)).body)["events"] == []
    everything = d.request("GET", path_of(make_feed(d, k["cabc"], name="All"))).body
    assert len(parse(everything)["events"]) == 6
    for secret in NAMES + ["wheelchair", "Gifts exchanged"]:
        assert secret not in everything.decode("utf-8").replace("\r\n ", "")
    # Who an item names changes the personal feed, though its event does not change.
    prog = copy.deepcopy(busan["programme"])
    prog[1]["interpreter"] = None
    r = d.request("PATCH", f"/v1/visits/{busan['id']}", token=k["host"],
                  body={"programme": prog})
    assert r.status == 200, r
    assert sorted(e["summary"] for e in parse(d.request("GET", path_of(mine)).body)["events"]) \
        == ["Brainport briefing", "Working session with HCMC DOST"]
    # The same filters on lists.
    got = d.request("GET", "/v1/events?person=Tr%E1%BA%A7n%20Th%E1%BB%8B%20Mai",
                    token=k["busan-city"]).json()["items"]
    assert [e["title"] for e in got] == ["Working session with HCMC DOST", "Brainport briefing"]
    assert d.request("GET", "/v1/events?person=Tr%E1%BA%A7n%20Th%E1%BB%8B%20Mai",
                     token=k["cabc"]).json()["items"] == []
    # Filters are checked.
    for f, field in [({"visits": ["1 OR 1=1"]}, "filter.visits[0]"),
                     ({"people": [7]}, "filter.people[0]"),
                     ({"people": "Mai"}, "filter.people")]:
        p = problem(d.request("POST", "/v1/feeds", token=k["host"],
                              body={"name": "x", "filter": f}), 422)
        assert field in [e["field"] for e in p["errors"]], (f, p)
    # A cancelled visit stays in its feed, cancelled.
    assert d.request("DELETE", f"/v1/visits/{busan['id']}", token=k["host"]).status == 200
    assert {e["status"] for e in vevents(d.request("GET", path_of(feed)).body)} == {"CANCELLED"}


def endpoint(d, token, **body):
    rx = Receiver()
    r = d.request("POST", "/v1/webhooks", token=token, body=dict({"url": rx.url}, **body))
    assert r.status == 201, r
    rx.secrets.append(r.json()["secret"])
    return rx, r.json()


def test_visit_messages_carry_delegates_only_to_parties(ctx):
    db, k, d = daemon_alone(ctx)
    types = ["visit.created", "visit.updated", "visit.cancelled"]
    host, _ = endpoint(d, k["host"], types=types)
    partner, _ = endpoint(d, k["busan-city"], types=types)
    other, _ = endpoint(d, k["cabc"], types=types)
    nosy, _ = endpoint(d, k["cabc"], types=types + ["event.created"],
                       filter={"people": ["Kim Min-jun"]})
    v = d.request("POST", "/v1/visits", body=BUSAN27, token=k["host"]).json()
    for rx in (host, partner):
        m = rx.wait(1, type_="visit.created")[0]
        assert m["valid"] and m["json"]["data"]["visit"]["id"] == v["id"]
        assert [x["name"] for x in m["json"]["data"]["visit"]["delegates"]] == NAMES
        assert m["json"]["data"]["visit"]["programme"][0]["interpreter"] == "Trần Thị Mai"
    m = other.wait(1, type_="visit.created")[0]
    assert m["valid"] and "delegates" not in m["json"]["data"]["visit"]
    assert all("people" not in i for i in m["json"]["data"]["visit"]["programme"])
    for name in NAMES:
        assert name.encode() not in m["body"]
    # Updated, nothing changed, cancelled.
    url = f"/v1/visits/{v['id']}"
    assert d.request("PATCH", url, token=k["host"], body={"status": "in_progress"}).status == 200
    assert host.wait(1, type_="visit.updated")[0]["json"]["data"]["visit"]["status"] \
        == "in_progress"
    assert d.request("PATCH", url, token=k["host"], body={"status": "in_progress"}).status == 200
    assert d.request("DELETE", url, token=k["host"]).status == 200
    assert other.wait(1, type_="visit.cancelled")[0]["json"]["data"]["visit"]["status"] \
        == "cancelled"
    time.sleep(1)
    assert len(host.messages("visit.updated")) == 1
    # A private visit is announced to its parties only.
    d.request("POST", "/v1/visits", body=dict(BUSAN27, visibility="private",
                                              title="Private talks"), token=k["host"])
    partner.wait(1, type_="visit.created")
    # A filter naming a person tells an org not party to the visit nothing.
    time.sleep(1.5)
    assert nosy.messages() == []
    assert all(m["json"]["data"]["visit"]["title"] != "Private talks"
               for m in other.messages())
    # Deleting a delegate forgets what stored message bodies said of them.
    name = db.split("dbname=")[1]
    assert ctx.cluster.psql(f"SELECT count(*) FROM webhook_messages WHERE visit_id = '{v['id']}' "
                            "AND body LIKE '%Trần Thị Mai%'", name) != "0"
    mai = v["delegates"][2]["id"]
    assert d.request("DELETE", f"{url}/delegates/{mai}", token=k["host"]).status == 204
    assert ctx.cluster.psql(f"SELECT count(*) FROM webhook_messages WHERE visit_id = '{v['id']}' "
                            "AND body LIKE '%Trần Thị Mai%'", name) == "0"
    d.stop()
    for rx in (host, partner, other, nosy):
        rx.close()


def test_item_events_notify_like_events(ctx):
    db, k, d = daemon_alone(ctx)
    rx, _ = endpoint(d, k["host"], types=["event.created", "event.updated", "event.cancelled"],
                     filter={"people": ["Nguyễn Văn Hùng"]})
    v = d.request("POST", "/v1/visits", body=BUSAN27, token=k["host"]).json()
    got = sorted(m["json"]["data"]["event"]["title"] for m in rx.wait(2, type_="event.created"))
    assert got == ["Working lunch", "Working session with HCMC DOST"]
    prog = [i for i in v["programme"] if i["title"] != "Working lunch"]
    assert d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"],
                     body={"programme": prog}).status == 200
    # The lunch is removed: its cancellation reaches the schedule of who
    # it named.
    assert rx.wait(1, type_="event.cancelled")[0]["json"]["data"]["event"]["title"] \
        == "Working lunch"
    d.stop()
    rx.close()


OCCURRENCES = r'''
import sys, json, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
evs = recurring_ical_events.of(cal).between(datetime.date(2027, 8, 20), datetime.date(2027, 8, 24))
print(json.dumps(sorted([str(e["SUMMARY"]), e["DTSTART"].dt.isoformat(), int(e.get("SEQUENCE", 0))]
                        for e in evs)))
'''


def occurrences(body):
    """(summary, start, sequence) of the feed's occurrences in the visit's
    days, as python3-recurring-ical-events expands them."""
    out = subprocess.run(["/usr/bin/python3", "-c", OCCURRENCES], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return [tuple(x) for x in json.loads(out.stdout)]


def test_feeds_carry_the_language_they_ask_for(ctx):
    db, k, d = world(ctx)
    visit = copy.deepcopy(BUSAN27)
    visit["programme"].append({"kind": "press", "title": {"en": "Press briefing", "vi": "Họp báo"},
                               "start": "2027-08-22T15:00:00", "location": "HCMC DOST, Room 1"})
    v = d.request("POST", "/v1/visits", body=visit, token=k["host"]).json()
    only = {"visits": [v["id"]]}
    ko = make_feed(d, k["busan-city"], name="Busan (ko)", filter=only, language="ko")
    assert ko["language"] == "ko"
    plain = make_feed(d, k["busan-city"], name="Busan", filter=only)
    assert plain["language"] is None
    vi = make_feed(d, k["busan-city"], name="Busan (vi)", filter=only, language="vi-VN")
    zh = make_feed(d, k["busan-city"], name="Busan (zh)", filter=only, language="zh-Hant-TW")

    def titles(feed):
        return sorted(e["summary"] for e in parse(d.request("GET", path_of(feed)).body)["events"])
    english = sorted([BUSAN["title"]["en"], "Working session with HCMC DOST",
                      "Saigon Innovation Hub (SIHUB)", "Working lunch", "Press briefing"])
    korean = sorted([BUSAN["title"]["ko"], "호찌민시 과학기술국 업무 회의",
                     "Saigon Innovation Hub (SIHUB)", "Working lunch",
                     "Press briefing"])  # no ko text: the event's own (the visit's first: en)
    # The Korean feed first, then the default one, then both again: a
    # title in one feed's language never reaches the other (the VEVENT
    # cache and the stored texts keep them apart).
    assert titles(ko) == korean
    assert titles(plain) == english
    assert titles(ko) == korean
    assert titles(plain) == english

    def rendered():
        text = d.request("GET", "/metrics").body.decode()
        return int(re.search(r"^liaison_feed_vevents_rendered_total (\d+)$", text, re.M)[1])

    def elsewhere():
        """A change outside these feeds: every feed is assembled again."""
        r = d.request("POST", "/v1/events", token=k["cabc"], body={
            "kind": "meeting", "title": "Elsewhere", "start": "2027-08-21T09:00:00"})
        assert r.status == 201, r
    # Both texts of an event stay in the cache side by side: assembled
    # again, neither feed renders anything anew.
    elsewhere()
    assert titles(plain) == english
    before = rendered()
    elsewhere()
    assert titles(ko) == korean
    elsewhere()
    assert titles(plain) == english
    assert rendered() == before
    # vi-VN finds vi (RFC 4647 lookup); zh-Hant-TW finds nothing: the event's own.
    assert titles(vi) == sorted([BUSAN["title"]["vi"], "Làm việc với Sở KH&CN",
                                 "Saigon Innovation Hub (SIHUB)", "Working lunch", "Họp báo"])
    assert titles(zh) == english
    name = db.split("dbname=")[1]
    stored = ("SELECT count(*) FROM vevent_texts WHERE body LIKE '%SUMMARY:호찌민시%'"
              " OR body LIKE '%SUMMARY:Họp báo%' OR body LIKE '%SUMMARY:Working session%'")
    assert ctx.cluster.psql(stored, name) == "1"  # the English text, every feed's
    # The second independent parser expands the same.
    occ = occurrences(d.request("GET", path_of(ko)).body)
    assert ("호찌민시 과학기술국 업무 회의", "2027-08-21T14:00:00+07:00", 0) in occ
    # A title changed in Korean only: the Korean feed shows it, with a new
    # SEQUENCE; the default feed's text is the same.
    prog = copy.deepcopy(v["programme"])
    prog[0]["title"] = dict(prog[0]["title"], ko="과학기술국 업무 회의 (수정)")
    r = d.request("PATCH", f"/v1/visits/{v['id']}", token=k["host"], body={"programme": prog})
    assert r.status == 200, r
    occ = occurrences(d.request("GET", path_of(ko)).body)
    assert ("과학기술국 업무 회의 (수정)", "2027-08-21T14:00:00+07:00", 1) in occ
    assert titles(plain) == english
    # A feed's language is changed, and taken away, by PATCH.
    url = f"/v1/feeds/{ko['id']}"
    r = d.request("PATCH", url, token=k["busan-city"], body={"language": "vi"})
    assert r.status == 200 and r.json()["language"] == "vi", r
    assert BUSAN["title"]["vi"] in titles(ko)
    r = d.request("PATCH", url, token=k["busan-city"], body={"language": None})
    assert r.status == 200 and r.json()["language"] is None, r
    assert titles(ko) == english
    for bad in ["<script>", "x", "en_GB", 7, "en-" + "a" * 40]:
        p = problem(d.request("POST", "/v1/feeds", token=k["host"],
                              body={"name": "x", "language": bad}), 422)
        assert [e["field"] for e in p["errors"]] == ["language"], (bad, p)
        p = problem(d.request("PATCH", url, token=k["busan-city"], body={"language": bad}), 422)
        assert [e["field"] for e in p["errors"]] == ["language"], (bad, p)
