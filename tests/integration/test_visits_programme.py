"""GET /v1/visits/{id}/programme: the printable programme, checked in a
real headless browser (Debian's chromium, through a small proxy that adds
the API token) and not only by string matching: hostile text stays text,
Vietnamese and Korean come through, the page prints to PDF."""
import copy
import html.parser
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.request

from harness import free_port, problem
from test_events import world
from test_visits import BUSAN

HOSTILE = "<script>alert(1)</script> \"quoted\" 'single' & <b>bold</b>"
EVIL = copy.deepcopy(BUSAN)
EVIL["title"] = {"vi": "Đoàn Busan thăm Sở KH&CN <script>alert('vi')</script>",
                 "en": "</title><script>alert(2)</script>Busan delegation",
                 "ko": "부산시 대표단 \"방문\""}
EVIL["purpose"] = "Hợp tác khởi nghiệp\n" + HOSTILE
EVIL["delegates"][0]["name"] = "Kim <img src=x onerror=alert(3)> Min-jun"
EVIL["delegates"][0]["organisation"] = "\"><script>alert(4)</script>"
for item in EVIL["programme"]:
    item["people"] = [EVIL["delegates"][0]["name"] if p == "Kim Min-jun" else p
                      for p in item["people"]]
EVIL["programme"][0]["notes"] = "Quà tặng: " + HOSTILE
EVIL["programme"][1]["location"] = "SIHUB <iframe src=//evil>"


class Proxy:
    """Forwards GET to the daemon with the API token: the browser asks
    the real route, and sees its real headers."""

    def __init__(self, daemon, token):
        target = f"http://127.0.0.1:{daemon.port}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                req = urllib.request.Request(target + self.path, headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": self.headers.get("Accept", "*/*")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, headers, body = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers.items(), e.read()
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("connection", "transfer-encoding", "date", "server"):
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def chromium(*args):
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed (scripts/deps.sh check installs it)"
    profile = tempfile.mkdtemp(prefix="lzt-chromium-")
    try:
        out = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", *args],
            capture_output=True, timeout=120, env=dict(os.environ, HOME=profile))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    return out.stdout


class Dom(html.parser.HTMLParser):
    """The elements and text of the DOM chromium dumped."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.attrs, self.texts, self.langs = [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)
        self.langs.extend(v for n, v in attrs if n == "lang")

    def handle_data(self, data):
        self.texts.append(data)

    def text(self):
        return "".join(self.texts)


def test_programme_page_in_a_real_browser(ctx):
    db, k, d = world(ctx)
    r = d.request("POST", "/v1/visits", body=EVIL, token=k["host"])
    assert r.status == 201, r
    v = r.json()
    url = f"/v1/visits/{v['id']}/programme"
    direct = d.request("GET", url, token=k["host"])
    assert direct.status == 200 and direct.header("Content-Type") == "text/html; charset=utf-8"
    assert "default-src 'none'" in direct.header("Content-Security-Policy")
    assert direct.header("X-Content-Type-Options") == "nosniff"
    assert direct.header("ETag") == '"1.html"' and direct.header("Vary") == "Accept"
    assert b"<script>alert" not in direct.body and b"<img" not in direct.body
    proxy = Proxy(d, k["host"])
    try:
        dom = Dom(chromium("--dump-dom", proxy.url + url).decode("utf-8"))
        # Hostile text stayed text: no element or attribute came from it.
        for tag in ("script", "img", "iframe", "b"):
            assert tag not in dom.tags, tag
        assert "onerror" not in dom.attrs and "src" not in dom.attrs
        text = dom.text()
        for s in ["Đoàn Busan thăm Sở KH&CN <script>alert('vi')</script>",
                  "</title><script>alert(2)</script>Busan delegation", "부산시 대표단 \"방문\"",
                  "Hợp tác khởi nghiệp", HOSTILE, "Kim <img src=x onerror=alert(3)> Min-jun",
                  "\"><script>alert(4)</script>", "Quà tặng: " + HOSTILE,
                  "SIHUB <iframe src=//evil>", "Working lunch", "Trần Thị Mai",
                  "14:00–17:00", "Wednesday 2024-08-21", "Thursday 2024-08-22"]:
            assert s in text, s
        # Every language, each marked as such; the visit's first (vi) is the page's.
        assert dom.langs[0] == "vi" and {"vi", "en", "ko"} <= set(dom.langs)
        # ?lang=: that language only, falling back to another where a title has none.
        ko = Dom(chromium("--dump-dom", proxy.url + url + "?lang=ko").decode("utf-8"))
        assert "부산시 대표단 \"방문\"" in ko.text() and "Busan delegation" not in ko.text()
        assert "호찌민시 과학기술국 업무 회의" in ko.text() and "Working lunch" in ko.text()
        assert ko.langs[0] == "ko"
        # It prints.
        pdf = os.path.join(ctx.tmp, "programme.pdf")
        chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", proxy.url + url)
        with open(pdf, "rb") as f:
            data = f.read()
        assert data.startswith(b"%PDF-") and len(data) > 5000
        # An org not party to the visit gets the programme without people.
        other = Proxy(d, k["cabc"])
        try:
            dom = Dom(chromium("--dump-dom", other.url + url).decode("utf-8"))
        finally:
            other.close()
        assert "Working lunch" in dom.text() and "Trần Thị Mai" not in dom.text()
        assert "Min-jun" not in dom.text() and "Quà tặng" not in dom.text()
    finally:
        proxy.close()


def test_programme_as_json(ctx):
    db, k, d = world(ctx)
    v = d.request("POST", "/v1/visits", body=BUSAN, token=k["host"]).json()
    url = f"/v1/visits/{v['id']}/programme"
    r = d.request("GET", url + "?lang=vi", token=k["busan-city"],
                  headers={"Accept": "application/json"})
    assert r.status == 200 and r.header("Content-Type") == "application/json", r
    assert r.header("Vary") == "Accept" and r.header("ETag") == '"1.json"'
    p = r.json()
    assert p["languages"] == ["vi"]
    assert p["visit"]["title"] == [{"lang": "vi", "text": BUSAN["title"]["vi"]}]
    assert p["visit"]["host"]["slug"] == "hcmc-dost"
    assert p["visit"]["partners"] == [{"slug": "busan-city", "name": "busan-city"}]
    assert [day["date"] for day in p["days"]] == ["2024-08-21", "2024-08-22"]
    first = p["days"][0]["items"][0]
    assert first["title"] == [{"lang": "vi", "text": "Làm việc với Sở KH&CN"}]
    assert first["interpreter"] == "Trần Thị Mai" and first["start"] == "2024-08-21T14:00:00"
    assert p["days"][1]["items"][1]["title"] == [{"lang": None, "text": "Working lunch"}]
    assert [x["name"] for x in p["delegates"]][:1] == ["Kim Min-jun"]
    everyone = d.request("GET", url, token=k["host"],
                         headers={"Accept": "application/json"}).json()
    assert [t["lang"] for t in everyone["visit"]["title"]] == ["en", "vi", "ko"]
    other = d.request("GET", url, token=k["cabc"], headers={"Accept": "application/json"}).json()
    assert "delegates" not in other and "interpreter" not in other["days"][0]["items"][0]
    # A browser asks for HTML first.
    assert d.request("GET", url, token=k["host"], headers={
        "Accept": "text/html,application/xhtml+xml,application/json;q=0.9"}).header(
        "Content-Type").startswith("text/html")
    for q, field in [("?lang=%3Cscript%3E", "lang"), ("?lang=x", "lang"), ("?colour=red", "query")]:
        p = problem(d.request("GET", url + q, token=k["host"]), 422)
        assert p["errors"][0]["field"] == field
    problem(d.request("GET", "/v1/visits/nope/programme", token=k["host"]), 404)
