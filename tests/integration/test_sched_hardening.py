"""Issue 15, the scheduler's and the database layer's part: what a webhook
carries agrees with what its endpoint's org may see when it is sent; a row
that cannot be planned never holds back other orgs' reminders; a frozen
PostgreSQL gives 503 within the query deadline instead of hanging; the
delivery log counts only the attempts made; concurrent creates with one
Idempotency-Key and a first key for an org that has one get clear answers."""
import os
import signal
import threading
import time

import harness
from harness import problem, run_cli, wait_for
from receiver import Receiver
from test_events import world
from test_webhooks import FAST, daemon_alone, utc_in

SECRET = "Merger talks with Samsung (confidential)"
SECRET_DESC = "Do not forward: board approval pending"


def dbname(db):
    return db.split("dbname=")[1]


def log_of(d, token, ep):
    r = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries", token=token)
    assert r.status == 200, r
    return r.json()["items"]


# ---- 1. the body and the visibility decision agree --------------------------------


def test_a_change_made_private_never_reaches_another_orgs_endpoint(ctx):
    # CABC watches HCMC DOST's items through a slow receiver that takes one
    # message at a time, so the messages about what HCMC DOST writes wait
    # while HCMC DOST makes the event (and an agreement) private.
    db, k, d = daemon_alone(ctx, FAST + ["--webhook-endpoint-concurrency", "1"])
    rx = Receiver()
    r = d.request("POST", "/v1/webhooks", token=k["cabc"], body={
        "url": rx.url, "filter": {"orgs": ["hcmc-dost"]}})
    assert r.status == 201, r
    ep = r.json()
    rx.secrets.append(ep["secret"])
    rx.delay = 4
    assert d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["cabc"]).status == 202
    rx.wait(1)  # held for 4 s: nothing else goes to this endpoint meanwhile
    rx.delay = 0
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Open day", "timezone": "Asia/Ho_Chi_Minh",
        "start": "2027-05-04T09:00:00", "end": "2027-05-04T10:00:00"}).json()
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={
        "visibility": "private", "title": SECRET, "description": SECRET_DESC})
    assert r.status == 200, r
    problem(d.request("GET", f"/v1/events/{ev['id']}", token=k["cabc"]), 404)
    r = d.request("POST", "/v1/agreements", token=k["host"], body={
        "title": "Letter of intent", "stage": "intent", "signed_on": "2027-05-04",
        "parties": ["busan-city"]})
    assert r.status == 201, r
    ag = r.json()
    r = d.request("PATCH", f"/v1/agreements/{ag['id']}", token=k["host"], body={
        "visibility": "private", "title": SECRET})
    assert r.status == 200, r
    problem(d.request("GET", f"/v1/agreements/{ag['id']}", token=k["cabc"]), 404)
    # A network event written afterwards still goes: the endpoint works.
    later = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Public briefing", "timezone": "Asia/Ho_Chi_Minh",
        "start": "2027-05-05T09:00:00"}).json()

    def briefed():
        return [m for m in rx.messages("event.created")
                if m["json"]["data"]["event"]["id"] == later["id"]]
    wait_for(briefed, 20, what="the later network event's message")
    time.sleep(0.5)
    for m in rx.messages():
        assert m["valid"]
        assert SECRET.encode() not in m["body"] and SECRET_DESC.encode() not in m["body"], m
        data = (m["json"] or {}).get("data", {})
        assert data.get("event", {}).get("id") != ev["id"], m["json"]
        assert data.get("agreement", {}).get("id") != ag["id"], m["json"]
    # The withheld messages are in the log, cancelled, with the reason.
    items = log_of(d, k["cabc"], ep)
    about_ev = [i for i in items if i["event_id"] == ev["id"]]
    about_ag = [i for i in items if i["agreement_id"] == ag["id"]]
    assert about_ev and about_ag, items
    for i in about_ev + about_ag:
        assert i["state"] == "cancelled" and i["attempts"] == 0, i
        assert "may no longer see" in i["last_error"], i
    metrics = d.request("GET", "/metrics").body.decode()
    assert "liaison_webhook_messages_withheld_total 0" not in metrics
    # The owner's own endpoint is told everything, private or not.
    own = Receiver()
    r = d.request("POST", "/v1/webhooks", token=k["host"], body={"url": own.url})
    own.secrets.append(r.json()["secret"])
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"location": "Room 2"})
    assert r.status == 200, r
    m = own.wait(1, type_="event.updated")[0]
    assert m["json"]["data"]["event"]["title"] == SECRET
    rx.close()
    own.close()


def test_a_reminder_is_not_sent_once_its_event_is_hidden_from_the_endpoint(ctx):
    # A reminder fired while the event was visible to CABC; its first
    # attempt fails; the event is made private before the retry: the retry
    # is cancelled, not sent.
    args = ["--webhook-allow-private", "true", "--webhook-retry-schedule", "2s,2s",
            "--webhook-timeout", "2s"]
    db, k, d = daemon_alone(ctx, args)
    rx = Receiver()
    rx.status = 500
    r = d.request("POST", "/v1/webhooks", token=k["cabc"], body={
        "url": rx.url, "types": ["reminder.due"]})
    ep = r.json()
    rx.secrets.append(ep["secret"])
    start = utc_in(3600 + 2)
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Visible for now", "timezone": "UTC",
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]}).json()
    rx.wait(1, timeout=15, type_="reminder.due")
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"visibility": "private", "title": SECRET})
    assert r.status == 200, r
    rx.status = 204

    def cancelled():
        items = [i for i in log_of(d, k["cabc"], ep) if i["type"] == "reminder.due"]
        return items if items and items[0]["state"] == "cancelled" else None
    items = wait_for(cancelled, 15, what="the retry to be cancelled")
    assert items[0]["attempts"] == 1 and len(items[0]["attempt_log"]) == 1, items
    time.sleep(0.5)
    assert len(rx.messages()) == 1
    assert all(SECRET.encode() not in m["body"] for m in rx.messages())


# ---- 2. a row that cannot be planned is parked ------------------------------------

BAD_RULE = "FREQ=YEARLY;BYYEARDAY=-366,366,1;BYMONTHDAY=-1"


def test_unplannable_rules_do_not_stop_other_orgs_reminders(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    # 100 stored events of Busan whose rule libical accepts and cannot step
    # (stored straight into the table: whether the API refuses such a rule
    # at creation is not what is tested here), all queued for planning
    # before anything else.
    ctx.cluster.psql(f"""
        INSERT INTO events (org_id, uid, kind, title, timezone, start_local, start_utc,
                            end_utc, last_end_utc, rrule, reminders)
        SELECT o.id, 'bad-' || g || '@test', 'meeting', 'Bad rule ' || g, 'Asia/Seoul',
               '2027-01-01 09:00', '2027-01-01 00:00Z', '2027-01-01 01:00Z', 'infinity',
               '{BAD_RULE}', ARRAY['-PT1H']
          FROM orgs o, generate_series(1, 100) g
         WHERE o.slug = 'busan-city'""", dbname(db))
    bad = ctx.cluster.psql("SELECT id FROM events WHERE uid = 'bad-1@test'", dbname(db))
    # Another org's new event gets its reminder planned at once.
    start = utc_in(7 * 86400)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Becamex IDC and NUS", "timezone": "UTC",
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    assert r.status == 201, r
    good = r.json()["id"]
    wait_for(lambda: ctx.cluster.psql(
        f"SELECT count(*) FROM reminders WHERE event_id = '{good}'", dbname(db)) == "1",
        10, interval=0.2, what="the other org's reminder to be planned")
    # Each bad row failed once and is parked, not tried every second.
    wait_for(lambda: ctx.cluster.psql(
        "SELECT count(*) FROM reminder_queue WHERE failures = 1 AND queued_at > now()",
        dbname(db)) == "100", 10, interval=0.2, what="the bad rows to be parked")
    time.sleep(3)
    assert ctx.cluster.psql("SELECT max(failures) FROM reminder_queue", dbname(db)) == "1"
    assert "recurrence rule" in ctx.cluster.psql(
        f"SELECT last_error FROM reminder_queue WHERE event_id = '{bad}'", dbname(db))
    metrics = d.request("GET", "/metrics").body.decode()
    assert "liaison_reminder_plans_parked_total 100" in metrics, metrics
    assert "liaison_reminder_plan_failures_total 100" in metrics, metrics
    # Logged once per event, not once per try.
    log = d.logtext()
    assert log.count(f"cannot plan the reminders of event {bad}") == 1, log[-3000:]
    # The API says what is wrong with the event instead of a 500.
    p = problem(d.request("GET", f"/v1/events/{bad}/reminders", token=k["host"]), 422)
    assert [e["field"] for e in p["errors"]] == ["rrule"], p
    # Fixing the rule plans it at once, whatever the backoff.
    ctx.cluster.psql(f"UPDATE events SET rrule = 'FREQ=YEARLY', version = version + 1 "
                     f"WHERE id = '{bad}'", dbname(db))
    wait_for(lambda: ctx.cluster.psql(
        f"SELECT count(*) FROM reminders WHERE event_id = '{bad}'", dbname(db)) != "0",
        10, interval=0.2, what="the fixed event to be planned")
    assert ctx.cluster.psql(f"SELECT count(*) FROM reminder_queue WHERE event_id = '{bad}'",
                            dbname(db)) == "0"


def test_a_plan_the_database_refuses_holds_up_no_other_in_its_batch(ctx):
    # Plans are written a batch to a statement: one event whose reminders
    # the database refuses (a trigger here, as a broken row or a constraint
    # would) must not keep the others of its batch unplanned.
    db, k, d = daemon_alone(ctx, FAST)
    ctx.cluster.psql("""
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT title FROM events WHERE id = NEW.event_id) = 'Poison' THEN
                RAISE EXCEPTION 'refused for the test';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON reminders
            FOR EACH ROW EXECUTE FUNCTION test_refuse()""", dbname(db))
    ctx.cluster.psql("""
        INSERT INTO events (org_id, uid, kind, title, timezone, start_local, start_utc,
                            end_utc, last_end_utc, reminders)
        SELECT o.id, 'batch-' || g || '@test', 'meeting',
               CASE WHEN g = 25 THEN 'Poison' ELSE 'Batch ' || g END, 'UTC',
               '2027-03-01 09:00', '2027-03-01 09:00Z', '2027-03-01 10:00Z',
               '2027-03-01 10:00Z', ARRAY['-PT1H']
          FROM orgs o, generate_series(1, 50) g
         WHERE o.slug = 'hcmc-dost'""", dbname(db))
    poison = ctx.cluster.psql("SELECT id FROM events WHERE title = 'Poison'", dbname(db))
    wait_for(lambda: ctx.cluster.psql(
        "SELECT count(DISTINCT event_id) FROM reminders", dbname(db)) == "49",
        15, interval=0.2, what="the 49 others' reminders to be planned")
    assert ctx.cluster.psql(
        f"SELECT count(*) FROM reminders WHERE event_id = '{poison}'", dbname(db)) == "0"
    # Kept, parked: tried again later, its old plan (none here) fired
    # meanwhile rather than held back (SCHED_REPLANNING).
    wait_for(lambda: ctx.cluster.psql(
        "SELECT failures > 0 AND queued_at > now() AND last_error <> ''"
        f"  FROM reminder_queue WHERE event_id = '{poison}'", dbname(db)) == "t",
        15, interval=0.2, what="the refused plan parked")
    # Once the database takes it, it is planned too (the queue kept it),
    # when its delay is over (brought forward here: it is 30 s).
    ctx.cluster.psql("DROP TRIGGER test_refuse ON reminders", dbname(db))
    ctx.cluster.psql("UPDATE reminder_queue SET queued_at = now()", dbname(db))
    wait_for(lambda: ctx.cluster.psql(
        f"SELECT count(*) FROM reminders WHERE event_id = '{poison}'", dbname(db)) == "1",
        15, interval=0.2, what="the refused event to be planned once it is taken")
    assert ctx.cluster.psql("SELECT count(*) FROM reminder_queue", dbname(db)) == "0"


# ---- 7. a frozen database ---------------------------------------------------------


def _postgres_pids(cluster):
    with open(os.path.join(cluster.datadir, "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(entry))
    return pids


def freeze(cluster, sig):
    pids = _postgres_pids(cluster)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def _timed(d, method, path, token=None):
    t0 = time.monotonic()
    try:
        r = d.request(method, path, token=token, timeout=15)
    except OSError as e:  # no answer at all
        return None, time.monotonic() - t0, e
    return r, time.monotonic() - t0, None


def test_a_frozen_database_gives_503_within_the_deadline(ctx):
    cluster = ctx.private_cluster()
    db = cluster.conninfo()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--db-query-timeout", "2s"])
    # The org list: a query each time (a single org is read again from
    # memory for a second, core/rowcache.h).
    assert d.request("GET", "/readyz").status == 200
    assert d.request("GET", "/v1/orgs", token=token).status == 200
    freeze(cluster, signal.SIGSTOP)
    try:
        for path, tok in [("/readyz", None), ("/v1/orgs", token), ("/v1/events", token),
                          ("/readyz", None)]:
            r, took, err = _timed(d, "GET", path, tok)
            assert r is not None, f"{path}: no answer in {took:.1f}s ({err})"
            problem(r, 503)
            assert r.header("Retry-After"), r.headers
            assert took < 4.5, (path, took)
        assert d.request("GET", "/healthz").status == 200
        metrics = d.request("GET", "/metrics").body.decode()
        assert "liaison_db_query_timeouts_total" in metrics
    finally:
        freeze(cluster, signal.SIGCONT)
    t0 = time.monotonic()
    wait_for(lambda: d.request("GET", "/readyz").status == 200, 20, interval=0.1,
             what="/readyz to recover")
    wait_for(lambda: d.request("GET", "/v1/orgs", token=token).status == 200, 10,
             interval=0.1, what="the API to recover")
    assert time.monotonic() - t0 < 12, time.monotonic() - t0
    assert "did not answer within" in d.logtext()


def test_the_query_deadline_setting(ctx):
    for bad in ["0s", "50ms", "soon"]:
        out = run_cli(["--db-query-timeout", bad, "migrate"], check=False)
        assert out.returncode == 2 and "db_query_timeout" in out.stderr, (bad, out.stderr)
    assert "--db-query-timeout" in run_cli(["--help"]).stdout


def test_a_slow_statement_is_cut_at_the_deadline(ctx):
    # The server answers but a statement waits (here on a lock) past the
    # deadline: statement_timeout ends it, and the client gets 503.
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--db-query-timeout", "1s"])
    assert d.request("GET", "/v1/orgs", token=token).status == 200
    import subprocess
    locker = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-d", db, "-c",
         "BEGIN; LOCK TABLE orgs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: ctx.cluster.psql(
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted "
            "AND relation = 'orgs'::regclass", dbname(db)) == "1", 10, what="the lock")
        r, took, err = _timed(d, "GET", "/v1/orgs", token)
        assert r is not None, err
        problem(r, 503)
        assert r.header("Retry-After")
        assert 0.8 < took < 3, took
    finally:
        locker.wait(timeout=20)
    assert d.request("GET", "/v1/orgs", token=token).status == 200


# ---- also: the delivery log, idempotency, first keys -------------------------------


def test_a_rate_limited_endpoint_counts_only_real_attempts(ctx):
    # One message a minute: the second test message waits far longer than
    # a claim's lease. It is not claimed again and again meanwhile (each
    # claim counted an attempt, and each could send it once more).
    args = ["--webhook-allow-private", "true", "--webhook-timeout", "1s"]
    db, k, d = daemon_alone(ctx, args)
    rx = Receiver()
    r = d.request("POST", "/v1/webhooks", token=k["host"], body={
        "url": rx.url, "types": ["webhook.test"], "rate_limit": 1 / 60})
    ep = r.json()
    rx.secrets.append(ep["secret"])
    for _ in range(2):
        assert d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"]).status == 202
    rx.wait(1)
    time.sleep(16)  # two leases of 6 s (1 s timeout + 5 s) and more
    assert len(rx.messages()) == 1
    items = log_of(d, k["host"], ep)
    assert len(items) == 2, items
    for i in items:
        assert i["attempts"] == len(i["attempt_log"]), i
        assert i["attempts"] <= 1, i
    waiting = [i for i in items if not i["attempt_log"]]
    assert waiting and waiting[0]["state"] == "pending", items


def test_concurrent_creates_with_one_idempotency_key(ctx):
    db, k, d = world(ctx)
    body = {"kind": "meeting", "title": "Idempotent", "timezone": "Asia/Ho_Chi_Minh",
            "start": "2027-06-01T09:00:00"}
    for round_ in range(8):
        key = f"race-{round_}"
        answers = []

        def create():
            answers.append(d.request("POST", "/v1/events", token=k["editor"], body=body,
                                     headers={"Idempotency-Key": key}))
        threads = [threading.Thread(target=create) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = set()
        for r in answers:
            if r.status == 409:
                p = problem(r, 409)
                assert [e["field"] for e in p["errors"]] == ["Idempotency-Key"], p
                continue
            assert r.status == 201, r
            ids.add(r.json()["id"])
        assert len(ids) == 1, ids
    assert ctx.cluster.psql("SELECT count(*) FROM events WHERE title = 'Idempotent'",
                            dbname(db)) == "8"


def test_first_key_for_an_org_that_has_one_is_a_conflict(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/orgs", token=k["host"], body={
        "slug": "da-nang", "name": "Da Nang", "timezone": "Asia/Ho_Chi_Minh"})
    assert r.status == 201, r
    r = d.request("POST", "/v1/orgs/da-nang/keys", token=k["host"], body={})
    assert r.status == 201, r
    p = problem(d.request("POST", "/v1/orgs/da-nang/keys", token=k["host"], body={}), 409)
    assert "already" in p["detail"], p
    problem(d.request("POST", "/v1/orgs/no-such-org/keys", token=k["host"], body={}), 404)
    # The partner's key already exists too (made on the command line).
    problem(d.request("POST", "/v1/orgs/cabc/keys", token=k["host"], body={}), 409)
