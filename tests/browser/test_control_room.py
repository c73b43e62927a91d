"""The control room end to end in headless Chromium, as an operator signed in through the form.

The operator logs a fault with the time it began, moves it with notes (what fixed it, the
contractor's job number) and closes it, while another desk logs a fault through the API that
appears on this page by itself; the clicks are counted (``clicks-control-room.json``). Then the
warnings: an open fault of the same kind before logging (a note on it instead), and a question
before closing a fault that was never fixed; and closed faults with search and "closed today".
Every request to another host is stopped; no request may fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import PASSWORD, wait_js
from tests.browser.steps import Offline, cut_off
from tests.factories import log_fault, make_camera

WARD = "Rochester West"
CAMERAS = {
    "CRM-001": ("Rochester High Street east", 0.5031, 51.3880),
    "CRM-002": ("Rochester Station forecourt", 0.5000, 51.3853),
    "CRM-003": ("Star Hill junction", 0.5072, 51.3857),
    "CRM-004": ("Esplanade car park", 0.4987, 51.3901),
}


@dataclass
class Clicks:
    """What the person did on the page: each click, tick, choice and submit counts; typing is
    listed but not counted."""

    task: str
    steps: list[dict[str, Any]] = field(default_factory=list)

    def _do(self, action: str, what: str, counted: bool = True) -> None:
        self.steps.append({"action": action, "what": what, "counted": counted})

    def click(self, locator: Any, what: str) -> None:
        """Click ``locator`` (one click)."""
        locator.click()
        self._do("click", what)

    def select(self, locator: Any, value: str, what: str) -> None:
        """Choose ``value`` in a select (one click)."""
        locator.select_option(value)
        self._do("select", what)

    def check(self, locator: Any, what: str) -> None:
        """Tick a box (one click)."""
        locator.check()
        self._do("check", what)

    def type(self, locator: Any, text: str, what: str) -> None:
        """Type into a field (not a click)."""
        locator.fill(text)
        self._do("type", what, counted=False)

    @property
    def count(self) -> int:
        """The clicks (typing excluded)."""
        return sum(1 for s in self.steps if s["counted"])

    def save(self, folder: Path) -> Path:
        """Write ``clicks-<task>.json``: the task, the clicks and every step."""
        out = folder / f"clicks-{self.task}.json"
        body = {"task": self.task, "clicks": self.count, "steps": self.steps}
        out.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        return out


@pytest.fixture()
def offline(page: Any) -> Offline:
    """Every other host stopped; every error answer must be one the test names."""
    return cut_off(page, listed=True)


@pytest.fixture(scope="module")
def desk(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Cameras on the street, an operator to sign in, and a second desk's API token."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    out: dict[str, Any] = {"cams": {}}
    with make_sessionmaker(eng)() as s:
        for tag, (name, lon, lat) in CAMERAS.items():
            cam = make_camera(
                s, asset_tag=tag, name=name, lon=lon, lat=lat, ward=WARD, actor="browser seed"
            )
            out["cams"][tag] = cam.id
        _, token = create_token(s, name="Desk 2", role="operator")
        s.commit()
    out["auth"] = {"Authorization": f"Bearer {token}"}
    out["operator"] = people("cr.olive", "operator", name="Olive Okafor")
    yield out
    eng.dispose()


def _api(base: str, desk: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=base, headers=desk["auth"], timeout=10)


def _fault(base: str, desk: dict[str, Any], number: str) -> dict[str, Any]:
    with _api(base, desk) as c:
        r = c.get("/faults", params={"q": number, "limit": 5})
        r.raise_for_status()
        return next(f for f in r.json()["items"] if f["number"] == number)


def _sign_in(page: Any, base: str, username: str, clicks: Clicks) -> None:
    """Open the control room; the sign-in form comes first and comes back here."""
    page.goto(base + "/control-room")
    clicks.type(page.get_by_test_id("signin-username"), username, "user name")
    clicks.type(page.get_by_test_id("signin-password"), PASSWORD, "password")
    clicks.click(page.get_by_test_id("signin-submit"), "sign in")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/control-room"
    wait_js(page, "document.querySelectorAll('#camera-options option').length >= 4")
    wait_js(page, "document.getElementById('live').textContent.startsWith('Live updates: on')")


def _row(page: Any, where: str, number: str) -> Any:
    return page.locator(f"#{where} [data-number='{number}']")


SIGN_IN_FIRST = ((401, "/control-room"),)


def test_operator_logs_moves_and_closes_a_fault_and_sees_another_desks_fault_arrive(
    live_server: Any,
    page: Any,
    desk: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    base = live_server("assets")
    clicks = Clicks("control-room")
    _sign_in(page, base, desk["operator"], clicks)
    assert "Olive Okafor" in page.get_by_test_id("signed-in-as").inner_text()

    # Log: camera, kind, what is wrong, and when it began (before it was reported).
    began = (datetime.now() - timedelta(hours=2)).replace(second=0, microsecond=0)
    clicks.type(page.get_by_test_id("fault-camera"), "CRM-001", "camera")
    clicks.select(page.get_by_test_id("fault-category"), "no_picture", "category: no picture")
    clicks.type(page.get_by_test_id("fault-description"), "Black screen since the storm", "what")
    clicks.type(page.get_by_test_id("fault-started"), began.strftime("%Y-%m-%dT%H:%M"), "began")
    assert page.get_by_test_id("duplicate-warning").is_hidden()
    clicks.click(page.get_by_test_id("fault-log"), "log fault")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    number = page.inner_text("#status").split()[1]
    row = _row(page, "open-faults", number)
    row.wait_for()
    logged = _fault(base, desk, number)
    assert datetime.fromisoformat(logged["started_at"]) == began.astimezone(UTC)
    assert "began" in row.inner_text() and "Olive Okafor" in logged["reported_by"]
    page.screenshot(path=str(artifacts_dir / "control_room_logged.png"), full_page=True)

    # In progress, with a note and the contractor's job number.
    clicks.click(row.get_by_test_id("fault-to-in_progress"), "in progress")
    dialog = page.get_by_test_id("move-dialog")
    assert dialog.is_visible() and page.get_by_test_id("close-unfixed-warning").is_hidden()
    clicks.type(page.get_by_test_id("move-note"), "Engineer booked for the afternoon", "note")
    clicks.type(page.get_by_test_id("move-job"), "JOB-44871", "contractor job")
    page.screenshot(path=str(artifacts_dir / "control_room_move_dialog.png"))
    assert_accessible(page, "the control room's status-change dialog")
    clicks.click(page.get_by_test_id("move-confirm"), "save: in progress")
    row.locator(".fault-status:text-is('in progress')").wait_for()

    # Meanwhile another desk logs a fault through the API; it appears here by itself.
    page.evaluate("window.__sameDocument = true")
    with _api(base, desk) as c:
        r = c.post(
            f"/cameras/{desk['cams']['CRM-003']}/faults",
            json={"category": "vandalism", "description": "Dome spray-painted"},
            headers={"Idempotency-Key": "desk-2-vandalism"},
        )
    assert r.status_code == 201, r.text
    theirs = r.json()["number"]
    arrived = _row(page, "open-faults", theirs)
    arrived.wait_for(timeout=15_000)  # the page polls every 5 s; no click, no reload
    assert page.evaluate("window.__sameDocument === true")
    assert arrived.get_by_test_id("fault-new").is_visible()
    assert theirs in page.get_by_test_id("live-news").text_content()
    assert "Desk 2" in arrived.inner_text()
    page.screenshot(path=str(artifacts_dir / "control_room_other_desk.png"), full_page=True)

    # Fixed: what fixed it, and the job number; then closed.
    clicks.click(row.get_by_test_id("fault-to-fixed"), "fixed")
    clicks.type(page.get_by_test_id("move-note"), "Replaced the PSU in the column", "what fixed it")
    clicks.type(page.get_by_test_id("move-job"), "JOB-44871", "contractor job")
    clicks.click(page.get_by_test_id("move-confirm"), "save: fixed")
    fixed = _row(page, "fixed-faults", number)
    fixed.wait_for()
    assert "Replaced the PSU" in fixed.get_by_test_id("fault-last-note").inner_text()
    clicks.click(fixed.get_by_test_id("fault-close"), "close")
    assert page.get_by_test_id("close-unfixed-warning").is_hidden()  # it was fixed: no question
    clicks.click(page.get_by_test_id("move-confirm"), "confirm close")
    fixed.wait_for(state="detached")

    # The closed fault is found again among today's closed faults, by its job number.
    closed = _row(page, "closed-faults", number)
    closed.wait_for()
    clicks.check(page.get_by_test_id("closed-today"), "closed today")
    clicks.type(page.get_by_test_id("closed-search"), "job-44871", "search")
    wait_js(page, "document.getElementById('closed-summary').textContent.includes('job-44871')")
    assert page.locator("#closed-faults [data-testid=closed-row]").count() == 1
    assert closed.is_visible()
    page.screenshot(path=str(artifacts_dir / "control_room_closed.png"), full_page=True)
    assert_accessible(page, "the control room after closing a fault")

    done = _fault(base, desk, number)
    assert done["status"] == "closed"
    steps = [(e["kind"], e["to_status"], e["note"]) for e in done["events"]]
    assert steps == [
        ("report", "open", "Black screen since the storm"),
        ("status", "in_progress", "Engineer booked for the afternoon\nContractor job: JOB-44871"),
        ("status", "fixed", "Replaced the PSU in the column\nContractor job: JOB-44871"),
        ("status", "closed", None),
    ]
    saved = clicks.save(artifacts_dir)
    assert json.loads(saved.read_text())["clicks"] == clicks.count
    # Sign in 1, log 2 (kind, log), in progress 2, fixed 2, close 2, closed today 1.
    assert clicks.count == 10, clicks.steps
    assert errors == []
    offline.check(expected_status=SIGN_IN_FIRST)


def test_an_open_fault_of_the_same_kind_is_named_before_logging_and_a_note_offered(
    live_server: Any,
    page: Any,
    desk: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
    browser_session: Any,
) -> None:
    base = live_server("assets")
    cam = desk["cams"]["CRM-002"]
    first = log_fault(
        browser_session, cam, category="power", description="Column dark", actor="Desk 2 seed"
    )
    browser_session.commit()
    clicks = Clicks("control-room-duplicate")
    _sign_in(page, base, desk["operator"], clicks)
    clicks.type(page.get_by_test_id("fault-camera"), "CRM-002", "camera")
    clicks.select(page.get_by_test_id("fault-category"), "power", "category: power")
    warning = page.get_by_test_id("duplicate-warning")
    warning.wait_for()  # before anything is sent
    assert first.number in warning.inner_text() and "Desk 2 seed" in warning.inner_text()
    clicks.type(page.get_by_test_id("fault-description"), "Still no power at 21:10", "what")
    page.screenshot(path=str(artifacts_dir / "control_room_duplicate_warning.png"), full_page=True)
    assert_accessible(page, "the control room's duplicate warning")
    clicks.click(page.get_by_test_id("add-note-instead"), "add as a note")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Added a note')")
    got = _fault(base, desk, first.number)
    assert [e["kind"] for e in got["events"]] == ["report", "note"]
    assert got["events"][1]["note"] == "Still no power at 21:10"
    with _api(base, desk) as c:
        open_power = c.get(
            f"/cameras/{cam}/faults", params={"open_only": True, "category": "power"}
        ).json()
    assert open_power["total"] == 1  # no second fault
    # Another desk logs the same kind on another camera while this page said nothing: the
    # report is refused naming it, and the operator may still log a separate fault.
    other = desk["cams"]["CRM-004"]
    clicks.type(page.get_by_test_id("fault-camera"), "CRM-004", "camera")
    clicks.select(page.get_by_test_id("fault-category"), "network", "category: network")
    wait_js(page, "document.getElementById('duplicate').hidden === true")
    with _api(base, desk) as c:
        raced = c.post(
            f"/cameras/{other}/faults", json={"category": "network", "description": "Link down"}
        ).json()["number"]
    clicks.type(page.get_by_test_id("fault-description"), "No link to the NVR", "what")
    clicks.click(page.get_by_test_id("fault-log"), "log fault")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Not logged')")
    assert raced in warning.inner_text() and raced in page.inner_text("#status")
    clicks.click(page.get_by_test_id("log-anyway"), "log a separate fault")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    with _api(base, desk) as c:
        both = c.get(f"/cameras/{other}/faults", params={"open_only": True}).json()
    assert sorted(f["description"] for f in both["items"]) == ["Link down", "No link to the NVR"]
    clicks.save(artifacts_dir)
    assert errors == []
    offline.check(expected_status=(*SIGN_IN_FIRST, (409, f"/cameras/{other}/faults")))


def test_closing_a_fault_never_marked_fixed_asks_first(
    live_server: Any,
    page: Any,
    desk: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
    browser_session: Any,
) -> None:
    base = live_server("assets")
    f = log_fault(
        browser_session,
        desk["cams"]["CRM-001"],
        category="pan_tilt_zoom",
        description="Will not pan left",
        actor="Desk 2 seed",
    )
    browser_session.commit()
    _sign_in(page, base, desk["operator"], Clicks("unused"))
    row = _row(page, "open-faults", f.number)
    row.wait_for()
    row.get_by_test_id("fault-close").click()
    warning = page.get_by_test_id("close-unfixed-warning")
    assert warning.is_visible() and "never marked fixed" in warning.inner_text()
    assert page.get_by_test_id("move-confirm").inner_text() == "Close without a fix"
    page.screenshot(path=str(artifacts_dir / "control_room_close_unfixed.png"))
    assert_accessible(page, "the question before closing an unfixed fault")
    page.get_by_test_id("move-cancel").click()
    assert page.get_by_test_id("move-dialog").is_hidden()
    assert _fault(base, desk, f.number)["status"] == "open"
    # Asked again, it wants a reason before it closes.
    row.get_by_test_id("fault-close").click()
    page.get_by_test_id("move-confirm").click()
    assert "Say why" in page.locator("#move-error").inner_text()
    assert _fault(base, desk, f.number)["status"] == "open"
    page.get_by_test_id("move-note").fill("Duplicate of a fault logged by phone")
    page.get_by_test_id("move-confirm").click()
    _row(page, "closed-faults", f.number).wait_for()
    closed = _fault(base, desk, f.number)
    assert closed["status"] == "closed"
    assert closed["events"][-1]["note"] == "Duplicate of a fault logged by phone"
    assert errors == []
    offline.check(expected_status=SIGN_IN_FIRST)


def test_closed_faults_are_searched_and_narrowed_to_today(
    live_server: Any,
    page: Any,
    desk: dict[str, Any],
    errors: list[str],
    offline: Offline,
    browser_session: Any,
) -> None:
    from services.assets.faults.service import update_fault_status

    base = live_server("assets")
    now = datetime.now(UTC)
    old = log_fault(
        browser_session,
        desk["cams"]["CRM-004"],
        category="cabling",
        description="Cable chewed by rats",
        reported_at=now - timedelta(days=4),
        actor="Desk 2 seed",
    )
    update_fault_status(
        browser_session,
        fault_id=old.id,
        status="closed",
        at=now - timedelta(days=3),
        actor="Desk 2 seed",
        note="Re-run in conduit",
    )
    browser_session.commit()
    _sign_in(page, base, desk["operator"], Clicks("unused"))
    old_row = _row(page, "closed-faults", old.number)
    old_row.wait_for()  # closed faults no longer vanish
    assert "Re-run in conduit" in old_row.inner_text()
    page.get_by_test_id("closed-today").check()
    old_row.wait_for(state="detached")
    assert "closed today" in page.get_by_test_id("closed-summary").inner_text()
    page.get_by_test_id("closed-today").uncheck()
    page.get_by_test_id("closed-search").fill("RATS")
    wait_js(page, "document.getElementById('closed-summary').textContent.includes('RATS')")
    assert page.locator("#closed-faults [data-testid=closed-row]").count() == 1
    page.get_by_test_id("closed-search").fill("no fault says % this")
    wait_js(page, "document.getElementById('closed-summary').textContent.startsWith('No faults')")
    assert page.locator("#closed-faults [data-testid=closed-row]").count() == 0
    assert errors == []
    offline.check(expected_status=SIGN_IN_FIRST)
