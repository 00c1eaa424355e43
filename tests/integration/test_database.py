"""The database layer: the daemon rides out a PostgreSQL outage, and
several instances migrating one empty database at once all succeed."""
import os
import subprocess
import threading
import time

import harness
from harness import problem, run_cli


def test_readyz_follows_database_outage(ctx):
    cluster = ctx.private_cluster()  # this test stops it
    db = cluster.conninfo()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    assert d.request("GET", "/readyz").status == 200
    assert d.request("GET", "/v1/orgs", token=token).status == 200
    cluster.stop()
    harness.wait_for(lambda: d.request("GET", "/readyz").status == 503, 10,
                     what="/readyz to turn 503")
    r = d.request("GET", "/readyz")
    problem(r, 503)
    assert r.header("Retry-After"), r.headers
    # Fails fast while down: no waiting for a connection that will not come.
    t0 = time.monotonic()
    problem(d.request("GET", "/v1/orgs/hub", token=token), 503)
    assert time.monotonic() - t0 < 2
    assert d.request("GET", "/healthz").status == 200
    time.sleep(1.5)  # several reconnect attempts against a dead server
    assert d.alive()
    cluster.start()
    t0 = time.monotonic()
    harness.wait_for(lambda: d.request("GET", "/readyz").status == 200, 10,
                     what="/readyz to recover")
    recovered = time.monotonic() - t0
    assert recovered < 5, recovered
    harness.wait_for(lambda: d.request("GET", "/v1/orgs", token=token).status == 200, 5,
                     what="API to recover")
    assert d.alive()


def test_concurrent_migrations_on_empty_database(ctx):
    for round_ in range(3):
        db = ctx.database()
        results = []

        def migrate():
            results.append(run_cli(["migrate"], db, check=False))

        threads = [threading.Thread(target=migrate) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for out in results:
            assert out.returncode == 0, out.stderr
        dbname = db.split("dbname=")[1]
        rows = ctx.cluster.psql("SELECT version, count(*) FROM schema_migrations GROUP BY 1",
                                dbname)
        for line in rows.splitlines():
            assert line.endswith("|1"), rows


def test_two_servers_start_together_on_empty_database(ctx):
    db = ctx.database()
    a = ctx.daemon(db, wait=False)
    b = ctx.daemon(db, wait=False)
    a.wait_healthy()
    b.wait_healthy()
    assert a.request("GET", "/readyz").status == 200
    assert b.request("GET", "/readyz").status == 200


def test_server_waits_for_database_at_start(ctx):
    cluster = ctx.private_cluster()
    cluster.stop()
    d = ctx.daemon(cluster.conninfo(), wait=False)
    time.sleep(1.0)
    assert d.alive(), d.logtext()
    cluster.start()
    d.wait_healthy(timeout=20)
    assert d.request("GET", "/readyz").status == 200


def test_migrate_refuses_a_newer_schema(ctx):
    db = ctx.database()
    run_cli(["migrate"], db)
    ctx.cluster.psql("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')",
                     db.split("dbname=")[1])
    out = run_cli(["migrate"], db, check=False)
    assert out.returncode != 0 and "newer" in out.stderr, out.stderr
    # The server refuses to start on it rather than serve a schema it does not know.
    d = ctx.daemon(db, wait=False)
    d.expect_failure = True
    assert d.proc.wait(timeout=20) != 0
    assert "newer" in d.logtext()


def test_new_connections_prepare_the_hot_statements(ctx):
    # Each worker connection prepares the hottest statements before it takes
    # work, so the first requests after a start do not wait for a new
    # backend to load its catalogs. PostgreSQL shows a session's last
    # statement: for a worker connection that is the last of the list, the
    # feed's render query, before any request has been made.
    db = ctx.database()
    dbname = db.split("dbname=")[1]
    d = ctx.daemon(db, env={"LIAISON_DB_POOL_SIZE": "3"})
    # White space is the statements' layout (one clause per line): compared
    # as single spaces.
    sql = ("SELECT count(*) FROM (SELECT regexp_replace(query, '\\s+', ' ', 'g') AS q "
           "FROM pg_stat_activity WHERE datname = '%s' "
           "AND application_name = 'liaisond') a WHERE q LIKE 'SELECT e.id, %%' "
           "AND q LIKE '%%(SELECT p.uid FROM events p WHERE p.id = e.parent_id) END, "
           "a.title, a.stage, to_jsonb(a.parties)%%'" % dbname)
    try:
        harness.wait_for(lambda: ctx.cluster.psql(sql).strip() == "6", 10,
                         what="2 threads x 3 connections to prepare their statements")
    except AssertionError:
        print(ctx.cluster.psql("SELECT application_name, state, left(query, 60), "
                               "right(query, 40) FROM pg_stat_activity "
                               "WHERE datname = '%s'" % dbname))
        raise
    token = ctx.org_with_key(db)
    assert d.request("GET", "/v1/orgs/hub", token=token).status == 200


def test_pool_pipelines_quick_statements(ctx):
    # The pool's pipelining, seen from its own API against the real server
    # (tests/integration/dbpool_probe.c): answers matched to their jobs, an
    # error confined to its job, nothing behind a slow query, a Parse in
    # flight shared and a failed one not reused, a generic plan set for its
    # job alone, a lost session failing every job in flight; deadlines: a
    # statement cut by the server, a frozen backend's connection dropped by
    # the pool's own timer.
    probe = os.path.join(harness.CONF["build"], "tests", "dbpool_probe")
    cmd = [probe, ctx.database()]
    if harness.CONF["valgrind"]:
        cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite"] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    oks = [l for l in proc.stdout.splitlines() if l.startswith("ok - ")]
    assert len(oks) == 32, proc.stdout
    assert "not ok" not in proc.stdout
