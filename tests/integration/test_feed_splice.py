"""A feed's list made from its last one and what changed since
(api/feed_list.c, sql/023): after every kind of change, by this instance,
another one or the database itself, and as time takes items out of the
window or brings them in, a spliced feed has the very bytes of a feed read
whole (a new feed of the same settings, whose first list is read in full)."""
import datetime
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import harness
from test_events import VISIT as VISIT_2024, world
from test_feeds import make_feed, path_of

VISIT = dict(VISIT_2024, start="2027-03-10T14:00:00", end="2027-03-10T17:00:00")


def counter(d, name):
    m = re.search(rb"^liaison_feed_lists_" + name.encode() + rb"_total (\d+)$",
                  d.request("GET", "/metrics").body, re.M)
    assert m, name
    return int(m[1])


def body(d, feed):
    r = d.request("GET", path_of(feed))
    assert r.status == 200, r
    return r.body


def whole(d, token, **settings):
    """The feed as a list read in full gives it: a new feed's first."""
    return body(d, make_feed(d, token, name="Spliced", **settings))


def poster(d, token):
    """POST /v1/events of a VISIT with fields changed, through d."""
    def post(**b):
        r = d.request("POST", "/v1/events", token=token, body=dict(VISIT, **b))
        assert r.status == 201, r
        return r.json()
    return post


def saved_in(state):
    """The renderings saved in feed_state_dir state."""
    return sorted(f for f in os.listdir(state) if f.endswith(".feed"))


def sql(ctx, db, text):
    return ctx.cluster.psql(text, db.split("dbname=")[1])


def test_a_spliced_feed_is_the_feed_read_whole(ctx):
    db, k, d = world(ctx)
    other = ctx.daemon(db)
    host = k["host"]
    feed = make_feed(d, host, name="Spliced")
    body(d, feed)
    read, spliced = counter(d, "read"), counter(d, "spliced")

    def post(path, token, **b):
        r = d.request("POST", path, token=token, body=b)
        assert r.status == 201, r
        return r.json()

    def patch(path, token, **b):
        r = d.request("PATCH", path, token=token, body=b)
        assert r.status == 200, r
        return r.json()

    steps = []
    a = post("/v1/events", host, **VISIT)
    steps.append("a single event")
    b = post("/v1/events", host, **dict(VISIT, title="Private dinner", visibility="private",
                                       start="2027-03-09T19:00:00", end="2027-03-09T21:00:00"))
    steps.append("a private one")
    s = post("/v1/events", host, kind="meeting", title="Partner sync", timezone="Asia/Seoul",
             start="2027-04-05T09:00:00", end="2027-04-05T10:00:00",
             rrule="FREQ=WEEKLY;COUNT=6", partners=["busan-city"])
    steps.append("a series")
    post("/v1/events", host, series_id=s["id"], recurrence_id="2027-04-12T09:00:00",
         start="2027-04-13T15:00:00", end="2027-04-13T16:00:00")
    steps.append("an occurrence moved")
    post("/v1/events", host, series_id=s["id"], recurrence_id="2027-04-19T09:00:00",
         status="cancelled")
    steps.append("an occurrence cancelled")
    patch(f"/v1/events/{a['id']}", host, start="2027-03-01T08:00:00", end="2027-03-01T09:00:00")
    steps.append("a start moved before the others")
    patch(f"/v1/events/{b['id']}", host, status="cancelled")
    steps.append("an event cancelled")
    c = post("/v1/events", k["cabc"], **dict(VISIT, title="CABC and HCMC", visibility="private",
                                             partners=["hcmc-dost"]))
    steps.append("another org's private event naming this one")
    patch(f"/v1/events/{c['id']}", k["cabc"], partners=[])
    steps.append("... no longer naming it")
    patch(f"/v1/events/{s['id']}", host, title="Partner sync (moved)")
    steps.append("the series retitled")
    ag = post("/v1/agreements", host, title="MOU: HCMC - Busan", stage="intent",
              parties=["busan-city"], signed_on="2027-05-14",
              milestones=[{"title": "MOU due", "due": "2027-06-30"}])
    steps.append("an agreement with a milestone")
    patch(f"/v1/agreements/{ag['id']}", host, title="MOU: HCMC - Busan city")
    steps.append("the agreement retitled")
    assert body(d, feed) == whole(d, host), "after: " + ", ".join(steps)
    assert counter(d, "spliced") > spliced and counter(d, "read") == read + 1  # the new feed's

    # One change at a time, each checked: the spliced feed first, so that
    # nothing the reference renders is there for it to take.
    def check(what):
        assert body(d, feed) == whole(d, host), what

    patch(f"/v1/events/{a['id']}", host, title="Busan delegation (confirmed)")
    check("a retitle")
    post("/v1/events", host, series_id=s["id"], recurrence_id="2027-04-26T09:00:00",
         title="Last sync, in Busan")
    check("an override retitling one occurrence")
    patch(f"/v1/events/{s['id']}", host, status="cancelled")
    check("the series cancelled, an override kept")
    # Through the other instance: this one hears of it by NOTIFY.
    r = other.request("PATCH", f"/v1/events/{a['id']}", token=host, body={"location": "Busan"})
    assert r.status == 200, r
    harness.wait_for(lambda: b"LOCATION:Busan" in body(d, feed), 5.0,
                     what="the other instance's change")
    check("a change through another instance")
    # In the database itself, with no event row written: an agreement's
    # version is in its items' stamps. A change elsewhere makes the feed
    # render again.
    sql(ctx, db, f"UPDATE agreements SET title = 'MOU (SQL)', version = version + 1"
                 f" WHERE id = '{ag['id']}'")
    post("/v1/events", k["busan-city"], **dict(VISIT, title="Busan festival day"))
    check("an agreement changed in SQL")
    assert b"MOU (SQL)" in body(d, feed)
    sql(ctx, db, "UPDATE orgs SET name = 'Busan Metropolitan City' WHERE slug = 'busan-city'")
    harness.wait_for(lambda: b"Busan Metropolitan City" in body(d, feed), 5.0,
                     what="the rename, heard by NOTIFY")
    check("an org renamed")
    # A removed event leaves no row to find: the list is read whole.
    doomed = post("/v1/events", host, **dict(VISIT, title="Doomed", reminders=[]))
    check("one more event")
    assert b"Doomed" in body(d, feed)
    reads = counter(d, "read")
    sql(ctx, db, "; ".join(f"DELETE FROM {t} WHERE event_id = '{doomed['id']}'" for t in (
        "reminder_queue", "reminders", "reminder_plans", "webhook_messages", "vevent_texts"))
        + f"; DELETE FROM events WHERE id = '{doomed['id']}'")
    post("/v1/events", k["busan-city"], **dict(VISIT, title="Busan festival night"))
    check("an event deleted in SQL")
    assert b"Doomed" not in body(d, feed)
    assert counter(d, "read") > reads + 1  # more than the reference's own


def utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def test_time_takes_items_out_and_brings_them_in(ctx):
    """A window of no past days: an item leaves as it ends. A window a day
    ahead: an item enters a day before it starts (or before an RDATE of
    its that comes before its start). Neither is a write, yet
    the next rendering after any change shows it, spliced or not."""
    db, k, d = world(ctx)
    host = k["host"]
    now = time.time()
    base = dict(VISIT, timezone="UTC", partners=[])
    # Both change sides 7-8 s from now (whole seconds): time enough for
    # the first renderings to be judged before, on a loaded machine too.
    ending = dict(base, title="Ends soon", start=utc(now - 3600), end=utc(now + 8))
    coming = dict(base, title="Comes soon", start=utc(now + 86400 + 8),
                  end=utc(now + 86400 + 3600))
    # A series five days ahead whose RDATE comes first (sql/027's first_utc).
    early = dict(base, title="Its RDATE comes soon", start=utc(now + 5 * 86400),
                 end=utc(now + 5 * 86400 + 3600), rdates=[utc(now + 86400 + 8)])
    for b in (ending, coming, early):
        r = d.request("POST", "/v1/events", token=host, body=b)
        assert r.status == 201, r
    past = make_feed(d, host, name="Spliced", past_days=0)
    ahead = make_feed(d, host, name="Spliced", past_days=0, future_days=1)
    assert b"Ends soon" in body(d, past) and b"Comes soon" in body(d, past)
    first = body(d, ahead)
    assert b"Ends soon" in first and b"Comes soon" not in first and b"RDATE comes" not in first
    time.sleep(max(0.0, now + 9.5 - time.time()))
    spliced = counter(d, "spliced")
    r = d.request("POST", "/v1/events", token=host, body=dict(VISIT, title="Unrelated"))
    assert r.status == 201, r
    p, a = body(d, past), body(d, ahead)
    assert counter(d, "spliced") == spliced + 2
    assert b"Unrelated" in p and b"Ends soon" not in p and b"Comes soon" in p
    assert b"Ends soon" not in a and b"Comes soon" in a and b"Its RDATE comes soon" in a
    assert p == whole(d, host, past_days=0)
    assert a == whole(d, host, past_days=0, future_days=1)


def test_a_feed_whose_settings_change_is_read_whole(ctx):
    """A list and its texts are a feed's settings' own: with alarms turned
    on, or another window, the feed is read whole and shows them."""
    db, k, d = world(ctx)
    host = k["host"]
    r = d.request("POST", "/v1/events", token=host, body=VISIT)
    assert r.status == 201, r
    feed = make_feed(d, host, name="Spliced")
    assert b"BEGIN:VALARM" not in body(d, feed)
    reads = counter(d, "read")
    r = d.request("PATCH", f"/v1/feeds/{feed['id']}", token=host, body={"alarms": True})
    assert r.status == 200, r
    b = body(d, feed)
    assert b"BEGIN:VALARM" in b and counter(d, "read") == reads + 1
    assert b == whole(d, host, alarms=True)
    r = d.request("PATCH", f"/v1/feeds/{feed['id']}", token=host, body={"past_days": 0})
    assert r.status == 200, r
    assert body(d, feed) == whole(d, host, alarms=True, past_days=0)


def test_a_cancelled_open_series_leaves_after_its_30_days(ctx):
    """A cancelled series without end is shown for 30 days from its
    cancellation; a feed spliced after they run out no longer shows it."""
    db, k, d = world(ctx)
    host = k["host"]
    r = d.request("POST", "/v1/events", token=host, body={
        "kind": "meeting", "title": "Open-ended sync", "timezone": "Asia/Seoul",
        "start": "2027-04-05T09:00:00", "end": "2027-04-05T10:00:00", "rrule": "FREQ=WEEKLY"})
    assert r.status == 201, r
    s = r.json()
    r = d.request("PATCH", f"/v1/events/{s['id']}", token=host, body={"status": "cancelled"})
    assert r.status == 200, r
    sql(ctx, db, "UPDATE events SET cancelled_at = now() - interval '30 days' + interval '4 s'"
                 f" WHERE id = '{s['id']}'")
    t0 = time.time()
    feed = make_feed(d, host, name="Spliced")
    assert b"Open-ended sync" in body(d, feed)
    time.sleep(max(0.0, t0 + 5.5 - time.time()))
    spliced = counter(d, "spliced")
    r = d.request("POST", "/v1/events", token=host, body=dict(VISIT, title="Unrelated"))
    assert r.status == 201, r
    b = body(d, feed)
    assert counter(d, "spliced") == spliced + 1
    assert b"Unrelated" in b and b"Open-ended sync" not in b
    assert b == whole(d, host)


def test_a_splice_copies_what_it_kept_from_the_last_body(ctx):
    """A rendering after a splice copies the runs of rows it kept from the
    last rendering's body (api/feed_list.h's at), and only the rows read
    again from their texts: changes at the start, in the middle and at the
    end, an item moved, one that leaves, a zone that appears or goes and a
    retitled feed give the bytes of a feed read whole, whether the last
    body was still in memory or had moved to a file (sent twice), which
    is mapped to be copied from."""
    db, k, d = world(ctx)
    host = k["host"]
    feed = make_feed(d, host, name="Spliced")
    events = []
    for i in range(40):
        r = d.request("POST", "/v1/events", token=host, body=dict(
            VISIT, title=f"Visit {i:02d}", start=f"2027-03-{1 + i % 28:02d}T{8 + i // 28:02d}:00:00",
            end=f"2027-03-{1 + i % 28:02d}T{9 + i // 28:02d}:00:00"))
        assert r.status == 201, r
        events.append(r.json())
    first = body(d, feed)
    assert len(first) > 16384  # large enough to move to a file when sent again
    spliced = counter(d, "spliced")

    def patch(ev, **b):
        r = d.request("PATCH", f"/v1/events/{ev['id']}", token=host, body=b)
        assert r.status == 200, r

    changes = [
        ("the first retitled", lambda: patch(events[0], title="First, retitled")),
        ("two in the middle retitled", lambda: (patch(events[17], title="Middle one"),
                                                patch(events[18], title="Middle two"))),
        ("the last moved to the start", lambda: patch(
            events[39], start="2027-02-01T08:00:00", end="2027-02-01T09:00:00")),
        ("one moved to the end", lambda: patch(
            events[5], start="2027-06-01T08:00:00", end="2027-06-01T09:00:00")),
        ("one cancelled", lambda: patch(events[9], status="cancelled")),
        ("one in another zone", lambda: patch(events[20], timezone="America/Toronto")),
        ("back in the feed's zone", lambda: patch(events[20], timezone="Asia/Ho_Chi_Minh")),
        ("the feed renamed", lambda: rename()),
    ]
    names = ["Spliced"]

    def rename():
        names.append(f"Renamed {len(names)}")
        r = d.request("PATCH", f"/v1/feeds/{feed['id']}", token=host, body={"name": names[-1]})
        assert r.status == 200, r

    for twice in (False, True):
        for what, change in changes:
            change()
            got = body(d, feed)
            if twice:  # its bytes go to a file: the next splice cannot copy from them
                assert body(d, feed) == got
            ref = body(d, make_feed(d, host, name=names[-1]))
            assert got == ref, f"{what} ({'after a body sent twice' if twice else 'in memory'})"
    assert counter(d, "spliced") >= spliced + 2 * len(changes)


def vevents_from(d, where):
    m = re.search(rb"^liaison_feed_vevents_" + where.encode() + rb"_total (\d+)$",
                  d.request("GET", "/metrics").body, re.M)
    assert m, where
    return int(m[1])


def test_a_splice_takes_stored_texts_and_renders_only_the_rest(ctx):
    """Of the events a splice misses, one whose text another instance
    stored is taken from the store, only the one nobody rendered is
    rendered, and the feed is the feed read whole."""
    db, k, d = world(ctx)
    host = k["host"]
    one = ctx.daemon(db)
    feed = make_feed(d, host, name="Spliced")
    body(one, feed)
    body(d, feed)
    stored = d.request("POST", "/v1/events", token=host, body=dict(VISIT, title="Stored"))
    assert stored.status == 201, stored
    body(d, feed)  # renders it, and stores its text after the answer
    sid = stored.json()["id"]
    for _ in range(100):
        if sql(ctx, db, f"SELECT count(*) FROM vevent_texts WHERE event_id = '{sid}'") == "1":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the text was not stored")
    fresh = d.request("POST", "/v1/events", token=host, body=dict(VISIT, title="Fresh"))
    assert fresh.status == 201, fresh
    before = {w: vevents_from(one, w) for w in ("stored", "rendered")}
    spliced = counter(one, "spliced")
    got = body(one, feed)
    assert counter(one, "spliced") == spliced + 1
    assert vevents_from(one, "stored") == before["stored"] + 1
    assert vevents_from(one, "rendered") == before["rendered"] + 1
    assert got == whole(d, host)
    assert b"SUMMARY:Stored" in got and b"SUMMARY:Fresh" in got


def test_a_feed_lists_its_events_by_start(ctx):
    """The statement sends a list's rows in no order (api/feed_list.c puts
    them in feed order): a series' overrides come after every other row,
    yet a feed goes by start, over several zones, read whole and spliced."""
    from test_feeds import parse
    db, k, d = world(ctx)
    host = k["host"]
    feed = make_feed(d, host, name="Ordered")

    def post(**b):
        r = d.request("POST", "/v1/events", token=host, body=b)
        assert r.status == 201, r
        return r.json()

    def starts(b):
        got = [datetime.datetime.fromisoformat(e["start"]).astimezone(datetime.timezone.utc)
               for e in parse(b)["events"]]
        assert got == sorted(got), got
        return len(got)

    s = post(kind="meeting", title="Partner sync", timezone="Asia/Seoul",
             start="2027-04-05T09:00:00", end="2027-04-05T10:00:00", rrule="FREQ=WEEKLY;COUNT=6")
    post(series_id=s["id"], recurrence_id="2027-04-12T09:00:00",
         start="2027-03-02T07:00:00", end="2027-03-02T08:00:00")
    post(**dict(VISIT, title="Toronto", timezone="America/Toronto",
                start="2027-03-01T20:00:00", end="2027-03-01T21:00:00"))
    post(**dict(VISIT, title="Saigon", start="2027-03-02T09:00:00", end="2027-03-02T10:00:00"))
    post(**dict(VISIT, title="Later", start="2027-05-01T09:00:00", end="2027-05-01T10:00:00"))
    assert starts(body(d, feed)) == 5
    spliced = counter(d, "spliced")
    post(series_id=s["id"], recurrence_id="2027-04-19T09:00:00",
         start="2027-03-01T06:00:00", end="2027-03-01T07:00:00")
    post(**dict(VISIT, title="Between", start="2027-04-20T09:00:00", end="2027-04-20T10:00:00"))
    assert starts(body(d, feed)) == 7
    assert counter(d, "spliced") == spliced + 1
    assert starts(whole(d, host)) == 7


def test_starts_a_microsecond_apart_keep_their_order(ctx):
    """The list's rows are ordered by the starts read back as text: a
    database that prints floats with fewer digits (extra_float_digits = 0)
    must not round two starts together and leave their order to the ids."""
    db, k, _ = world(ctx)
    sql(ctx, db, f'ALTER DATABASE "{db.split("dbname=")[1]}" SET extra_float_digits = 0')
    d = ctx.daemon(db)
    titles = {}
    for title in ("One", "Two"):
        r = d.request("POST", "/v1/events", token=k["host"], body=dict(VISIT, title=title))
        assert r.status == 201, r
        titles[r.json()["id"]] = title
    first, second = sorted(titles)
    # The greater id starts a microsecond earlier: PostgreSQL puts it first.
    sql(ctx, db, "UPDATE events SET start_utc = date_trunc('second', start_utc)"
                 f" + CASE WHEN id = '{first}' THEN interval '0.000002 s'"
                 "        ELSE interval '0.000001 s' END"
                 f" WHERE id IN ('{first}', '{second}')")
    feed = make_feed(d, k["host"], name="Microseconds")
    shown = re.findall(rb"^SUMMARY:(\S+)", body(d, feed), re.M)
    assert shown == [titles[second].encode(), titles[first].encode()], shown


def test_a_feed_kept_across_a_restart_is_spliced_from_its_saved_rendering(ctx):
    """With feed_state_dir, a clean stop saves the renderings kept with
    their lists (api/feed_state.c) and the next start reads them back as
    the bases of their feeds' first renderings: what changed while the
    daemon was away is read (a splice), not the whole list, and the bytes
    are those of a list read whole. A saved rendering is never served as it
    is: a token revoked meanwhile is 404. A file of another stamp (binary,
    renderer, database), one with a byte changed where its structure does
    not show it, or garbage is not read back: read whole."""
    db, k, other = world(ctx)
    host = k["host"]
    state = os.path.join(ctx.tmp, "state")
    args = ["--feed-state-dir", state]
    d = ctx.daemon(db, args=args)

    post = poster(other, host)
    a = post(title="Kept visit")
    b = post(title="To be cancelled", start="2027-03-11T09:00:00", end="2027-03-11T10:00:00")
    post(title="Weekly sync", start="2027-03-12T09:00:00", end="2027-03-12T10:00:00",
         rrule="FREQ=WEEKLY;COUNT=5")
    feed = make_feed(d, host, name="Spliced")
    first = d.request("GET", path_of(feed))
    assert first.status == 200, first

    def saved():
        return saved_in(state)

    def restart():
        assert d.stop() == 0
        return ctx.daemon(db, args=args)

    # Nothing changed: the same bytes and ETag after two restarts (the
    # second saves again what the first read back and no one asked for),
    # by a splice of nothing.
    d = restart()
    assert re.search(r"feeds: 1 renderings read back", d.logtext())
    d = restart()
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert len(saved()) == 1, "a rendering read back stays saved (for a crash)"
    assert re.search(r"feeds: 1 renderings read back from \S+ in \d+ ms \(0 could not be\)",
                     d.logtext())
    again = d.request("GET", path_of(feed), headers={"If-None-Match": first.header("ETag")})
    assert again.status == 304, again
    assert (counter(d, "spliced"), counter(d, "read")) == (1, 0)
    assert body(d, feed) == first.body

    # Changes by another instance while this one is away.
    assert d.stop() == 0
    files = saved()
    assert len(files) == 1 and stat.S_IMODE(os.stat(os.path.join(state, files[0])).st_mode) == 0o600
    r = other.request("PATCH", f"/v1/events/{a['id']}", token=host, body={"title": "Moved visit"})
    assert r.status == 200, r
    r = other.request("DELETE", f"/v1/events/{b['id']}", token=host)
    assert r.status == 200, r
    post(title="Added while away", start="2027-03-13T09:00:00", end="2027-03-13T10:00:00")
    d = ctx.daemon(db, args=args)
    after = body(d, feed)
    assert (counter(d, "spliced"), counter(d, "read")) == (1, 0)
    assert b"Moved visit" in after and b"Added while away" in after
    assert b"Kept visit" not in after and after.count(b"STATUS:CANCELLED") == 1
    assert after == whole(d, host)

    # A file of another stamp, or damaged, is read whole, and removed.
    assert d.stop() == 0
    files = saved()
    assert len(files) == 2, files
    for name, cut in zip(files, ("stamp", "byte")):
        p = os.path.join(state, name)
        with open(p, "rb") as f:
            data = bytearray(f.read())
        if cut == "stamp":
            lines = data.split(b"\n", 2)
            lines[1] = lines[1][:-1] + (b"0" if lines[1][-1:] != b"0" else b"1")
            data = b"\n".join(lines)
        else:  # one letter of the body's last VEVENT: its structure holds
            at = data.rindex(b"SUMMARY:") + len(b"SUMMARY:")
            data[at] = ord("X") if data[at] != ord("X") else ord("Y")
        with open(p, "wb") as f:
            f.write(data)
    with open(os.path.join(state, "f" * 64 + ".feed"), "wb") as f:
        f.write(os.urandom(4096))
    d = ctx.daemon(db, args=args)
    assert re.search(r"feeds: 0 renderings read back from \S+ in \d+ ms \(3 could not be\)",
                     d.logtext())
    assert not saved()
    assert body(d, feed) == after
    assert (counter(d, "spliced"), counter(d, "read")) == (0, 1)

    # A token revoked while the daemon was away is 404 at once.
    assert d.stop() == 0
    assert len(saved()) == 1
    r = other.request("DELETE", f"/v1/feeds/{feed['id']}", token=host)
    assert r.status == 204, r
    d = ctx.daemon(db, args=args)
    r = d.request("GET", path_of(feed))
    assert r.status == 404, r


def test_a_feed_kept_across_a_crash_is_spliced_from_its_last_save(ctx):
    """With feed_state_every, the renderings made since the last save are
    saved while the daemon runs, so that a start after kill -9 (no clean
    stop, nothing saved then) still splices: what changed while the daemon
    was down is read, and the bytes are those of a list read whole.
    Without it, a crash leaves nothing to read back."""
    db, k, other = world(ctx)
    host = k["host"]
    state = os.path.join(ctx.tmp, "state")
    args = ["--feed-state-dir", state, "--feed-state-every", "200ms"]
    d = ctx.daemon(db, args=args)

    post = poster(other, host)
    a = post(title="Kept visit")
    feed = make_feed(d, host, name="Spliced")
    first = body(d, feed)

    def saved():
        return saved_in(state)

    assert re.search(r"feeds: renderings saved to \S+ every 200 ms while running", d.logtext())
    harness.wait_for(lambda: len(saved()) == 1, 10, what="the rendering saved while running")
    # A change after the save, seen by the running daemon, then a crash.
    r = other.request("PATCH", f"/v1/events/{a['id']}", token=host, body={"title": "Moved"})
    assert r.status == 200, r
    harness.wait_for(lambda: b"SUMMARY:Moved" in body(d, feed), 10, what="the change in the feed")
    d.stop(sig=signal.SIGKILL)
    post(title="Added while down", start="2027-03-13T09:00:00", end="2027-03-13T10:00:00")
    d = ctx.daemon(db, args=args)
    assert re.search(r"feeds: 1 renderings read back", d.logtext())
    after = body(d, feed)
    assert (counter(d, "spliced"), counter(d, "read")) == (1, 0)
    assert b"SUMMARY:Moved" in after and b"SUMMARY:Added while down" in after
    assert b"Kept visit" not in after and after != first
    assert after == whole(d, host)

    # feed_state_every 0: saved at a clean stop only; a crash finds nothing.
    d.stop(sig=signal.SIGKILL)
    for f in saved():
        os.unlink(os.path.join(state, f))
    d = ctx.daemon(db, args=["--feed-state-dir", state, "--feed-state-every", "0s"])
    body(d, feed)
    time.sleep(1.0)
    assert not saved() and "saved to" not in d.logtext()
    d.stop(sig=signal.SIGKILL)


def test_a_feed_read_back_is_not_served_while_the_database_is_down(ctx):
    """A rendering read back at the start is no answer by itself (it was
    made before the stop and holds no body): with the database down, its
    feed is 503, as a feed never rendered is, not served stale as one
    rendered by this process would be."""
    db_cluster = ctx.private_cluster()
    db = db_cluster.conninfo()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    args = ["--threads", "1", "--feed-state-dir", os.path.join(ctx.tmp, "state")]
    d = ctx.daemon(db, args=args)
    r = d.request("POST", "/v1/events", token=token, body=dict(VISIT, partners=[]))
    assert r.status == 201, r
    feed = make_feed(d, token, name="Read back")
    assert d.request("GET", path_of(feed)).status == 200
    assert d.stop() == 0
    d = ctx.daemon(db, args=args)
    assert re.search(r"feeds: 1 renderings read back", d.logtext())
    db_cluster.stop()
    harness.wait_for(lambda: d.request("GET", "/readyz").status == 503, 10, what="outage")
    r = d.request("GET", path_of(feed))
    assert r.status == 503 and r.header("Retry-After"), r


def test_a_database_put_back_to_an_earlier_state_is_read_whole(ctx):
    """A database put back to an earlier state of itself (a storage
    snapshot restored without archive recovery; a standby promoted before
    it had every commit) hands out again transaction ids that a kept
    list's snapshot has seen: a splice from that list would take what is
    written from then on for seen, and keep what the database no longer
    holds. A splice on a database behind its base's snapshot reads the list
    whole instead."""
    c = ctx.private_cluster()
    db = c.conninfo()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    args = ["--threads", "1", "--feed-state-dir", os.path.join(ctx.tmp, "state")]
    d = ctx.daemon(db, args=args)
    post = poster(d, token)
    post(title="Before the snapshot", partners=[])
    feed = make_feed(d, token, name="Spliced")
    body(d, feed)
    assert d.stop() == 0
    c.stop()
    datadir = subprocess.run([harness.PGCLUSTER, "datadir", c.datadir], check=True,
                             capture_output=True, text=True).stdout.strip()
    snapshot = datadir + ".snapshot"
    subprocess.run(["cp", "-a", datadir, snapshot], check=True)
    c.start()
    d = ctx.daemon(db, args=args)
    post = poster(d, token)
    # Writes the database will lose, and more transaction ids than the
    # next start takes before the feed is asked for.
    for i in range(20):
        post(title=f"Lost {i}", partners=[])
    assert b"SUMMARY:Lost 19" in body(d, feed)
    assert (counter(d, "spliced"), counter(d, "read")) == (1, 0)
    assert d.stop() == 0
    c.stop()
    shutil.rmtree(datadir)
    subprocess.run(["cp", "-a", snapshot, datadir], check=True)
    c.start()
    d = ctx.daemon(db, args=args)
    assert re.search(r"feeds: 1 renderings read back", d.logtext())
    poster(d, token)(title="After the restore", partners=[])
    after = body(d, feed)
    assert (counter(d, "spliced"), counter(d, "read")) == (0, 1)
    assert b"Lost" not in after and b"SUMMARY:After the restore" in after
    assert after == whole(d, token)
