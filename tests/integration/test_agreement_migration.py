"""Upgrading a database with agreements in it from the schema before
sql/017 (stage history): every agreement keeps its stage (SPEC's names:
nothing is renamed), its version and its updated_at, and gets a history
from what it held; nothing else changes, no webhook message is queued,
and the daemon serves the old rows at once with the same feed bytes as a
database that held the same rows from the start."""
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
AT = "'2024-09-01 03:00Z'"  # every row's created_at and updated_at: feeds' DTSTAMPs


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
INSERT INTO orgs (id, slug, name, timezone, country, is_host, created_at, updated_at, named_at)
VALUES ('{ORG}1', 'hcmc-dost', 'HCMC DOST', '{TZ}', 'VN', true, {AT}, {AT}, {AT}),
       ('{ORG}2', 'busan-city', 'Busan', 'Asia/Seoul', 'KR', false, {AT}, {AT}, {AT});
INSERT INTO agreements (id, org_id, title, parties, stage, signed_on, expires_on, timezone,
                        created_at, updated_at)
VALUES {ags};
INSERT INTO events (id, org_id, uid, kind, title, timezone, all_day, start_local, end_local,
                    start_utc, end_utc, last_end_utc, agreement_id, agreement_part, partners,
                    reminders, created_at, updated_at)
VALUES ('00000000-0000-4000-8000-0000000000e1', '{ORG}1', 'review@liaison', 'deadline',
        'Renewal review', '{TZ}', true, '{due}', '{due}'::date + 1,
        '{due}'::timestamp AT TIME ZONE '{TZ}', ('{due}'::date + 1)::timestamp AT TIME ZONE '{TZ}',
        ('{due}'::date + 1)::timestamp AT TIME ZONE '{TZ}', '{AG}4', 'milestone',
        '{{busan-city}}', '{{-P14D}}', {AT}, {AT}),
       ('00000000-0000-4000-8000-0000000000e2', '{ORG}1', 'visit@liaison', 'visit',
        'Busan city delegation', '{TZ}', false, '{due} 14:00', '{due} 17:00',
        '{due} 07:00Z', '{due} 10:00Z', '{due} 10:00Z', NULL, NULL,
        '{{busan-city}}', '{{}}', {AT}, {AT});
INSERT INTO idempotency_keys (org_id, key, request_hash, event_id)
VALUES ('{ORG}1', 'busan-2024', 'h', '00000000-0000-4000-8000-0000000000e2');
INSERT INTO webhook_endpoints (id, org_id, url, types, secret)
VALUES ('00000000-0000-4000-8000-0000000000b1', '{ORG}2', 'https://bot.example.org/x',
        '{{agreement.created,agreement.updated,event.updated}}', 'whsec_c2VjcmV0');
"""


def feed_body(ctx, d, token):
    """The whole feed of everything, as served."""
    feed = d.request("POST", "/v1/feeds", token=token, body={"name": "All"}).json()
    path = feed["url"][feed["url"].index("/feeds/"):]
    r = d.request("GET", path)
    assert r.status == 200, r
    return path, r.body


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
             "- 'change_xid' - 'file_version' - 'split_from' - 'orphan_of' - 'rdates_from' - 'first_utc' " \
             "ORDER BY e.id) FROM events e"
    # stage, version and updated_at included: the upgrade changes none of them
    kept = "SELECT jsonb_agg(to_jsonb(a) - 'history' - 'dormant_after_days' - 'change_xid' " \
           "- 'expiring_notice_days' ORDER BY a.id) FROM agreements a"
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
        "1": ("intent", [("intent", "2024-10-01")]),
        "2": ("drafting", [("drafting", "2024-10-01")]),
        "3": ("signed", [("signed", "2024-05-15")]),
        "4": ("renewal", [("signed", "2015-10-01"), ("renewal", "2024-12-01")]),
        "5": ("expired", [("signed", "2019-01-01"), ("expired", "2024-01-01")]),
        "6": ("terminated", [("terminated", "2024-12-01")]),
    }
    for n, (stage, hist) in want.items():
        r = rows[n]
        assert r["stage"] == stage and r["version"] == 1, r
        assert [(h["stage"], h["on"]) for h in r["history"]] == hist, r
        assert [h["note"] for h in r["history"]] == [note] * len(hist), r

    # The daemon serves them as they were: SPEC's names, the same feed bytes
    # as a database that had these rows from the start (no SEQUENCE moved,
    # no DTSTAMP, no text).
    token = run_cli(["key", "create", "hcmc-dost", "--role", "admin"], db).stdout.strip()
    d = ctx.daemon(db)
    got = d.request("GET", "/v1/agreements", token=token).json()["items"]
    assert sorted(a["stage"] for a in got) == sorted(s for s, _ in want.values())
    path, upgraded = feed_body(ctx, d, token)
    fresh_db = ctx.database()
    run_cli(["migrate"], fresh_db)
    ctx.cluster.psql(data(due), fresh_db.split("dbname=")[1])
    fresh_token = run_cli(["key", "create", "hcmc-dost", "--role", "admin"],
                          fresh_db).stdout.strip()
    _, fresh = feed_body(ctx, ctx.daemon(fresh_db), fresh_token)
    assert upgraded == fresh, (upgraded.decode(), fresh.decode())
    vevents = feed_events(d, path)
    review = vevents["review@liaison"]
    assert "Agreement: Agreement 4 (up for renewal, signed 1 Oct 2015, expires 1 Oct 2025)" \
        in review["description"], review
    assert review["sequence"] == 0 and vevents["visit@liaison"]["sequence"] == 0, vevents
    # The names are taken as input, and stored as SPEC's.
    r = d.request("PATCH", f"/v1/agreements/{AG}1", token=token, body={"stage": "negotiation"})
    assert r.status == 200, r
    assert r.json()["stage"] == "drafting"
    assert [h["stage"] for h in r.json()["history"]] == ["intent", "drafting"]
    four = d.request("GET", f"/v1/agreements/{AG}4", token=token).json()
    assert four["milestones"][0]["title"] == "Renewal review"
    assert four["expiring"] is False  # expired in 2025 by its date, up for renewal by its stage
    r = d.request("DELETE", f"/v1/agreements/{AG}3", token=token)
    assert r.status == 200 and r.json()["stage"] == "terminated", r
