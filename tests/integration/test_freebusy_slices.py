"""A free/busy feed's expansion does not hold its worker's loop (issue 19):
with one worker thread, requests that come while a free/busy feed of many
weekly series is being expanded are answered between its slices, not
after it, and the feed is the same as when nothing else comes."""
from test_events import world
from test_feeds import make_feed, path_of
from test_occurrences_slices import weekly_series, while_it_runs


def test_cheap_requests_pass_a_long_freebusy_expansion(ctx):
    db, k, _ = world(ctx)
    d = ctx.daemon(db, args=["--threads", "1"])
    weekly_series(ctx, db, "hcmc-dost", 1500)
    feed = make_feed(d, k["host"], mode="freebusy", future_days=366)
    one = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Cheap", "start": "2027-03-01T09:00:00"}).json()
    took, r, waits = while_it_runs(d, path_of(feed), None, f"/v1/events/{one['id']}",
                                   k["host"])
    # Before, a cheap request that came during the expansion waited for
    # all of it; now for a slice at most.
    assert len(waits) >= 3 and max(waits) < took / 2, (took, waits)
    assert r.status == 200 and b"BEGIN:VFREEBUSY" in r.body, r
    # The same bytes again, rendered with nothing else under way.
    d.request("PATCH", f"/v1/events/{one['id']}", token=k["host"], body={"title": "Other"})
    again = d.request("GET", path_of(feed), timeout=60)
    assert again.status == 200 and again.body == r.body, again
