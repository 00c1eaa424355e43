"""Real-world iCalendar files (tests/data/ics/, written for this test in the
style of each exporter: Google, Outlook, Apple, Thunderbird, Nextcloud, a
meetup site, Exchange, Fastmail, Zimbra, Lotus Notes, a CalDAV server,
generated calendars, a Windows-1252 file, a BOM+CRLF file) imported, then
compared occurrence by occurrence with an independent expander, Debian's
python3-recurring-ical-events 2.0.1, run on the original file; then
imported again, which must change nothing.

Where RFC 5545 and recurring_ical_events disagree, liaison follows the RFC
and the comparison uses the RFC's answer; each such case is listed in
RFC_ANSWER with the reason."""
import json
import os
import subprocess

from harness import run_cli

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "data", "ics")
WINDOW = ("2026-01-01", "2027-01-01")
ORG_TZ = "Asia/Ho_Chi_Minh"  # the host org's zone in world()

# recurring_ical_events, with what it leaves to its caller done here as
# RFC 5545 and SPEC.md say: the text unfolded and decoded (a byte-order
# mark skipped, text that is not UTF-8 read as Windows-1252), floating times placed in
# X-WR-TIMEZONE or the org's zone (x_wr_timezone would attach pytz zones
# with replace(), i.e. their 1906 LMT offset, so it is not used), and an
# all-day item whose end is not after its start lasting its one day.
EXPAND = r'''
import sys, re, json, datetime, zoneinfo, icalendar, recurring_ical_events
# Unfolded as bytes: a fold may split a UTF-8 character.
raw = re.sub(rb"\r?\n[ \t]", b"", sys.stdin.buffer.read())
try:
    text = raw.decode("utf-8-sig")
except UnicodeDecodeError:
    text = raw.decode("cp1252", errors="replace")
cal = icalendar.Calendar.from_ical(text)
floating = zoneinfo.ZoneInfo(str(cal.get("X-WR-TIMEZONE", sys.argv[3])))
start, end = (datetime.datetime.fromisoformat(a) for a in sys.argv[1:3])
def instant(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=floating)
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
out = []
for ev in recurring_ical_events.UnfoldableCalendar(cal).between(start, end):
    s, e = ev["DTSTART"].dt, ev["DTEND"].dt
    if isinstance(s, datetime.datetime):
        s, e = instant(s), instant(e)
    else:
        if isinstance(e, datetime.datetime):
            e = e.date()
        if e <= s:
            e = s + datetime.timedelta(days=1)
        s, e = s.isoformat(), e.isoformat()
    title = " ".join(str(ev.get("SUMMARY", "")).split()) or "(no title)"
    out.append([title, s, e, str(ev.get("STATUS", "CONFIRMED")).lower()])
print(json.dumps(sorted(out), ensure_ascii=False))
'''


def expand(body):
    """The expander's occurrences, or None when it cannot read the file."""
    out = subprocess.run(["/usr/bin/python3", "-c", EXPAND, *WINDOW, ORG_TZ], input=body,
                         capture_output=True)
    if out.returncode != 0:
        return None
    return [tuple(o) for o in json.loads(out.stdout)]


def c(title, start, end, status="confirmed"):
    return (title, start, end, status)


# Files where recurring_ical_events 2.0.1 and RFC 5545 disagree, or that it
# cannot read: what it gets wrong ("remove" from / "add" to its answer), or
# the whole RFC answer ("all") when it cannot read the file at all.
UNTIL_AFTER_DST = """dateutil iterates in the fixed UTC offset of DTSTART, so after a DST
change an occurrence exactly at a UTC UNTIL looks later than UNTIL and is lost;
RFC 5545: UNTIL is inclusive, the occurrence is part of the set"""
RFC_ANSWER = {
    "google_partnerships.ics": {
        "why": UNTIL_AFTER_DST,
        "add": [c("CABC Toronto partner call", "2026-04-07T13:00:00Z", "2026-04-07T14:00:00Z")]},
    "outlook_busan_office.ics": {
        "why": UNTIL_AFTER_DST,
        "add": [c("Berlin accelerator jour fixe", "2026-04-28T07:00:00Z",
                  "2026-04-28T08:00:00Z")]},
    "lotus_until_forms.ics": {
        "why": UNTIL_AFTER_DST,
        "add": [c("London fintech hub sync", "2026-04-13T08:30:00Z", "2026-04-13T09:30:00Z")]},
    "generated_offrule_series.ics": {
        "why": """DTSTART is not an instance of the rule: RFC 5545 counts DTSTART as
the first of COUNT occurrences, recurring_ical_events adds it beside COUNT rule
instances (six for COUNT=5, two for COUNT=1)""",
        "remove": [c("Hub steering committee", "2026-05-12T02:00:00Z", "2026-05-12T03:30:00Z"),
                   c("Programme kick-off", "2026-03-04T03:00:00Z", "2026-03-04T04:30:00Z")]},
    "generated_timetable_nouid.ics": {
        "why": """recurring_ical_events applies an EXDATE only where its value equals an
occurrence's start, so a DATE EXDATE of a timed series excludes nothing; SPEC.md
(and every calendar app) excludes that day's occurrence. It also lists a VEVENT
given twice (no UID, same content) twice; it is one event""",
        "remove": [c("Korean language class", "2026-06-18T09:30:00Z", "2026-06-18T11:00:00Z"),
                   c("Investor Q&A", "2026-06-12T06:00:00Z", "2026-06-12T08:00:00Z")]},
    "caldav_rdate_periods.ics": {
        "why": """recurring_ical_events cannot expand RDATE;VALUE=PERIOD (it compares
the period tuples with datetimes); RFC 5545: a period gives the start and the end
of its occurrence, a DATE EXDATE removes that day's occurrence""",
        "all": [
            c("Festival shuttle bus", "2026-10-12T23:00:00Z", "2026-10-13T00:00:00Z"),
            c("Festival shuttle bus", "2026-10-13T23:00:00Z", "2026-10-14T00:00:00Z"),
            # 2026-10-15 08:00 (the second period) is excluded by the DATE EXDATE;
            # the third period starts 2026-10-16 08:00 KST and lasts three hours.
            c("Festival shuttle bus", "2026-10-15T23:00:00Z", "2026-10-16T02:00:00Z"),
            c("Press briefing", "2026-10-13T08:00:00Z", "2026-10-13T08:30:00Z"),
            c("Press briefing", "2026-10-15T08:00:00Z", "2026-10-15T08:30:00Z"),
            c("Press briefing", "2026-10-17T08:00:00Z", "2026-10-17T08:30:00Z"),
            c("Follow-up workshops", "2026-10-20T01:00:00Z", "2026-10-20T03:00:00Z"),
            c("Follow-up workshops", "2026-10-27T01:00:00Z", "2026-10-27T03:00:00Z"),
            c("Follow-up workshops", "2026-11-03T01:00:00Z", "2026-11-03T03:00:00Z")]},
    "zimbra_malformed.ics": {
        "why": "icalendar 4.0.3 refuses the whole file for one unreadable TRIGGER",
        "all": [
            c("Dutch innovation mission briefing", "2026-09-16T08:00:00Z", "2026-09-16T09:30:00Z"),
            c("Mission debrief", "2026-09-23T12:00:00Z", "2026-09-23T13:00:00Z"),
            # DTEND before DTSTART: RFC 5545 gives no end; the end is dropped.
            c("Return flight", "2026-09-25T19:00:00Z", "2026-09-25T19:00:00Z")]},
}


def rfc_answer(name, body):
    """The occurrences RFC 5545 gives for the file, for the window."""
    fix = RFC_ANSWER.get(name, {})
    if "all" in fix:
        return sorted(fix["all"])
    got = expand(body)
    assert got is not None, f"recurring_ical_events cannot read {name}"
    for o in fix.get("remove", []):
        assert o in got, (name, "not in the expander's answer", o)
        got.remove(o)
    return sorted(got + fix.get("add", []))


def occurrences(d, token, org):
    items, cursor = [], None
    while True:
        q = f"/v1/occurrences?from={WINDOW[0]}&to={WINDOW[1]}&limit=1000&org={org}"
        page = d.request("GET", q + (f"&cursor={cursor}" if cursor else ""), token=token).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return sorted((o["title"], o["start"], o["end"], o["status"]) if o["all_day"] else
                          (o["title"], o["start_utc"], o["end_utc"], o["status"]) for o in items)


def post(d, token, body):
    return d.request("POST", "/v1/events", body=body, token=token,
                     headers={"Content-Type": "text/calendar"})


def corpus():
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".ics"))


def test_corpus_imports_faithfully_and_again_unchanged(ctx):
    db = ctx.database()
    d = ctx.daemon(db)
    disagree, report = [], []
    for i, name in enumerate(corpus()):
        # Each file into an org of its own (the host org's zone).
        org = f"corpus-{i}"
        run_cli(["org", "create", org, "--name", name, "--timezone", ORG_TZ], db)
        token = run_cli(["key", "create", org, "--role", "editor"], db).stdout.strip()
        body = open(os.path.join(CORPUS, name), "rb").read()
        first = post(d, token, body)
        if first.status != 200:
            disagree.append(name)
            report.append(f"{name}: {first}")
            continue
        res = first.json()
        got = occurrences(d, token, org)
        want = rfc_answer(name, body)
        if got != want:
            disagree.append(name)
            report.append(f"{name}:\n  liaison only: {sorted(set(got) - set(want))}\n"
                          f"  expander only: {sorted(set(want) - set(got))}\n"
                          f"  answer: {json.dumps(res, ensure_ascii=False)}")
        again = post(d, token, body).json()
        if again["created"] or again["updated"] or \
                sorted(again["unchanged"]) != sorted(res["created"] + res["updated"]):
            disagree.append(name + " (second import)")
            report.append(f"{name} imported again: {again}")
    print(f"corpus: {len(corpus())} files, {len(corpus()) - len(set(n.split()[0] for n in disagree))} agree")
    assert not disagree, "\n".join(report)
