"""Reminders are written as messages a few seconds before they fall due
(sql/019): what arrives at the fire time is still what is true then. An
edit, a cancellation undone, a new endpoint, a visibility change made in
those seconds all show in what is sent, and nothing is sent early."""
import datetime
import time

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
    for rx in (first, late):
        m = rx.wait(1, timeout=15, type_="reminder.due")[0]
        assert m["valid"] and m["json"]["data"]["event"]["id"] == ev["id"]
        assert m["at"] >= fire_at - 0.05
    time.sleep(1.5)
    assert len(first.messages("reminder.due")) == 1
    assert len(late.messages("reminder.due")) == 1
    first.close()
    late.close()


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
    import os
    import subprocess
    import threading
    import harness
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
