"""A real browser for the tests: Debian's chromium, headless, driven over
the DevTools protocol through a pipe (--remote-debugging-pipe: no port, no
npm package). A page is opened, its console messages, script errors,
blocked loads and dialogs (alert) are collected, and the test asks the
DOM what it shows."""
import json
import os
import shutil
import subprocess
import tempfile
import time


class Browser:
    def __init__(self, scripts=True):
        exe = shutil.which("chromium")
        assert exe, "chromium is not installed (scripts/deps.sh check installs it)"
        self.profile = tempfile.mkdtemp(prefix="lzt-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds():
            # chromium reads commands on fd 3 and writes answers on fd 4;
            # dup2 leaves them open across exec (Python's own descriptors
            # are close-on-exec, so close_fds=False lets nothing else in)
            # (copies first: a pipe may already sit on 3 or 4, and dup2 of a
            # descriptor onto itself would leave it close-on-exec)
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--no-default-browser-check", f"--user-data-dir={self.profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, close_fds=False,
            env=dict(os.environ, HOME=self.profile))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)
        if not scripts:
            self.call("Emulation.setScriptExecutionDisabled", value=True, session=True)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise AssertionError("chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise AssertionError("chromium went away")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, timeout=30, **params):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._next:
                if "error" in m:
                    raise AssertionError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._event(m)

    def _event(self, m):
        self.events.append(m)
        if m.get("method") == "Page.javascriptDialogOpening":
            # Never leave a page stuck on an alert: note it, dismiss it.
            self._next += 1
            os.write(self._to_chrome, json.dumps({
                "id": self._next, "method": "Page.handleJavaScriptDialog",
                "params": {"accept": False}, "sessionId": self.session}).encode() + b"\0")

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for m in self.events:
            if m.get("method") == method:
                return m
        while True:
            m = self._read_message(deadline)
            if "id" in m:
                continue
            self._event(m)
            if m.get("method") == method:
                return m

    def open(self, url, settle=0.3):
        """Loads url and waits for its load event, then a little for what
        a script of the page might do."""
        self.events = []
        self.call("Page.navigate", url=url, session=True)
        self.wait_for("Page.loadEventFired")
        end = time.monotonic() + settle
        while time.monotonic() < end:
            self.eval("1")
            time.sleep(0.05)

    def eval(self, expression, context=None):
        params = {"expression": expression, "returnByValue": True}
        if context is not None:
            params["contextId"] = context
        r = self.call("Runtime.evaluate", session=True, **params)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def problems(self):
        """Console errors and warnings, uncaught exceptions, log entries of
        level error (a blocked load, a Content-Security-Policy violation)
        and dialogs, since the last open()."""
        out = []
        for m in self.events:
            method, p = m.get("method"), m.get("params", {})
            if method == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
                out.append(("console", p["type"], [a.get("value") for a in p["args"]]))
            elif method == "Runtime.exceptionThrown":
                out.append(("exception", p["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(("log", p["entry"]["level"], p["entry"]["text"]))
            elif method == "Page.javascriptDialogOpening":
                out.append(("dialog", p["type"], p["message"]))
        return out

    def screenshot(self, path):
        import base64
        data = base64.b64decode(self.call("Page.captureScreenshot", session=True,
                                          captureBeyondViewport=True)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def frame_context(self, url_part):
        """An execution context in the child frame whose URL contains
        url_part, or None when no such frame loaded."""
        def frames(tree):
            yield tree["frame"]
            for child in tree.get("childFrames", []):
                yield from frames(child)
        tree = self.call("Page.getFrameTree", session=True)["frameTree"]
        for f in frames(tree):
            if url_part in f.get("url", "") and f.get("parentId"):
                return self.call("Page.createIsolatedWorld", session=True,
                                 frameId=f["id"])["executionContextId"]
        return None
