"""/v1/visits: a delegation visit with its delegates and programme. The
visit and its items are events (feeds, filters, reminders, conflicts,
webhooks apply); delegates are seen only by the orgs party to the visit."""
import copy
import uuid

from harness import problem
from test_events import world

TITLE = {"en": "Busan city delegation at HCMC DOST",
         "vi": "Đoàn đại biểu thành phố Busan thăm Sở KH&CN TP.HCM",
         "ko": "부산광역시 대표단 호찌민시 과학기술국 방문"}

# The Busan city delegation at HCMC DOST, 21-22 August 2024.
BUSAN = {
    "direction": "inbound", "title": TITLE, "timezone": "Asia/Ho_Chi_Minh",
    "arrive": "2024-08-21T09:00:00", "depart": "2024-08-22T18:00:00",
    "city": "Ho Chi Minh City", "country": "VN", "partners": ["busan-city"],
    "purpose": "Startup cooperation between Busan and Ho Chi Minh City; FLY ASIA 2024.",
    "status": "confirmed",
    "delegates": [
        {"name": "Kim Min-jun", "title": "Director-General, Economic Affairs",
         "organisation": "Busan Metropolitan City", "role": "head", "language": "ko",
         "notes": "No pork; wheelchair access at venues"},
        {"name": "Park Seo-yeon", "organisation": "Busan Economic Promotion Agency",
         "role": "member", "language": "ko"},
        {"name": "Trần Thị Mai", "title": "Interpreter (ko-vi)", "organisation": "HCMC DOST",
         "role": "interpreter", "language": "vi"},
        {"name": "Nguyễn Văn Hùng", "title": "Deputy Director", "organisation": "HCMC DOST",
         "role": "host_official", "language": "vi"}],
    "programme": [
        {"kind": "meeting",
         "title": {"en": "Working session with HCMC DOST", "vi": "Làm việc với Sở KH&CN",
                   "ko": "호찌민시 과학기술국 업무 회의"},
         "start": "2024-08-21T14:00:00", "end": "2024-08-21T17:00:00",
         "location": "HCMC DOST, Room 1", "address": "244 Điện Biên Phủ, Quận 3",
         "people": ["Kim Min-jun", "Park Seo-yeon", "Nguyễn Văn Hùng"],
         "interpreter": "Trần Thị Mai", "notes": "Gifts exchanged at the end",
         "reminders": ["-P1D", "-PT2H"]},
        {"kind": "site_visit", "title": "Saigon Innovation Hub (SIHUB)",
         "start": "2024-08-22T09:00:00", "end": "2024-08-22T11:30:00",
         "location": "SIHUB", "address": "273 Điện Biên Phủ, Quận 3",
         "people": ["Kim Min-jun", "Park Seo-yeon"], "interpreter": "Trần Thị Mai"},
        {"kind": "meal", "title": "Working lunch", "start": "2024-08-22T12:00:00",
         "end": "2024-08-22T13:30:00", "location": "Rex Hotel",
         "people": ["Kim Min-jun", "Nguyễn Văn Hùng"]}]}

# The San Francisco trip that ended in a letter of intent with CABC.
SF = {
    "direction": "outbound", "title": "Hai Phong delegation to San Francisco",
    "timezone": "America/Los_Angeles", "arrive": "2024-10-11T08:00:00",
    "depart": "2024-10-13T20:00:00", "city": "San Francisco", "country": "US",
    "partners": ["cabc"], "status": "completed",
    "delegates": [{"name": "Lê Văn Nam", "role": "head", "language": "vi"},
                  {"name": "Phạm Thu Hà", "role": "interpreter", "language": "en"}],
    "programme": [
        {"kind": "meeting", "title": "Canada-ASEAN Business Council: letter of intent",
         "start": "2024-10-12T10:00:00", "end": "2024-10-12T12:00:00",
         "location": "CABC office", "people": ["Lê Văn Nam"], "interpreter": "Phạm Thu Hà"},
        {"kind": "ceremony", "title": "Signing of the letter of intent",
         "start": "2024-10-13T15:00:00", "location": "CABC office"}]}


def create(d, token, body=BUSAN, status=201, **headers):
    r = d.request("POST", "/v1/visits", body=body, token=token, headers=headers)
    assert r.status == status, r
    return r


def count(ctx, db, table, where="true"):
    return int(ctx.cluster.psql(f"SELECT count(*) FROM {table} WHERE {where}",
                                db.split("dbname=")[1]))


def patch(d, token, vid, body, **headers):
    return d.request("PATCH", f"/v1/visits/{vid}", body=body, token=token,
                     headers=dict({"Content-Type": "application/merge-patch+json"}, **headers))


def without(v, *keys):
    """v without server fields the answer to a write adds (conflicts)."""
    v = copy.deepcopy(v)
    for it in v.get("programme", []):
        for key in keys:
            it.pop(key, None)
    return v


def test_create_answers_the_pinned_shape_with_ids(ctx):
    db, k, d = world(ctx)
    r = create(d, k["editor"])
    v = r.json()
    assert r.header("Location") == f"/v1/visits/{v['id']}" and r.header("ETag") == '"1"'
    for key in ("direction", "title", "timezone", "arrive", "depart", "city", "country",
                "purpose", "partners", "status"):
        assert v[key] == BUSAN[key], key
    assert v["org"] == "hcmc-dost" and v["visibility"] == "network"
    assert v["languages"] == ["en", "vi", "ko"]
    assert [x["name"] for x in v["delegates"]] == [x["name"] for x in BUSAN["delegates"]]
    assert all(uuid.UUID(x["id"]) for x in v["delegates"])
    assert v["delegates"][0]["notes"] == "No pork; wheelchair access at venues"
    items = v["programme"]
    assert [i["title"] for i in items] == [i["title"] for i in BUSAN["programme"]]
    assert all(uuid.UUID(i["id"]) and uuid.UUID(i["event_id"]) for i in items)
    assert items[0]["people"] == ["Kim Min-jun", "Park Seo-yeon", "Nguyễn Văn Hùng"]
    assert items[0]["interpreter"] == "Trần Thị Mai" and items[0]["conflicts"] == []
    assert items[2]["interpreter"] is None and items[2]["end"] == "2024-08-22T13:30:00"
    # GET returns the same shape (conflicts come with the answer to a write).
    g = d.request("GET", f"/v1/visits/{v['id']}", token=k["viewer"])
    assert g.status == 200 and g.header("ETag") == '"1"'
    assert g.json() == without(v, "conflicts")
    assert d.request("GET", f"/v1/visits/{v['id']}", token=k["viewer"],
                     headers={"If-None-Match": '"1"'}).status == 304
    problem(d.request("GET", f"/v1/visits/{uuid.uuid4()}", token=k["host"]), 404)
    problem(d.request("GET", "/v1/visits/nope", token=k["host"]), 404)


def test_visit_and_items_are_events(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    own = d.request("GET", f"/v1/events/{v['id']}", token=k["host"]).json()
    assert own["kind"] == "visit" and own["title"] == TITLE["en"]
    assert (own["start"], own["end"]) == (BUSAN["arrive"], BUSAN["depart"])
    assert own["timezone"] == "Asia/Ho_Chi_Minh" and own["partners"] == ["busan-city"]
    assert "Inbound delegation visit" in own["description"] and TITLE["ko"] in own["description"]
    meeting = d.request("GET", f"/v1/events/{v['programme'][0]['event_id']}",
                        token=k["cabc"]).json()
    assert meeting["kind"] == "meeting" and meeting["parent_id"] == v["id"]
    assert meeting["title"] == "Working session with HCMC DOST"
    assert meeting["description"].startswith("Visit: " + TITLE["en"])
    assert "ko: 호찌민시 과학기술국 업무 회의" in meeting["description"]
    assert "Address: 244 Điện Biên Phủ" in meeting["description"]
    assert meeting["reminders"] == ["-P1D", "-PT2H"] and meeting["status"] == "confirmed"
    assert meeting["uid"].endswith("@liaison")
    site = d.request("GET", f"/v1/events/{v['programme'][1]['event_id']}", token=k["host"]).json()
    assert site["kind"] == "visit" and site["location"] == "SIHUB"
    # No personal data in the events.
    for e in (own, meeting, site):
        text = str(e)
        for person in BUSAN["delegates"]:
            assert person["name"] not in text
        assert "wheelchair" not in text and "Gifts" not in text
    # They are listed and filtered as events are; ?visit= gives the visit's events.
    listed = d.request("GET", f"/v1/events?visit={v['id']}", token=k["cabc"]).json()["items"]
    assert [e["id"] for e in listed] == [v["id"], *[i["event_id"] for i in v["programme"]]]
    occ = d.request("GET", f"/v1/occurrences?from=2024-08-21&to=2024-08-23&visit={v['id']}",
                    token=k["host"]).json()["items"]
    assert occ[1]["start_utc"] == "2024-08-21T07:00:00Z"
    # A visit's events are written through the visit.
    p = problem(d.request("PATCH", f"/v1/events/{meeting['id']}", body={"title": "x"},
                          token=k["host"]), 409)
    assert v["id"] in p["detail"]
    problem(d.request("DELETE", f"/v1/events/{v['id']}", token=k["host"]), 409)


def test_delegates_only_for_parties(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    partner = d.request("GET", f"/v1/visits/{v['id']}", token=k["busan-city"]).json()
    assert [x["name"] for x in partner["delegates"]][0] == "Kim Min-jun"
    assert partner["programme"][0]["people"][0] == "Kim Min-jun"
    other = d.request("GET", f"/v1/visits/{v['id']}", token=k["cabc"])
    assert other.status == 200
    o = other.json()
    assert "delegates" not in o and o["title"] == TITLE
    for it in o["programme"]:
        assert "people" not in it and "interpreter" not in it and "notes" not in it
    for person in BUSAN["delegates"]:
        assert person["name"] not in other.body.decode()
    listed = d.request("GET", "/v1/visits", token=k["cabc"]).json()["items"]
    assert listed == [o]
    # A private visit: not even seen by others.
    priv = create(d, k["host"], dict(BUSAN, visibility="private")).json()
    problem(d.request("GET", f"/v1/visits/{priv['id']}", token=k["cabc"]), 404)
    problem(d.request("GET", f"/v1/visits/{priv['id']}/programme", token=k["cabc"]), 404)
    problem(d.request("GET", f"/v1/events/{priv['programme'][0]['event_id']}",
                      token=k["cabc"]), 404)
    assert d.request("GET", f"/v1/visits/{priv['id']}", token=k["busan-city"]).status == 200
    # Partners read, only the owner writes.
    problem(patch(d, k["busan-city"], v["id"], {"status": "completed"}), 403)
    problem(d.request("DELETE", f"/v1/visits/{v['id']}", token=k["busan-city"]), 403)


def test_validation_names_every_field_and_writes_nothing(ctx):
    db, k, d = world(ctx)
    before = count(ctx, db, "events")
    bad = copy.deepcopy(BUSAN)
    bad["direction"] = "sideways"
    bad["title"] = {"en": "ok", "klingon!": "x"}
    bad["delegates"][1]["role"] = "boss"
    bad["delegates"][2]["name"] = ""
    bad["delegates"].append({"name": " kim  MIN-JUN ", "colour": "red", "language": "?"})
    bad["programme"][0]["start"] = "2024-08-21T14:00"
    bad["programme"][1]["people"] = ["Nobody"]
    bad["programme"][1]["end"] = "2024-08-23T10:00:00"
    bad["programme"][2]["kind"] = "party"
    bad["programme"][2]["reminders"] = ["P1D"]
    bad["partners"] = ["busan-city", "NOPE"]
    p = problem(d.request("POST", "/v1/visits", body=bad, token=k["host"]), 422)
    fields = sorted(e["field"] for e in p["errors"])
    for f in ["direction", "title.klingon!", "delegates[1].role", "delegates[2].name",
              "delegates[4].colour", "delegates[4].language", "delegates[4].name",
              "programme[0].start", "programme[1].people[0]", "programme[1].end",
              "programme[2].kind", "programme[2].reminders[0]", "partners[1]"]:
        assert f in fields, (f, fields)
    msgs = {e["field"]: e["message"] for e in p["errors"]}
    assert "another delegate" in msgs["delegates[4].name"]
    assert "departure" in msgs["programme[1].end"]
    # Required fields, and a partner that is no org.
    p = problem(d.request("POST", "/v1/visits", body={"title": "x"}, token=k["host"]), 422)
    assert {"direction", "arrive", "depart"} <= {e["field"] for e in p["errors"]}
    p = problem(d.request("POST", "/v1/visits", body=dict(BUSAN, partners=["nobody"]),
                          token=k["host"]), 422)
    assert [e["field"] for e in p["errors"]] == ["partners[0]"]
    p = problem(d.request("POST", "/v1/visits", token=k["host"],
                          body=dict(BUSAN, depart=BUSAN["arrive"])), 422)
    assert [e["field"] for e in p["errors"]] == ["depart"]
    two_heads = copy.deepcopy(BUSAN)
    two_heads["delegates"][1]["role"] = "head"
    p = problem(d.request("POST", "/v1/visits", body=two_heads, token=k["host"]), 422)
    assert [e["field"] for e in p["errors"]] == ["delegates[1].role"]
    twice = copy.deepcopy(BUSAN)
    twice["programme"][0]["people"].append("kim min-jun")
    twice["programme"][1]["people"].append("Trần Thị Mai")
    p = problem(d.request("POST", "/v1/visits", body=twice, token=k["host"]), 422)
    assert sorted(e["field"] for e in p["errors"]) == [
        "programme[0].people[3]", "programme[1].interpreter"]
    assert count(ctx, db, "events") == before and count(ctx, db, "visits") == 0
    assert count(ctx, db, "visit_delegates") == 0 and count(ctx, db, "visit_items") == 0


def test_times_are_dst_correct(ctx):
    db, k, d = world(ctx)
    # Los Angeles leaves DST on 3 November 2024: 01:30 happens twice (the
    # first is meant), and 2025-03-09 02:30 does not happen at all.
    trip = dict(SF, arrive="2024-11-01T09:00:00", depart="2024-11-04T18:00:00", programme=[
        {"title": "Before", "start": "2024-11-02T10:00:00", "end": "2024-11-02T11:00:00"},
        {"title": "Twice", "start": "2024-11-03T01:30:00", "end": "2024-11-03T02:30:00"},
        {"title": "After", "start": "2024-11-04T10:00:00"}])
    v = create(d, k["host"], trip).json()
    occ = d.request("GET", f"/v1/occurrences?from=2024-11-01&to=2024-11-05&visit={v['id']}",
                    token=k["host"]).json()["items"]
    assert [(o["title"], o["start"], o["start_utc"]) for o in occ] == [
        ("Hai Phong delegation to San Francisco", "2024-11-01T09:00:00", "2024-11-01T16:00:00Z"),
        ("Before", "2024-11-02T10:00:00", "2024-11-02T17:00:00Z"),
        ("Twice", "2024-11-03T01:30:00", "2024-11-03T08:30:00Z"),
        ("After", "2024-11-04T10:00:00", "2024-11-04T18:00:00Z")]
    gap = dict(trip, arrive="2025-03-08T09:00:00", depart="2025-03-10T18:00:00",
               programme=[{"title": "Gap", "start": "2025-03-09T02:30:00"}])
    p = problem(d.request("POST", "/v1/visits", body=gap, token=k["host"]), 422)
    assert [e["field"] for e in p["errors"]] == ["programme[0].start"]
    assert "does not exist" in p["errors"][0]["message"]
    p = problem(d.request("POST", "/v1/visits", token=k["host"],
                          body=dict(gap, arrive="2025-03-09T02:15:00", programme=[])), 422)
    assert [e["field"] for e in p["errors"]] == ["arrive"]
    # An alias is kept as the canonical zone.
    v = create(d, k["host"], dict(BUSAN, timezone="Asia/Saigon")).json()
    assert v["timezone"] == "Asia/Ho_Chi_Minh"


def test_patch_keeps_ids_and_uids(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    events = {i["event_id"]: d.request("GET", f"/v1/events/{i['event_id']}",
                                       token=k["host"]).json() for i in v["programme"]}
    # Nothing changed: same version, nothing written.
    versions = ctx.cluster.psql("SELECT string_agg(version::text, ',' ORDER BY id) FROM events",
                                db.split("dbname=")[1])
    for same in ({}, {"programme": v["programme"]}, {"timezone": "Asia/Saigon"},
                 {"programme": [{k2: x for k2, x in i.items() if k2 not in ("id", "event_id")}
                                for i in reversed(v["programme"])]}):
        r = patch(d, k["host"], v["id"], same)
        assert r.status == 200 and r.header("ETag") == '"1"', (same, r)
    assert versions == ctx.cluster.psql(
        "SELECT string_agg(version::text, ',' ORDER BY id) FROM events", db.split("dbname=")[1])
    # Move the site visit, rename the lunch (sent without ids), drop the
    # meeting, add a press conference; rename a delegate by id.
    prog = copy.deepcopy(v["programme"])
    prog[1]["start"], prog[1]["end"] = "2024-08-22T08:30:00", "2024-08-22T11:00:00"
    lunch = {k2: x for k2, x in prog[2].items() if k2 not in ("id", "event_id")}
    lunch["title"] = "Lunch with SIHUB startups"
    press = {"kind": "press", "title": "Press briefing", "start": "2024-08-22T16:00:00",
             "location": "HCMC DOST, Room 1"}
    dels = copy.deepcopy(v["delegates"])
    dels[1]["name"] = "Park Seo-yeon (Ms)"
    prog[1]["people"] = ["Kim Min-jun", "Park Seo-yeon (Ms)"]
    r = patch(d, k["editor"], v["id"], {"programme": [prog[1], lunch, press],
                                        "delegates": dels}, **{"If-Match": '"1"'})
    assert r.status == 200, r
    w = r.json()
    assert r.header("ETag") == '"2"'
    by_title = {i["title"] if isinstance(i["title"], str) else i["title"]["en"]: i
                for i in w["programme"]}
    assert by_title["Saigon Innovation Hub (SIHUB)"]["id"] == v["programme"][1]["id"]
    assert by_title["Saigon Innovation Hub (SIHUB)"]["event_id"] == v["programme"][1]["event_id"]
    assert by_title["Lunch with SIHUB startups"]["event_id"] == v["programme"][2]["event_id"]
    assert by_title["Press briefing"]["event_id"] not in events
    assert [x["id"] for x in w["delegates"]] == [x["id"] for x in v["delegates"]]
    assert w["delegates"][1]["name"] == "Park Seo-yeon (Ms)"
    moved = d.request("GET", f"/v1/events/{v['programme'][1]['event_id']}", token=k["host"]).json()
    old = events[v["programme"][1]["event_id"]]
    assert moved["uid"] == old["uid"] and moved["start"] == "2024-08-22T08:30:00"
    assert moved["sequence"] == old["sequence"] + 1
    dropped = d.request("GET", f"/v1/events/{v['programme'][0]['event_id']}",
                        token=k["host"]).json()
    assert dropped["status"] == "cancelled"
    assert count(ctx, db, "visit_items", "removed_at IS NOT NULL") == 1
    # A stale version, an id that is not of this visit.
    problem(patch(d, k["host"], v["id"], {"status": "completed"}, **{"If-Match": '"1"'}), 412)
    p = problem(patch(d, k["host"], v["id"], {"programme": [dict(press, id=str(uuid.uuid4()))]}),
                422)
    assert [e["field"] for e in p["errors"]] == ["programme[0].id"]
    # Renaming the visit rewrites its items' descriptions in place.
    r = patch(d, k["host"], v["id"], {"title": {"en": "Busan delegation (confirmed)"}})
    assert r.status == 200, r
    assert r.json()["title"]["en"] == "Busan delegation (confirmed)" and r.json()["title"]["vi"]
    site = d.request("GET", f"/v1/events/{v['programme'][1]['event_id']}", token=k["host"]).json()
    assert site["description"].startswith("Visit: Busan delegation (confirmed)")
    assert site["uid"] == old["uid"]


def test_cancel_and_restore(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    r = d.request("DELETE", f"/v1/visits/{v['id']}", token=k["editor"])
    assert r.status == 200, r
    c = r.json()
    assert c["status"] == "cancelled" and r.header("ETag") == '"2"'
    assert [i["id"] for i in c["programme"]] == [i["id"] for i in v["programme"]]
    assert all(i["status"] == "cancelled" for i in c["programme"])
    assert d.request("GET", f"/v1/events/{v['id']}", token=k["host"]).json()["status"] == "cancelled"
    # Delegates stay (the visit may come back) until deleted.
    assert len(c["delegates"]) == 4
    again = d.request("DELETE", f"/v1/visits/{v['id']}", token=k["editor"])
    assert again.status == 200 and again.header("ETag") == '"2"'
    r = patch(d, k["host"], v["id"], {"status": "proposed"})
    assert r.status == 200, r
    assert all(i["status"] == "tentative" for i in r.json()["programme"])
    assert [i["event_id"] for i in r.json()["programme"]] == [i["event_id"] for i in v["programme"]]
    problem(d.request("DELETE", f"/v1/visits/{v['id']}", token=k["viewer"]), 403)


def test_delete_a_delegate(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    mai = v["delegates"][2]
    url = f"/v1/visits/{v['id']}/delegates/{mai['id']}"
    problem(d.request("DELETE", url, token=k["viewer"]), 403)
    problem(d.request("DELETE", url, token=k["busan-city"]), 403)
    problem(d.request("DELETE", url, token=k["host"], headers={"If-Match": '"7"'}), 412)
    r = d.request("DELETE", url, token=k["editor"])
    assert r.status == 204 and r.header("ETag") == '"2"', r
    problem(d.request("DELETE", url, token=k["editor"]), 404)
    problem(d.request("DELETE", f"/v1/visits/{v['id']}/delegates/x", token=k["editor"]), 404)
    g = d.request("GET", f"/v1/visits/{v['id']}", token=k["host"]).json()
    assert [x["name"] for x in g["delegates"]] == ["Kim Min-jun", "Park Seo-yeon",
                                                   "Nguyễn Văn Hùng"]
    assert all(i["interpreter"] is None for i in g["programme"])
    name = db.split("dbname=")[1]
    assert ctx.cluster.psql("SELECT count(*) FROM visit_delegates WHERE name = 'Trần Thị Mai'",
                            name) == "0"
    # Removing delegates by PATCH: the programme must not name them any more.
    dels = [x for x in g["delegates"] if x["name"] != "Park Seo-yeon"]
    p = problem(patch(d, k["host"], v["id"], {"delegates": dels}), 422)
    assert {e["field"] for e in p["errors"]} == {"programme[0].people[1]",
                                                 "programme[1].people[1]"}
    prog = copy.deepcopy(g["programme"])
    for i in prog:
        i["people"] = [x for x in i["people"] if x != "Park Seo-yeon"]
    r = patch(d, k["host"], v["id"], {"delegates": dels, "programme": prog})
    assert r.status == 200, r
    assert ctx.cluster.psql("SELECT count(*) FROM visit_delegates WHERE name LIKE 'Park%'",
                            name) == "0"


def test_idempotency_key(ctx):
    db, k, d = world(ctx)
    a = create(d, k["host"], **{"Idempotency-Key": "busan-2024"})
    b = create(d, k["host"], **{"Idempotency-Key": "busan-2024"})
    assert b.header("Idempotent-Replayed") == "true" and b.json() == a.json()
    assert b.header("Location") == a.header("Location") and b.header("ETag") == '"1"'
    assert count(ctx, db, "visits") == 1
    p = problem(d.request("POST", "/v1/visits", body=SF, token=k["host"],
                          headers={"Idempotency-Key": "busan-2024"}), 409)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    # A key of /v1/events is not a key of /v1/visits, whatever the body.
    ev = {"kind": "meeting", "title": "x", "start": "2024-08-21T09:00:00"}
    assert d.request("POST", "/v1/events", body=ev, token=k["host"],
                     headers={"Idempotency-Key": "shared"}).status == 201
    problem(d.request("POST", "/v1/visits", body=SF, token=k["host"],
                      headers={"Idempotency-Key": "shared"}), 409)
    # Another org's key of the same name is its own.
    create(d, k["cabc"], dict(SF, partners=[]), **{"Idempotency-Key": "busan-2024"})


def test_list_filters_and_paging(ctx):
    db, k, d = world(ctx)
    busan = create(d, k["host"]).json()
    sf = create(d, k["host"], SF).json()
    fest = create(d, k["busan-city"], {
        "direction": "inbound", "title": "FLY ASIA 2024 guests", "timezone": "Asia/Seoul",
        "arrive": "2024-10-16T09:00:00", "depart": "2024-10-19T18:00:00", "city": "Busan",
        "country": "KR", "partners": ["hcmc-dost"],
        "delegates": [{"name": "Nguyễn Văn Hùng", "role": "head"}]}).json()

    def ids(q, token=k["host"]):
        r = d.request("GET", "/v1/visits" + q, token=token)
        assert r.status == 200, r
        return [x["id"] for x in r.json()["items"]]
    assert ids("") == [busan["id"], sf["id"], fest["id"]]
    assert ids("?direction=outbound") == [sf["id"]]
    assert ids("?status=completed,proposed") == [sf["id"], fest["id"]]
    assert ids("?from=2024-10-12&to=2024-10-17") == [sf["id"], fest["id"]]
    assert ids("?partner=cabc") == [sf["id"]]
    assert ids("?org=busan-city") == [fest["id"]]
    assert ids("?country=KR,US") == [sf["id"], fest["id"]]
    assert ids("?q=Francisco") == [sf["id"]]
    assert ids(f"?visit={busan['id']}") == [busan["id"]]
    # person=: the visits of which someone is a delegate, for parties only.
    assert ids("?person=nguy%E1%BB%85n%20v%C4%83n%20h%C3%B9ng") == [busan["id"], fest["id"]]
    assert ids("?person=Kim%20Min-jun", k["cabc"]) == []
    page = d.request("GET", "/v1/visits?limit=2", token=k["host"]).json()
    assert [x["id"] for x in page["items"]] == [busan["id"], sf["id"]] and page["next_cursor"]
    rest = d.request("GET", f"/v1/visits?limit=2&cursor={page['next_cursor']}",
                     token=k["host"]).json()
    assert [x["id"] for x in rest["items"]] == [fest["id"]] and rest["next_cursor"] is None
    for q, field in [("?direction=up", "direction[0]"), ("?status=", "status"),
                     ("?limit=0", "limit"), ("?cursor=zz", "cursor"), ("?colour=red", "colour"),
                     ("?visit=nope", "visit[0]")]:
        p = problem(d.request("GET", "/v1/visits" + q, token=k["host"]), 422)
        assert field in [e["field"] for e in p["errors"]], (q, p)


def test_people_conflicts_like_venue_clashes(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    # Another visit of the host, the same interpreter (spelt otherwise)
    # at the same time as the working session, elsewhere.
    other = {"direction": "inbound", "title": "Eindhoven delegation",
             "timezone": "Asia/Ho_Chi_Minh", "arrive": "2024-08-21T08:00:00",
             "depart": "2024-08-21T20:00:00",
             "delegates": [{"name": "tran thi mai"}, {"name": "  Trần  Thị Mai "}][1:],
             "programme": [{"title": "Brainport briefing", "start": "2024-08-21T15:00:00",
                            "end": "2024-08-21T16:00:00", "location": "QTSC",
                            "interpreter": "Trần Thị Mai"},
                           {"title": "Dinner", "start": "2024-08-21T17:00:00",
                            "location": "HCMC DOST, room 1", "people": ["Trần Thị Mai"]}]}
    r = create(d, k["editor"], other).json()
    brief, dinner = r["programme"]
    assert brief["conflicts"] == [{"id": v["programme"][0]["event_id"],
                                   "title": "Working session with HCMC DOST",
                                   "person": "  Trần  Thị Mai "}]
    # Back to back is no clash; a venue clash is reported as for events.
    assert dinner["conflicts"] == []
    dinner2 = dict(other["programme"][1], start="2024-08-21T16:30:00")
    r = patch(d, k["host"], r["id"], {"programme": [other["programme"][0], dinner2]})
    assert r.status == 200, r
    got = r.json()["programme"][1]["conflicts"]
    assert {"id": v["programme"][0]["event_id"], "title": "Working session with HCMC DOST"} in got
    assert {"id": v["programme"][0]["event_id"], "title": "Working session with HCMC DOST",
            "person": "  Trần  Thị Mai "} in got
    # An org not party to the host's visit is told of no person there.
    theirs = create(d, k["cabc"], dict(other, partners=[], programme=other["programme"][:1]))
    assert theirs.json()["programme"][0]["conflicts"] == [  # the same hall at that time
        {"id": brief["event_id"], "title": "Brainport briefing"}]
    # A cancelled visit clashes with nothing.
    assert d.request("DELETE", f"/v1/visits/{v['id']}", token=k["host"]).status == 200
    r = patch(d, k["host"], r.json()["id"], {"status": "completed"})
    assert r.status == 200, r
    named = [c["id"] for i in r.json()["programme"] for c in i["conflicts"]]
    assert named == [theirs.json()["programme"][0]["event_id"]]


def test_roles(ctx):
    db, k, d = world(ctx)
    problem(d.request("POST", "/v1/visits", body=BUSAN, token=k["viewer"]), 403)
    v = create(d, k["editor"]).json()
    assert d.request("GET", f"/v1/visits/{v['id']}", token=k["viewer"]).status == 200
    problem(patch(d, k["viewer"], v["id"], {"status": "completed"}), 403)
    assert patch(d, k["editor"], v["id"], {"status": "completed"}).status == 200


def test_demo_data_has_an_inbound_and_an_outbound_visit(ctx):
    """What `make run` loads (scripts/demo.sh, demo-events.sh) is accepted
    whole, visits included."""
    import os
    import subprocess
    from harness import ROOT, binary
    db = ctx.database()
    env = dict(os.environ, LIAISON_DATABASE=db)
    tokenfile = os.path.join(ctx.tmp, "var", "demo-admin-token")
    os.makedirs(os.path.dirname(tokenfile))
    subprocess.run([binary(), "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([os.path.join(ROOT, "scripts", "demo.sh"), binary(), tokenfile], env=env,
                   check=True, capture_output=True)
    d = ctx.daemon(db)
    out = subprocess.run([os.path.join(ROOT, "scripts", "demo-events.sh"),
                          f"http://127.0.0.1:{d.port}", os.path.join(ctx.tmp, "var", "demo-keys")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    token = open(tokenfile).read().strip()
    visits = d.request("GET", "/v1/visits", token=token).json()["items"]
    assert sorted(v["direction"] for v in visits) == ["inbound", "outbound"]
    assert all(v["programme"] for v in visits)
    assert "delegates" in visits[0] and "delegates" not in visits[1]  # hcmc-dost is not party
    # Each owner's checklist gave its visit protocol tasks (sql/016).
    keys = os.path.join(ctx.tmp, "var", "demo-keys")
    for v in visits:
        owner = open(os.path.join(keys, v["org"])).read().strip()
        tasks = d.request("GET", f"/v1/visits/{v['id']}/tasks", token=owner).json()["items"]
        assert len(tasks) >= 4 and tasks[0]["due"] < v["arrive"][:10], tasks


def test_an_import_does_not_rewrite_a_visits_events(ctx):
    """Re-importing an export of the org's own feed finds the visit's
    events by UID: it refuses them rather than writing round the visit."""
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    item = d.request("GET", f"/v1/events/{v['programme'][0]['event_id']}", token=k["host"]).json()
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:{item['uid']}\r\nDTSTAMP:20240801T000000Z\r\n"
           "DTSTART;TZID=Asia/Ho_Chi_Minh:20240821T150000\r\nSUMMARY:Renamed in Outlook\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n")
    r = d.request("POST", "/v1/events", body=ics.encode(), token=k["host"],
                  headers={"Content-Type": "text/calendar"})
    assert r.status == 200, r
    out = r.json()
    assert out["updated"] == [] and out["unchanged"] == [] and out["created"] == []
    assert out["refused"][0]["uid"] == item["uid"]
    assert out["refused"][0]["errors"][0]["field"] == "uid"
    after = d.request("GET", f"/v1/events/{item['id']}", token=k["host"]).json()
    assert after == item


def test_removed_items_keep_the_visits_audience(ctx):
    db, k, d = world(ctx)
    v = create(d, k["host"]).json()
    gone = v["programme"][0]["event_id"]
    assert patch(d, k["host"], v["id"], {"programme": v["programme"][1:]}).status == 200
    assert d.request("GET", f"/v1/events/{gone}", token=k["cabc"]).json()["status"] == "cancelled"
    assert patch(d, k["host"], v["id"], {"visibility": "private"}).status == 200
    problem(d.request("GET", f"/v1/events/{gone}", token=k["cabc"]), 404)
    for e in v["programme"][1:]:
        problem(d.request("GET", f"/v1/events/{e['event_id']}", token=k["cabc"]), 404)
    assert d.request("GET", f"/v1/events/{gone}", token=k["busan-city"]).status == 200
