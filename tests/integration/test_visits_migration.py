"""Upgrading a database with data from the schema before visits (sql/001
to 012) to today's (013 visits, 016 their tasks, and whatever else is
numbered after 012): every row stays as it was, the daemon serves it as
before, and visits can be made beside it."""
import glob
import json
import os

from harness import ROOT, problem, run_cli
from test_feeds import parse
from test_visits import BUSAN

# Rows as today's daemon writes them: orgs and keys, a visit as an event
# with an itinerary item (parent_id), a weekly series with a cancelled
# occurrence, an agreement with its milestone, a feed and a webhook
# endpoint with filters, an idempotency key, a queued message.
DATA = """
INSERT INTO orgs (id, slug, name, timezone, country, is_host) VALUES
  ('00000000-0000-4000-8000-000000000001', 'hcmc-dost', 'HCMC DOST', 'Asia/Ho_Chi_Minh', 'VN', true),
  ('00000000-0000-4000-8000-000000000002', 'busan-city', 'Busan', 'Asia/Seoul', 'KR', false);
INSERT INTO events (id, org_id, uid, kind, title, description, location, city, country, timezone,
                    start_local, end_local, start_utc, end_utc, last_end_utc, partners, tags,
                    reminders)
VALUES ('00000000-0000-4000-8000-0000000000e1', '00000000-0000-4000-8000-000000000001',
        'old-visit@liaison', 'visit', 'Busan city delegation at HCMC DOST', 'Đoàn Busan',
        'HCMC DOST, Room 1', 'Ho Chi Minh City', 'VN', 'Asia/Ho_Chi_Minh', '2027-08-21 14:00',
        '2027-08-21 17:00', '2027-08-21 07:00Z', '2027-08-21 10:00Z', '2027-08-21 10:00Z',
        '{busan-city}', '{delegation}', '{-P7D,-PT2H}');
INSERT INTO events (id, org_id, uid, kind, title, timezone, start_local, end_local, start_utc,
                    end_utc, last_end_utc, parent_id)
VALUES ('00000000-0000-4000-8000-0000000000e2', '00000000-0000-4000-8000-000000000001',
        'old-item@liaison', 'meeting', 'Working lunch', 'Asia/Ho_Chi_Minh', '2027-08-21 12:00',
        '2027-08-21 13:00', '2027-08-21 05:00Z', '2027-08-21 06:00Z', '2027-08-21 06:00Z',
        '00000000-0000-4000-8000-0000000000e1');
INSERT INTO events (id, org_id, uid, kind, title, timezone, start_local, end_local, start_utc,
                    end_utc, last_end_utc, rrule)
VALUES ('00000000-0000-4000-8000-0000000000e3', '00000000-0000-4000-8000-000000000002',
        'weekly@liaison', 'meeting', 'Weekly call', 'Asia/Seoul', '2027-09-06 09:00',
        '2027-09-06 10:00', '2027-09-06 00:00Z', '2027-09-06 01:00Z', '2027-09-27 01:00Z',
        'FREQ=WEEKLY;COUNT=4');
INSERT INTO events (id, org_id, uid, kind, title, timezone, start_local, end_local, start_utc,
                    end_utc, last_end_utc, series_id, recurrence_id, status)
VALUES ('00000000-0000-4000-8000-0000000000e4', '00000000-0000-4000-8000-000000000002',
        'weekly@liaison', 'meeting', 'Weekly call', 'Asia/Seoul', '2027-09-13 09:00',
        '2027-09-13 10:00', '2027-09-13 00:00Z', '2027-09-13 01:00Z', '2027-09-13 01:00Z',
        '00000000-0000-4000-8000-0000000000e3', '2027-09-13 09:00', 'cancelled');
INSERT INTO agreements (id, org_id, title, parties, stage, signed_on, timezone)
VALUES ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001',
        'Letter of intent', '{busan-city}', 'intent', '2027-10-14', 'Asia/Ho_Chi_Minh');
INSERT INTO events (id, org_id, uid, kind, title, timezone, all_day, start_local, end_local,
                    start_utc, end_utc, last_end_utc, agreement_id, agreement_part, partners)
VALUES ('00000000-0000-4000-8000-0000000000e5', '00000000-0000-4000-8000-000000000001',
        'mou@liaison', 'deadline', 'MOU due', 'Asia/Ho_Chi_Minh', true, '2028-06-30',
        '2028-07-01', '2028-06-29 17:00Z', '2028-06-30 17:00Z', '2028-06-30 17:00Z',
        '00000000-0000-4000-8000-0000000000a1', 'milestone', '{busan-city}');
INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)
VALUES ('00000000-0000-4000-8000-000000000001', 'busan-2027', 'h',
        '00000000-0000-4000-8000-0000000000e1');
INSERT INTO feeds (id, org_id, name, token_hash, filter)
VALUES ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-000000000001',
        'Visits', repeat('ab', 32), '{"kinds": ["visit", "meeting"], "partners": ["busan-city"]}');
INSERT INTO webhook_endpoints (id, org_id, url, types, filter, secret)
VALUES ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-000000000001',
        'https://bot.example.org/x', '{event.created,event.updated}', '{"kinds": ["visit"]}',
        'whsec_c2VjcmV0');
INSERT INTO webhook_messages (id, endpoint_id, type, event_id, state)
VALUES ('msg_old', '00000000-0000-4000-8000-0000000000b1', 'event.created',
        '00000000-0000-4000-8000-0000000000e1', 'delivered');
"""

TABLES = ["orgs", "events", "agreements", "feeds", "webhook_endpoints", "webhook_messages",
          "idempotency_keys", "reminder_queue"]


def snapshot(psql):
    """Every row of the tables that existed, without 013's new columns
    (events.visit_id and titles, feeds.language, webhook_messages.visit_id
    and task_id)."""
    out = {}
    for t in TABLES:
        rows = psql(f"SELECT coalesce(jsonb_agg(to_jsonb(x) - 'visit_id' - 'titles' - 'language'"
                    f" - 'task_id' ORDER BY to_jsonb(x)::text), '[]') FROM {t} x")
        out[t] = json.loads(rows)
    return out


def test_upgrade_from_the_schema_before_visits(ctx):
    db = ctx.database()
    name = db.split("dbname=")[1]

    def psql(sql):
        return ctx.cluster.psql(sql, name)
    psql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
         "applied_at timestamptz NOT NULL DEFAULT now())")
    for path in sorted(glob.glob(os.path.join(ROOT, "sql", "0*.sql"))):
        base = os.path.basename(path)
        version = int(base.split("_")[0])
        if version >= 13:
            continue
        with open(path) as f:
            psql("BEGIN;\n" + f.read() + f"\nINSERT INTO schema_migrations VALUES ({version}, "
                 f"'{base}'); COMMIT;")
    psql(DATA)
    assert psql("SELECT max(version) FROM schema_migrations") == "12"
    before = snapshot(psql)
    assert len(before["events"]) == 5 and len(before["webhook_messages"]) == 1
    run_cli(["migrate"], db)
    latest = max(int(os.path.basename(p).split("_")[0])
                 for p in glob.glob(os.path.join(ROOT, "sql", "0*.sql")))
    assert psql("SELECT max(version) FROM schema_migrations") == str(latest) and latest >= 16
    assert psql("SELECT count(*) FROM visit_tasks") == "0"
    assert snapshot(psql) == before
    assert psql("SELECT count(*) FROM events WHERE visit_id IS NOT NULL") == "0"
    # The daemon serves the old rows as before, and visits beside them.
    token = run_cli(["key", "create", "hcmc-dost", "--role", "admin"], db).stdout.strip()
    partner = run_cli(["key", "create", "busan-city", "--role", "admin"], db).stdout.strip()
    d = ctx.daemon(db)
    old = d.request("GET", "/v1/events/00000000-0000-4000-8000-0000000000e2", token=token).json()
    assert old["parent_id"] == "00000000-0000-4000-8000-0000000000e1"
    assert old["title"] == "Working lunch"
    # An old event is still changed through /v1/events, and conflicts as before.
    r = d.request("PATCH", "/v1/events/00000000-0000-4000-8000-0000000000e1", token=token,
                  body={"title": "Busan delegation (confirmed)"})
    assert r.status == 200 and r.json()["conflicts"] == [], r
    feed = d.request("POST", "/v1/feeds", token=token, body={"name": "All"}).json()
    cal = parse(d.request("GET", feed["url"][feed["url"].index("/feeds/"):]).body)
    assert sorted(e["summary"] for e in cal["events"]) == [
        "Busan delegation (confirmed)", "MOU due", "Weekly call", "Working lunch"]
    v = d.request("POST", "/v1/visits", token=token,
                  body=json.loads(json.dumps(BUSAN).replace('"2024-', '"2027-')))
    assert v.status == 201, v
    # Its meeting at HCMC DOST overlaps the old visit event there: a venue clash.
    clash = v.json()["programme"][0]["conflicts"]
    assert clash == [{"id": "00000000-0000-4000-8000-0000000000e1",
                      "title": "Busan delegation (confirmed)"}], clash
    assert d.request("GET", "/v1/agreements/00000000-0000-4000-8000-0000000000a1",
                     token=partner).json()["milestones"][0]["title"] == "MOU due"
    problem(d.request("GET", "/v1/visits/00000000-0000-4000-8000-0000000000e1", token=token), 404)
