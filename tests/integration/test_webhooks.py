"""Webhooks: endpoints, signed deliveries to a real local receiver that
verifies each signature independently, retries, disabling, change
notifications, reminders on time, and refused targets."""
import datetime
import time

from harness import problem
from receiver import Receiver
from test_events import world

FAST = ["--webhook-allow-private", "true", "--webhook-retry-schedule", "200ms,200ms,200ms",
        "--webhook-timeout", "2s"]


def utc_in(seconds):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)


def local(dt, zone_offset_hours):
    return (dt + datetime.timedelta(hours=zone_offset_hours)).strftime("%Y-%m-%dT%H:%M:%S")


def daemon_alone(ctx, args=FAST):
    """world()'s orgs and keys, served by one daemon with args: a second
    instance would share the outbox (and its settings differ)."""
    db, k, d0 = world(ctx)
    d0.stop()
    return db, k, ctx.daemon(db, args=args)


def setup(ctx, args=FAST, types=None, **kw):
    db, k, d = daemon_alone(ctx, args)
    rx = Receiver()
    body = {"url": rx.url, "description": "bot"}
    if types:
        body["types"] = types
    body.update(kw)
    r = d.request("POST", "/v1/webhooks", token=k["host"], body=body)
    assert r.status == 201, r
    ep = r.json()
    rx.secrets.append(ep["secret"])
    return db, k, d, rx, ep


def test_endpoint_crud_and_secret_shown_once(ctx):
    db, k, d = daemon_alone(ctx)
    r = d.request("POST", "/v1/webhooks", token=k["host"], body={
        "url": "https://hooks.example.org/liaison", "types": ["reminder.due"],
        "filter": {"kinds": ["visit"], "partners": ["busan-city"]}, "rate_limit": 5})
    assert r.status == 201, r
    ep = r.json()
    assert ep["secret"].startswith("whsec_") and len(ep["secret"]) == 50
    assert r.header("Location") == f"/v1/webhooks/{ep['id']}"
    assert ep["enabled"] is True and ep["types"] == ["reminder.due"] and ep["rate_limit"] == 5
    got = d.request("GET", f"/v1/webhooks/{ep['id']}", token=k["host"]).json()
    assert "secret" not in got and got["filter"] == ep["filter"]
    assert [e["id"] for e in d.request("GET", "/v1/webhooks", token=k["host"]).json()["items"]] \
        == [ep["id"]]
    # Other orgs and lesser roles see nothing of it.
    assert d.request("GET", f"/v1/webhooks/{ep['id']}", token=k["cabc"]).status == 404
    problem(d.request("GET", "/v1/webhooks", token=k["editor"]), 403)
    # Defaults: every type (agreement.dormant and agreement.expiring too).
    r = d.request("POST", "/v1/webhooks", token=k["host"], body={"url": "http://127.0.0.1:9/x"})
    assert r.status == 201 and len(r.json()["types"]) == 14, r
    assert {"agreement.dormant", "agreement.expiring"} <= set(r.json()["types"])
    # Patch and rotate.
    r = d.request("PATCH", f"/v1/webhooks/{ep['id']}", token=k["host"],
                  body={"types": ["event.created", "event.cancelled"], "rate_limit": None,
                        "enabled": False})
    assert r.status == 200, r
    p = r.json()
    assert p["types"] == ["event.created", "event.cancelled"] and p["rate_limit"] is None
    assert p["enabled"] is False and p["disabled_reason"] == "disabled by an admin"
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/rotate", token=k["host"])
    assert r.status == 200 and r.json()["secret"] != ep["secret"], r
    assert r.json()["rotation_ends_at"]
    assert d.request("DELETE", f"/v1/webhooks/{ep['id']}", token=k["host"]).status == 204
    assert d.request("GET", f"/v1/webhooks/{ep['id']}", token=k["host"]).status == 404


def test_bad_endpoints_are_refused_by_field(ctx):
    db, k, d = world(ctx)  # private targets not allowed
    cases = [
        ({"url": "http://127.0.0.1:8080/x"}, "url"),
        ({"url": "http://10.0.0.1/x"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://[::1]:80/x"}, "url"),
        ({"url": "http://2130706433/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "gopher://example.org/"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "https://user:pw@example.org/x"}, "url"),
        ({"url": "https://example.org/" + "a" * 2100}, "url"),
        ({"url": "https://exämple.org/"}, "url"),
        ({"url": 42}, "url"),
        ({}, "url"),
        ({"url": "https://example.org/", "types": ["reminder.due", "nope"]}, "types[1]"),
        ({"url": "https://example.org/", "types": []}, "types"),
        ({"url": "https://example.org/", "types": "reminder.due"}, "types"),
        ({"url": "https://example.org/", "filter": {"kinds": ["party"]}}, "filter.kinds[0]"),
        ({"url": "https://example.org/", "filter": {"colour": ["red"]}}, "filter.colour"),
        ({"url": "https://example.org/", "filter": {"orgs": ["no-such-org"]}}, "filter.orgs"),
        ({"url": "https://example.org/", "rate_limit": 0}, "rate_limit"),
        ({"url": "https://example.org/", "rate_limit": "fast"}, "rate_limit"),
        ({"url": "https://example.org/", "secret": "mine"}, "secret"),
        ({"url": "https://example.org/", "enabled": False}, "enabled"),
    ]
    before = ctx.cluster.psql("SELECT count(*) FROM webhook_endpoints", db.split("dbname=")[1])
    for body, field in cases:
        r = d.request("POST", "/v1/webhooks", token=k["host"], body=body)
        p = problem(r, 422)
        assert field in [e["field"] for e in p["errors"]], (body, p)
    after = ctx.cluster.psql("SELECT count(*) FROM webhook_endpoints", db.split("dbname=")[1])
    assert before == after == "0"
    # Names are checked when dialled: accepted now, refused on connection.
    r = d.request("POST", "/v1/webhooks", token=k["host"], body={"url": "http://localhost:9/x"})
    assert r.status == 201, r
    ep = r.json()
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    assert r.status == 202, r
    deadline = time.time() + 15
    while time.time() < deadline:
        log = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries", token=k["host"]).json()
        attempts = log["items"][0]["attempt_log"] if log["items"] else []
        if attempts:
            break
        time.sleep(0.1)
    assert attempts and attempts[0]["status_code"] is None
    assert "private" in attempts[0]["error"], attempts


def test_test_message_is_signed_and_logged(ctx):
    db, k, d, rx, ep = setup(ctx)
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    assert r.status == 202, r
    msg_id = r.json()["message_id"]
    m = rx.wait(1)[0]
    assert m["valid"] and m["id"] == msg_id and msg_id.startswith("msg_")
    assert m["json"]["type"] == "webhook.test" and m["json"]["data"]["endpoint"]["id"] == ep["id"]
    h = m["headers"]
    assert h["content-type"] == "application/json" and h["user-agent"].startswith("liaison/")
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 5

    def delivered():
        items = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries?status=delivered",
                          token=k["host"]).json()["items"]
        return items if items and items[0]["attempt_log"] else None
    from harness import wait_for
    items = wait_for(delivered, 10, what="the delivery log")
    assert items[0]["id"] == msg_id and items[0]["state"] == "delivered"
    assert items[0]["attempt_log"][0]["status_code"] == 204
    problem(d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries?status=gone",
                      token=k["host"]), 422)


def test_retries_keep_the_id_and_re_sign(ctx):
    db, k, d, rx, ep = setup(ctx)
    rx.fail_first = 2
    r = d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    assert r.status == 202, r
    msgs = rx.wait(3)
    assert len({m["id"] for m in msgs}) == 1 and all(m["valid"] for m in msgs)
    # A fresh timestamp on each attempt (they are 200 ms apart, so the
    # signatures differ even within one second only if the time does).
    assert msgs[2]["at"] - msgs[0]["at"] >= 0.4


def test_gone_disables_and_tells_the_other_endpoints(ctx):
    db, k, d, rx, ep = setup(ctx)
    watcher = Receiver()
    r = d.request("POST", "/v1/webhooks", token=k["host"],
                  body={"url": watcher.url, "types": ["endpoint.disabled"]})
    watcher.secrets.append(r.json()["secret"])
    rx.status = 410
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    note = watcher.wait(1, type_="endpoint.disabled")[0]
    assert note["valid"] and note["json"]["data"]["endpoint"]["id"] == ep["id"]
    assert "410" in note["json"]["data"]["endpoint"]["disabled_reason"]
    got = d.request("GET", f"/v1/webhooks/{ep['id']}", token=k["host"]).json()
    assert got["enabled"] is False and "410" in got["disabled_reason"]
    assert len(rx.messages()) == 1  # no retry after 410
    # Re-enabled, it gets messages again.
    rx.status = 204
    r = d.request("PATCH", f"/v1/webhooks/{ep['id']}", token=k["host"], body={"enabled": True})
    assert r.status == 200 and r.json()["enabled"] is True and r.json()["disabled_reason"] is None
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    rx.wait(2)
    watcher.close()


def test_change_notifications(ctx):
    db, k, d, rx, ep = setup(ctx, types=["event.created", "event.updated", "event.cancelled"])
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Hai Phong delegation", "timezone": "America/Los_Angeles",
        "start": "2027-10-11T10:00:00", "end": "2027-10-11T12:00:00"})
    ev = r.json()
    created = rx.wait(1, type_="event.created")[0]
    assert created["valid"] and created["json"]["data"]["event"]["id"] == ev["id"]
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Hai Phong"},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r
    upd = rx.wait(1, type_="event.updated")[0]
    assert upd["json"]["data"]["event"]["title"] == "Hai Phong"
    assert d.request("DELETE", f"/v1/events/{ev['id']}", token=k["host"]).status in (200, 204)
    can = rx.wait(1, type_="event.cancelled")[0]
    assert can["json"]["data"]["event"]["status"] == "cancelled"
    # Private events of other orgs are never announced to us.
    d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC board", "timezone": "America/Toronto",
        "visibility": "private", "start": "2027-10-14T09:00:00", "end": "2027-10-14T10:00:00"})
    time.sleep(1.5)
    assert all(m["json"]["data"]["event"]["title"] != "CABC board" for m in rx.messages())


def test_reminder_is_delivered_on_time(ctx):
    db, k, d, rx, ep = setup(ctx, types=["reminder.due"])
    start = utc_in(3600 + 4)  # a reminder one hour before: due in 4 s
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Becamex IDC and NUS", "timezone": "UTC",
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    assert r.status == 201, r
    ev = r.json()
    coming = d.request("GET", f"/v1/events/{ev['id']}/reminders", token=k["viewer"]).json()
    assert [c["trigger"] for c in coming["items"]] == ["-PT1H"]
    fire_at = datetime.datetime.strptime(coming["items"][0]["fire_at"], "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=datetime.timezone.utc).timestamp()
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["valid"]
    data = m["json"]["data"]
    assert data["event"]["id"] == ev["id"] and data["reminder"]["trigger"] == "-PT1H"
    assert data["reminder"]["fire_at"] == coming["items"][0]["fire_at"]
    assert m["json"]["timestamp"] == data["reminder"]["fire_at"]
    late = m["at"] - fire_at
    assert -0.05 <= late < 2.0, late
    assert len(rx.messages("reminder.due")) == 1


def test_cancelled_and_past_reminders_send_nothing(ctx):
    db, k, d, rx, ep = setup(ctx, types=["reminder.due"])
    # Due in about 8 s: fired ahead at once (10 s ahead), so the cancel
    # must take that message back; the margin keeps a loaded machine from
    # letting the fire time pass before the DELETE is answered.
    start = utc_in(3600 + 8).replace(microsecond=0)
    fire = start - datetime.timedelta(hours=1)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "to be cancelled", "timezone": "UTC",
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    ev = r.json()
    assert d.request("DELETE", f"/v1/events/{ev['id']}", token=k["host"]).status in (200, 204)
    assert utc_in(0) < fire - datetime.timedelta(seconds=0.5), "cancelled too late to judge"
    # A reminder already past when the event is created is not sent.
    soon = utc_in(1800)
    d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "too late", "timezone": "UTC",
        "start": soon.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    time.sleep(max(0.0, (fire - utc_in(0)).total_seconds()) + 2)
    sent = rx.messages("reminder.due")
    assert sent == [], [(m["json"]["data"]["event"]["title"], m["at"], fire.timestamp())
                        for m in sent]


def test_toronto_weekly_reminders_follow_dst(ctx):
    db, k, d = world(ctx)
    # Today is after 2026-03-08, so the test uses the next spring change:
    # 2027-03-14 in America/Toronto.
    r = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC weekly", "timezone": "America/Toronto",
        "start": "2027-03-01T09:00:00", "end": "2027-03-01T10:00:00",
        "rrule": "FREQ=WEEKLY;COUNT=4", "reminders": ["-PT1H"]})
    assert r.status == 201, r
    items = d.request("GET", f"/v1/events/{r.json()['id']}/reminders",
                      token=k["host"]).json()["items"]
    assert [i["fire_at"] for i in items] == [
        "2027-03-01T13:00:00Z", "2027-03-08T13:00:00Z",   # EST: 09:00 = 14:00Z
        "2027-03-15T12:00:00Z", "2027-03-22T12:00:00Z"]   # EDT: 09:00 = 13:00Z
    assert [i["occurrence"]["start"] for i in items][2] == "2027-03-15T09:00:00"


def test_moving_an_event_moves_its_reminder(ctx):
    db, k, d, rx, ep = setup(ctx, types=["reminder.due"])
    # Due in about 8 s (fired ahead at once), then moved a day later:
    # nothing is sent now. The margin keeps a loaded machine from letting
    # the fire time pass before the PATCH is answered.
    soon = utc_in(3600 + 8).replace(microsecond=0)
    away_fire = (soon - datetime.timedelta(hours=1)).timestamp()
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "moved away", "timezone": "UTC",
        "start": soon.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    moved = r.json()
    later = soon + datetime.timedelta(days=1)
    r = d.request("PATCH", f"/v1/events/{moved['id']}", token=k["host"],
                  body={"start": later.strftime("%Y-%m-%dT%H:%M:%S")})
    assert r.status == 200, r
    assert time.time() < away_fire - 0.5, "changed too late to judge"
    # Far away, then moved so that its reminder is due in 3 s: it is sent.
    far = utc_in(30 * 86400)
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "moved closer", "timezone": "UTC",
        "start": far.strftime("%Y-%m-%dT%H:%M:%S"), "reminders": ["-PT1H"]})
    closer = r.json()
    r = d.request("PATCH", f"/v1/events/{closer['id']}", token=k["host"],
                  body={"start": utc_in(3600 + 3).strftime("%Y-%m-%dT%H:%M:%S")})
    assert r.status == 200, r
    m = rx.wait(1, timeout=15, type_="reminder.due")[0]
    assert m["json"]["data"]["event"]["title"] == "moved closer"
    # Until past the time "moved away" had: it never comes.
    time.sleep(max(2.0, away_fire + 2 - time.time()))
    assert len(rx.messages("reminder.due")) == 1
    coming = d.request("GET", f"/v1/events/{moved['id']}/reminders", token=k["host"]).json()
    assert coming["items"][0]["occurrence"]["start"] == later.strftime("%Y-%m-%dT%H:%M:%S")


def test_a_redirect_is_a_failed_attempt(ctx):
    db, k, d, rx, ep = setup(ctx)
    rx.status = 302
    d.request("POST", f"/v1/webhooks/{ep['id']}/test", token=k["host"])
    msgs = rx.wait(2, timeout=10)
    assert msgs[0]["id"] == msgs[1]["id"]  # tried again, never followed elsewhere
    items = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries", token=k["host"]).json()["items"]
    assert items[0]["attempt_log"][0]["status_code"] == 302
    assert items[0]["state"] in ("pending", "sending", "failed")


def test_hostile_requests_to_webhook_routes(ctx):
    """Malformed bodies, ids, cursors and queries get a clear 4xx naming the
    field, never a 500, and write nothing. Private targets are not allowed."""
    db, k, d = world(ctx)
    ep = d.request("POST", "/v1/webhooks", token=k["host"],
                   body={"url": "https://hooks.example.org/x"}).json()
    base = f"/v1/webhooks/{ep['id']}"
    cases = [
        ("POST", "/v1/webhooks", b"{not json", {"Content-Type": "application/json"}, 400, None),
        ("POST", "/v1/webhooks", b'{"url": "https://a.example/\\u0000"}',
         {"Content-Type": "application/json"}, 400, None),
        ("POST", "/v1/webhooks", b'{"url": "https://a.example/"}', {"Content-Type": "text/plain"},
         415, None),
        ("POST", "/v1/webhooks", {"url": "https://a.example/", "description": "x" * 600}, None,
         422, "description"),
        ("POST", "/v1/webhooks", {"url": "https://a.example/", "types": [None]}, None, 422,
         "types[0]"),
        ("POST", "/v1/webhooks", {"url": "https://a.example/", "filter": []}, None, 422, "filter"),
        ("POST", "/v1/webhooks", {"url": "https://a.example/", "filter": {"kinds": "visit"}},
         None, 422, "filter.kinds"),
        ("POST", "/v1/webhooks", {"url": "https://a.example/", "rate_limit": 1e308 * 10}, None,
         400, None),
        ("POST", "/v1/webhooks", {"url": "https://a.example/'; DROP TABLE events; --"}, None,
         422, "url"),
        ("POST", "/v1/webhooks", {"url": "http://[::ffff:127.0.0.1]/"}, None, 422, "url"),
        ("POST", "/v1/webhooks", {"url": "http://0x7f000001/"}, None, 422, "url"),
        ("PATCH", base, {"types": []}, None, 422, "types"),
        ("PATCH", base, {"enabled": "yes"}, None, 422, "enabled"),
        ("PATCH", base, {"url": "ftp://example.org/"}, None, 422, "url"),
        ("PATCH", "/v1/webhooks/not-a-uuid", {"enabled": True}, None, 404, None),
        ("GET", base + "/deliveries?status=%00", None, None, 400, "status"),  # a NUL: malformed
        ("GET", base + "/deliveries?limit=0", None, None, 422, "limit"),
        ("GET", base + "/deliveries?limit=99999999999999999999", None, None, 422, "limit"),
        ("GET", base + "/deliveries?cursor=1.msg_x%27", None, None, 200, None),
        ("GET", base + "/deliveries?cursor=abc", None, None, 422, "cursor"),
        ("GET", base + "/deliveries?cursor=" + "9" * 30 + ".msg_1", None, None, 422, "cursor"),
        ("GET", base + "/deliveries?cursor=" + "9" * 20 + ".msg_1", None, None, 422, "cursor"),
        ("POST", base + "/recover", {"since": "2026-13-45T00:00:00Z"}, None, 422, "since"),
        ("POST", base + "/recover", {"since": "2999-01-01T00:00:00Z"}, None, 422, "since"),
        ("POST", base + "/recover", {"since": "2026-01-01T00:00:00Z", "x": 1}, None, 422, "x"),
        ("POST", "/v1/deliveries/msg_%2F..%2F/retry", None, None, 404, None),
        ("POST", "/v1/deliveries/" + "msg_" + "a" * 500 + "/retry", None, None, 404, None),
        ("GET", "/v1/events/00000000-0000-0000-0000-000000000000/reminders", None, None, 404,
         None),
        ("GET", f"/v1/events/{ep['id']}/reminders?limit=-1", None, None, 422, "limit"),
    ]
    before = ctx.cluster.psql("SELECT count(*) FROM webhook_endpoints", db.split("dbname=")[1])
    for method, path, body, headers, status, field in cases:
        r = d.request(method, path, body=body, headers=headers, token=k["host"])
        assert r.status == status, (method, path, body, r)
        if status >= 400:
            assert r.header("Content-Type") == "application/problem+json", r
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], (path, body, r.json())
    after = ctx.cluster.psql("SELECT count(*) FROM webhook_endpoints", db.split("dbname=")[1])
    assert before == after == "1"
    got = d.request("GET", base, token=k["host"]).json()
    assert got["enabled"] is True and got["url"] == "https://hooks.example.org/x"
