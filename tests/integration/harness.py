"""Test fixtures for liaison's integration tests: a real PostgreSQL
cluster (initdb into a temporary directory, Unix socket only, run as the
"postgres" user when we are root), a fresh database per test, and real
liaisond processes talking HTTP on loopback. Nothing is mocked."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGCLUSTER = os.path.join(ROOT, "scripts", "pgcluster.sh")
CONF = {"build": os.path.join(ROOT, "build"), "valgrind": False}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "==ERROR", "Invalid read", "Invalid write", "definitely lost")


class Skip(Exception):
    pass


def configure(build, valgrind):
    CONF["build"] = build
    CONF["valgrind"] = valgrind


def binary():
    return os.path.join(CONF["build"], "liaisond")


def pg_bindir():
    return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                          check=True).stdout.strip()


_ports_given = set()


def free_port():
    """A port free now and not handed out before in this run: two calls
    made before either daemon binds must not return the same port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


FEED_FILE = re.compile(r"^(/memfd:liaison-feed|.*/#\d+) \(deleted\)$")


def feed_files(pid):
    """Where the rendered feeds' files process pid holds open are: a memfd
    ("/memfd:liaison-feed (deleted)") or an unnamed file of feed_file_dir
    ("DIR/#INODE (deleted)")."""
    fds, out = f"/proc/{pid}/fd", []
    for fd in os.listdir(fds):
        try:  # a connection's descriptor may close while we look
            link = os.readlink(f"{fds}/{fd}")
        except FileNotFoundError:
            continue
        if FEED_FILE.match(link):
            out.append(link)
    return out


def memory_files(pid):
    """How many rendered feeds' files process pid holds open."""
    return len(feed_files(pid))


def wait_for(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Cluster:
    """A throw-away PostgreSQL cluster; given a primary, a streaming
    standby of it (pg_basebackup -R). opts: more server options."""
    _shared = None
    _all = []

    def __init__(self, opts="", primary=None):
        self.tmp = tempfile.mkdtemp(prefix="lzt-", dir="/tmp")
        os.chmod(self.tmp, 0o755)  # the postgres user must reach it when we are root
        self.datadir = os.path.join(self.tmp, "data")
        self.sockdir = None
        self.dbs = 0
        self.opts = opts
        self.primary = primary
        Cluster._all.append(self)
        self.start()

    @classmethod
    def shared(cls):
        if cls._shared is None:
            cls._shared = Cluster()
        return cls._shared

    @classmethod
    def stop_all(cls):
        for c in list(cls._all):
            c.destroy()
        cls._all = []
        cls._shared = None

    def start(self):
        cmd = ([PGCLUSTER, "standby", self.datadir, self.primary.sockdir] if self.primary
               else [PGCLUSTER, "start", self.datadir])
        out = subprocess.run(cmd + ["--fast"], capture_output=True, text=True,
                             env=dict(os.environ, PGCLUSTER_OPTS=self.opts))
        if out.returncode != 0:
            raise RuntimeError(f"cannot start PostgreSQL: {out.stderr}")
        self.sockdir = out.stdout.strip()

    def stop(self):
        subprocess.run([PGCLUSTER, "stop", self.datadir], capture_output=True)

    def destroy(self):
        if self in Cluster._all:
            Cluster._all.remove(self)
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)

    def conninfo(self, db="postgres"):
        return f"host={self.sockdir} user=liaison dbname={db}"

    def psql(self, sql, db="postgres", check=True):
        out = subprocess.run([os.path.join(pg_bindir(), "psql"), "-X", "-q", "-A", "-t",
                              "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(db), "-c", sql],
                             capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout.strip()

    def new_database(self, tag):
        self.dbs += 1
        name = f"t{self.dbs}_{''.join(c for c in tag.lower() if c.isalnum())[:40]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Daemon:
    """One liaisond process."""

    def __init__(self, ctx, database, args=(), env=None, port=None, wait=True):
        self.ctx = ctx
        self.port = port or free_port()
        self.logpath = os.path.join(ctx.tmp, f"liaisond-{self.port}.log")
        self.database = database
        cmd = [binary(), "--listen", f"127.0.0.1:{self.port}", "--database", database,
               "--threads", "2", "--rate-limit", "0"] + list(args)
        if CONF["valgrind"]:
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite"] + cmd
        full_env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        full_env.update(env or {})
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=full_env, stdin=subprocess.DEVNULL)
        self.returncode = None
        ctx.daemons.append(self)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout=30):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"liaisond exited with {self.proc.returncode}:\n"
                                     + self.logtext())
            try:
                return self.request("GET", "/healthz", timeout=1).status == 200
            except OSError:
                return False
        wait_for(up, timeout, what="liaisond to answer /healthz")

    def request(self, method, path, body=None, headers=None, token=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if token:
                hdrs["Authorization"] = f"Bearer {token}"
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        finally:
            conn.close()

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            raise AssertionError(f"liaisond did not stop within {timeout}s")
        finally:
            self.log.close()
        return self.returncode

    def sanitizer_report(self):
        text = self.logtext()
        return any(m in text for m in SANITIZER_MARKS), text


def run_cli(args, database=None, env=None, check=True, timeout=60):
    cmd = [binary()]
    if database:
        cmd += ["--database", database]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    out = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr}")
    return out


class TestContext:
    """What a test gets: the cluster, a temporary directory, helpers to
    make a database and daemons; close() stops what the test started and
    fails the test if a daemon crashed or a sanitizer spoke."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="lzt-case-")
        self.daemons = []
        self.clusters = []
        self.closed = False

    def private_cluster(self):
        """A cluster of this test's own, for tests that stop PostgreSQL."""
        c = Cluster()
        self.clusters.append(c)
        return c

    def database(self):
        return self.cluster.conninfo(self.cluster.new_database(self.name.split("/")[-1]))

    def daemon(self, database=None, **kw):
        return Daemon(self, database or self.database(), **kw)

    def org_with_key(self, database, slug="hub", role="admin", host=True, tz="Asia/Seoul"):
        args = ["org", "create", slug, "--name", f"Org {slug}", "--timezone", tz]
        if host:
            args.append("--host")
        run_cli(args, database)
        return run_cli(["key", "create", slug, "--role", role], database).stdout.strip()

    def close(self, quiet=False):
        if self.closed:
            return ""
        self.closed = True
        problems = []
        for d in self.daemons:
            try:
                rc = d.stop()
                if rc not in (0, -signal.SIGKILL) and not getattr(d, "expect_failure", False):
                    problems.append(f"liaisond on port {d.port} exited {rc}")
            except AssertionError as e:
                problems.append(str(e))
            bad, text = d.sanitizer_report()
            if bad:
                problems.append(f"sanitizer or valgrind report in liaisond log:\n{text[-6000:]}")
        for c in self.clusters:
            c.destroy()
        self.clusters = []
        shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            msg = "\n".join(problems)
            if quiet:
                return "\n" + msg
            raise AssertionError(msg)
        return ""


def problem(resp, status):
    """Asserts resp is an RFC 9457 problem with that status; returns it."""
    assert resp.status == status, f"expected {status}, got {resp!r}"
    assert resp.header("Content-Type", ).startswith("application/problem+json"), resp.headers
    p = resp.json()
    assert p["status"] == status and p["title"] and p["type"], p
    return p
