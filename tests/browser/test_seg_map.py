"""The SEG's task on the review map in headless Chromium: the Rainham decisions from the demo.

A member of the SEG signs in through the form and records what the partnership's minutes
decided: of the two Rainham Cricketers car park cameras one is removed and the other replaced
with digital (on a later day: a scheduled change), and the Rainham Recreation Ground pair is
made permanent; then sees the decisions on the map. Every click the person makes is counted and
written to ``clicks-seg-decisions.json``. Other tests: a camera changed by someone else while the
form is open (412: reloaded and said), the window selector and its coverage, and the public map
(no health). Every request to another host is stopped and none may fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import PASSWORD, wait_js
from tests.conftest import SHARED_DATA

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TAGS = ("MED-RAI-CP1", "MED-RAI-CP2", "MED-RAI-RG1", "MED-RAI-RG2")
MINUTE = "SEG 2026/12 item 6"


@dataclass
class Clicks:
    """What the person does: each click, choice and tick is a click; typing is a field."""

    task: str
    steps: list[dict[str, str]] = field(default_factory=list)

    def click(self, locator: Any, what: str) -> None:
        """Click as the person would."""
        locator.click()
        self.steps.append({"action": "click", "what": what})

    def fill(self, locator: Any, text: str, what: str) -> None:
        """Type into a field."""
        locator.fill(text)
        self.steps.append({"action": "type", "what": what})

    def select(self, locator: Any, value: str, what: str) -> None:
        """Choose from a list (a click)."""
        locator.select_option(value)
        self.steps.append({"action": "select", "what": what})

    @property
    def clicks(self) -> int:
        """Clicks, choices and ticks."""
        return sum(1 for s in self.steps if s["action"] != "type")

    def write(self, folder: Path) -> dict[str, Any]:
        """``clicks-<task>.json`` in ``folder``."""
        typed = sum(1 for s in self.steps if s["action"] == "type")
        out = {"task": self.task, "clicks": self.clicks, "fields_typed": typed, "steps": self.steps}
        (folder / f"clicks-{self.task}.json").write_text(json.dumps(out, indent=2) + "\n")
        return out


@dataclass
class Net:
    """Requests to other hosts (stopped: there must be none), failures and error answers."""

    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)

    def check(self, expected: tuple[tuple[int, str], ...] = ()) -> None:
        """Nothing left the machine, nothing failed, no error answer but ``expected``."""
        assert self.blocked == [] and self.failed == [], (self.blocked, self.failed)
        assert [b for b in self.bad if b not in expected] == [], self.bad


@pytest.fixture()
def net(page: Any) -> Net:
    """Stop every request not to 127.0.0.1; note failures and error answers."""
    seen = Net()

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: seen.bad.append((r.status, urlsplit(r.url).path)) if r.status >= 400 else None,
    )
    return seen


@pytest.fixture()
def errors(page: Any) -> list[str]:
    """JavaScript errors on the page (none expected)."""
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


@pytest.fixture(scope="module")
def demo(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """The demo register (Medway cameras, faults, in-view incidents), a token for the test's
    own checks, and people."""
    from sqlalchemy import text

    from services.assets import demo as demo_data
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        demo_data.load_demo(s, shared_data=SHARED_DATA)
        ids = {
            tag: s.execute(
                text("SELECT id FROM assets.cameras WHERE asset_tag = :t"), {"t": tag}
            ).scalar_one()
            for tag in (*TAGS, "MED-GIL-001", "MED-ROC-004")
        }
        _, admin = create_token(s, name="seg map checker", role="admin")
        s.commit()
    eng.dispose()
    yield {
        "ids": ids,
        "admin": {"Authorization": f"Bearer {admin}"},
        "seg": people("rita.rainham", "seg", name="Rita Rainham"),
        "seg2": people("sol.seg", "seg", name="Sol Seg"),
        "analyst": people("ana.analyst", "analyst", name="Ana Analyst"),
        "operator": people("otto.operator", "operator", name="Otto Operator"),
    }


def _camera(base: str, demo: dict[str, Any], tag: str) -> dict[str, Any]:
    """The test's own read of a camera through the API (a script's token, never the page)."""
    r = httpx.get(f"{base}/cameras/{demo['ids'][tag]}", headers=demo["admin"])
    assert r.status_code == 200, r.text
    return dict(r.json()) | {"_etag": r.headers["etag"]}


def _sign_in(page: Any, base: str, username: str, clicks: Clicks | None, next_path: str) -> None:
    page.goto(f"{base}/sign-in?next={next_path}")
    fields = (("signin-username", username), ("signin-password", PASSWORD))
    for testid, text in fields:
        if clicks:
            clicks.fill(page.get_by_test_id(testid), text, testid)
        else:
            page.get_by_test_id(testid).fill(text)
    submit = page.get_by_test_id("signin-submit")
    if clicks:
        clicks.click(submit, "sign in")
    else:
        submit.click()
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/map"
    wait_js(page, "window.CSP_CAMERAS !== undefined")


def _popup(page: Any) -> Any:
    """The open popup, once faded in (axe reads colours mid-fade as too faint)."""
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    wait_js(page, "getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    return popup


def _row(page: Any, camera_id: int) -> Any:
    return page.locator(f"[data-testid=rec-row][data-camera='{camera_id}']")


def _form_ready(page: Any) -> None:
    page.get_by_test_id("decision-dialog").wait_for(state="visible")
    wait_js(page, "!document.getElementById('decision-submit').disabled")


def _submit(page: Any, clicks: Clicks | None) -> str:
    """Submit the decision form; once recorded the map loads again: its notice."""
    button = page.get_by_test_id("decision-submit")
    with page.expect_navigation():
        if clicks:
            clicks.click(button, "record")
        else:
            button.click()
    return _recorded(page)


def _recorded(page: Any) -> str:
    page.wait_for_load_state("load")
    note = page.get_by_test_id("decision-recorded")
    note.wait_for()
    wait_js(page, "window.CSP_CAMERAS !== undefined")
    return str(note.inner_text())


def test_seg_records_the_rainham_decisions_and_sees_them_on_the_map(
    live_server: Any,
    page: Any,
    demo: dict[str, Any],
    net: Net,
    errors: list[str],
    artifacts_dir: Path,
) -> None:
    base = live_server("assets")
    ids = demo["ids"]
    cp1, cp2, rg1, rg2 = (ids[t] for t in TAGS)
    before = {t: _camera(base, demo, t) for t in TAGS}
    assert before["MED-RAI-CP2"]["technology"] == "analogue"
    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: (
            sent.append({"path": urlsplit(r.url).path, **r.headers})
            if r.method == "POST" and r.url.endswith("/decisions")
            else None
        ),
    )
    clicks = Clicks("seg-decisions")
    _sign_in(page, base, demo["seg"], clicks, "/map")
    # The recommendations the demo gives: the Cricketers pair as one row, the Recreation
    # Ground cameras each to be made permanent; the window holds incident data.
    assert page.get_by_test_id("window-coverage").inner_text().startswith("Incident data cover")
    pair = _row(page, cp1)
    assert pair.count() == 1 and pair.get_attribute("data-pair") == str(cp2)
    assert "redundant pair" in pair.inner_text() and _row(page, cp2).count() == 0
    for rg in (rg1, rg2):
        assert "make permanent" in _row(page, rg).inner_text()
    page.screenshot(path=str(artifacts_dir / "seg_map_before.png"))

    # 1. The Cricketers pair: remove CP1, keep CP2 and replace it with digital in six weeks.
    clicks.click(pair.get_by_test_id("record-decision"), "record the pair's decisions")
    _form_ready(page)
    assert page.get_by_test_id("decision-kind").input_value() == "decommission"
    assert page.get_by_test_id("decision-kind-pair").input_value() == "replace_with_digital"
    installed = (date.today() + timedelta(days=44)).isoformat()
    clicks.fill(page.get_by_test_id("decision-minute"), MINUTE, "minute reference")
    clicks.fill(
        page.get_by_test_id("decision-notes"),
        "Views overlap; keep the south camera and replace it with a digital unit.",
        "notes",
    )
    clicks.fill(page.get_by_test_id("decision-effective-pair"), installed, "install day")
    page.screenshot(path=str(artifacts_dir / "seg_map_pair_form.png"))
    assert_accessible(page, "the pair's decision form")
    notice = _submit(page, clicks)
    assert "Decommission (remove) for Rainham Cricketers car park (north)" in notice
    assert f"due: replace with digital on {installed}" in notice

    # 2. The Recreation Ground cameras: made permanent (meeting and minute kept from the last).
    for rg in (rg1, rg2):
        clicks.click(_row(page, rg).get_by_test_id("record-decision"), "record decision")
        _form_ready(page)
        assert page.get_by_test_id("decision-kind").input_value() == "make_permanent"
        assert page.get_by_test_id("decision-minute").input_value() == MINUTE
        clicks.fill(page.get_by_test_id("decision-notes"), "In use: keep it.", "notes")
        assert "Make permanent for Rainham Recreation Ground" in _submit(page, clicks)

    # Seen on the map: rings (recorded, due), the popup says what, when, who and the minute.
    for status in ("applied", "scheduled"):
        assert page.locator(f"path.csp-decision-{status}").count() >= 1
    pair = page.locator(f"[data-testid=rec-row][data-camera='{cp1}'][data-pair='{cp2}']")
    for row in (pair, _row(page, rg1), _row(page, rg2)):
        assert row.count() == 1 and row.get_attribute("data-decided") == "yes"
    assert pair.get_by_test_id("rec-decided").count() == 2  # remove one, replace the other
    assert page.locator("path.csp-decision").count() >= 4
    assert page.locator("path.csp-pair").count() == 0  # the pair is decided: no open line
    due = page.get_by_test_id("decision-row").filter(has_text="Rainham Cricketers car park (south)")
    assert f"Due: replace with digital on {installed}" in due.inner_text()
    clicks.click(due.locator("button.pick"), "open the south camera on the map")
    text = _popup(page).inner_text()
    assert f"Due: replace with digital on {installed}" in text and MINUTE in text
    assert "Rita Rainham" in text and "analogue" in text.lower()  # today's facts kept
    page.screenshot(path=str(artifacts_dir / "seg_map_decided.png"))
    assert_accessible(page, "the map with the decisions")

    # The register agrees: one removed, one due (still analogue), two permanent.
    after = {t: _camera(base, demo, t) for t in TAGS}
    assert after["MED-RAI-CP1"]["lifecycle"] == "decommissioning"
    assert after["MED-RAI-CP2"]["technology"] == "analogue"
    assert after["MED-RAI-CP2"]["scheduled_changes"][0]["due"] == (
        f"replace with digital on {installed}"
    )
    assert after["MED-RAI-RG1"]["deployment"] == after["MED-RAI-RG2"]["deployment"] == "fixed"
    r = httpx.get(f"{base}/cameras/{cp1}/decisions", headers=demo["admin"]).json()
    assert [(d["decision"], d["related_camera_id"], d["minute_ref"]) for d in r] == [
        ("decommission", cp2, MINUTE)
    ]
    # What the page sent: each camera's ETag as read, the session's CSRF token, one key each.
    assert [h["path"] for h in sent] == [f"/cameras/{c}/decisions" for c in (cp1, cp2, rg1, rg2)]
    for h, tag in zip(sent, TAGS, strict=True):
        assert h["if-match"] == before[tag]["_etag"] and h["x-csrf-token"]
        assert "authorization" not in h
    assert len({h["idempotency-key"] for h in sent}) == 4
    out = clicks.write(artifacts_dir)
    assert out["clicks"] == 8, out  # sign in, pair (2), two cameras (2 each), open on the map
    assert errors == []
    net.check()


def test_a_camera_changed_meanwhile_is_reloaded_and_said(
    live_server: Any,
    page: Any,
    demo: dict[str, Any],
    net: Net,
    errors: list[str],
    artifacts_dir: Path,
) -> None:
    """From a camera's popup: someone changes the camera while the form is open (412)."""
    page.set_viewport_size(PHONE)
    base = live_server("assets")
    cam_id = demo["ids"]["MED-ROC-004"]
    _sign_in(page, base, demo["seg2"], None, "/map")
    page.locator("#camera-list summary").click()
    row = page.locator(f"[data-testid=camera-row][data-camera='{cam_id}']")
    row.locator("button.pick").click()
    link = page.locator(".leaflet-popup-content [data-testid=record-decision]")
    link.click()
    _form_ready(page)
    page.get_by_test_id("decision-kind").select_option("retain")
    page.get_by_test_id("decision-minute").fill("SEG 2026/12 item 9")
    page.get_by_test_id("decision-notes").fill("Keep it.")
    # Meanwhile an administrator corrects the camera's purpose: its version moves on.
    cam = _camera(base, demo, "MED-ROC-004")
    r = httpx.patch(
        f"{base}/cameras/{cam_id}",
        json={"purpose": "Riverside path, car park and slipway", "reason": "survey"},
        headers=demo["admin"] | {"If-Match": cam["_etag"]},
    )
    assert r.status_code == 200, r.text
    page.get_by_test_id("decision-submit").click()
    message = page.get_by_test_id("decision-message")
    wait_js(page, "document.getElementById('decision-message').textContent.length > 0")
    assert "changed since the form opened" in message.inner_text()
    page.screenshot(path=str(artifacts_dir / "seg_map_camera_changed_390.png"))
    assert_accessible(page, "the decision form saying the camera changed")
    # The form now holds the new ETag: submitted again, it is recorded.
    assert "Retain for Rochester Esplanade" in _submit(page, None)
    hist = httpx.get(f"{base}/cameras/{cam_id}/history", headers=demo["admin"]).json()
    assert [h["action"] for h in hist][-2:] == ["update", "decision:retain"]
    assert errors == []
    net.check(expected=((412, f"/cameras/{cam_id}/decisions"),))


def test_the_window_selector_says_what_the_incident_data_cover(
    live_server: Any, page: Any, demo: dict[str, Any], net: Net, errors: list[str]
) -> None:
    base = live_server("assets")
    _sign_in(page, base, demo["analyst"], None, "/map")
    assert page.get_by_test_id("record-decision").count() == 0  # analysts read, SEG decides
    page.get_by_test_id("window-months").select_option("24")
    page.get_by_test_id("window-submit").click()
    page.wait_for_load_state("load")
    assert "24 months: the " in page.get_by_test_id("evidence-window").inner_text()
    # Between two dates long before any incident data: said so, and nobody judged on use.
    page.get_by_test_id("window-months").select_option("dates")
    page.get_by_test_id("window-from").fill("2019-01-01")
    page.get_by_test_id("window-as-of").fill("2019-06-30")
    page.get_by_test_id("window-submit").click()
    page.wait_for_load_state("load")
    window = page.get_by_test_id("evidence-window").inner_text()
    assert "the 181 days from 1 January 2019 to 30 June 2019" in window
    assert (
        page.get_by_test_id("window-coverage").inner_text() == "No incident data for this window."
    )
    assert page.get_by_test_id("window-no-data").is_visible()
    body = page.locator("body").inner_text().lower()
    assert "no evidence of use" not in body
    page.get_by_test_id("window-newest-link").click()
    page.wait_for_load_state("load")
    assert page.get_by_test_id("window-no-data").count() == 0
    assert_accessible(page, "the map on the window ending on the newest day with data")
    assert errors == []
    net.check()


@pytest.mark.parametrize("who", [None, "crew"])
def test_public_and_crew_maps_show_no_health(
    live_server: Any,
    page: Any,
    demo: dict[str, Any],
    net: Net,
    errors: list[str],
    artifacts_dir: Path,
    people: Any,
    who: str | None,
) -> None:
    base = live_server("assets")
    gil = demo["ids"]["MED-GIL-001"]  # an open intermittent-picture fault: degraded
    assert _camera(base, demo, "MED-GIL-001")["health"] == "degraded"
    if who:
        _sign_in(page, base, people("cora.crew", "crew", agency="kfrs"), None, "/map")
    else:
        page.goto(base + "/map")
        wait_js(page, "window.CSP_CAMERAS !== undefined")
    assert page.locator("path.csp-cam").count() > 0
    assert page.locator("[class*=csp-health]").count() == 0
    assert "Border = health" not in page.locator("#legend").inner_text()
    page.evaluate(f"window.CSP_CAMERAS['{gil}'].openPopup()")
    text = _popup(page).inner_text()
    assert "Purpose: Town centre: night-time economy and shop theft" in text
    assert "Digital, fixed" in text
    for word in ("degraded", "offline", "online", "fault"):
        assert word not in text.lower(), word
    assert "degraded" not in page.content() and "offline" not in page.content()
    page.screenshot(path=str(artifacts_dir / f"seg_map_{who or 'public'}_no_health.png"))
    assert_accessible(page, f"the {who or 'public'} map")
    assert errors == []
    net.check()
