"""A feed's subscribe page (GET /feeds/{token}) and robots.txt: the links
each calendar app takes, the next 60 days as the feed itself tells them
(checked against the feed read by python3-icalendar and
python3-recurring-ical-events), Schema.org JSON-LD, the viewer's language,
and the page opened in a real browser (Debian's chromium, headless):
hostile text stays text, nothing runs but the page's own script, the
embedded agenda may be framed and the page may not."""
import datetime
import html.parser
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse

from browser import Browser
from harness import free_port, problem
from test_events import world
from test_feeds import EXPAND

HOSTILE = "<script>alert(1)</script> \"Đoàn Busan\" thăm 'Sở KH&CN' <img src=x onerror=alert(2)>"


def day(n):
    return datetime.date.today() + datetime.timedelta(days=n)


def make_feed(d, token, **body):
    r = d.request("POST", "/v1/feeds", token=token, body=dict({"name": "HCMC DOST"}, **body))
    assert r.status == 201, r
    f = r.json()
    f["token"] = f["url"].split("/feeds/")[1][:-len(".ics")]
    f["page"] = f"/feeds/{f['token']}"
    f["ics"] = f"/feeds/{f['token']}.ics"
    return f


class Page(html.parser.HTMLParser):
    """The links, the JSON-LD blocks, the other scripts and the text of a
    page as served."""

    def __init__(self, body):
        super().__init__()
        self.links, self.ld, self.scripts, self.texts, self.tags = {}, [], [], [], []
        self.html_lang = None
        self._in = None
        self.feed(body.decode("utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "a":
            self._in = ["a", a.get("href"), ""]
        if tag == "script":
            self._in = ["ld" if a.get("type") == "application/ld+json" else "script", None, ""]

    def handle_data(self, data):
        self.texts.append(data)
        if self._in:
            self._in[2] += data

    def handle_endtag(self, tag):
        if not self._in:
            return
        kind, href, text = self._in
        if tag == "a" and kind == "a":
            self.links[text] = href
        elif tag == "script" and kind == "ld":
            self.ld.append(json.loads(text))
        elif tag == "script":
            self.scripts.append(text)
        self._in = None

    def text(self):
        return "".join(self.texts)


def utc_of(iso):
    """A JSON-LD date or date-time, as the instant (UTC) or the date."""
    if len(iso) == 10:
        return iso
    return datetime.datetime.fromisoformat(iso).astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def feed_expanded(d, feed, days=60):
    """What a calendar app shows of the feed in the page's window."""
    now = datetime.datetime.now(datetime.timezone.utc)
    window = [now.isoformat(), (now + datetime.timedelta(days=days)).isoformat()]
    body = d.request("GET", feed["ics"]).body
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, *window], input=body,
                         capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    # [title, start: the instant, or the date of an all-day item, status]
    return sorted([title, utc or local, status] for title, local, utc, status in
                  json.loads(out.stdout))


def page_items(page):
    status = {"https://schema.org/EventScheduled": "CONFIRMED",
              "https://schema.org/EventRescheduled": "CONFIRMED",
              "https://schema.org/EventCancelled": "CANCELLED"}
    return sorted([e["name"], utc_of(e["startDate"]), status[e["eventStatus"]]] for e in page.ld)


def agenda(d, k):
    """A week of the host's, partners' and others' items: a weekly series
    with one occurrence cancelled, one moved and one excluded, a visit, a
    cancelled visit, a festival, one beyond 60 days, and a private item
    the host may not see."""
    s = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "meeting", "title": "Weekly coordination", "start": f"{day(2)}T09:00:00",
        "end": f"{day(2)}T10:00:00", "rrule": "FREQ=WEEKLY;COUNT=5",
        "exdates": [f"{day(23)}T09:00:00"], "location": "SIHUB", "city": "Ho Chi Minh City"})
    assert s.status == 201, s
    s = s.json()
    r = d.request("DELETE", f"/v1/events/{s['id']}/occurrences/{day(9)}T09:00:00", token=k["host"])
    assert r.status == 200, r
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "series_id": s["id"], "recurrence_id": f"{day(16)}T09:00:00", "title": "Weekly (moved)",
        "start": f"{day(16)}T15:00:00", "end": f"{day(16)}T16:00:00"})
    assert r.status == 201, r
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": HOSTILE, "start": f"{day(5)}T14:00:00", "end": f"{day(5)}T17:00:00",
        "location": "HCMC DOST, 244 Điện Biên Phủ", "city": "Ho Chi Minh City", "country": "VN",
        "description": "Quà tặng </script><b>bold</b>\nDòng hai", "partners": ["busan-city"]})
    assert r.status == 201, r
    gone = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Cancelled visit", "start": f"{day(6)}T10:00:00"}).json()
    assert d.request("DELETE", f"/v1/events/{gone['id']}", token=k["host"]).status == 200
    r = d.request("POST", "/v1/events", token=k["busan-city"], body={
        "kind": "festival", "title": "FLY ASIA", "all_day": True, "timezone": "Asia/Seoul",
        "start": str(day(10)), "end": str(day(13)), "location": "BEXCO", "city": "Busan",
        "country": "KR"})
    assert r.status == 201, r
    r = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "deadline", "title": "Far away", "start": f"{day(70)}T10:00:00"})
    assert r.status == 201, r
    r = d.request("POST", "/v1/events", token=k["cabc"], body={
        "kind": "meeting", "title": "CABC internal", "visibility": "private",
        "timezone": "America/Toronto", "start": f"{day(4)}T09:00:00"})
    assert r.status == 201, r
    return s


def test_page_shows_what_the_feed_shows(ctx):
    db, k, d = world(ctx)
    agenda(d, k)
    feed = make_feed(d, k["host"], name=HOSTILE)
    r = d.request("GET", feed["page"])
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8", r
    page = Page(r.body)
    got = page_items(page)
    want = feed_expanded(d, feed)
    # Everything a calendar app shows, the page shows; and the occurrence
    # the feed gives as an EXDATE of its series, the page shows cancelled.
    cancelled = [["Weekly coordination", utc_of(f"{day(9)}T09:00:00+07:00"), "CANCELLED"]]
    assert got == sorted(want + cancelled), (got, want)
    assert ["Cancelled visit", utc_of(f"{day(6)}T10:00:00+07:00"), "CANCELLED"] in want
    assert not any("Far away" in g[0] or "CABC internal" in g[0] for g in got)
    assert not any(g[1].startswith(str(day(23))) for g in got)  # the exdate: no occurrence
    by = {(e["name"], e["startDate"]): e for e in page.ld}
    moved = by[("Weekly (moved)", f"{day(16)}T15:00:00+07:00")]
    assert moved["eventStatus"] == "https://schema.org/EventRescheduled"
    assert moved["previousStartDate"] == f"{day(16)}T09:00:00+07:00"
    assert by[("Weekly coordination", f"{day(9)}T09:00:00+07:00")]["eventStatus"] == \
        "https://schema.org/EventCancelled"
    visit = by[(HOSTILE, f"{day(5)}T14:00:00+07:00")]
    assert visit == {
        "@context": "https://schema.org", "@type": "Event", "name": HOSTILE,
        "startDate": f"{day(5)}T14:00:00+07:00", "endDate": f"{day(5)}T17:00:00+07:00",
        "eventStatus": "https://schema.org/EventScheduled",
        "organizer": {"@type": "Organization", "name": "Org hcmc-dost"},
        "location": {"@type": "Place", "name": "HCMC DOST, 244 Điện Biên Phủ",
                     "address": {"@type": "PostalAddress", "addressLocality": "Ho Chi Minh City",
                                 "addressCountry": "VN"}},
        "description": "Quà tặng </script><b>bold</b>\nDòng hai"}, visit
    # Who holds an item and with whom, by the orgs' names as feeds say it.
    busan = d.request("GET", "/v1/orgs/busan-city", token=k["host"]).json()["name"]
    assert f"Org hcmc-dost · with {busan}" in page.text(), page.text()
    fest = by[("FLY ASIA", str(day(10)))]
    assert fest["endDate"] == str(day(12)) and fest["organizer"]["name"] == "busan-city"
    # Feed text never became markup: no tag but the page's own.
    assert b"<script>alert" not in r.body and b"<img" not in r.body and b"<b>" not in r.body
    assert set(page.tags) <= {"html", "head", "meta", "title", "link", "style", "body", "header",
                              "h1", "p", "section", "h2", "ul", "li", "a", "label", "input",
                              "button", "main", "h3", "time", "span", "details", "summary",
                              "script", "footer", "strong"}, set(page.tags)
    assert len(page.scripts) == 1 and HOSTILE in page.text()
    # The same as /v1/occurrences says, over the same window.
    api = d.request("GET", f"/v1/occurrences?from={day(1)}&to={day(59)}&limit=1000",
                    token=k["host"]).json()["items"]
    assert sorted(o["title"] for o in api) == sorted(e["name"] for e in page.ld)
    # A filter and a window narrow the page as they narrow the feed.
    visits = make_feed(d, k["host"], name="Visits", filter={"kinds": ["visit"]})
    assert sorted(e["name"] for e in Page(d.request("GET", visits["page"]).body).ld) == \
        sorted([HOSTILE, "Cancelled visit"])
    soon = make_feed(d, k["host"], name="Soon", future_days=3)
    shown = [e for e in Page(d.request("GET", soon["page"]).body).ld
             if e["eventStatus"] != "https://schema.org/EventCancelled"]
    names = sorted(e["name"] for e in shown)
    assert names == sorted(g[0] for g in feed_expanded(d, soon)), (names, feed_expanded(d, soon))
    assert names and all(n.startswith("Weekly") for n in names), names


def test_page_links_language_and_headers(ctx):
    db, k, d = world(ctx)
    d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "visit", "title": "Đoàn Busan", "start": f"{day(3)}T14:00:00"})
    feed = make_feed(d, k["host"], name="Sở KH&CN TP.HCM – lịch hợp tác")
    r = d.request("GET", feed["page"])
    page = Page(r.body)
    https = f"http://127.0.0.1:{d.port}/feeds/{feed['token']}.ics"
    webcal = f"webcal://127.0.0.1:{d.port}/feeds/{feed['token']}.ics"
    q = urllib.parse.quote
    name = "Sở KH&CN TP.HCM – lịch hợp tác"
    assert page.links == {
        "Google Calendar": "https://calendar.google.com/calendar/r?cid=" + q(webcal, safe=""),
        "Outlook.com": "https://outlook.live.com/calendar/0/addfromweb?url=" + q(https, safe="")
                       + "&name=" + q(name, safe=""),
        "Microsoft 365 (work or school)": "https://outlook.office.com/calendar/0/addfromweb?url="
                                          + q(https, safe="") + "&name=" + q(name, safe=""),
        "Apple Calendar (iPhone, iPad, Mac)": webcal,
        "Tiếng Việt": "?lang=vi"}, page.links
    parsed = urllib.parse.urlparse(page.links["Google Calendar"])
    assert urllib.parse.parse_qs(parsed.query) == {"cid": [webcal]}
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.links["Outlook.com"]).query) == \
        {"url": [https], "name": [name]}
    assert f'value="{https}"' in r.body.decode()
    csp = r.header("Content-Security-Policy")
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and \
        "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, csp
    assert r.header("X-Frame-Options") == "DENY" and r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Referrer-Policy") == "no-referrer" and r.header("Vary") == "Accept-Language"
    assert page.html_lang == "en" and r.header("Content-Language") == "en"
    # The viewer's language: ?lang= first, then Accept-Language, else English.
    for headers, query, lang in [
            ({"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"}, "", "vi"),
            ({"Accept-Language": "fr-FR, en;q=0.5, vi;q=0.7"}, "", "vi"),
            ({"Accept-Language": "fr, de;q=0.5"}, "", "en"),
            ({"Accept-Language": "vi;q=0, en"}, "", "en"),
            ({"Accept-Language": "vi"}, "?lang=en", "en"),
            ({}, "?lang=vi", "vi"), ({}, "?lang=VI-vn", "vi"), ({}, "?lang=ko", "en"),
            ({"Accept-Language": ";;;,,q=,vi;q=abc,*"}, "", "en"),
            ({"Accept-Language": "," * 3000 + "vi"}, "", "vi")]:
        r = d.request("GET", feed["page"] + query, headers=headers)
        assert r.status == 200 and r.header("Content-Language") == lang, (headers, query, r)
        assert Page(r.body).html_lang == lang
    vi = d.request("GET", feed["page"] + "?lang=vi").body.decode()
    assert "Thêm lịch này vào ứng dụng lịch của bạn" in vi and "60 ngày tới" in vi
    assert f"ngày {day(3).day} tháng {day(3).month} năm {day(3).year}" in vi
    # The embedded agenda: no chrome, framed by any site, no script.
    r = d.request("GET", feed["page"] + "?embed=1")
    embed = Page(r.body)
    assert r.status == 200 and "frame-ancestors *" in r.header("Content-Security-Policy")
    assert "script-src" not in r.header("Content-Security-Policy")
    assert r.header("X-Frame-Options") is None and not embed.scripts
    assert "Google Calendar" not in embed.links and [e["name"] for e in embed.ld] == ["Đoàn Busan"]
    assert "h1" not in embed.tags and "input" not in embed.tags
    # HEAD, and bad parameters named.
    h = d.request("HEAD", feed["page"])
    assert h.status == 200 and h.body == b"" and h.header("Content-Security-Policy") == csp
    for query, field in [("?lang=%3Cscript%3E", "lang"), ("?lang=", "lang"),
                         ("?lang=" + "a" * 40, "lang"), ("?lang=vi--x", "lang"),
                         ("?embed=yes", "embed"), ("?embed=", "embed")]:
        p = problem(d.request("GET", feed["page"] + query), 422)
        assert [e["field"] for e in p["errors"]] == [field], (query, p)
    # The feed itself is where it was.
    assert d.request("GET", feed["ics"]).header("Content-Type") == "text/calendar; charset=utf-8"


def test_page_is_as_secret_as_the_feed(ctx):
    db, k, d = world(ctx)
    feed = make_feed(d, k["host"])
    assert d.request("GET", feed["page"]).status == 200
    empty = Page(d.request("GET", feed["page"]).body)
    assert not empty.ld and "Nothing in the next 60 days." in empty.text()
    rotated = d.request("POST", f"/v1/feeds/{feed['id']}/rotate", token=k["host"]).json()
    problem(d.request("GET", feed["page"]), 404)
    new = rotated["url"].split("/feeds/")[1][:-4]
    assert d.request("GET", f"/feeds/{new}").status == 200
    assert d.request("DELETE", f"/v1/feeds/{feed['id']}", token=k["host"]).status == 204
    problem(d.request("GET", f"/feeds/{new}"), 404)
    problem(d.request("GET", f"/feeds/{new}?embed=1"), 404)
    for path in ["/feeds/" + "A" * 43, "/feeds/" + "A" * 42, "/feeds/" + "A" * 44,
                 "/feeds/" + "A" * 42 + "%2B", "/feeds/%00" + "A" * 42, "/feeds/.ics",
                 "/feeds/" + new + ".icsx", "/feeds/" + new + "/"]:
        assert d.request("GET", path).status == 404, path
    # The access log names a page by its token's hash, as it does a feed.
    assert new not in d.logtext()


def test_robots_txt(ctx):
    db, k, d = world(ctx)
    r = d.request("GET", "/robots.txt")
    assert r.status == 200 and r.header("Content-Type") == "text/plain; charset=utf-8"
    lines = r.body.decode().splitlines()
    assert lines == ["User-agent: *", "Allow: /feeds/", "Disallow: /v1/"], lines
    import urllib.robotparser
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(lines)
    assert rp.can_fetch("Google-Calendar-Importer", "/feeds/abc.ics")
    assert rp.can_fetch("Googlebot", "/feeds/abc")
    assert not rp.can_fetch("Googlebot", "/v1/events")


class Framer:
    """A partner's site on another origin that frames a URL."""

    def __init__(self, target):
        doc = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
               f'<title>Partner</title></head><body><h1>Partner</h1>'
               f'<iframe src="{target}" width="600" height="400"></iframe></body></html>').encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(doc)))
                self.end_headers()
                self.wfile.write(doc)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        # Another origin (another port) of the same site, so the frame is
        # in the page's own process and its frame tree.
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def artefact_dir(ctx):
    """Where screenshots go: LIAISON_TEST_ARTEFACTS, else the test's own
    temporary directory (removed with it); never the repository."""
    out = os.environ.get("LIAISON_TEST_ARTEFACTS") or tempfile.mkdtemp(dir=ctx.tmp)
    os.makedirs(out, exist_ok=True)
    return out


def test_page_in_a_real_browser(ctx):
    db, k, d = world(ctx)
    agenda(d, k)
    feed = make_feed(d, k["host"], name=HOSTILE)
    base = f"http://127.0.0.1:{d.port}"
    b = Browser()
    try:
        b.open(base + feed["page"])
        assert b.problems() == [], b.problems()
        # Hostile text is shown as text and ran nothing.
        assert b.eval("document.title") == HOSTILE
        assert b.eval("document.querySelector('h1').textContent") == HOSTILE
        titles = b.eval("[...document.querySelectorAll('.title')].map(e => e.textContent)")
        assert HOSTILE in titles, titles
        assert b.eval("document.querySelectorAll('img, b, iframe').length") == 0
        assert b.eval("[...document.scripts].filter(s => s.type !== 'application/ld+json')"
                      ".length") == 1
        assert b.eval("document.querySelector('.desc').textContent") == \
            "Quà tặng </script><b>bold</b>\nDòng hai"
        # Every JSON-LD block parses, and says what the page shows.
        blocks = b.eval("[...document.querySelectorAll('script[type=\"application/ld+json\"]')]"
                        ".map(s => s.textContent)")
        ld = [json.loads(x) for x in blocks]
        assert len(ld) == b.eval("document.querySelectorAll('li.item').length") > 5
        assert [e["eventStatus"] for e in ld].count("https://schema.org/EventCancelled") == 2
        cancelled = b.eval("[...document.querySelectorAll('li.item.cancelled .title')]"
                           ".map(e => e.textContent)")
        assert sorted(cancelled) == ["Cancelled visit", "Weekly coordination"], cancelled
        # The links, as the browser resolved them.
        hrefs = b.eval("Object.fromEntries([...document.querySelectorAll('.apps a')]"
                       ".map(a => [a.textContent, a.href]))")
        webcal = f"webcal://127.0.0.1:{d.port}/feeds/{feed['token']}.ics"
        assert hrefs["Apple Calendar (iPhone, iPad, Mac)"] == webcal
        g = urllib.parse.urlparse(hrefs["Google Calendar"])
        assert (g.netloc, g.path, urllib.parse.parse_qs(g.query)) == \
            ("calendar.google.com", "/calendar/r", {"cid": [webcal]})
        for label, host in [("Outlook.com", "outlook.live.com"),
                            ("Microsoft 365 (work or school)", "outlook.office.com")]:
            o = urllib.parse.urlparse(hrefs[label])
            assert (o.netloc, o.path) == (host, "/calendar/0/addfromweb"), hrefs[label]
            assert urllib.parse.parse_qs(o.query) == {
                "url": [f"{base}/feeds/{feed['token']}.ics"], "name": [HOSTILE]}
        # The copy button: shown by the page's own script (allowed by its
        # digest), and it copies.
        assert b.eval("document.getElementById('copy').hidden") is False
        b.call("Browser.grantPermissions", permissions=["clipboardReadWrite",
                                                        "clipboardSanitizedWrite"])
        b.eval("document.getElementById('copy').click()")
        b.open(base + feed["page"] + "?lang=vi")
        assert b.problems() == [], b.problems()
        assert b.eval("document.documentElement.lang") == "vi"
        assert "60 ngày tới" in b.eval("document.body.innerText")
        png = b.screenshot(os.path.join(artefact_dir(ctx), "feed-page.png"))
        assert png.startswith(b"\x89PNG") and len(png) > 10000
        # Embedded on a partner's site (another origin): the agenda shows,
        # the full page is refused.
        framer = Framer(base + feed["page"] + "?embed=1")
        try:
            b.open(framer.url, settle=0.5)
            assert b.problems() == [], b.problems()
            inner = b.frame_context("embed=1")
            assert inner is not None
            text = b.eval("document.body.innerText", context=inner)
            assert "Weekly coordination" in text and HOSTILE in text, text
        finally:
            framer.close()
        framer = Framer(base + feed["page"])
        try:
            b.open(framer.url, settle=0.5)
            refused = [p for p in b.problems() if "frame-ancestors" in str(p)]
            assert refused, b.problems()
            inner = b.frame_context(feed["token"])
            shown = b.eval("document.body ? document.body.innerText : ''",
                           context=inner) if inner else ""
            assert "Weekly coordination" not in shown
        finally:
            framer.close()
    finally:
        b.close()
    # Without scripts: everything but the copy button.
    b = Browser(scripts=False)
    try:
        b.open(base + feed["page"])
        assert b.problems() == [], b.problems()
        assert b.eval("document.getElementById('copy').hidden") is True
        assert b.eval("document.getElementById('feed-url').value").endswith(".ics")
        assert b.eval("document.querySelectorAll('.apps a').length") == 4
        assert b.eval("document.querySelectorAll('li.item').length") > 5
    finally:
        b.close()


def test_page_kept_until_something_changes(ctx):
    """A page embedded on a busy site costs its database nothing on each
    view, and still shows a change, or a revocation, at once."""
    from test_feed_health import queries_sent
    db, k, d = world(ctx)
    ev = d.request("POST", "/v1/events", token=k["host"], body={
        "kind": "festival", "title": "FLY ASIA side event", "start": f"{day(4)}T10:00:00"}).json()
    feed = make_feed(d, k["host"])
    time.sleep(0.5)  # the creation's NOTIFY, which renews every kept page, is in
    first = d.request("GET", feed["page"] + "?embed=1")
    for _ in range(10):  # kept by both worker threads
        assert d.request("GET", feed["page"] + "?embed=1").body == first.body
    before = queries_sent(d)
    for _ in range(20):
        again = d.request("GET", feed["page"] + "?embed=1")
        assert again.body == first.body and \
            again.header("Content-Security-Policy") == first.header("Content-Security-Policy")
    assert queries_sent(d) - before <= 2  # nothing, or a rendering the warm-up missed
    vi = d.request("GET", feed["page"] + "?embed=1&lang=vi")
    assert vi.header("Content-Language") == "vi" and vi.body != first.body
    r = d.request("PATCH", f"/v1/events/{ev['id']}", token=k["host"], body={"title": "Renamed"})
    assert r.status == 200, r
    assert "Renamed" in d.request("GET", feed["page"] + "?embed=1").body.decode()
    assert d.request("DELETE", f"/v1/feeds/{feed['id']}", token=k["host"]).status == 204
    problem(d.request("GET", feed["page"] + "?embed=1"), 404)
