"""The demo data `make run` loads (scripts/demo.sh, scripts/demo-events.sh)
loads into an empty database through the API, whole: its agreements with
their history, their links to the visits and the meeting before them, the
follow-up template's milestones on the MOU followed to signature, and the
cooperation report the README shows from it."""
import os
import subprocess

from harness import ROOT, binary, run_cli


def test_demo_data_loads_with_agreements_and_their_history(ctx):
    db = ctx.database()
    run_cli(["migrate"], db)
    env = dict(os.environ, LIAISON_DATABASE=db)
    token = os.path.join(ctx.tmp, "demo-admin-token")
    out = subprocess.run([os.path.join(ROOT, "scripts", "demo.sh"), binary(), token], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    d = ctx.daemon(db)
    out = subprocess.run([os.path.join(ROOT, "scripts", "demo-events.sh"),
                          f"http://127.0.0.1:{d.port}", os.path.join(ctx.tmp, "demo-keys")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    t = open(token).read().strip()
    items = d.request("GET", "/v1/agreements", token=t).json()["items"]
    by = {a["title"]: a for a in items}
    assert len(items) == 5, sorted(by)
    sf = by["Letter of intent: Hải Phòng – San Francisco Chamber of Commerce"]
    assert sf["stage"] == "intent" and sf["history"][0]["on"] == "2024-10-13"
    hp = open(os.path.join(ctx.tmp, "demo-keys", "haiphong")).read().strip()
    trip = d.request("GET", f"/v1/visits/{sf['visits'][0]}", token=hp).json()
    assert trip["title"]["en"] == "Hai Phong delegation to San Francisco", trip["title"]
    mou = by["MOU: HCMC DOST – Busan Metropolitan City on startup exchange"]
    assert [h["stage"] for h in mou["history"]] == ["intent", "drafting", "signed"]
    assert [(m["title"], m["due"]) for m in mou["milestones"]] == [
        ("First joint activity", "2025-05-30"), ("Report to partner", "2025-08-28"),
        ("Annual review", "2026-03-01")]
    busan = d.request("GET", f"/v1/visits/{mou['visits'][0]}", token=t).json()
    assert busan["direction"] == "inbound" and busan["partners"] == ["busan-city"]
    cabc = by["Letter of intent: Hải Phòng – Canada-ASEAN Business Council"]
    meeting = d.request("GET", f"/v1/events/{cabc['events'][0]}", token=t).json()
    assert meeting["title"] == "Hải Phòng delegation meets the Canada-ASEAN Business Council"
    assert by["MOU Bình Dương – Eindhoven"]["stage"] == "renewal"
    # The README's report: HCMC DOST's third quarter of 2024.
    rep = d.request("GET", "/v1/reports/cooperation?from=2024-07-01&to=2024-10-01",
                    token=t).json()
    assert rep["partners"] == [{
        "org": "busan-city", "name": "Busan Metropolitan City", "country": "KR",
        "agreements": {"total": 1, "by_stage": {"intent": 1, "drafting": 0, "signed": 0,
                                                "renewal": 0, "expired": 0, "terminated": 0},
                       "signed_in_period": 0, "dormant": 0, "expiring": 0},
        "visits": {"inbound": 1, "outbound": 0}, "items_held": 3}], rep
