"""Reminders are written as messages a few seconds before they fall due
(sql/019): what arrives at the fire time is still what is true then. An
edit, a cancellation undone, a new endpoint, a visibility change made in
those seconds all show in what is sent, and nothing is sent early."""
import datetime
import os
import subprocess
import threading
import time

import harness
from harness import wait_for
from receiver import Receiver
from test_webhook_delivery import dbname, endpoint, log_of
from test_webhooks import FAST, daemon_alone, utc_in

MERGE = {"Content-Type": "application/merge-patch+json"}


def reminder_soon(d, k, title, seconds=4, **extra):
    """An event of the host whose one reminder falls due in `seconds`."""
    start = utc_in(3600 + seconds)
    body = dict({"kind": "meeting", "title": title, "timezone": "UTC",
                 "start": start.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]}, **extra)
    r = d.request("POST", "/v1/events", token=k["host"], body=body)
    assert r.status == 201, r
    fire_at = start.replace(microsecond=0) - datetime.timedelta(hours=1)
    return r.json(), fire_at.timestamp()


def written_ahead(ctx, db, ev, n=1):
    """Waits until the event's reminder is a message waiting for its time."""
    def written():
        got = ctx.cluster.psql(
            "SELECT count(*) FROM webhook_messages m JOIN reminders r ON r.id = m.reminder_id"
            f" WHERE r.event_id = '{ev['id']}' AND m.state IN ('pending', 'sending')"
            "   AND m.next_attempt_at > now()", dbname(db))
        return int(got) >= n
    wait_for(written, 5, interval=0.05, what="the reminder written ahead of its time")


def heard_once_on_time(receivers, ev, fire_at, timeout):
    """Each receiver hears ev's reminder, signed, not before its time, and
    once (then closes)."""
    for rx in receivers:
        m = rx.wait(1, timeout=timeout, type_="reminder.due")[0]
        assert m["valid"] and m["json"]["data"]["event"]["id"] == ev["id"], m["json"]
        assert m["at"] >= fire_at - 0.05
    time.sleep(1.5)
    for rx in receivers:
        assert len(rx.messages("reminder.due")) == 1
        rx.close()


def test_an_edit_in_the_last_seconds_is_in_the_reminder(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    rx = Receiver()
    ep = endpoint(d, k, rx, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "Draft title", seconds=8)
    written_ahead(ctx, db, ev)
    assert log_of(d, k, ep) == []  # not in the delivery log before it is due
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"title": "Final title", "location": "Room 3"}, headers=MERGE)
    assert r.status == 200, r
    assert time.time() < fire_at - 0.5, "changed too late to judge"
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["valid"]
    assert m["json"]["data"]["event"]["title"] == "Final title"
    assert m["json"]["data"]["event"]["location"] == "Room 3"
    assert m["at"] >= fire_at - 0.05, m["at"] - fire_at  # never early
    time.sleep(1.5)
    assert len(rx.messages("reminder.due")) == 1
    assert [m["state"] for m in log_of(d, k, ep)] == ["delivered"]
    rx.close()


def test_a_cancellation_undone_in_the_last_seconds_still_reminds(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "On, off, on", seconds=8)
    written_ahead(ctx, db, ev)
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"status": "cancelled"}, headers=MERGE)
    assert r.status == 200, r
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"status": "confirmed"}, headers=MERGE)
    assert r.status == 200, r
    assert time.time() < fire_at - 0.5, "changed too late to judge"
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["status"] == "confirmed"
    assert m["at"] >= fire_at - 0.05
    time.sleep(1.5)
    assert len(rx.messages("reminder.due")) == 1
    # Cancelled in the last seconds and left so: nothing.
    ev2, fire2 = reminder_soon(d, k, "Called off", seconds=8)
    written_ahead(ctx, db, ev2)
    r = d.request("PATCH", f"/v1/events/{ev2['id']}", token=k["host"],
                  body={"status": "cancelled"}, headers=MERGE)
    assert r.status == 200, r
    assert time.time() < fire2 - 0.5, "changed too late to judge"
    time.sleep(max(0.0, fire2 + 2.5 - time.time()))  # past its time: nothing came
    assert [x["json"]["data"]["event"]["title"] for x in rx.messages("reminder.due")] == \
        ["On, off, on"]
    rx.close()


def test_an_endpoint_added_in_the_last_seconds_hears_the_reminder(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    first, late = Receiver(), Receiver()
    endpoint(d, k, first, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "Everyone hears", seconds=8)
    written_ahead(ctx, db, ev)
    endpoint(d, k, late, types=["reminder.due"])
    assert time.time() < fire_at - 0.5, "changed too late to judge"
    heard_once_on_time((first, late), ev, fire_at, timeout=15)


def test_made_private_in_the_last_seconds_reaches_no_other_org(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    mine, theirs = Receiver(), Receiver()
    endpoint(d, k, mine, types=["reminder.due"])
    r = d.request("POST", "/v1/webhooks", token=k["cabc"],
                  body={"url": theirs.url, "types": ["reminder.due"]})
    assert r.status == 201, r
    theirs.secrets.append(r.json()["secret"])
    ev, fire_at = reminder_soon(d, k, "Network, then private", seconds=8,
                                visibility="network")
    written_ahead(ctx, db, ev, n=2)
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"visibility": "private"}, headers=MERGE)
    assert r.status == 200, r
    assert time.time() < fire_at - 0.5, "changed too late to judge"
    mine.wait(1, timeout=15, type_="reminder.due")
    time.sleep(1.5)
    assert theirs.messages("reminder.due") == []
    mine.close()
    theirs.close()


def test_an_edit_during_a_fire_waits_for_it_and_takes_it_back(ctx):
    """A fire under way when an edit commits: the edit's take-back waits
    for the fire's messages (sql/022) and takes them back, where it used
    to find none (its snapshot could not see them) and the message went
    out for the event as it was. The fire is played by another session,
    as SCHED_FIRE writes it, held open for 2 s; the reminder is 40 s away,
    out of the daemon's own fire-ahead window."""
    db, k, d = daemon_alone(ctx, FAST)
    rx = Receiver()
    ep = endpoint(d, k, rx, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "As it was", seconds=40)
    sql = lambda q: ctx.cluster.psql(q, dbname(db))  # noqa: E731
    wait_for(lambda: sql(f"SELECT count(*) FROM reminders WHERE event_id = '{ev['id']}'"
                         " AND state = 'pending'") == "1", 10, what="the reminder planned")
    fire = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-d", db, "-c",
         "BEGIN; "
         f"UPDATE reminders SET state = 'sent' WHERE event_id = '{ev['id']}' AND state = 'pending'; "
         "INSERT INTO webhook_messages (id, endpoint_id, type, event_id, reminder_id,"
         "                              next_attempt_at, body) "
         f"SELECT liaison_message_id(), '{ep['id']}', 'reminder.due', r.event_id, r.id, r.fire_at, '{{}}'"
         f"  FROM reminders r WHERE r.event_id = '{ev['id']}' AND r.state = 'sent'; "
         "SELECT pg_sleep(2); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%'"
                         " AND pid <> pg_backend_pid()") == "1", 10, what="the fire under way")
    time.sleep(0.2)  # its writes are made; it sleeps before its commit
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", d.request(
        "PATCH", f"/v1/events/{ev['id']}", token=k["host"],
        body={"title": "As it is"}, headers=MERGE)))
    t.start()
    t.join(15)
    assert fire.wait(15) == 0, fire.stderr.read()
    assert got["r"].status == 200, got["r"]
    assert sql("SELECT count(*) FROM webhook_messages m JOIN reminders r ON r.id = m.reminder_id"
               f" WHERE r.event_id = '{ev['id']}'") == "0"
    assert sql(f"SELECT state FROM reminders WHERE event_id = '{ev['id']}'") == "pending"
    rx.close()


def session(db, script):
    """Another session running script, as the daemon's statements would."""
    return subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
         "-d", db, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Held:
    """A session of its own holding advisory lock `key` until release()."""

    def __init__(self, ctx, db, key):
        self.p = subprocess.Popen(
            [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-d", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.p.stdin.write(f"SELECT pg_advisory_lock({key});\n")
        self.p.stdin.flush()
        wait_for(lambda: ctx.cluster.psql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            f" AND objid = {key}", dbname(db)) == "1", 10, what=f"advisory lock {key}")

    def release(self):
        self.p.stdin.close()  # psql ends, and its locks with it
        assert self.p.wait(10) == 0, self.p.stderr.read()


def waiting(sql, like):
    """Whether a session whose query is like `like` waits for a lock."""
    return sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
               f" AND query LIKE '{like}' AND pid <> pg_backend_pid()") != "0"


def planned(ctx, title, seconds):
    """A daemon that may wait 30 s on a lock (these tests hold changes
    that long), an endpoint, and an event whose reminder, due in
    `seconds`, is planned: (db, keys, daemon, receiver, event, fire time,
    sql in its database)."""
    db, k, d = daemon_alone(ctx, FAST + ["--db-query-timeout", "30s"])
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, title, seconds=seconds)
    sql = lambda q: ctx.cluster.psql(q, dbname(db))  # noqa: E731
    wait_for(lambda: sql(f"SELECT count(*) FROM reminder_queue WHERE event_id = '{ev['id']}'")
             == "0", 10, what="the reminder planned")
    return db, k, d, rx, ev, fire_at, sql


def test_a_plan_written_while_a_cancel_waits_is_taken_back(ctx):
    """The planner writes a reminder due in seconds (and takes the event
    off the queue) while a cancellation is under way. The cancellation's
    take-back ran while the reminder was not yet committed and found
    nothing; a fire in the instant between the plan's commit and the
    cancellation's took the reminder from the event as it was, and the
    message went out for a cancelled event (the flake of test_webhooks'
    test_cancelled_and_past_reminders_send_nothing). A fire now leaves the
    reminders of an event a change holds. The plan is played by another
    session, as SCHED_PLAN_WRITE writes it, held before its commit; the
    cancellation is held before its own by a trigger of this test, past
    the daemon's fire poll (1 s) and longer than db_query_timeout's
    default would let it wait."""
    db, k, d, rx, ev, _, sql = planned(ctx, "Called off", 7200)
    # Queued, but not for the daemon's planner yet: this session plans it.
    sql(f"INSERT INTO reminder_queue (event_id, queued_at) VALUES ('{ev['id']}',"
        " now() + interval '1 hour')")
    sql("CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$;"
        " CREATE TRIGGER events_zz_test_hold AFTER UPDATE ON events FOR EACH ROW"
        " WHEN (NEW.status = 'cancelled') EXECUTE FUNCTION test_hold()")
    cancel_held, plan_held = Held(ctx, db, 4242), Held(ctx, db, 4343)
    plan = session(db, "BEGIN; "
                   "UPDATE reminders SET fire_at = now() + interval '8 seconds'"
                   f" WHERE event_id = '{ev['id']}' AND state = 'pending'; "
                   f"DELETE FROM reminder_queue WHERE event_id = '{ev['id']}'; "
                   "SELECT pg_advisory_xact_lock(4343); COMMIT;")
    wait_for(lambda: waiting(sql, "%pg_advisory_xact_lock(4343)%"), 10,
             what="the plan written, before its commit")
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", d.request(
        "PATCH", f"/v1/events/{ev['id']}", token=k["host"],
        body={"status": "cancelled"}, headers=MERGE, timeout=30)))
    t.start()
    wait_for(lambda: waiting(sql, "%UPDATE events%"), 10,
             what="the cancellation waiting for the plan's queue row")
    plan_held.release()
    assert plan.wait(10) == 0, plan.stderr.read()
    fire_at = float(sql("SELECT extract(epoch FROM fire_at) FROM reminders"
                        f" WHERE event_id = '{ev['id']}'"))
    assert fire_at - time.time() < 9.5, "not in the fire-ahead window"
    wait_for(lambda: waiting(sql, "%UPDATE events%"), 10,
             what="the cancellation held before its commit")
    time.sleep(1.5)  # the daemon's fire poll comes meanwhile
    cancel_held.release()
    t.join(15)
    assert got["r"].status == 200, got["r"]
    time.sleep(max(0.0, fire_at + 2 - time.time()))  # past its time: nothing came
    assert rx.messages("reminder.due") == []
    assert sql("SELECT count(*) FROM webhook_messages m JOIN reminders r ON r.id = m.reminder_id"
               f" WHERE r.event_id = '{ev['id']}' AND m.state <> 'cancelled'") == "0"
    rx.close()


def test_a_change_and_a_plan_of_its_event_at_once_do_not_deadlock(ctx):
    """A change to an event takes its reminders due within the minute
    (events_unqueue, sql/019 and 022), then its queue row (events_webhooks);
    the planner's write takes them in the same order. Taken the other way
    round by either (a trigger order that queued first was tried), a
    change between its two steps and a plan of the same event deadlocked,
    and PostgreSQL cancelled one of them. The change is held after its
    queue row by a trigger of this test; the planner's write is held back
    (its statement needs reminder_plans) until the change holds the row."""
    db, k, d, rx, ev, fire_at, sql = planned(ctx, "Renamed", 45)
    sql("CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$;"
        # Right after events_webhooks (the queue row).
        " CREATE TRIGGER events_webhooks_t AFTER UPDATE ON events FOR EACH ROW"
        " WHEN (NEW.title = 'Renamed at once') EXECUTE FUNCTION test_hold()")
    change_held = Held(ctx, db, 4242)
    plans_held = Held(ctx, db, 4343)
    plans = session(db, "BEGIN; LOCK TABLE reminder_plans IN ACCESS EXCLUSIVE MODE; "
                    "SELECT pg_advisory_xact_lock(4343); COMMIT;")
    wait_for(lambda: sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                         " WHERE c.relname = 'reminder_plans' AND l.granted") != "0", 10,
             what="reminder_plans locked")
    sql(f"INSERT INTO reminder_queue (event_id) VALUES ('{ev['id']}')")
    wait_for(lambda: waiting(sql, "%reminder_plans%"), 10, what="the plan's write held back")
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", d.request(
        "PATCH", f"/v1/events/{ev['id']}", token=k["host"],
        body={"title": "Renamed at once"}, headers=MERGE, timeout=30)))
    t.start()
    wait_for(lambda: waiting(sql, "%UPDATE events%"), 10, what="the change between its steps")
    plans_held.release()
    assert plans.wait(10) == 0, plans.stderr.read()
    time.sleep(1)  # the plan's write runs: it waited for the queue row, or not at all
    change_held.release()
    t.join(15)
    assert got["r"].status == 200, got["r"]
    assert "deadlock" not in d.logtext()
    # Planned again from the change: the reminder says what is true.
    m = rx.wait(1, timeout=60, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["title"] == "Renamed at once"
    assert m["at"] >= fire_at - 0.05
    rx.close()


def test_a_reminder_is_not_fired_from_a_plan_older_than_a_change(ctx):
    """An event moved a day later while its reminder is seconds away: the
    take-back makes the reminder pending again, at its old time, until the
    planner plans the event again. A fire in between sent the reminder of
    an occurrence that no longer is, at its old time. A reminder whose
    event waits in the queue is not fired. The planner is held back here
    (its write needs reminder_plans, locked by another session) until the
    old time has passed (the write waits longer than db_query_timeout's
    default allows)."""
    db, k, d = daemon_alone(ctx, FAST + ["--db-query-timeout", "30s"])
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "Moved away", seconds=9)
    written_ahead(ctx, db, ev)
    sql = lambda q: ctx.cluster.psql(q, dbname(db))  # noqa: E731
    lock = session(db, "BEGIN; LOCK TABLE reminder_plans IN ACCESS EXCLUSIVE MODE; "
                   f"SELECT pg_sleep({max(0.0, fire_at + 2 - time.time()):.1f}); COMMIT;")
    wait_for(lambda: sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                         " WHERE c.relname = 'reminder_plans' AND l.granted") != "0", 10,
             what="reminder_plans locked")
    later = datetime.datetime.fromtimestamp(fire_at + 3600 + 86400, datetime.timezone.utc)
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"start": later.strftime("%Y-%m-%dT%H:%M:%S")}, headers=MERGE)
    assert r.status == 200, r
    assert time.time() < fire_at - 0.5, "changed too late to judge"
    wait_for(lambda: waiting(sql, "%reminder_plans%"), 5, what="the planner held back")
    assert lock.wait(30) == 0, lock.stderr.read()
    time.sleep(max(0.0, fire_at + 2 - time.time()))
    assert rx.messages("reminder.due") == []
    # Planned again: one reminder, a day later, pending.
    wait_for(lambda: sql("SELECT string_agg(state || ' ' || (fire_at > now() + interval '1 day'"
                         f" - interval '1 minute'), ',') FROM reminders WHERE event_id = '{ev['id']}'")
             == "pending true", 10, what="the reminder planned again")
    rx.close()


def endpoints_changed_while_held(ctx, args, hold, pause=0.0):
    """One endpoint added and the other deleted while the daemon's own fire
    is held by trigger `hold` of the test (on reminders, waiting for
    advisory lock 19028 as the reminder is marked sent), then released
    after `pause` seconds: the new endpoint hears the reminder once, on
    time, and the deleted one nothing."""
    db, k, d = daemon_alone(ctx, FAST + args)
    gone, new = Receiver(), Receiver()
    old = endpoint(d, k, gone, types=["reminder.due"])
    sql = lambda q: ctx.cluster.psql(q, dbname(db))  # noqa: E731
    sql("CREATE FUNCTION test_hold_fire() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN PERFORM pg_advisory_xact_lock_shared(19028); RETURN NEW; END $$;" + hold)
    held = Held(ctx, db, 19028)
    ev, fire_at = reminder_soon(d, k, "Who hears it", seconds=16)
    wait_for(lambda: waiting(sql, "%fired_in = pg_current_snapshot()%"), 15,
             what="the fire held")
    endpoint(d, k, new, types=["reminder.due"])
    assert d.request("DELETE", f"/v1/webhooks/{old['id']}", token=k["host"]).status == 204
    time.sleep(pause)
    held.release()
    assert time.time() < fire_at - 2, "changed too late to judge"
    heard_once_on_time((new,), ev, fire_at, timeout=25)
    assert gone.messages("reminder.due") == []
    gone.close()


def test_an_endpoint_added_or_deleted_during_a_fire_is_heard_as_it_is_after(ctx):
    """A fire under way when an endpoint is added and another deleted:
    the change's take-back cannot see the fire's uncommitted reminders, and
    the fire's snapshot cannot see the change. The new endpoint never heard
    the reminder, and the deleted one was sent it. The daemon's own fire is
    held just as it marks the reminder sent; once it commits, the scheduler
    takes back what it fired without seeing the change (sql/028), and fires
    it again from what is true then."""
    endpoints_changed_while_held(
        ctx, ["--db-query-timeout", "30s"],
        " CREATE TRIGGER test_hold_fire BEFORE UPDATE ON reminders FOR EACH ROW"
        " WHEN (OLD.state = 'pending' AND NEW.state = 'sent')"
        " EXECUTE FUNCTION test_hold_fire()")


def test_a_fire_whose_commit_lands_after_its_deadline_is_taken_back_too(ctx):
    """The same change while a fire's commit is held past the statement
    deadline (a stalled WAL flush, a synchronous standby): the daemon gives
    up waiting for the fire, whose commit lands seconds later. The change
    is kept in mind until no transaction that might be that fire is still
    running, so the take-back still runs after the commit."""
    endpoints_changed_while_held(
        ctx, ["--db-query-timeout", "2s"],
        " CREATE CONSTRAINT TRIGGER test_hold_fire AFTER UPDATE ON reminders"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " WHEN (OLD.state = 'pending' AND NEW.state = 'sent')"
        " EXECUTE FUNCTION test_hold_fire()", pause=4.5)
