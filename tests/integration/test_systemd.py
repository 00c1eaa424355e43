"""The systemd unit: `systemd-analyze verify` is clean on an installed tree,
the hardening scores 2.0 or lower, and the daemon speaks the notify
protocol (READY, RELOADING, STOPPING, WATCHDOG) to a real socket."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import harness

ROOT = harness.ROOT


def install_tree(ctx):
    prefix = os.path.join(ctx.tmp, "usr")
    out = subprocess.run(["make", "-s", "install", f"PREFIX={prefix}",
                          f"BUILD={harness.CONF['build']}"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    return os.path.join(prefix, "lib", "systemd", "system", "liaisond.service"), prefix


def test_unit_verifies_on_installed_tree(ctx):
    if not shutil.which("systemd-analyze"):
        raise harness.Skip("systemd-analyze is not installed")
    unit, prefix = install_tree(ctx)
    assert os.access(os.path.join(prefix, "bin", "liaisond"), os.X_OK)
    assert os.path.exists(os.path.join(prefix, "lib", "sysusers.d", "liaison.conf"))
    assert os.path.exists(os.path.join(prefix, "share", "liaison", "sql", "001_init.sql"))
    out = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
    text = open(unit).read()
    assert "Type=notify" in text and "WatchdogSec=" in text and f"{prefix}/bin/liaisond" in text


def test_unit_security_exposure_at_most_2(ctx):
    if not shutil.which("systemd-analyze"):
        raise harness.Skip("systemd-analyze is not installed")
    unit, _ = install_tree(ctx)
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit],
                         capture_output=True, text=True)
    m = re.search(r"Overall exposure level for liaisond.service: ([0-9.]+)", out.stdout)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= 2.0, out.stdout


def test_notify_protocol(ctx):
    path = os.path.join(ctx.tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    os.chmod(path, 0o777)
    messages = []

    def drain():
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except socket.timeout:
                return

    def seen(word):
        drain()
        return any(word in m for m in messages)

    try:
        d = ctx.daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        harness.wait_for(lambda: seen("READY=1"), 10, what="READY=1")
        harness.wait_for(lambda: seen("WATCHDOG=1"), 5, what="WATCHDOG=1")
        before = len(messages)
        d.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: seen("RELOADING=1"), 5, what="RELOADING=1")
        time.sleep(0.3)
        drain()
        later = messages[before:]
        reload_at = next(i for i, m in enumerate(later) if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in later[reload_at]
        assert any("READY=1" in m for m in later[reload_at + 1:]), later
        assert d.stop() == 0
        drain()
        assert any("STOPPING=1" in m for m in messages), messages
    finally:
        sock.close()
