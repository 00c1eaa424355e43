"""Reminders fired ahead are claimed as they are written (sql/022): the
instance that fires them holds them until their time, so that at the fire
instant only the sending is left. What it holds counts against an
endpoint's places on every other instance, goes back unsent when it
stops, and is still taken back by a change (test_fire_ahead.py)."""
import time

from harness import wait_for
from receiver import Receiver
from test_fire_ahead import reminder_soon, written_ahead
from test_webhook_delivery import bulk_events, dbname, endpoint
from test_webhooks import FAST, daemon_alone

PLACES = ["--webhook-endpoint-concurrency", "2"]


def held(ctx, db):
    """(state, claimers, lease after the fire time) of the reminders' messages."""
    return ctx.cluster.psql(
        "SELECT string_agg(DISTINCT state, ','), count(DISTINCT claimed_by),"
        "       bool_and(lease_until > next_attempt_at)"
        "  FROM webhook_messages WHERE type = 'reminder.due'", dbname(db))


def test_a_reminder_written_ahead_is_held_by_the_instance_that_fired_it(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    # 7-8 s ahead: written ahead and checked well before its time.
    ev, fire_at = reminder_soon(d, k, "Held", seconds=8)
    written_ahead(ctx, db, ev)
    assert time.time() < fire_at - 1, "written too late to judge"
    assert held(ctx, db) == "sending|1|t"
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["valid"] and m["json"]["data"]["event"]["title"] == "Held"
    assert m["at"] >= fire_at - 0.05
    time.sleep(1)
    assert len(rx.messages("reminder.due")) == 1
    assert ctx.cluster.psql(
        "SELECT state || ' ' || attempts || ' ' || (claimed_by IS NULL)"
        "  FROM webhook_messages", dbname(db)) == "delivered 1 true"


def test_held_reminders_keep_the_places_over_two_instances(ctx):
    db, k, d1 = daemon_alone(ctx, FAST + PLACES)
    ctx.daemon(db, args=FAST + PLACES)
    rx = Receiver()
    rx.delay = 0.05
    endpoint(d1, k, rx, types=["reminder.due"])
    bulk_events(ctx, db, 200, fire_in=9)

    wait_for(lambda: ctx.cluster.psql("SELECT count(*) FROM webhook_messages",
                                      dbname(db)) == "200", 8, what="all 200 written ahead")
    # Written ahead and held, each by one instance only: the first to
    # fire holds the endpoint's messages, the other leaves its own waiting.
    states = ctx.cluster.psql(
        "SELECT state, count(DISTINCT claimed_by) FROM webhook_messages"
        " WHERE next_attempt_at > now() GROUP BY 1 ORDER BY 1", dbname(db)).split("\n")
    assert states[0] in ("pending|0", "sending|1"), states
    assert states[-1] == "sending|1", states
    msgs = rx.wait(200, timeout=60)
    time.sleep(0.5)
    ids = [m["id"] for m in rx.messages()]
    assert len(ids) == 200 and len(set(ids)) == 200, (len(ids), len(set(ids)))
    assert all(m["valid"] for m in msgs)
    assert rx.max_active <= 2, rx.max_active
    assert ctx.cluster.psql("SELECT count(*) FROM webhook_messages WHERE claimed_by IS NOT NULL",
                            dbname(db)) == "0"


def test_held_reminders_go_back_at_a_stop_and_are_sent_on_time(ctx):
    db, k, d = daemon_alone(ctx, FAST)
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    # 8-9 s ahead: stopped and started again before its time, which the
    # new instance must keep. (FAST's 2 s webhook timeout makes the lease
    # end 7 s after it: a message left to its lease is not on time.)
    ev, fire_at = reminder_soon(d, k, "Handed over", seconds=9)
    written_ahead(ctx, db, ev)
    assert held(ctx, db) == "sending|1|t"
    due = ctx.cluster.psql("SELECT next_attempt_at FROM webhook_messages", dbname(db))
    assert abs(float(ctx.cluster.psql(
        f"SELECT extract(epoch FROM '{due}'::timestamptz)", dbname(db))) - fire_at) < 0.001
    d.stop()
    # Given back unsent, due at its time to the microsecond (not later by
    # however long the report took to write): not left to a lease that
    # runs out well after it.
    assert ctx.cluster.psql(
        "SELECT state || ' ' || attempts || ' ' || (claimed_by IS NULL)"
        f"  || ' ' || (next_attempt_at = '{due}')"
        "  FROM webhook_messages", dbname(db)) == "pending 0 true true"
    ctx.daemon(db, args=FAST)
    assert time.time() < fire_at - 0.5, "restarted too late to judge"
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["title"] == "Handed over"
    assert fire_at - 0.05 <= m["at"] < fire_at + 1.5, m["at"] - fire_at
    time.sleep(1)
    assert len(rx.messages("reminder.due")) == 1
