"""A table of hostile or malformed requests against /v1. Each must get
its status, name the field at fault, and leave the database unchanged."""
import json
import uuid

from harness import problem
from test_events import VISIT, world
from test_visits import BUSAN

TORONTO = dict(VISIT, timezone="America/Toronto")


def replaced(body, over):
    """body (copied) with fields replaced; ... removes one."""
    body = json.loads(json.dumps(body))
    for k, v in over.items():
        if v is ...:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def ag(**over):
    body = {"title": "Letter of intent", "stage": "intent", "parties": [],
            "timezone": "Asia/Ho_Chi_Minh"}
    body.update(over)
    return body


def ev(**over):
    return replaced(dict(VISIT, partners=[]), over)


def vis(**over):
    """The Busan visit with fields replaced."""
    return replaced(BUSAN, over)


def delegate(**over):
    return vis(delegates=[dict({"name": "Kim Min-jun"}, **over)], programme=[])


def item(**over):
    return vis(programme=[dict({"title": "Talks", "start": "2024-08-21T14:00:00"}, **over)])


def checklist(**over):
    return replaced({"name": "Letters", "tasks": [{"title": "Invitation letter",
                                                    "offset_days": -90}]}, over)


def task(**over):
    return checklist(tasks=[dict({"title": "Invitation letter", "offset_days": -90}, **over)])


def raw(data, ct="application/json"):
    return {"raw": data, "ct": ct}


# (name, method, path, body, extra headers, status, field or None)
CASES = [
    ("syntax", "POST", "/v1/events", raw(b'{"kind": "visit",'), {}, 400, None),
    ("invalid utf-8", "POST", "/v1/events", raw(b'{"title": "\xc3\x28"}'), {}, 400, None),
    ("nul escape", "POST", "/v1/events", raw(b'{"title": "a\\u0000b"}'), {}, 400, None),
    ("array body", "POST", "/v1/events", raw(b"[]"), {}, 400, None),
    ("empty body", "POST", "/v1/events", raw(b""), {}, 400, None),
    ("duplicate keys", "POST", "/v1/events", raw(b'{"title": "a", "title": "b"}'), {}, 400, None),
    ("deep nesting", "POST", "/v1/events", raw(b'{"a":' * 3000 + b"1" + b"}" * 3000), {}, 400, None),
    ("text/plain", "POST", "/v1/events", raw(b"{}", "text/plain"), {}, 415, None),
    ("form", "POST", "/v1/events", raw(b"a=b", "application/x-www-form-urlencoded"), {}, 415, None),
    ("kind missing", "POST", "/v1/events", ev(kind=...), {}, 422, "kind"),
    ("kind number", "POST", "/v1/events", ev(kind=5), {}, 422, "kind"),
    ("kind unknown", "POST", "/v1/events", ev(kind="party"), {}, 422, "kind"),
    ("title too long", "POST", "/v1/events", ev(title="x" * 501), {}, 422, "title"),
    ("body too large", "POST", "/v1/events", ev(title="x" * (2 << 20)), {}, 413, None),
    ("title control", "POST", "/v1/events", ev(title="a\x07b"), {}, 422, "title"),
    ("title object", "POST", "/v1/events", ev(title={"$ne": 1}), {}, 422, "title"),
    ("description long", "POST", "/v1/events", ev(description="d" * 20001), {}, 422, "description"),
    ("zone traversal", "POST", "/v1/events", ev(timezone="../../etc/passwd"), {}, 422, "timezone"),
    ("zone absolute", "POST", "/v1/events", ev(timezone="/usr/share/zoneinfo/UTC"), {}, 422, "timezone"),
    ("zone unknown", "POST", "/v1/events", ev(timezone="Mars/Base"), {}, 422, "timezone"),
    ("zone empty, with a rule", "POST", "/v1/events",
     ev(timezone="", rrule="FREQ=YEARLY;UNTIL=20301231"), {}, 422, "timezone"),
    ("zone empty, all day", "POST", "/v1/events",
     ev(timezone="", all_day=True, start="2024-10-17", end="2024-10-19",
        rrule="FREQ=YEARLY;UNTIL=20301231"), {}, 422, "timezone"),
    ("zone huge", "POST", "/v1/events", ev(timezone="A/" + "b" * 5000), {}, 422, "timezone"),
    ("start not a date", "POST", "/v1/events", ev(start="2024-02-30T10:00:00"), {}, 422, "start"),
    ("start offset", "POST", "/v1/events", ev(start="2024-08-21T14:00:00+07:00"), {}, 422, "start"),
    ("start number", "POST", "/v1/events", ev(start=1724223600), {}, 422, "start"),
    ("start missing", "POST", "/v1/events", ev(start=...), {}, 422, "start"),
    ("dst gap", "POST", "/v1/events", dict(TORONTO, partners=[], start="2026-03-08T02:30:00", end=None), {}, 422, "start"),
    ("end before start", "POST", "/v1/events", ev(end="2024-08-21T13:00:00"), {}, 422, "end"),
    ("all-day with time", "POST", "/v1/events", ev(all_day=True, end=...), {}, 422, "start"),
    ("all_day string", "POST", "/v1/events", ev(all_day="yes"), {}, 422, "all_day"),
    ("rrule secondly", "POST", "/v1/events", ev(rrule="FREQ=SECONDLY;COUNT=5"), {}, 422, "rrule"),
    ("rrule minutely", "POST", "/v1/events", ev(rrule="FREQ=MINUTELY"), {}, 422, "rrule"),
    ("rrule sql", "POST", "/v1/events", ev(rrule="FREQ=DAILY'; DROP TABLE events; --"), {}, 422, "rrule"),
    ("rrule count huge", "POST", "/v1/events", ev(rrule="FREQ=DAILY;COUNT=1000000"), {}, 422, "rrule"),
    ("rrule hourly forever", "POST", "/v1/events", ev(rrule="FREQ=HOURLY"), {}, 422, "rrule"),
    ("rrule long", "POST", "/v1/events", ev(rrule="FREQ=DAILY;BYHOUR=" + ",".join(["1"] * 300)), {}, 422, "rrule"),
    ("exdates object", "POST", "/v1/events", ev(exdates={"a": 1}), {}, 422, "exdates"),
    ("exdates bad item", "POST", "/v1/events", ev(exdates=["yesterday"]), {}, 422, "exdates[0]"),
    ("exdates too many", "POST", "/v1/events", ev(exdates=["2024-08-28T14:00:00"] * 1001), {}, 422, "exdates"),
    ("rdates bad item", "POST", "/v1/events", ev(rdates=["2024-09-04T14:00:00", "2024-09-05T14:00:00", None]), {}, 422, "rdates[2]"),
    ("reminder after", "POST", "/v1/events", ev(reminders=["P1D"]), {}, 422, "reminders[0]"),
    ("reminder sql", "POST", "/v1/events", ev(reminders=["' OR 1=1 --"]), {}, 422, "reminders[0]"),
    ("reminders many", "POST", "/v1/events", ev(reminders=["-PT1H"] * 11), {}, 422, "reminders"),
    ("reminder far", "POST", "/v1/events", ev(reminders=["-P500D"]), {}, 422, "reminders[0]"),
    ("reminders twice", "POST", "/v1/events", ev(reminders=["-PT1H", "-PT1H"]), {}, 422, "reminders[1]"),
    ("reminders same time", "POST", "/v1/events", ev(reminders=["-PT60M", "-P7D", "-PT1H"]), {}, 422, "reminders[2]"),
    ("reminders day in hours", "POST", "/v1/events", ev(reminders=["-P1D", "-PT24H"]), {}, 422, "reminders[1]"),
    ("reminders zero twice", "POST", "/v1/events", ev(reminders=["-PT0S", "-P0D"]), {}, 422, "reminders[1]"),
    ("partner unknown", "POST", "/v1/events", ev(partners=["nobody"]), {}, 422, "partners[0]"),
    ("partner sql", "POST", "/v1/events", ev(partners=["'; DROP TABLE orgs; --"]), {}, 422, "partners[0]"),
    ("partners many", "POST", "/v1/events", ev(partners=["busan-city"] * 51), {}, 422, "partners"),
    ("tag long", "POST", "/v1/events", ev(tags=["t" * 65]), {}, 422, "tags[0]"),
    ("tag number", "POST", "/v1/events", ev(tags=["ok", 7]), {}, 422, "tags[1]"),
    ("url javascript", "POST", "/v1/events", ev(url="javascript:alert(1)"), {}, 422, "url"),
    ("url spaces", "POST", "/v1/events", ev(url="https://a b.example/"), {}, 422, "url"),
    ("country lower", "POST", "/v1/events", ev(country="vn"), {}, 422, "country"),
    ("visibility", "POST", "/v1/events", ev(visibility="public"), {}, 422, "visibility"),
    ("status", "POST", "/v1/events", ev(status="deleted"), {}, 422, "status"),
    ("series id", "POST", "/v1/events", ev(series_id="1 OR 1=1", recurrence_id="2024-08-28T14:00:00"), {}, 422, "series_id"),
    ("series alone", "POST", "/v1/events", ev(series_id=str(uuid.uuid4())), {}, 422, "recurrence_id"),
    ("parent unknown", "POST", "/v1/events", ev(parent_id=str(uuid.uuid4())), {}, 422, "parent_id"),
    ("unknown field", "POST", "/v1/events", ev(colour="red"), {}, 422, "colour"),
    ("unknown sql field", "POST", "/v1/events", ev(**{"title\"; DROP": 1}), {}, 422, 'title"; DROP'),
    ("uid control", "POST", "/v1/events", ev(uid="a\nb"), {}, 422, "uid"),
    ("uid long", "POST", "/v1/events", ev(uid="u" * 256), {}, 422, "uid"),
    ("idempotency key control", "POST", "/v1/events", ev(), {"Idempotency-Key": "a\x01b"}, 400, "Idempotency-Key"),
    ("list kind", "GET", "/v1/events?kind=party", None, {}, 422, "kind[0]"),
    ("list limit negative", "GET", "/v1/events?limit=-1", None, {}, 422, "limit"),
    ("list limit huge", "GET", "/v1/events?limit=99999999999999999999", None, {}, 422, "limit"),
    ("list from", "GET", "/v1/events?from=2024-13-45", None, {}, 422, "from"),
    ("list limit plus", "GET", "/v1/events?limit=%2B5", None, {}, 422, "limit"),
    ("list limit space", "GET", "/v1/events?limit=%205", None, {}, 422, "limit"),
    ("list from offset sign", "GET", "/v1/events?from=2027-01-01T00:00:00%2B01:-5", None, {}, 422, "from"),
    ("list from offset space", "GET", "/v1/events?from=2027-01-01T00:00:00%2B%201:00", None, {}, 422, "from"),
    ("list from bare point", "GET", "/v1/events?from=2027-01-01T00:00:00.Z", None, {}, 422, "from"),
    ("occurrences to offset", "GET", "/v1/occurrences?from=2027-01-01&to=2027-02-01T00:00:00-1:000", None, {}, 422, "to"),
    ("list backwards", "GET", "/v1/events?from=2027-02-01&to=2027-01-01", None, {}, 422, "to"),
    ("list empty window", "GET", "/v1/events?from=2027-01-01&to=2027-01-01", None, {}, 422, "to"),
    ("occurrences backwards", "GET", "/v1/occurrences?from=2027-02-01&to=2027-01-01", None, {}, 422, "to"),
    ("visit list backwards", "GET", "/v1/visits?from=2027-02-01&to=2027-01-01", None, {}, 422, "to"),
    ("agreements backwards", "GET", "/v1/agreements?from=2027-02-01&to=2027-01-01", None, {}, 422, "to"),
    ("list cursor", "GET", "/v1/events?cursor=..%2F..%2Fetc", None, {}, 422, "cursor"),
    ("list cursor huge", "GET", "/v1/events?cursor=10000000000000_" + str(uuid.uuid4()), None, {}, 422, "cursor"),
    ("list q long", "GET", "/v1/events?q=" + "x" * 201, None, {}, 422, "q"),
    ("list org sql", "GET", "/v1/events?org=a%27%20OR%201%3D1", None, {}, 422, "org[0]"),
    ("occurrences window", "GET", "/v1/occurrences?from=2024-01-01&to=2026-01-01", None, {}, 422, "to"),
    ("event id sql", "GET", "/v1/events/'%3B%20DROP%20TABLE%20events", None, {}, 404, None),
    ("patch array", "PATCH", "/v1/events/{id}", raw(b"[1]"), {}, 400, None),
    ("patch uid", "PATCH", "/v1/events/{id}", {"uid": "stolen"}, {}, 422, "uid"),
    ("patch stale", "PATCH", "/v1/events/{id}", {"title": "x"}, {"If-Match": '"999"'}, 412, None),
    ("patch bad start", "PATCH", "/v1/events/{id}", {"start": "soon"}, {}, 422, "start"),
    ("patch reminders same time", "PATCH", "/v1/events/{id}", {"reminders": ["-PT2H", "-PT120M"]}, {}, 422, "reminders[1]"),
    ("org slug sql", "POST", "/v1/orgs", {"slug": "x'; DROP TABLE orgs; --", "name": "x"}, {}, 422, "slug"),
    # agreements (issue 17): stages and history, links, follow-through
    ("agreement stage", "POST", "/v1/agreements", ag(stage="maybe"), {}, 422, "stage"),
    ("agreement stage sql", "POST", "/v1/agreements", ag(stage="signed'; --"), {}, 422, "stage"),
    ("agreement stage renewed", "POST", "/v1/agreements", ag(stage="renewed"), {}, 422, "stage"),
    ("history synonym repeats", "POST", "/v1/agreements", ag(history=[{"stage": "signed", "on": "2024-01-01"}, {"stage": "active", "on": "2024-02-01"}]), {}, 422, "history[1].stage"),
    ("agreement stage object", "POST", "/v1/agreements", ag(stage={"$ne": 1}), {}, 422, "stage"),
    ("history object", "POST", "/v1/agreements", ag(history={"stage": "signed"}), {}, 422, "history"),
    ("history empty", "POST", "/v1/agreements", ag(history=[]), {}, 422, "history"),
    ("history ahead", "POST", "/v1/agreements", ag(history=[{"stage": "signed", "on": "2999-01-01"}]), {}, 422, "history[0].on"),
    ("history not a date", "POST", "/v1/agreements", ag(history=[{"stage": "signed", "on": "soon"}]), {}, 422, "history[0].on"),
    ("history backwards", "POST", "/v1/agreements", ag(history=[{"stage": "drafting", "on": "2024-02-01"}, {"stage": "signed", "on": "2024-01-01"}]), {}, 422, "history[1].on"),
    ("history unknown stage", "POST", "/v1/agreements", ag(history=[{"stage": "won", "on": "2024-01-01"}]), {}, 422, "history[0].stage"),
    ("history note long", "POST", "/v1/agreements", ag(history=[{"stage": "signed", "on": "2024-01-01", "note": "n" * 501}]), {}, 422, "history[0].note"),
    ("history many", "POST", "/v1/agreements", ag(history=[{"stage": "signed", "on": "2024-01-01"}, {"stage": "renewal", "on": "2024-01-01"}] * 51), {}, 422, "history"),
    ("links object", "POST", "/v1/agreements", ag(events={"id": 1}), {}, 422, "events"),
    ("link not an id", "POST", "/v1/agreements", ag(events=["'; DROP TABLE events; --"]), {}, 422, "events[0]"),
    ("link unknown", "POST", "/v1/agreements", ag(events=[str(uuid.uuid4())]), {}, 422, "events[0]"),
    ("links many", "POST", "/v1/agreements", ag(events=[str(uuid.uuid4()) for _ in range(201)]), {}, 422, "events"),
    ("done ahead", "POST", "/v1/agreements", ag(milestones=[{"title": "m", "due": "2025-01-01", "done_on": "2999-01-01"}]), {}, 422, "milestones[0].done_on"),
    ("done not a date", "POST", "/v1/agreements", ag(milestones=[{"title": "m", "due": "2025-01-01", "done_on": 1}]), {}, 422, "milestones[0].done_on"),
    ("dormant days zero", "POST", "/v1/agreements", ag(dormant_after_days=0), {}, 422, "dormant_after_days"),
    ("dormant days huge", "POST", "/v1/agreements", ag(dormant_after_days=99999), {}, 422, "dormant_after_days"),
    ("expiring days text", "POST", "/v1/agreements", ag(expiring_notice_days="90"), {}, 422, "expiring_notice_days"),
    ("agreement idempotency key", "POST", "/v1/agreements", ag(), {"Idempotency-Key": "k\x7f"}, 400, "Idempotency-Key"),
    ("agreement unknown field", "POST", "/v1/agreements", ag(delegates=[]), {}, 422, "delegates"),
    ("visit links object", "POST", "/v1/agreements", ag(visits={"$ne": 1}), {}, 422, "visits"),
    ("visit link sql", "POST", "/v1/agreements", ag(visits=["'; DROP TABLE visits; --"]), {}, 422, "visits[0]"),
    ("visit link number", "POST", "/v1/agreements", ag(visits=[7]), {}, 422, "visits[0]"),
    ("visit link unknown", "POST", "/v1/agreements", ag(visits=[str(uuid.uuid4())]), {}, 422, "visits[0]"),
    ("visit links many", "POST", "/v1/agreements", ag(visits=[str(uuid.uuid4()) for _ in range(201)]), {}, 422, "visits"),
    ("agreement patch visit unknown", "PATCH", "/v1/agreements/{aid}", {"visits": [str(uuid.uuid4())]}, {}, 422, "visits[0]"),
    ("agreement patch stale", "PATCH", "/v1/agreements/{aid}", {"title": "x"}, {"If-Match": '"999"'}, 412, None),
    ("agreement patch stage", "PATCH", "/v1/agreements/{aid}", {"stage": "done"}, {}, 422, "stage"),
    ("agreement patch history null", "PATCH", "/v1/agreements/{aid}", {"history": None}, {}, 422, "history"),
    ("agreement delete stale", "DELETE", "/v1/agreements/{aid}", None, {"If-Match": '"999"'}, 412, None),
    ("agreement delete sql", "DELETE", "/v1/agreements/'%3B%20DROP%20TABLE%20agreements", None, {}, 404, None),
    ("agreement delete unknown", "DELETE", "/v1/agreements/" + str(uuid.uuid4()), None, {}, 404, None),
    ("agreements stage", "GET", "/v1/agreements?stage=won", None, {}, 422, "stage[0]"),
    ("agreements dormant", "GET", "/v1/agreements?dormant=1", None, {}, 422, "dormant"),
    ("agreements kind", "GET", "/v1/agreements?kind=visit", None, {}, 422, "kind"),
    ("agreements cursor", "GET", "/v1/agreements?cursor=1_x", None, {}, 422, "cursor"),
    ("agreements partner sql", "GET", "/v1/agreements?partner=a%27%20OR%201%3D1", None, {}, 422, "partner[0]"),
    ("follow-up not an array", "PUT", "/v1/follow-up-template", {"steps": {"title": "x"}}, {}, 422, "steps"),
    ("follow-up too many", "PUT", "/v1/follow-up-template", {"steps": [{"title": "x", "days": 1}] * 21}, {}, 422, "steps"),
    ("follow-up days", "PUT", "/v1/follow-up-template", {"steps": [{"title": "x", "days": -1}]}, {}, 422, "steps[0].days"),
    ("follow-up title control", "PUT", "/v1/follow-up-template", {"steps": [{"title": "a\x07b", "days": 1}]}, {}, 422, "steps[0].title"),
    ("follow-up reminder", "PUT", "/v1/follow-up-template", {"steps": [{"title": "x", "days": 1, "reminders": ["-P9999D"]}]}, {}, 422, "steps[0].reminders[0]"),
    ("follow-up reminders same time", "PUT", "/v1/follow-up-template", {"steps": [{"title": "x", "days": 1, "reminders": ["-P1W", "-P7D"]}]}, {}, 422, "steps[0].reminders[1]"),
    ("milestone reminders same time", "POST", "/v1/agreements", ag(milestones=[{"title": "m", "due": "2025-01-01", "reminders": ["-P7D", "-P1D", "-P1W"]}]), {}, 422, "milestones[0].reminders[2]"),
    ("agreement patch reminders twice", "PATCH", "/v1/agreements/{aid}", {"milestones": [{"title": "m", "due": "2025-01-01", "reminders": ["-P1D", "-P1D"]}]}, {}, 422, "milestones[0].reminders[1]"),
    ("follow-up array body", "PUT", "/v1/follow-up-template", raw(b"[]"), {}, 400, None),
    ("report no window", "GET", "/v1/reports/cooperation", None, {}, 422, "from"),
    ("report bad date", "GET", "/v1/reports/cooperation?from=2025-02-30&to=2025-04-01", None, {}, 422, "from"),
    ("report backwards", "GET", "/v1/reports/cooperation?from=2025-04-01&to=2025-01-01", None, {}, 422, "to"),
    ("report format", "GET", "/v1/reports/cooperation?from=2025-01-01&to=2025-04-01&format=xls", None, {}, 422, "format"),
    ("report unknown", "GET", "/v1/reports/cooperation?from=2025-01-01&to=2025-04-01&org=x", None, {}, 422, "org"),
    ("feed mode", "POST", "/v1/feeds", {"name": "x", "mode": "busy"}, {}, 422, "mode"),
    ("feed mode object", "POST", "/v1/feeds", {"name": "x", "mode": {"$ne": 1}}, {}, 422, "mode"),
    ("free/busy alarms", "POST", "/v1/feeds", {"name": "x", "mode": "freebusy", "alarms": True}, {}, 422, "alarms"),
    ("free/busy open end", "POST", "/v1/feeds", {"name": "x", "mode": "freebusy", "future_days": None}, {}, 422, "future_days"),
    ("free/busy long", "POST", "/v1/feeds", {"name": "x", "mode": "freebusy", "future_days": 3660}, {}, 422, "future_days"),
    ("feed locations text", "POST", "/v1/feeds", {"name": "x", "filter": {"locations": "Room 1"}}, {}, 422, "filter.locations"),
    ("feed location control", "POST", "/v1/feeds", {"name": "x", "filter": {"locations": ["a\x07b"]}}, {}, 422, "filter.locations[0]"),
    ("feed locations many", "POST", "/v1/feeds", {"name": "x", "filter": {"locations": ["a"] * 51}}, {}, 422, "filter.locations"),
    ("webhook locations", "POST", "/v1/webhooks", {"url": "https://example.org/h", "types": ["event.created"], "filter": {"locations": ["Room 1"]}}, {}, 422, "filter.locations"),
    # visits
    ("visit syntax", "POST", "/v1/visits", raw(b'{"direction": "inbound",'), {}, 400, None),
    ("visit array body", "POST", "/v1/visits", raw(b"[]"), {}, 400, None),
    ("visit text/plain", "POST", "/v1/visits", raw(b"{}", "text/plain"), {}, 415, None),
    ("visit direction missing", "POST", "/v1/visits", vis(direction=...), {}, 422, "direction"),
    ("visit direction sql", "POST", "/v1/visits", vis(direction="in'; --"), {}, 422, "direction"),
    ("visit title number", "POST", "/v1/visits", vis(title={"en": 5}), {}, 422, "title.en"),
    ("visit title lang sql", "POST", "/v1/visits", vis(title={"en'; DROP": "x"}), {}, 422, "title.en'; DROP"),
    ("visit title langs", "POST", "/v1/visits", vis(title={f"l{c}{c}": "x" for c in "abcdefghijk"}), {}, 422, "title"),
    ("visit title empty map", "POST", "/v1/visits", vis(title={}), {}, 422, "title"),
    ("visit title control", "POST", "/v1/visits", vis(title="a\x1bb"), {}, 422, "title"),
    ("visit languages", "POST", "/v1/visits", vis(languages=["x y"]), {}, 422, "languages[0]"),
    ("visit arrive offset", "POST", "/v1/visits", vis(arrive="2024-08-21T09:00:00+07:00"), {}, 422, "arrive"),
    ("visit arrive missing", "POST", "/v1/visits", vis(arrive=...), {}, 422, "arrive"),
    ("visit depart before", "POST", "/v1/visits", vis(depart="2024-08-20T09:00:00"), {}, 422, "depart"),
    ("visit zone traversal", "POST", "/v1/visits", vis(timezone="../../etc/passwd"), {}, 422, "timezone"),
    ("visit status", "POST", "/v1/visits", vis(status="deleted"), {}, 422, "status"),
    ("visit visibility", "POST", "/v1/visits", vis(visibility="public"), {}, 422, "visibility"),
    ("visit partner sql", "POST", "/v1/visits", vis(partners=["'; DROP TABLE visits; --"]), {}, 422, "partners[0]"),
    ("visit partner unknown", "POST", "/v1/visits", vis(partners=["nobody"]), {}, 422, "partners[0]"),
    ("visit purpose long", "POST", "/v1/visits", vis(purpose="p" * 5001), {}, 422, "purpose"),
    ("visit unknown field", "POST", "/v1/visits", vis(colour="red"), {}, 422, "colour"),
    ("visit delegates object", "POST", "/v1/visits", vis(delegates={"a": 1}), {}, 422, "delegates"),
    ("visit delegates many", "POST", "/v1/visits", vis(programme=[], delegates=[{"name": f"p{i}"} for i in range(201)]), {}, 422, "delegates"),
    ("visit delegate string", "POST", "/v1/visits", vis(delegates=["Kim"], programme=[]), {}, 422, "delegates[0]"),
    ("visit delegate control", "POST", "/v1/visits", delegate(name="a\x07b"), {}, 422, "delegates[0].name"),
    ("visit delegate long", "POST", "/v1/visits", delegate(name="n" * 201), {}, 422, "delegates[0].name"),
    ("visit delegate role sql", "POST", "/v1/visits", delegate(role="'; DROP TABLE visits; --"), {}, 422, "delegates[0].role"),
    ("visit delegate language", "POST", "/v1/visits", delegate(language="<script>"), {}, 422, "delegates[0].language"),
    ("visit delegate notes long", "POST", "/v1/visits", delegate(notes="n" * 2001), {}, 422, "delegates[0].notes"),
    ("visit delegate unknown", "POST", "/v1/visits", delegate(passport="B1234567"), {}, 422, "delegates[0].passport"),
    ("visit programme many", "POST", "/v1/visits", vis(programme=[{"title": "x", "start": "2024-08-21T14:00:00"}] * 201), {}, 422, "programme"),
    ("visit item start", "POST", "/v1/visits", item(start="soon"), {}, 422, "programme[0].start"),
    ("visit item start number", "POST", "/v1/visits", item(start=1724223600), {}, 422, "programme[0].start"),
    ("visit item early", "POST", "/v1/visits", item(start="2024-08-20T14:00:00"), {}, 422, "programme[0].start"),
    ("visit item dst gap", "POST", "/v1/visits", vis(timezone="America/Toronto", arrive="2026-03-07T09:00:00", depart="2026-03-09T18:00:00", programme=[{"title": "x", "start": "2026-03-08T02:30:00"}]), {}, 422, "programme[0].start"),
    ("visit item kind", "POST", "/v1/visits", item(kind="party"), {}, 422, "programme[0].kind"),
    ("visit item title missing", "POST", "/v1/visits", item(title=None), {}, 422, "programme[0].title"),
    ("visit item people object", "POST", "/v1/visits", item(people={"$ne": 1}), {}, 422, "programme[0].people"),
    ("visit item person unknown", "POST", "/v1/visits", item(people=["' OR 1=1 --"]), {}, 422, "programme[0].people[0]"),
    ("visit item interpreter number", "POST", "/v1/visits", item(interpreter=7), {}, 422, "programme[0].interpreter"),
    ("visit item reminder", "POST", "/v1/visits", item(reminders=["P1D"]), {}, 422, "programme[0].reminders[0]"),
    ("visit item reminders same time", "POST", "/v1/visits", item(reminders=["-PT1H", "-PT60M"]), {}, 422, "programme[0].reminders[1]"),
    ("visit item location long", "POST", "/v1/visits", item(location="l" * 501), {}, 422, "programme[0].location"),
    ("visit item unknown", "POST", "/v1/visits", item(colour="red"), {}, 422, "programme[0].colour"),
    ("visit idempotency key control", "POST", "/v1/visits", vis(), {"Idempotency-Key": "a\x01b"}, 400, "Idempotency-Key"),
    ("visit list direction", "GET", "/v1/visits?direction=up", None, {}, 422, "direction[0]"),
    ("visit list status sql", "GET", "/v1/visits?status=%27%3B%20DROP", None, {}, 422, "status[0]"),
    ("visit list cursor", "GET", "/v1/visits?cursor=..%2F..%2Fetc", None, {}, 422, "cursor"),
    ("visit list visit", "GET", "/v1/visits?visit=1%20OR%201%3D1", None, {}, 422, "visit[0]"),
    ("events list visit", "GET", "/v1/events?visit=x", None, {}, 422, "visit[0]"),
    ("visit id sql", "GET", "/v1/visits/'%3B%20DROP%20TABLE%20visits", None, {}, 404, None),
    ("visit patch array", "PATCH", "/v1/visits/{vid}", raw(b"[1]"), {}, 400, None),
    ("visit patch stale", "PATCH", "/v1/visits/{vid}", {"status": "completed"}, {"If-Match": '"999"'}, 412, None),
    ("visit patch item id", "PATCH", "/v1/visits/{vid}", {"programme": [{"id": str(uuid.uuid4()), "title": "x", "start": "2024-08-21T14:00:00"}]}, {}, 422, "programme[0].id"),
    ("visit patch delegate id", "PATCH", "/v1/visits/{vid}", {"delegates": [{"id": "x", "name": "y"}]}, {}, 422, "delegates[0].id"),
    ("visit patch bad arrive", "PATCH", "/v1/visits/{vid}", {"arrive": "soon"}, {}, 422, "arrive"),
    ("visit delegate id sql", "DELETE", "/v1/visits/{vid}/delegates/'%3B%20DROP", None, {}, 404, None),
    ("visit delegate unknown id", "DELETE", "/v1/visits/{vid}/delegates/" + str(uuid.uuid4()), None, {}, 404, None),
    ("programme lang", "GET", "/v1/visits/{vid}/programme?lang=%3Cscript%3E", None, {}, 422, "lang"),
    ("feed filter visits", "POST", "/v1/feeds", {"name": "x", "filter": {"visits": ["1 OR 1=1"]}}, {}, 422, "filter.visits[0]"),
    ("feed filter people", "POST", "/v1/feeds", {"name": "x", "filter": {"people": [{"$ne": 1}]}}, {}, 422, "filter.people[0]"),
    ("feed language script", "POST", "/v1/feeds", {"name": "x", "language": "<script>"}, {}, 422, "language"),
    ("feed language object", "POST", "/v1/feeds", {"name": "x", "language": {"$ne": 1}}, {}, 422, "language"),
    ("feed language sql", "POST", "/v1/feeds", {"name": "x", "language": "en'; DROP TABLE feeds; --"}, {}, 422, "language"),
    ("feed language long", "POST", "/v1/feeds", {"name": "x", "language": "en-" + "-".join(["abcdefgh"] * 5)}, {}, 422, "language"),
    # checklists and a visit's tasks
    ("checklist syntax", "POST", "/v1/checklists", raw(b'{"name": "x",'), {}, 400, None),
    ("checklist text/plain", "POST", "/v1/checklists", raw(b"{}", "text/plain"), {}, 415, None),
    ("checklist tasks object", "POST", "/v1/checklists", checklist(tasks={"a": 1}), {}, 422, "tasks"),
    ("checklist tasks many", "POST", "/v1/checklists", checklist(tasks=[{"title": "x", "offset_days": 1}] * 51), {}, 422, "tasks"),
    ("checklist name missing", "POST", "/v1/checklists", checklist(name=...), {}, 422, "name"),
    ("checklist direction sql", "POST", "/v1/checklists", checklist(direction="in'; --"), {}, 422, "direction"),
    ("checklist task string", "POST", "/v1/checklists", checklist(tasks=["letters"]), {}, 422, "tasks[0]"),
    ("checklist task offset text", "POST", "/v1/checklists", task(offset_days="-90"), {}, 422, "tasks[0].offset_days"),
    ("checklist task offset huge", "POST", "/v1/checklists", task(offset_days=10 ** 15), {}, 422, "tasks[0].offset_days"),
    ("checklist task offset float", "POST", "/v1/checklists", task(offset_days=1e300), {}, 422, "tasks[0].offset_days"),
    ("checklist task anchor sql", "POST", "/v1/checklists", task(anchor="arrive'; --"), {}, 422, "tasks[0].anchor"),
    ("checklist task title control", "POST", "/v1/checklists", task(title="a\x07b"), {}, 422, "tasks[0].title"),
    ("checklist task owner long", "POST", "/v1/checklists", task(owner="o" * 201), {}, 422, "tasks[0].owner"),
    ("checklist task reminder sql", "POST", "/v1/checklists", task(reminders=["'; DROP TABLE events; --"]), {}, 422, "tasks[0].reminders[0]"),
    ("checklist task reminders many", "POST", "/v1/checklists", task(reminders=["-P1D"] * 11), {}, 422, "tasks[0].reminders"),
    ("checklist task reminders same time", "POST", "/v1/checklists", task(reminders=["-P1D", "-PT24H"]), {}, 422, "tasks[0].reminders[1]"),
    ("checklist task unknown", "POST", "/v1/checklists", task(due="2024-01-01"), {}, 422, "tasks[0].due"),
    ("checklist id sql", "GET", "/v1/checklists/'%3B%20DROP%20TABLE%20checklists", None, {}, 404, None),
    ("checklist patch stale", "PATCH", "/v1/checklists/{cid}", {"name": "x"}, {"If-Match": '"999"'}, 412, None),
    ("checklist patch bad", "PATCH", "/v1/checklists/{cid}", {"tasks": None}, {}, 422, "tasks"),
    ("task state sql", "PATCH", "/v1/visits/{vid}/tasks/{tid}", {"state": "done'; --"}, {}, 422, "state"),
    ("task state object", "PATCH", "/v1/visits/{vid}/tasks/{tid}", {"state": {"$ne": 1}}, {}, 422, "state"),
    ("task owner control", "PATCH", "/v1/visits/{vid}/tasks/{tid}", {"owner": "a\x1bb"}, {}, 422, "owner"),
    ("task unknown", "PATCH", "/v1/visits/{vid}/tasks/{tid}", {"offset": 3}, {}, 422, "offset"),
    ("task array body", "PATCH", "/v1/visits/{vid}/tasks/{tid}", raw(b"[1]"), {}, 400, None),
    ("task stale", "PATCH", "/v1/visits/{vid}/tasks/{tid}", {"state": "done"}, {"If-Match": '"999"'}, 412, None),
    ("task id sql", "PATCH", "/v1/visits/{vid}/tasks/'%3B%20DROP", {"state": "done"}, {}, 404, None),
    ("task list visit sql", "GET", "/v1/visits/'%3B%20DROP/tasks", None, {}, 404, None),
    ("feed id sql", "GET", "/v1/feeds/'%3B%20DROP%20TABLE%20feeds", None, {}, 404, None),
    ("page lang markup", "GET", "/feeds/{feed}?lang=%3Cscript%3E", None, {}, 422, "lang"),
    ("page lang long", "GET", "/feeds/{feed}?lang=" + "a" * 5000, None, {}, 422, "lang"),
    ("page embed", "GET", "/feeds/{feed}?embed=%27%20OR%201%3D1", None, {}, 422, "embed"),
    ("page token sql", "GET", "/feeds/'%20OR%201%3D1%20--", None, {}, 404, None),
    ("page token long", "GET", "/feeds/" + "A" * 5000, None, {}, 404, None),
]


def snapshot(ctx, db):
    return ctx.cluster.psql(
        "SELECT (SELECT count(*) || ':' || coalesce(sum(version), 0) FROM events), "
        "(SELECT count(*) FROM orgs), (SELECT count(*) FROM api_keys), "
        "(SELECT count(*) FROM idempotency_keys), "
        "(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM agreements), "
        "(SELECT count(*) FROM agreement_links), "
        "(SELECT count(*) FROM agreement_idempotency_keys), "
        "(SELECT count(*) FROM agreement_follow_ups), "
        "(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM visits), "
        "(SELECT count(*) FROM visit_delegates), (SELECT count(*) FROM visit_items), "
        "(SELECT count(*) FROM feeds), "
        "(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM checklists), "
        "(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM visit_tasks), "
        "(SELECT count(*) FROM webhook_endpoints)",
        db.split("dbname=")[1])


def test_hostile_table(ctx):
    assert len(CASES) >= 120
    db, k, d = world(ctx)
    existing = d.request("POST", "/v1/events", body=VISIT, token=k["host"]).json()
    agreement = d.request("POST", "/v1/agreements", body=ag(), token=k["host"]).json()
    cl = d.request("POST", "/v1/checklists", body=checklist(), token=k["host"]).json()
    visit = d.request("POST", "/v1/visits", body=BUSAN, token=k["host"]).json()
    tid = d.request("GET", f"/v1/visits/{visit['id']}/tasks",
                    token=k["host"]).json()["items"][0]["id"]
    feed = d.request("POST", "/v1/feeds", body={"name": "f"}, token=k["host"]).json()
    feed_token = feed["url"].split("/feeds/")[1][:-len(".ics")]
    before = snapshot(ctx, db)
    failures = []
    for name, method, path, body, headers, status, field in CASES:
        hdrs = dict(headers)
        if isinstance(body, dict) and "raw" in body:
            data = body["raw"]
            hdrs["Content-Type"] = body["ct"]
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        else:
            data = None
        path = path.replace("{id}", existing["id"]).replace("{vid}", visit["id"])
        path = path.replace("{cid}", cl["id"]).replace("{tid}", tid).replace("{feed}", feed_token)
        path = path.replace("{aid}", agreement["id"])
        r = d.request(method, path, body=data, headers=hdrs, token=k["host"])
        try:
            p = problem(r, status)
            if field is not None:
                fields = [e["field"] for e in p.get("errors", [])]
                assert field in fields, f"field {field!r} not in {fields}"
            after = snapshot(ctx, db)
            assert after == before, f"database changed: {before} -> {after}"
        except AssertionError as e:
            failures.append(f"{name}: {e}")
    assert d.alive()
    assert not failures, "\n".join(failures)
