"""Creates committed together (dbpool_query_grouped, api/events.c): while
a group of creates is in flight on a worker's pool, the next creates wait
and go as one transaction, one commit. Each request still ends as it
would alone: answered only once its row is committed, its own error for
its own fault, nothing written twice, and the API, the feed, the
database and the webhooks all show the same events."""
import concurrent.futures
import re
import time

import harness
from test_feeds import make_feed, path_of
from test_webhooks import FAST, setup

# A create titled "slow" holds its transaction for a while, so that the
# creates sent meanwhile queue behind it; one titled "boom" fails in the
# database (nothing the API's checks could have refused).
TRIGGER = """
CREATE FUNCTION probe_create() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.title = 'slow' THEN PERFORM pg_sleep(0.6); END IF;
  IF NEW.title = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER probe_create BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION probe_create();
"""


def metric(d, name):
    body = d.request("GET", "/metrics").body
    return sum(int(v) for v in re.findall(rb"^" + name.encode() + rb"\{[^}]*\} (\d+)$", body, re.M))


def body(title, n):
    return {"kind": "meeting", "title": title, "start": f"2027-06-0{1 + n % 5}T09:00:00",
            "end": f"2027-06-0{1 + n % 5}T10:00:00", "location": "Hall A"}


def test_creates_under_load_commit_together_and_each_ends_as_alone(ctx):
    """One worker thread, so that every create meets the same pool. Eight
    creates sent while a slow one is in flight go as one group; the one
    that fails in the database (a trigger's error) rolls that group back,
    and the other seven run again each on its own: seven 201s, one 500,
    and seven rows, no more. Each 201's event is read back at once, is in
    the org's feed, and is announced by exactly one event.created
    webhook; the failed one is nowhere."""
    db, k, d, rx, ep = setup(ctx, args=FAST + ["--threads", "1"], types=["event.created"])
    ctx.cluster.psql(TRIGGER, db.split("dbname=")[1])
    feed = make_feed(d, k["host"])
    grouped0 = metric(d, "liaison_db_grouped_total")
    again0 = metric(d, "liaison_db_run_again_total")
    titles = [f"Group {n}" for n in range(7)] + ["boom"]
    with concurrent.futures.ThreadPoolExecutor(len(titles) + 1) as pool:
        slow = pool.submit(d.request, "POST", "/v1/events", token=k["host"], body=body("slow", 0))
        time.sleep(0.2)
        answers = list(pool.map(
            lambda t: d.request("POST", "/v1/events", token=k["host"], body=body(t, len(t))),
            titles))
        assert slow.result().status == 201, slow.result()
    grouped = metric(d, "liaison_db_grouped_total") - grouped0
    again = metric(d, "liaison_db_run_again_total") - again0
    assert grouped >= 2, "the creates sent meanwhile were not grouped"
    assert 2 <= again <= grouped, "the failed group's creates did not run again on their own"

    by_title = dict(zip(titles, answers))
    assert by_title["boom"].status == 500, by_title["boom"]
    created = {"slow": slow.result().json()["id"]}
    for t in titles[:-1]:
        r = by_title[t]
        assert r.status == 201, r
        e = r.json()
        assert e["title"] == t
        created[t] = e["id"]
        # Committed when answered: read back at once.
        got = d.request("GET", f"/v1/events/{e['id']}", token=k["host"])
        assert got.status == 200 and got.json()["title"] == t
    rows = ctx.cluster.psql("SELECT string_agg(title, ',' ORDER BY title) FROM events",
                            db.split("dbname=")[1]).strip()
    assert rows == ",".join(sorted(created)), rows

    feed_body = d.request("GET", path_of(feed)).body.decode()
    for t in created:
        assert feed_body.count(f"SUMMARY:{t}\r\n") == 1, t
    assert "SUMMARY:boom" not in feed_body

    messages = rx.wait(len(created), type_="event.created")
    time.sleep(1.0)  # long enough for a duplicate to arrive, if one were sent
    ids = [m["json"]["data"]["event"]["id"] for m in rx.messages("event.created")]
    assert len(messages) == len(created)
    assert sorted(ids) == sorted(created.values())
