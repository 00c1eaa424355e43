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
    ev, fire_at = reminder_soon(d, k, "Draft title", seconds=4)
    written_ahead(ctx, db, ev)
    assert log_of(d, k, ep) == []  # not in the delivery log before it is due
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"title": "Final title", "location": "Room 3"}, headers=MERGE)
    assert r.status == 200, r
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
    ev, fire_at = reminder_soon(d, k, "On, off, on", seconds=4)
    written_ahead(ctx, db, ev)
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"status": "cancelled"}, headers=MERGE)
    assert r.status == 200, r
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"status": "confirmed"}, headers=MERGE)
    assert r.status == 200, r
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["status"] == "confirmed"
    assert m["at"] >= fire_at - 0.05
    time.sleep(1.5)
    assert len(rx.messages("reminder.due")) == 1
    # Cancelled in the last seconds and left so: nothing.
    ev2, _ = reminder_soon(d, k, "Called off", seconds=3)
    written_ahead(ctx, db, ev2)
    r = d.request("PATCH", f"/v1/events/{ev2['id']}", token=k["host"],
                  body={"status": "cancelled"}, headers=MERGE)
    assert r.status == 200, r
    time.sleep(5)
    assert [x["json"]["data"]["event"]["title"] for x in rx.messages("reminder.due")] == \
        ["On, off, on"]
    rx.close()


def test_an_endpoint_added_in_the_last_seconds_hears_the_reminder(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    first, late = Receiver(), Receiver()
    endpoint(d, k, first, types=["reminder.due"])
    ev, fire_at = reminder_soon(d, k, "Everyone hears", seconds=4)
    written_ahead(ctx, db, ev)
    endpoint(d, k, late, types=["reminder.due"])
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
    ev, _ = reminder_soon(d, k, "Network, then private", seconds=4, visibility="network")
    written_ahead(ctx, db, ev, n=2)
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"],
                  body={"visibility": "private"}, headers=MERGE)
    assert r.status == 200, r
    mine.wait(1, timeout=15, type_="reminder.due")
    time.sleep(1.5)
    assert theirs.messages("reminder.due") == []
    mine.close()
    theirs.close()
