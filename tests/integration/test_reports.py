"""GET /v1/reports/cooperation: an office's quarter per partner org, per
country and in all (agreements by stage, visits in and out, programme
items held), in JSON and CSV (RFC 4180, formula cells defused), with
nothing in it that the caller's org may not see."""
import csv
import io

from harness import problem, run_cli
from test_agreement_stages import create
from test_agreements import sql
from test_events import world

Q1 = "?from=2025-01-01&to=2025-04-01"
EMPTY = {"intent": 0, "drafting": 0, "signed": 0, "renewal": 0, "expired": 0, "terminated": 0}


NONE = {"total": 0, "by_stage": EMPTY, "signed_in_period": 0, "dormant": 0, "expiring": 0}


def visits(inbound, outbound, items):
    return {"visits": {"inbound": inbound, "outbound": outbound}, "items_held": items}


def visit(d, k, who, direction, partners, arrive, depart, status="confirmed", items=(),
          **more):
    body = dict({"direction": direction, "title": f"{who} {direction} {arrive}",
                 "timezone": "Asia/Ho_Chi_Minh", "arrive": arrive, "depart": depart,
                 "partners": partners, "status": status,
                 "programme": [{"title": f"Item {i}", "start": t} for i, t in enumerate(items)]},
                **more)
    r = d.request("POST", "/v1/visits", body=body, token=k[who])
    assert r.status == 201, r
    return r.json()


def setup(ctx):
    db, k, d = world(ctx)
    run_cli(["org", "create", "seoul-tp", "--name", "Seoul Techno Park", "--country", "KR"], db)
    k["seoul-tp"] = run_cli(["key", "create", "seoul-tp", "--role", "admin"], db).stdout.strip()
    run_cli(["org", "create", "sf-chamber", "--name", "San Francisco Chamber of Commerce",
             "--country", "US"], db)
    sql(ctx, db, "UPDATE orgs SET country = CASE slug WHEN 'busan-city' THEN 'KR' "
                 "WHEN 'cabc' THEN 'CA' WHEN 'hcmc-dost' THEN 'VN' ELSE country END")
    sql(ctx, db, "UPDATE orgs SET name = '=HYPERLINK(\"http://x.example\",\"Busan, \"\"city\"\"\")' "
                 "WHERE slug = 'busan-city'")
    tz = "Asia/Ho_Chi_Minh"
    # The host's letter of intent with CABC, in the quarter.
    create(d, k, {"title": "LOI HCMC – CABC", "parties": ["cabc"], "timezone": tz,
                  "history": [{"stage": "intent", "on": "2025-01-10"}]})
    # The host's MOU with Busan and Seoul TP, signed in the quarter, up for
    # renewal since May: at the quarter's end it was signed.
    create(d, k, {"title": "MOU HCMC – Busan – Seoul TP", "parties": ["busan-city", "seoul-tp"],
                  "timezone": tz, "stage": "renewal",
                  "history": [{"stage": "drafting", "on": "2024-11-01"},
                              {"stage": "signed", "on": "2025-02-01"},
                              {"stage": "renewal", "on": "2025-05-01"}]})
    # Busan's, naming the host: dormant at the quarter's end (nothing since 2024-06).
    create(d, k, {"title": "Busan – HCMC exchange", "parties": ["hcmc-dost"], "timezone": tz,
                  "history": [{"stage": "signed", "on": "2024-06-01"}]}, who="busan-city")
    # Busan's private one without the host, and CABC's with Busan: not the host's.
    create(d, k, {"title": "Busan alone", "parties": [], "visibility": "private",
                  "timezone": tz, "history": [{"stage": "signed", "on": "2025-02-02"}]},
           who="busan-city")
    create(d, k, {"title": "CABC – Busan", "parties": ["busan-city"], "timezone": tz,
                  "history": [{"stage": "signed", "on": "2025-02-03"}]}, who="cabc")
    # The host's, ended in 2023: not in a 2025 quarter; and one made after it.
    create(d, k, {"title": "Old MOU", "parties": ["cabc"], "timezone": tz,
                  "history": [{"stage": "signed", "on": "2021-01-01"},
                              {"stage": "terminated", "on": "2023-01-01"}]})
    create(d, k, {"title": "Later LOI", "parties": ["cabc"], "timezone": tz,
                  "history": [{"stage": "intent", "on": "2025-06-01"}]})
    # Visits in the quarter: the Busan delegation at the host, one item
    # held; the host's delegation to Seoul TP, two; Busan's delegation to
    # the host (Busan's outbound visit: inbound for the host), one; the San
    # Francisco Chamber at the host, none (a partner with visits only).
    visit(d, k, "host", "inbound", ["busan-city"], "2025-02-10T09:00:00",
          "2025-02-11T18:00:00", items=["2025-02-10T14:00:00"])
    visit(d, k, "host", "outbound", ["seoul-tp"], "2025-03-05T09:00:00",
          "2025-03-07T18:00:00", status="completed",
          items=["2025-03-05T14:00:00", "2025-03-06T10:00:00"])
    visit(d, k, "busan-city", "outbound", ["hcmc-dost"], "2025-03-20T09:00:00",
          "2025-03-21T18:00:00", items=["2025-03-20T15:00:00"])
    visit(d, k, "host", "inbound", ["sf-chamber"], "2025-01-20T09:00:00",
          "2025-01-21T18:00:00", status="completed")
    # CABC arrived before the quarter: its visit is not counted, the item
    # it held in the quarter is.
    visit(d, k, "host", "inbound", ["cabc"], "2024-12-30T09:00:00", "2025-01-02T18:00:00",
          items=["2024-12-31T10:00:00", "2025-01-02T10:00:00"])
    # Not counted: cancelled, only proposed, after the quarter, and
    # Busan's private visit without the host (not the host's to see).
    gone = visit(d, k, "host", "outbound", ["busan-city"], "2025-02-20T09:00:00",
                 "2025-02-21T18:00:00", items=["2025-02-20T10:00:00"])
    assert d.request("DELETE", f"/v1/visits/{gone['id']}", token=k["host"]).status == 200
    visit(d, k, "host", "outbound", ["cabc"], "2025-03-10T09:00:00", "2025-03-11T18:00:00",
          status="proposed", items=["2025-03-10T10:00:00"])
    visit(d, k, "host", "inbound", ["busan-city"], "2025-05-01T09:00:00", "2025-05-02T18:00:00",
          items=["2025-05-01T10:00:00"])
    visit(d, k, "busan-city", "inbound", ["sf-chamber"], "2025-02-12T09:00:00",
          "2025-02-13T18:00:00", visibility="private", items=["2025-02-12T10:00:00"])
    return db, k, d


def test_the_quarter_per_partner_country_and_in_all(ctx):
    db, k, d = setup(ctx)
    r = d.request("GET", "/v1/reports/cooperation" + Q1, token=k["viewer"])
    assert r.status == 200 and r.header("Content-Type") == "application/json", r
    rep = r.json()
    busan_name = '=HYPERLINK("http://x.example","Busan, ""city""")'
    assert rep["from"] == "2025-01-01" and rep["to"] == "2025-04-01"
    by_org = {p["org"]: p for p in rep["partners"]}
    assert sorted(by_org) == ["busan-city", "cabc", "seoul-tp", "sf-chamber"]
    assert by_org["busan-city"] == dict({
        "org": "busan-city", "name": busan_name, "country": "KR",
        "agreements": {"total": 2, "by_stage": dict(EMPTY, signed=2), "signed_in_period": 1,
                       "dormant": 1, "expiring": 0}}, **visits(2, 0, 2))
    assert by_org["seoul-tp"] == dict({
        "org": "seoul-tp", "name": "Seoul Techno Park", "country": "KR",
        "agreements": {"total": 1, "by_stage": dict(EMPTY, signed=1), "signed_in_period": 1,
                       "dormant": 0, "expiring": 0}}, **visits(0, 1, 2))
    assert by_org["cabc"] == dict({
        "org": "cabc", "name": "cabc", "country": "CA",
        "agreements": {"total": 1, "by_stage": dict(EMPTY, intent=1), "signed_in_period": 0,
                       "dormant": 0, "expiring": 0}}, **visits(0, 0, 1))
    assert by_org["sf-chamber"] == dict({
        "org": "sf-chamber", "name": "San Francisco Chamber of Commerce", "country": "US",
        "agreements": NONE}, **visits(1, 0, 0))
    # The MOU with Busan and Seoul TP counts once for Korea, and so do the
    # visits with either.
    assert [(c["country"], c["agreements"]["total"], c["visits"], c["items_held"])
            for c in rep["countries"]] == [
        ("CA", 1, {"inbound": 0, "outbound": 0}, 1),
        ("KR", 2, {"inbound": 2, "outbound": 1}, 4),
        ("US", 0, {"inbound": 1, "outbound": 0}, 0)]
    assert rep["total"] == dict({"agreements": {
        "total": 3, "by_stage": dict(EMPTY, intent=1, signed=2),
        "signed_in_period": 1, "dormant": 1, "expiring": 0}}, **visits(3, 1, 5))
    assert "not_yet_counted" not in rep
    # Busan's own report: its private agreement is its own to count.
    b = d.request("GET", "/v1/reports/cooperation" + Q1, token=k["busan-city"]).json()
    assert b["total"]["agreements"]["total"] == 4
    # and its visits as it sees them: its own outbound one to the host, the
    # host's inbound one from Busan (outbound for Busan), its private one.
    assert b["total"]["visits"] == {"inbound": 1, "outbound": 2}
    assert b["total"]["items_held"] == 3
    # Another quarter counts what it held: the Busan visit of May.
    q2 = d.request("GET", "/v1/reports/cooperation?from=2025-04-01&to=2025-07-01",
                   token=k["host"]).json()
    assert q2["total"]["visits"] == {"inbound": 1, "outbound": 0}
    assert q2["total"]["items_held"] == 1
    text = str(rep)
    for hidden in ("Busan alone", "CABC – Busan"):
        assert hidden not in text


def test_csv_by_accept_or_format(ctx):
    db, k, d = setup(ctx)
    j = d.request("GET", "/v1/reports/cooperation" + Q1, token=k["host"]).json()
    for extra, headers in [("", {"Accept": "text/csv"}), ("&format=csv", {}),
                           ("&format=csv", {"Accept": "application/json"}),
                           ("", {"Accept": "application/json;q=0.5, text/csv"})]:
        r = d.request("GET", "/v1/reports/cooperation" + Q1 + extra, token=k["host"],
                      headers=headers)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("text/csv"), r.headers
        assert "cooperation-2025-01-01-2025-04-01.csv" in r.header("Content-Disposition")
        text = r.body.decode()
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [(x["scope"], x["org"] or x["country"]) for x in rows] == [
            ("partner", "busan-city"), ("partner", "cabc"), ("partner", "seoul-tp"),
            ("partner", "sf-chamber"), ("country", "CA"), ("country", "KR"), ("country", "US"),
            ("total", "")]
        busan = rows[0]
        # A cell that would run as a formula is kept as text.
        assert busan["name"] == "'" + j["partners"][0]["name"], busan["name"]
        assert busan["signed"] == "2" and busan["signed_in_period"] == "1"
        assert busan["dormant"] == "1" and busan["visits_in"] == "2"
        assert busan["visits_out"] == "0" and busan["items_held"] == "2"
        assert rows[-1]["agreements"] == "3" and rows[-1]["visits_in"] == "3"
        assert rows[-1]["visits_out"] == "1" and rows[-1]["items_held"] == "5"
        # The columns say SPEC's stage names.
        assert list(rows[0])[5:11] == ["intent", "drafting", "signed", "renewal", "expired",
                                       "terminated"], list(rows[0])
    for accept in ["application/json", "text/csv;q=0.1, application/json", "*/*", None]:
        r = d.request("GET", "/v1/reports/cooperation" + Q1, token=k["host"],
                      headers={"Accept": accept} if accept else {})
        assert r.header("Content-Type") == "application/json", (accept, r.headers)


def test_formula_cells_of_every_kind_are_defused(ctx):
    db, k, d = setup(ctx)
    for name in ["+SUM(1,1)", "-2+3", "@cmd", "\tx", "plain, with \"quotes\"\nand a line"]:
        sql(ctx, db, "UPDATE orgs SET name = $$" + name + "$$ WHERE slug = 'cabc'")
        r = d.request("GET", "/v1/reports/cooperation" + Q1 + "&format=csv", token=k["host"])
        rows = list(csv.DictReader(io.StringIO(r.body.decode(), newline="")))
        cabc = [x for x in rows if x["org"] == "cabc"][0]
        want = name if name[0] not in "+-@\t" else "'" + name
        assert cabc["name"] == want, (name, cabc["name"])


def test_bad_queries(ctx):
    db, k, d = world(ctx)
    for query, field in [("", "from"), ("?from=2025-01-01", "to"),
                         ("?from=2025-13-01&to=2025-04-01", "from"),
                         ("?from=2025-04-01&to=2025-01-01", "to"),
                         ("?from=2025-01-01&to=2025-01-01", "to"),
                         ("?from=2025-01-01T00:00:00Z&to=2025-04-01", "from"),
                         (Q1 + "&format=xlsx", "format"), (Q1 + "&org=cabc", "org")]:
        p = problem(d.request("GET", "/v1/reports/cooperation" + query, token=k["host"]), 422)
        assert field in [e["field"] for e in p["errors"]], (query, p)
    problem(d.request("GET", "/v1/reports/cooperation" + Q1), 401)
