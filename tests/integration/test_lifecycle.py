"""Configuration, command line and process lifecycle: precedence of
flags > environment > file > defaults, bad values refused with the line
named, SIGTERM with a request in flight, SIGHUP reload."""
import os
import signal
import subprocess
import threading
import time

import harness
from harness import run_cli


def write(ctx, name, text):
    path = os.path.join(ctx.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_bad_config_values_name_file_line_and_key(ctx):
    cases = [
        ("listen = 127.0.0.1:8080\n# comment\nwebhook_timeout = 15 seconds\n", 3, "webhook_timeout"),
        ("threads = many\n", 1, "threads"),
        ("render_memory = lots\n", 1, "render_memory"),
        ("\n\nlisten = nowhere\n", 3, "listen"),
        ("log_level = loud\n", 1, "log_level"),
        ("rate_limit = 50 per second\n", 1, "rate_limit"),
        ("webhook_retry_schedule = 5s,,5m\n", 1, "webhook_retry_schedule"),
        ("webhook_allow_private = maybe\n", 1, "webhook_allow_private"),
        ("public_url = ftp://x\n", 1, "public_url"),
        ("no_such_setting = 1\n", 1, "no_such_setting"),
        ("just some words\n", 1, None),
        ('database = "unterminated\n', 1, "database"),
    ]
    for text, line, key in cases:
        path = write(ctx, "bad.conf", text)
        out = run_cli(["--config", path, "migrate"], check=False)
        assert out.returncode == 2, (text, out.returncode, out.stderr)
        assert f"{path}:{line}:" in out.stderr, (text, out.stderr)
        if key:
            assert key in out.stderr, (text, out.stderr)


def test_bad_environment_and_flag_values_are_named(ctx):
    out = run_cli(["migrate"], env={"LIAISON_THREADS": "-3"}, check=False)
    assert out.returncode == 2 and "LIAISON_THREADS" in out.stderr, out.stderr
    out = run_cli(["--webhook-timeout", "soon", "migrate"], check=False)
    assert out.returncode == 2 and "webhook_timeout" in out.stderr, out.stderr
    out = run_cli(["--no-such-flag", "1"], check=False)
    assert out.returncode == 2 and "--no-such-flag" in out.stderr, out.stderr


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))


def test_render_memory_is_touched_at_start_and_kept(ctx):
    """Each worker touches its share of render_memory at start and the heap
    keeps it, so the first feeds after a start do not fault it in: a daemon
    given 64 MiB (two threads, 32 MiB each) holds about that much more than
    one given none."""
    if harness.CONF["valgrind"]:
        raise harness.Skip("valgrind's allocator keeps a heap of its own")
    db = ctx.database()
    none = ctx.daemon(db, args=["--render-memory", "0"])
    some = ctx.daemon(db, args=["--render-memory", str(64 << 20)])
    base = rss_mib(none.proc.pid)
    harness.wait_for(lambda: rss_mib(some.proc.pid) >= base + 56, 10,
                     what=f"64 MiB more than {base} MiB resident")
    out = run_cli(["--render-memory", "-1", "migrate"], check=False)
    assert out.returncode == 2 and "render_memory" in out.stderr, out.stderr


def test_precedence_flag_over_env_over_file(ctx):
    db = ctx.database()
    p_file, p_env, p_flag = harness.free_port(), harness.free_port(), harness.free_port()
    path = write(ctx, "ok.conf", f"listen = 127.0.0.1:{p_file}\ndatabase = '{db}'\nthreads = 1\n")
    env = {"LIAISON_CONFIG": path}
    proc = subprocess.Popen([harness.binary()], env=dict(os.environ, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: _answers(p_file), 20, what="file's port")
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    env["LIAISON_LISTEN"] = f"127.0.0.1:{p_env}"
    proc = subprocess.Popen([harness.binary()], env=dict(os.environ, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: _answers(p_env), 20, what="environment's port")
        assert not _answers(p_file)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    proc = subprocess.Popen([harness.binary(), "--listen", f"127.0.0.1:{p_flag}"],
                            env=dict(os.environ, **env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: _answers(p_flag), 20, what="flag's port")
        assert not _answers(p_env)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def _answers(port):
    import http.client
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/healthz")
        return c.getresponse().status == 200
    except OSError:
        return False


def test_help_lists_every_setting(ctx):
    out = run_cli(["--help"])
    for name in ["listen", "database", "public_url", "threads", "webhook_timeout",
                 "webhook_retry_schedule", "webhook_allow_private", "webhook_ca_file",
                 "webhook_disable_after", "rate_limit", "trusted_proxies", "log_level"]:
        assert "--" + name.replace("_", "-") in out.stdout, name
    assert run_cli(["--version"]).stdout.startswith("liaisond ")


def in_flight(d):
    for line in d.request("GET", "/metrics").body.decode().splitlines():
        if line.startswith("liaison_http_requests_in_flight "):
            return float(line.split()[-1])
    return 0.0


def hold_lock(ctx, db, table, mode, granted):
    """A transaction that holds table's lock in mode for 4 s: long enough for
    a loaded machine to get a statement waiting on it and stop the daemon,
    and short of the 5 s db_query_timeout it would be cancelled at."""
    locker = subprocess.Popen(
        [os.path.join(harness.pg_bindir(), "psql"), "-X", "-q", "-d", db, "-c",
         f"BEGIN; LOCK TABLE {table} IN {mode} MODE; SELECT pg_sleep(4); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    harness.wait_for(lambda: ctx.cluster.psql(
        f"SELECT count(*) FROM pg_locks WHERE mode = '{granted}' AND granted "
        f"AND relation = '{table}'::regclass", db.split("dbname=")[1]) == "1", 10,
        what="the lock")
    return locker


def test_sigterm_answers_the_request_in_flight(ctx):
    db = ctx.database()
    token = ctx.org_with_key(db)
    d = ctx.daemon(db)
    # The org list: a query each time (a single org is read again from
    # memory, core/rowcache.h).
    assert d.request("GET", "/v1/orgs", token=token).status == 200
    # Hold a lock that the request's query must wait for.
    locker = hold_lock(ctx, db, "orgs", "ACCESS EXCLUSIVE", "AccessExclusiveLock")
    result = {}

    def ask():
        result["r"] = d.request("GET", "/v1/orgs", token=token)

    t = threading.Thread(target=ask)
    t.start()
    # In the daemon (past its head), with the /metrics request asking.
    harness.wait_for(lambda: in_flight(d) >= 2, 5, what="the request in flight")
    assert "r" not in result  # it is waiting on the lock
    d.proc.send_signal(signal.SIGTERM)
    assert locker.poll() is None, "the lock went too soon to judge"
    t.join(timeout=20)
    locker.wait(timeout=20)
    assert result["r"].status == 200, result
    assert d.stop() == 0
    assert "SIGTERM: stopping" in d.logtext()


def test_sigterm_lets_what_an_answer_left_running_finish(ctx):
    """A feed's answer leaves statements running after it (the VEVENTs it
    rendered go to vevent_texts then). A stop lets them finish: dropped,
    the next start renders them all again, and their callbacks never free
    what they hold (LeakSanitizer caught it under make asan)."""
    from test_events import VISIT, world
    from test_feeds import make_feed, path_of
    db, k, d = world(ctx)
    dbname = db.split("dbname=")[1]
    for i in range(3):
        r = d.request("POST", "/v1/events", token=k["host"],
                      body=dict(VISIT, title=f"Visit {i}", start=f"2031-03-0{i + 1}T09:00:00",
                                end=f"2031-03-0{i + 1}T10:00:00"))
        assert r.status == 201, r
    # With alarms: the background warmer stores only the plain texts.
    feed = make_feed(d, k["host"], alarms=True)
    # Reads pass; the store after the answer waits for the lock.
    locker = hold_lock(ctx, db, "vevent_texts", "SHARE", "ShareLock")
    body = d.request("GET", path_of(feed)).body
    assert body.count(b"BEGIN:VEVENT") == 3 and b"BEGIN:VALARM" in body, body
    harness.wait_for(lambda: ctx.cluster.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        "   AND query LIKE '%vevent_texts%'", dbname) != "0", 5, what="the store waiting")
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    running = d.proc.poll() is None
    assert locker.poll() is None, "the lock went too soon to judge"
    assert running, "stopped with its statement still running"
    assert locker.wait(timeout=20) == 0
    assert d.stop() == 0
    assert ctx.cluster.psql("SELECT count(*) FROM vevent_texts WHERE alarms", dbname) == "3"
    assert "dropped" not in d.logtext(), d.logtext()


def test_sigint_exits_zero(ctx):
    d = ctx.daemon()
    assert d.stop(signal.SIGINT) == 0


def test_sighup_reloads_log_level(ctx):
    db = ctx.database()
    path = write(ctx, "reload.conf", "log_level = info\n")
    d = ctx.daemon(db, args=["--config", path])
    d.request("GET", "/healthz", headers={"X-Request-Id": "before-reload"})
    harness.wait_for(lambda: "id=before-reload" in d.logtext(), 5, what="access log")
    write(ctx, "reload.conf", "log_level = warn\ndb_pool_size = 7\n")
    d.proc.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: "takes effect after a restart" in d.logtext(), 5,
                     what="reload warning")
    d.request("GET", "/healthz", headers={"X-Request-Id": "after-reload"})
    time.sleep(0.3)
    assert "id=after-reload" not in d.logtext()
    # A bad file on reload keeps the running settings.
    write(ctx, "reload.conf", "log_level = shouting\n")
    d.proc.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: "reload refused" in d.logtext(), 5, what="refusal")
    assert d.request("GET", "/healthz").status == 200


def test_sighup_unchanged_names_nothing_changed_webhook_timeout_does(ctx):
    """Start and reload read settings the one same way (config_load): a
    SIGHUP with nothing changed, with settings in the file, the environment
    and flags alike, names no setting as needing a restart; a changed
    restart-only setting is named, and only it."""
    db = ctx.database()
    path = write(ctx, "same.conf", "webhook_timeout = 15s\nlog_level = info\nmax_body = 65536\n")
    d = ctx.daemon(db, args=["--config", path, "--webhook-concurrency", "7"],
                   env={"LIAISON_DB_POOL_SIZE": "3"})
    d.proc.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: d.logtext().count("SIGHUP: settings reloaded") == 1, 10,
                     what="the first reload")
    assert "after a restart" not in d.logtext(), d.logtext()
    write(ctx, "same.conf", "webhook_timeout = 20s\nlog_level = info\nmax_body = 65536\n")
    d.proc.send_signal(signal.SIGHUP)
    harness.wait_for(lambda: d.logtext().count("SIGHUP: settings reloaded") == 2, 10,
                     what="the second reload")
    lines = [ln for ln in d.logtext().splitlines() if "after a restart" in ln]
    assert len(lines) == 1 and "setting webhook_timeout changed" in lines[0], lines
    assert d.request("GET", "/healthz").status == 200


def test_port_in_use_is_refused(ctx):
    d = ctx.daemon()
    out = run_cli(["--listen", f"127.0.0.1:{d.port}"], database=d.database, check=False,
                  timeout=30)
    assert out.returncode != 0 and "cannot listen" in out.stderr, out.stderr


def test_cli_org_and_key_create(ctx):
    db = ctx.database()
    out = run_cli(["org", "create", "busan-city", "--name", "Busan Metropolitan City",
                   "--timezone", "Asia/Seoul", "--country", "KR"], db)
    assert out.stdout.strip() == "busan-city"
    out = run_cli(["key", "create", "busan-city"], db)
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) == 43, out.stdout
    token = lines[0]
    hashed = ctx.cluster.psql("SELECT token_hash, role FROM api_keys", db.split("dbname=")[1])
    assert token not in hashed and hashed.endswith("|viewer"), hashed
    for bad in [["org", "create", "Bad Slug", "--name", "x"],
                ["org", "create", "ok", "--name", "x", "--timezone", "Mars/Base"],
                ["org", "create", "ok", "--name", "x", "--timezone", "../../etc/passwd"],
                ["org", "create", "ok", "--name", "x", "--country", "vnm"],
                ["org", "create", "ok"],
                ["key", "create", "busan-city", "--role", "root"],
                ["key", "create", "nobody"],
                ["org", "create", "busan-city", "--name", "again"]]:
        out = run_cli(bad, db, check=False)
        assert out.returncode != 0 and out.stdout == "", (bad, out.stdout)
    d = ctx.daemon(db)
    r = d.request("GET", "/v1/orgs/busan-city", token=token)
    assert r.status == 200 and r.json()["timezone"] == "Asia/Seoul"
