#!/usr/bin/python3
"""Runs every test of liaison: the C unit tests (cmocka, TAP output) and
the integration tests (tests/integration/test_*.py against the real daemon
and a throw-away PostgreSQL cluster). Ends with one line:
"N passed, N failed" (", N skipped" when some were skipped).

    tests/run.py --build build [-k PATTERN] [--valgrind]
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

import harness  # noqa: E402


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def record(self, name, outcome, detail=""):
        if outcome == "ok":
            self.passed += 1
        elif outcome == "skip":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(name)
        line = {"ok": "ok  ", "skip": "skip", "fail": "FAIL"}[outcome]
        print(f"{line} {name}{(': ' + detail) if detail else ''}", flush=True)


def run_unit(build, pattern, valgrind, tally):
    unit_dir = os.path.join(build, "tests")
    if not os.path.isdir(unit_dir):
        return
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    for exe in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, exe)
        if not exe.startswith("test_") or not os.access(path, os.X_OK):
            continue
        cmd = [path]
        if valgrind:
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite"] + cmd
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              errors="replace", timeout=600)
        seen = 0
        for line in proc.stdout.splitlines():
            m = re.match(r"(not ok|ok) \d+ - (\S+)", line)
            if not m:
                continue
            name = f"unit/{exe}/{m.group(2)}"
            if pattern and pattern not in name:
                continue
            seen += 1
            tally.record(name, "ok" if m.group(1) == "ok" else "fail")
        if proc.returncode != 0 and (not pattern or pattern in exe):
            tally.record(f"unit/{exe}", "fail",
                         f"exit {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
        elif seen == 0 and not pattern:
            tally.record(f"unit/{exe}", "fail", "ran no test")


def load_modules():
    d = os.path.join(HERE, "integration")
    for f in sorted(os.listdir(d)):
        if f.startswith("test_") and f.endswith(".py"):
            spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(d, f))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            yield f[:-3], mod


def run_integration(pattern, tally):
    mods = []
    for modname, mod in load_modules():
        tests = [(n, getattr(mod, n)) for n in sorted(dir(mod))
                 if n.startswith("test_") and callable(getattr(mod, n))]
        tests = [(n, f) for n, f in tests
                 if not pattern or pattern in f"integration/{modname}/{n}"]
        if tests:
            mods.append((modname, mod, tests))
    if not mods:
        return
    cluster = harness.Cluster.shared()
    try:
        for modname, mod, tests in mods:
            for name, fn in tests:
                full = f"integration/{modname}/{name}"
                t0 = time.monotonic()
                ctx = harness.TestContext(cluster, full)
                try:
                    fn(ctx)
                    ctx.close()  # fails the test if a daemon crashed or leaked
                    tally.record(full, "ok", f"{time.monotonic() - t0:.1f}s")
                except harness.Skip as e:
                    ctx.close(quiet=True)
                    tally.record(full, "skip", str(e))
                except Exception:  # a failed assertion or a broken daemon
                    detail = traceback.format_exc()
                    detail += ctx.close(quiet=True)
                    tally.record(full, "fail", detail)
            # What a module made once for its tests (a standby, say) goes
            # with its last test.
            if hasattr(mod, "teardown_module"):
                try:
                    mod.teardown_module()
                except Exception:
                    tally.record(f"integration/{modname}/teardown_module", "fail",
                                 traceback.format_exc())
    finally:
        harness.Cluster.stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("--valgrind", action="store_true")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    harness.configure(build=build, valgrind=args.valgrind)
    tally = Tally()
    t0 = time.monotonic()
    run_unit(build, args.pattern, args.valgrind, tally)
    run_integration(args.pattern, tally)
    if tally.failures:
        print("\nfailed:\n  " + "\n  ".join(tally.failures))
    print(f"\n({time.monotonic() - t0:.0f}s)")
    summary = f"{tally.passed} passed, {tally.failed} failed"
    if tally.skipped:
        summary += f", {tally.skipped} skipped"
    print(summary, flush=True)
    ran = tally.passed + tally.failed
    sys.exit(1 if tally.failed or ran == 0 else 0)


if __name__ == "__main__":
    main()
