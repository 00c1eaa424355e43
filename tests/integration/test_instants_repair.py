"""Rows whose instants were computed in SQL before 029-031 (overrides that
followed their series and protocol deadlines with AT TIME ZONE, an early
RDATE with 027's bound) are computed again by the daemon once, after the
upgrade: the list sql/031 makes is worked off by the scheduler
(jobs/repair.c), with no new version."""
import os
import threading
import time

from harness import wait_for
from test_events import world
from test_series_truth import sql
from test_visit_tasks import checklist, tasks_of

SERIES = {"kind": "meeting", "title": "Summer sync", "timezone": "CET",
          "start": "2027-06-07T10:00:00", "end": "2027-06-07T11:00:00",
          "rrule": "FREQ=WEEKLY;COUNT=6"}
EARLY = {"kind": "meeting", "title": "Autumn sync", "timezone": "CET",
         "start": "2027-09-08T10:00:00", "end": "2027-09-08T11:00:00",
         "rrule": "FREQ=WEEKLY;COUNT=3", "rdates": ["2027-07-01T10:00:00"]}
SPRING = {"kind": "deadline", "title": "Spring report", "timezone": "Europe/Berlin",
          "all_day": True, "start": "2027-03-28", "rrule": "FREQ=WEEKLY;COUNT=3"}

# What each row holds of its instants and its version.
HELD = ("SELECT id, version, updated_at, start_utc, end_utc, last_end_utc, rdates_from"
        " FROM events WHERE id IN ({}) ORDER BY id")

# How the old code wrote them: 012 and 016 with AT TIME ZONE, 027's bound,
# an all-day series' last day as long as its first (23 hours here).
OLD_WAYS = """
UPDATE events
   SET start_utc = start_local AT TIME ZONE timezone,
       end_utc = end_local AT TIME ZONE timezone,
       last_end_utc = end_local AT TIME ZONE timezone
 WHERE id IN ({overrides});
UPDATE events
   SET rdates_from = (SELECT min(r) FROM unnest(rdates) AS r) AT TIME ZONE 'UTC'
                     - interval '14 hours'
 WHERE id = '{early}';
UPDATE events
   SET last_end_utc = last_end_utc - interval '1 hour'
 WHERE id = '{spring}';
"""
# And then sql/031 listed them, as it does for every database it migrates.
MIGRATION = os.path.join(os.path.dirname(__file__), "..", "..", "sql", "031_instants_repair.sql")


def test_rows_written_before_the_upgrade_get_the_daemons_instants(ctx):
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=SERIES).json()
    o = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-06-14T10:00:00",
        "start": "2027-06-14T11:00:00", "end": "2027-06-14T12:00:00"})
    assert o.status == 201, o
    early = d.request("POST", "/v1/events", token=k["host"], body=EARLY).json()
    checklist(d, k["host"], {"name": "Short", "tasks": [
        {"title": "Brief", "anchor": "arrive", "offset_days": -10}]})
    v = d.request("POST", "/v1/visits", token=k["host"], body={
        "direction": "inbound", "title": "Summer visit", "timezone": "CET",
        "arrive": "2027-07-20T09:00:00", "depart": "2027-07-22T18:00:00"}).json()
    deadline = tasks_of(d, k["host"], v["id"])["Brief"]["event_id"]
    spring = d.request("POST", "/v1/events", token=k["host"], body=SPRING).json()
    ids = [o.json()["id"], deadline, early["id"], spring["id"], s["id"]]
    listed = ",".join(f"'{i}'" for i in ids)
    right = sql(ctx, db, HELD.format(listed))
    d.stop()

    sql(ctx, db, OLD_WAYS.format(overrides=",".join(f"'{i}'" for i in ids[:2]),
                                 early=early["id"], spring=spring["id"]))
    with open(MIGRATION) as f:
        listing = f.read()
    sql(ctx, db, listing[listing.index("INSERT INTO events_instants_due"):])
    wrong = sql(ctx, db, HELD.format(listed))
    # CET in summer is UTC+2; AT TIME ZONE read it as +1, the bound is 14
    # hours before the RDATE's wall time, the last day an hour short.
    assert [a == b for a, b in zip(right.split("\n"), wrong.split("\n"))].count(False) == 4, \
        (right, wrong)

    d = ctx.daemon(db)
    wait_for(lambda: sql(ctx, db, "SELECT count(*) FROM events_instants_due") == "0", 30,
             what="the list to be worked off")
    assert sql(ctx, db, HELD.format(listed)) == right
    assert "now hold the daemon's instants" in d.logtext()


def test_a_row_written_while_it_is_repaired_is_read_again(ctx):
    """The repair reads a batch, then locks and writes it. A row written
    in between (here a rename that keeps the old instants, as 029's
    follow does for a new title) is not at the version read: it stays
    listed and is read again, rather than dropped unrepaired."""
    db, k, d = world(ctx)
    s = d.request("POST", "/v1/events", token=k["host"], body=SERIES).json()
    o = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": "2027-06-14T10:00:00",
        "start": "2027-06-14T11:00:00", "end": "2027-06-14T12:00:00"}).json()
    held = ("SELECT start_utc, end_utc, last_end_utc FROM events"
            f" WHERE id = '{o['id']}'")
    right = sql(ctx, db, held)
    d.stop()
    sql(ctx, db, OLD_WAYS.split("UPDATE events\n   SET rdates_from")[0]
        .format(overrides=f"'{o['id']}'")
        + f"INSERT INTO events_instants_due VALUES ('{o['id']}');")
    assert sql(ctx, db, held) != right
    # A writer holds the row (renamed, a new version) for 4 s while the
    # daemon starts and its repair reads the row at the old version.
    writer = threading.Thread(target=sql, args=(ctx, db, (
        "BEGIN; UPDATE events SET title = 'Renamed', version = version + 1"
        f" WHERE id = '{o['id']}'; SELECT pg_sleep(4); COMMIT;")))
    writer.start()
    time.sleep(0.5)
    d = ctx.daemon(db)
    writer.join()
    wait_for(lambda: sql(ctx, db, "SELECT count(*) FROM events_instants_due") == "0", 30,
             what="the list to be worked off")
    assert sql(ctx, db, held) == right
    assert sql(ctx, db, f"SELECT title FROM events WHERE id = '{o['id']}'") == "Renamed"
