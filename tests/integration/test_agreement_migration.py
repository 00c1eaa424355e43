"""Upgrading a database with agreements in it from the schema before
sql/017 (stage history): the old stages take their new names, each
agreement gets a history from what it held, nothing else changes, no
webhook message is queued, and the daemon serves the old rows at once
(feeds show the new stage names, with a higher SEQUENCE)."""
import datetime
import glob
import json
import os
import zoneinfo

from harness import ROOT, run_cli
from test_agreements import feed_events

TZ = "Asia/Ho_Chi_Minh"
ORG = "00000000-0000-4000-8000-00000000000"
AG = "00000000-0000-4000-8000-0000000000a"


def today():
    return datetime.datetime.now(zoneinfo.ZoneInfo(TZ)).date()


def data(due):
    rows = [("1", "intent", "'2024-10-14'", "NULL"), ("2", "drafting", "NULL", "NULL"),
            ("3", "signed", "'2024-05-15'", "NULL"), ("4", "renewal", "'2015-10-01'", "'2025-10-01'"),
            ("5", "expired", "'2019-01-01'", "'2024-01-01'"), ("6", "terminated", "NULL", "NULL")]
    ags = ",\n".join(
        f"('{AG}{n}', '{ORG}1', 'Agreement {n}', '{{busan-city}}', '{stage}', {signed}, "
        f"{expires}, '{TZ}', '2024-10-01 03:00Z', '2024-12-01 03:00Z')"
        for n, stage, signed, expires in rows)
    return f"""
INSERT INTO orgs (id, slug, name, timezone, country, is_host) VALUES
  ('{ORG}1', 'hcmc-dost', 'HCMC DOST', '{TZ}', 'VN', true),
  ('{ORG}2', 'busan-city', 'Busan', 'Asia/Seoul', 'KR', false);
INSERT INTO agreements (id, org_id, title, parties, stage, signed_on, expires_on, timezone,
                        created_at, updated_at)
VALUES {ags};
INSERT INTO events (id, org_id, uid, kind, title, timezone, all_day, start_local, end_local,
                    start_utc, end_utc, last_end_utc, agreement_id, agreement_part, partners,
                    reminders)
VALUES ('00000000-0000-4000-8000-0000000000e1', '{ORG}1', 'review@liaison', 'deadline',
        'Renewal review', '{TZ}', true, '{due}', '{due}'::date + 1,
        '{due}'::timestamp AT TIME ZONE '{TZ}', ('{due}'::date + 1)::timestamp AT TIME ZONE '{TZ}',
        ('{due}'::date + 1)::timestamp AT TIME ZONE '{TZ}', '{AG}4', 'milestone',
        '{{busan-city}}', '{{-P14D}}'),
       ('00000000-0000-4000-8000-0000000000e2', '{ORG}1', 'visit@liaison', 'visit',
        'Busan city delegation', '{TZ}', false, '{due} 14:00', '{due} 17:00',
        '{due} 07:00Z', '{due} 10:00Z', '{due} 10:00Z', NULL, NULL,
        '{{busan-city}}', '{{}}');
INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)
VALUES ('{ORG}1', 'busan-2024', 'h', '00000000-0000-4000-8000-0000000000e2');
INSERT INTO webhook_endpoints (id, org_id, url, types, secret)
VALUES ('00000000-0000-4000-8000-0000000000b1', '{ORG}2', 'https://bot.example.org/x',
        '{{agreement.created,agreement.updated,event.updated}}', 'whsec_c2VjcmV0');
"""


def test_upgrade_from_the_schema_before_stage_history(ctx):
    db = ctx.database()
    name = db.split("dbname=")[1]

    def psql(q):
        return ctx.cluster.psql(q, name)
    psql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
         "applied_at timestamptz NOT NULL DEFAULT now())")
    for path in sorted(glob.glob(os.path.join(ROOT, "sql", "0*.sql"))):
        base = os.path.basename(path)
        version = int(base.split("_")[0])
        if version >= 17:
            continue
        with open(path) as f:
            psql("BEGIN;\n" + f.read() + f"\nINSERT INTO schema_migrations VALUES ({version}, "
                 f"'{base}'); COMMIT;")
    due = (today() + datetime.timedelta(days=100)).isoformat()
    psql(data(due))
    events = "SELECT jsonb_agg(to_jsonb(e) - 'agreement_done_on' - 'agreement_suspended' " \
             "ORDER BY e.id) FROM events e"
    kept = "SELECT jsonb_agg(to_jsonb(a) - 'stage' - 'history' - 'version' - 'updated_at' " \
           "- 'dormant_after_days' - 'expiring_notice_days' ORDER BY a.id) FROM agreements a"
    before = {q: json.loads(psql(q)) for q in (events, kept)}
    before_msgs = psql("SELECT count(*) FROM webhook_messages")
    before_keys = psql("SELECT to_jsonb(k) FROM idempotency_keys k")
    run_cli(["migrate"], db)
    assert psql("SELECT count(*) FROM schema_migrations WHERE version = 17") == "1"
    assert {q: json.loads(psql(q)) for q in (events, kept)} == before
    assert psql("SELECT count(*) FROM webhook_messages") == before_msgs  # told no one
    assert psql("SELECT to_jsonb(k) FROM idempotency_keys k") == before_keys
    note = "recorded at the upgrade to stage history"
    rows = {r["id"][-1]: r for r in json.loads(psql(
        "SELECT jsonb_agg(jsonb_build_object('id', id, 'stage', stage, 'history', history, "
        "'version', version)) FROM agreements"))}
    want = {
        "1": ("letter_of_intent", 2, [("letter_of_intent", "2024-10-01")]),
        "2": ("negotiation", 2, [("negotiation", "2024-10-01")]),
        "3": ("signed", 1, [("signed", "2024-05-15")]),
        "4": ("active", 2, [("signed", "2015-10-01"), ("active", "2024-12-01")]),
        "5": ("expired", 1, [("signed", "2019-01-01"), ("expired", "2024-01-01")]),
        "6": ("terminated", 1, [("terminated", "2024-12-01")]),
    }
    for n, (stage, version, hist) in want.items():
        r = rows[n]
        assert r["stage"] == stage and r["version"] == version, r
        assert [(h["stage"], h["on"]) for h in r["history"]] == hist, r
        notes = [h["note"] for h in r["history"]]
        assert notes == [note] * len(hist) or (n == "4" and notes[0] == note and
                                                "renewal" in notes[1]), r

    # The daemon serves them: the new names, the old ones still taken.
    token = run_cli(["key", "create", "hcmc-dost", "--role", "admin"], db).stdout.strip()
    d = ctx.daemon(db)
    got = d.request("GET", "/v1/agreements", token=token).json()["items"]
    assert sorted(a["stage"] for a in got) == sorted(s for s, _, _ in want.values())
    r = d.request("PATCH", f"/v1/agreements/{AG}1", token=token, body={"stage": "drafting"})
    assert r.status == 200, r
    assert r.json()["stage"] == "negotiation"
    assert [h["stage"] for h in r.json()["history"]] == ["letter_of_intent", "negotiation"]
    four = d.request("GET", f"/v1/agreements/{AG}4", token=token).json()
    assert four["milestones"][0]["title"] == "Renewal review"
    assert four["expiring"] is False  # expired in 2025 by its date, active by its stage
    # Feeds show the new stage, and the change: SEQUENCE up by the rename.
    feed = d.request("POST", "/v1/feeds", token=token, body={"name": "All"}).json()
    vevents = feed_events(d, feed["url"][feed["url"].index("/feeds/"):])
    review = vevents["review@liaison"]
    assert "(stage: active)" in review["description"], review
    assert review["sequence"] == 1, review
    assert vevents["visit@liaison"]["sequence"] == 0
    r = d.request("DELETE", f"/v1/agreements/{AG}3", token=token)
    assert r.status == 200 and r.json()["stage"] == "terminated", r
