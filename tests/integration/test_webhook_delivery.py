"""Webhook delivery under stress: HTTPS with a test CA, receivers that
misbehave, Retry-After, manual retry and recovery, secret rotation,
disabling a failing endpoint, reminders missed while no instance ran,
kill -9 in the middle of a burst, and two instances sharing the outbox."""
import datetime
import signal
import time

from harness import wait_for
from receiver import Receiver, make_tls
from test_webhooks import FAST, daemon_alone, utc_in


def dbname(db):
    return db.split("dbname=")[1]


def endpoint(d, k, rx, **body):
    r = d.request("POST", "/v1/webhooks", token=k["host"], body=dict({"url": rx.url}, **body))
    assert r.status == 201, r
    rx.secrets.append(r.json()["secret"])
    return r.json()


def log_of(d, k, ep, status=None):
    q = f"?status={status}" if status else ""
    r = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries{q}", token=k["host"])
    assert r.status == 200, r
    return r.json()["items"]


def wait_attempts(d, k, ep, n, timeout=20):
    def enough():
        items = log_of(d, k, ep)
        count = sum(len(i["attempt_log"]) for i in items)
        return items if count >= n else None
    return wait_for(enough, timeout, interval=0.1, what=f"{n} attempts in the delivery log")


def bulk_events(ctx, db, n, fire_in):
    """n events of hcmc-dost, straight into the table, each with a reminder
    one hour before a start that makes it due in fire_in seconds."""
    ctx.cluster.psql(f"""
        INSERT INTO events (org_id, uid, kind, title, timezone, start_local, start_utc,
                            end_utc, last_end_utc, reminders)
        SELECT o.id, 'bulk-' || g || '@test', 'meeting', 'Bulk ' || g, 'UTC',
               (now() + interval '1 hour' + interval '{fire_in} seconds') AT TIME ZONE 'UTC',
               date_trunc('second', now() + interval '1 hour' + interval '{fire_in} seconds'),
               date_trunc('second', now() + interval '2 hours' + interval '{fire_in} seconds'),
               date_trunc('second', now() + interval '2 hours' + interval '{fire_in} seconds'),
               ARRAY['-PT1H']
        FROM orgs o, generate_series(1, {n}) g WHERE o.slug = 'hcmc-dost'""", dbname(db))


def test_https_with_a_test_ca(ctx):
    ca, cert = make_tls(ctx.tmp)
    db, k, d = daemon_alone(ctx, FAST + ["--webhook-ca-file", ca])
    rx = Receiver(tls=cert)
    ep = endpoint(d, k, rx)
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    m = rx.wait(1)[0]
    assert m["valid"] and m["json"]["type"] == "webhook.test"
    # Without the test CA the same receiver is not trusted.
    d.stop()
    d2 = ctx.daemon(db, args=FAST)
    d2.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    items = wait_attempts(d2, k, ep, 2)
    failed = [a for i in items for a in i["attempt_log"] if a["status_code"] is None]
    assert failed and "certificate" in failed[0]["error"].lower(), failed
    rx.close()


def test_bad_receivers_cost_one_attempt_each(ctx):
    args = ["--webhook-allow-private", "true", "--webhook-retry-schedule", "1h",
            "--webhook-timeout", "1s"]
    db, k, d = daemon_alone(ctx, args)
    kinds = ["huge", "trickle", "hang", "close"]
    rxs, eps = {}, {}
    for b in kinds:
        rxs[b] = Receiver()
        rxs[b].behaviour = b
        rxs[b].status = 200  # a 204 has no body to cut
        eps[b] = endpoint(d, k, rxs[b])
        d.request("POST", f"/v1/webhooks/{eps[b]['id']}/test", token=k["host"])
    results = {b: wait_attempts(d, k, eps[b], 1)[0] for b in kinds}
    huge = results["huge"]
    assert huge["state"] == "delivered", huge
    assert len(huge["attempt_log"][0]["response"]) == 64 * 1024
    for b in ("trickle", "hang", "close"):
        a = results[b]["attempt_log"][0]
        assert results[b]["state"] == "pending" and a["error"], (b, results[b])
        assert a["duration_ms"] < 1900, (b, a)
    assert "timeout" in results["hang"]["attempt_log"][0]["error"].lower()
    # Still serving, and not stuck: a normal endpoint is delivered at once.
    ok = Receiver()
    ep = endpoint(d, k, ok)
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    ok.wait(1, timeout=5)
    for rx in list(rxs.values()) + [ok]:
        rx.close()


def test_retry_after_retry_and_recover(ctx):
    args = ["--webhook-allow-private", "true", "--webhook-retry-schedule", "1h",
            "--webhook-timeout", "2s"]
    db, k, d = daemon_alone(ctx, args)
    rx = Receiver()
    ep = endpoint(d, k, rx)
    rx.status, rx.retry_after = 503, 1
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    first, second = rx.wait(2, timeout=10)[:2]
    assert first["id"] == second["id"]
    assert 0.9 <= second["at"] - first["at"] < 3, second["at"] - first["at"]
    # Both attempts used up (the schedule has one retry): failed.
    wait_for(lambda: log_of(d, k, ep, "failed"), 10, what="a failed message")
    msg = log_of(d, k, ep, "failed")[0]
    rx.status, rx.retry_after = 204, None
    r = d.request("POST", f"/v1/deliveries/{msg['id']}/retry", token=k["host"])
    assert r.status == 202, r
    third = rx.wait(3)[2]
    assert third["id"] == msg["id"] and third["valid"]
    assert d.request("POST", "/v1/deliveries/msg_0000/retry", token=k["host"]).status == 404
    assert d.request("POST", f"/v1/deliveries/{msg['id']}/retry", token=k["cabc"]).status == 404
    # recover: every failed message since a time goes again.
    rx.status, rx.retry_after = 503, 0
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    wait_for(lambda: len(log_of(d, k, ep, "failed")) == 2, 10, what="two failed messages")
    rx.status, rx.retry_after = 204, None
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/recover", token=k["host"],
                  body={"since": since.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.status == 202 and r.json()["recovered"] == 2, r
    # The one retried by hand above, and the two recovered.
    wait_for(lambda: len(log_of(d, k, ep, "delivered")) == 3, 10, what="recovered messages")
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/recover", token=k["host"],
                  body={"since": "yesterday"})
    assert r.status == 422 and r.json()["errors"][0]["field"] == "since", r


def test_rotation_signs_with_both_secrets(ctx):
    db, k, d = daemon_alone(ctx)
    rx = Receiver()
    ep = endpoint(d, k, rx)
    old = ep["secret"]
    new = d.request("POST", f"/v1/webhooks/{ep['id']}/rotate", token=k["host"]).json()["secret"]
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    m = rx.wait(1)[0]
    from receiver import verify
    assert len(m["headers"]["webhook-signature"].split(" ")) == 2
    assert verify([old], m["headers"], m["body"]) and verify([new], m["headers"], m["body"])
    assert not verify(["whsec_" + "A" * 43 + "="], m["headers"], m["body"])


def test_endpoint_failing_too_long_is_disabled(ctx):
    args = ["--webhook-allow-private", "true", "--webhook-retry-schedule",
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms", "--webhook-timeout", "2s",
            "--webhook-disable-after", "1s"]
    db, k, d = daemon_alone(ctx, args)
    rx, watcher = Receiver(), Receiver()
    ep = endpoint(d, k, rx)
    endpoint(d, k, watcher, types=["endpoint.disabled"])
    rx.status = 500
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    note = watcher.wait(1, timeout=15, type_="endpoint.disabled")[0]
    assert note["valid"] and "failed since" in note["json"]["data"]["endpoint"]["disabled_reason"]
    got = d.request("GET", f"/v1/webhooks/{ep['id']}", token=k["host"]).json()
    assert got["enabled"] is False and got["failing_since"]
    n = len(rx.messages())
    time.sleep(1)
    assert len(rx.messages()) == n  # disabled: nothing more is sent


def test_reminder_missed_while_down_is_sent_late_unless_over(ctx):
    db, k, d = daemon_alone(ctx)
    rx = Receiver()
    endpoint(d, k, rx, types=["reminder.due"])
    # Both fall due about 6 s from now: time enough to be written ahead
    # and to stop the daemon before then, however busy the machine.
    # (The starts are sent in whole seconds: the fraction is dropped.)
    late_start = utc_in(3600 + 6).replace(microsecond=0)
    over_start = utc_in(7).replace(microsecond=0)
    over_end = over_start + datetime.timedelta(seconds=1)
    fires = [late_start - datetime.timedelta(hours=1), over_start - datetime.timedelta(seconds=1)]
    for title, start, end, trig in [
            ("sent late", late_start, late_start + datetime.timedelta(hours=1), "-PT1H"),
            ("over", over_start, over_end, "-PT1S")]:
        r = d.request("POST", "/v1/events", token=k["host"], body={
            "kind": "meeting", "title": title, "timezone": "UTC",
            "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": [trig]})
        assert r.status == 201, r
    # Both written ahead, held until their time by the instance stopped.
    wait_for(lambda: ctx.cluster.psql(
        "SELECT count(*) FROM webhook_messages WHERE type = 'reminder.due'"
        "   AND state IN ('pending', 'sending') AND next_attempt_at > now()",
        dbname(db)) == "2", 5, what="both reminders written ahead")
    assert time.time() < min(f.timestamp() for f in fires) - 0.5, "stopped too late to judge"
    d.stop()
    # Both fall due while nothing runs (the one sent is late by more than
    # 3 s at the restart); "over" also ends.
    restart = max(max(f.timestamp() for f in fires) + 4, over_end.timestamp() + 0.5)
    time.sleep(max(0.0, restart - time.time()))
    d2 = ctx.daemon(db, args=FAST)
    m = rx.wait(1, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["title"] == "sent late"
    fire = datetime.datetime.strptime(m["json"]["data"]["reminder"]["fire_at"],
                                      "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert m["at"] - fire.timestamp() > 3  # late, with its original fire_at
    time.sleep(1)
    assert len(rx.messages("reminder.due")) == 1
    metrics = d2.request("GET", "/metrics").body.decode()
    assert "liaison_reminders_missed_total 1" in metrics, metrics


def test_kill_9_during_a_burst_loses_nothing(ctx):
    args = FAST + ["--webhook-endpoint-concurrency", "2"]
    db, k, d = daemon_alone(ctx, args)
    rx = Receiver()
    rx.delay = 0.01
    endpoint(d, k, rx, types=["reminder.due"])
    bulk_events(ctx, db, 300, fire_in=2)
    rx.wait(40, timeout=30)
    d.stop(sig=signal.SIGKILL)
    d2 = ctx.daemon(db, args=args)
    want = set(ctx.cluster.psql("SELECT id FROM webhook_messages", dbname(db)).split())
    assert len(want) == 300

    def all_in():
        return {m["id"] for m in rx.messages()} >= want
    wait_for(all_in, 60, interval=0.2, what="every message after kill -9")
    ids = [m["id"] for m in rx.messages()]
    assert set(ids) == want and all(m["valid"] for m in rx.messages())
    # A repeat is the same message again: same id, same body.
    bodies = {}
    for m in rx.messages():
        assert bodies.setdefault(m["id"], m["body"]) == m["body"]
    d2.stop()


def test_two_instances_deliver_each_message_once(ctx):
    db, k, d1 = daemon_alone(ctx)
    ctx.daemon(db, args=FAST)  # the second instance, claiming beside d1
    rx = Receiver()
    endpoint(d1, k, rx, types=["reminder.due"])
    bulk_events(ctx, db, 1000, fire_in=4)
    rx.wait(1000, timeout=60)
    time.sleep(1)
    msgs = rx.messages()
    ids = [m["id"] for m in msgs]
    assert len(ids) == 1000 and len(set(ids)) == 1000, (len(ids), len(set(ids)))
    assert all(m["valid"] for m in msgs)
    by = ctx.cluster.psql("SELECT count(DISTINCT claimed_by) FROM webhook_messages",
                          dbname(db))
    assert by == "0"  # every claim was released after its attempt


def test_rate_limit_and_concurrency_per_endpoint(ctx):
    db, k, d = daemon_alone(ctx, FAST + ["--webhook-endpoint-concurrency", "3"])
    slow, limited = Receiver(), Receiver()
    slow.delay = 0.3
    ep_slow = endpoint(d, k, slow, types=["webhook.test"])
    ep_lim = endpoint(d, k, limited, types=["webhook.test"], rate_limit=4)
    for _ in range(10):
        d.request("POST", f"/v1/webhooks/{ep_slow['id']}/test", token=k["host"])
        d.request("POST", f"/v1/webhooks/{ep_lim['id']}/test", token=k["host"])
    slow.wait(10, timeout=20)
    got = limited.wait(10, timeout=20)
    assert slow.max_active <= 3, slow.max_active
    assert slow.max_active >= 2  # they do run side by side
    times = sorted(m["at"] for m in got)
    # 4 a second with a burst of 4: the last of 10 comes 1.5 s after the first.
    assert times[-1] - times[0] >= 1.3, times[-1] - times[0]
    assert all(m["valid"] for m in got)
