"""Issue 15, the scheduler's and the database layer's part: what a webhook
carries agrees with what its endpoint's org may see when it is sent; a row
that cannot be planned never holds back other orgs' reminders; a frozen
PostgreSQL gives 503 within the query deadline instead of hanging; the
delivery log counts only the attempts made; concurrent creates with one
Idempotency-Key and a first key for an org that has one get clear answers."""
import os
import signal
import threading
import time

import harness
from harness import problem, run_cli, wait_for
from receiver import Receiver
from test_events import world
from test_webhooks import FAST, daemon_alone, utc_in

SECRET = "Merger talks with Samsung (confidential)"
SECRET_DESC = "Do not forward: board approval pending"


def dbname(db):
    return db.split("dbname=")[1]


def log_of(d, token, ep):
    r = d.request("GET", f"/v1/webhooks/{ep['id']}/deliveries", token=token)
    assert r.status == 200, r
    return r.json()["items"]


# ---- 7. a frozen database ---------------------------------------------------------


def _postgres_pids(cluster):
    with open(os.path.join(cluster.datadir, "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(entry))
    return pids


def freeze(cluster, sig):
    pids = _postgres_pids(cluster)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return pids


def _timed(d, method, path, token=None):
    t0 = time.monotonic()
    try:
        r = d.request(method, path, token=token, timeout=15)
    except OSError as e:  # no answer at all
        return None, time.monotonic() - t0, e
    return r, time.monotonic() - t0, None


def test_a_frozen_database_gives_503_within_the_deadline(ctx):
    cluster = ctx.private_cluster()
    db = cluster.conninfo()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--db-query-timeout", "2s"])
    assert d.request("GET", "/readyz").status == 200
    assert d.request("GET", "/v1/orgs/hub", token=token).status == 200
    freeze(cluster, signal.SIGSTOP)
    try:
        for path, tok in [("/readyz", None), ("/v1/orgs/hub", token), ("/v1/events", token),
                          ("/readyz", None)]:
            r, took, err = _timed(d, "GET", path, tok)
            assert r is not None, f"{path}: no answer in {took:.1f}s ({err})"
            problem(r, 503)
            assert r.header("Retry-After"), r.headers
            assert took < 4.5, (path, took)
        assert d.request("GET", "/healthz").status == 200
        metrics = d.request("GET", "/metrics").body.decode()
        assert "liaison_db_query_timeouts_total" in metrics
    finally:
        freeze(cluster, signal.SIGCONT)
    t0 = time.monotonic()
    wait_for(lambda: d.request("GET", "/readyz").status == 200, 20, interval=0.1,
             what="/readyz to recover")
    wait_for(lambda: d.request("GET", "/v1/orgs/hub", token=token).status == 200, 10,
             interval=0.1, what="the API to recover")
    assert time.monotonic() - t0 < 12, time.monotonic() - t0
    assert "did not answer within" in d.logtext()


def test_the_query_deadline_setting(ctx):
    for bad in ["0s", "50ms", "soon"]:
        out = run_cli(["--db-query-timeout", bad, "migrate"], check=False)
        assert out.returncode == 2 and "db_query_timeout" in out.stderr, (bad, out.stderr)
    assert "--db-query-timeout" in run_cli(["--help"]).stdout


def test_a_slow_statement_is_cut_at_the_deadline(ctx):
    # The server answers but a statement waits (here on a lock) past the
    # deadline: statement_timeout ends it, and the client gets 503.
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db, args=["--db-query-timeout", "1s"])
    assert d.request("GET", "/v1/orgs/hub", token=token).status == 200
    import subprocess
    locker = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-d", db, "-c",
         "BEGIN; LOCK TABLE orgs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: ctx.cluster.psql(
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted "
            "AND relation = 'orgs'::regclass", dbname(db)) == "1", 10, what="the lock")
        r, took, err = _timed(d, "GET", "/v1/orgs/hub", token)
        assert r is not None, err
        problem(r, 503)
        assert r.header("Retry-After")
        assert 0.8 < took < 3, took
    finally:
        locker.wait(timeout=20)
    assert d.request("GET", "/v1/orgs/hub", token=token).status == 200
