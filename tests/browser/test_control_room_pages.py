"""The control room's other pages in headless Chromium: police footage requests (record, find,
update, a stale update refused) and the health board (every camera, filters), signed in through
the form; every other host stopped, nothing failed, axe, screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import PASSWORD, sign_in, wait_js
from tests.browser.steps import LAPTOP, PHONE, Offline, cut_off
from tests.browser.test_control_room import Clicks
from tests.factories import log_fault, make_camera

TRICKY = "Mill <i>Lane</i> & ${x}"


@pytest.fixture()
def offline(page: Any) -> Offline:
    """Every other host stopped; what failed; every error answer named."""
    return cut_off(page, listed=True)


@pytest.fixture(scope="module")
def site(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Cameras in two wards (one offline past its SLA, one degraded, two online), people, and
    a token for the test's own reads and another desk's changes."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    cams: dict[str, int] = {}
    with make_sessionmaker(eng)() as s:
        for tag, name, ward, lon, lat in (
            ("HBD-001", "Gillingham High Street west", "Gillingham South", 0.5490, 51.3880),
            ("HBD-002", TRICKY, "Gillingham South", 0.5512, 51.3868),
            ("HBD-003", "Luton Arches", "Luton and Wayfield", 0.5390, 51.3750),
            ("HBD-004", "Luton Road shops", "Luton and Wayfield", 0.5402, 51.3731),
        ):
            cams[tag] = make_camera(
                s,
                asset_tag=tag,
                name=name,
                ward=ward,
                lon=lon,
                lat=lat,
                retention_days=31,
                actor="browser seed",
            ).id
        from services.assets.clock import now_utc

        log_fault(
            s,
            cams["HBD-001"],
            category="no_picture",
            description="Dark",
            reported_at=now_utc() - timedelta(hours=30),
            actor="seed",
        )
        log_fault(s, cams["HBD-003"], category="vandalism", description="Scratched", actor="seed")
        _, token = create_token(s, name="Desk 3", role="operator")
        s.commit()
    yield {
        "cams": cams,
        "auth": {"Authorization": f"Bearer {token}"},
        "operator": people("fp.operator", "operator", name="Farah Patel"),
        "seg": people("fp.seg", "seg", name="Sam Segun"),
    }
    eng.dispose()


def _sign_in(page: Any, base: str, path: str, username: str, clicks: Clicks) -> Any:
    response = page.goto(base + path)
    clicks.type(page.get_by_test_id("signin-username"), username, "user name")
    clicks.type(page.get_by_test_id("signin-password"), PASSWORD, "password")
    clicks.click(page.get_by_test_id("signin-submit"), "sign in")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == path
    return response


def test_an_operator_records_finds_and_updates_a_footage_request(
    live_server: Any,
    page: Any,
    site: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    base = live_server("assets")
    clicks = Clicks("footage-request")
    _sign_in(page, base, "/footage", site["operator"], clicks)
    wait_js(page, "document.querySelectorAll('#fr-cameras option').length >= 4")
    start = (datetime.now() - timedelta(days=40)).replace(
        hour=21, minute=0, second=0, microsecond=0
    )
    end = start + timedelta(hours=2)
    clicks.type(page.get_by_test_id("footage-camera"), "HBD-002", "camera")
    clicks.type(page.get_by_test_id("footage-reference"), "46/20931/26", "police reference")
    clicks.type(page.get_by_test_id("footage-from"), start.strftime("%Y-%m-%dT%H:%M"), "from")
    clicks.type(page.get_by_test_id("footage-to"), end.strftime("%Y-%m-%dT%H:%M"), "to")
    # The camera keeps 31 days: footage from 40 days ago is probably gone, and the page says so.
    note = page.get_by_test_id("footage-window-note")
    assert note.is_visible() and "may already be overwritten" in note.inner_text()
    clicks.type(page.get_by_test_id("footage-officer"), "PC 4410 Ahmed, Medway", "officer")
    retain = (date.today() + timedelta(days=180)).isoformat()
    clicks.type(page.get_by_test_id("footage-retain"), retain, "keep until")
    clicks.click(page.get_by_test_id("footage-submit"), "record request")
    row = page.locator("[data-testid=footage-row][data-reference='46/20931/26']")
    row.wait_for()
    assert TRICKY in row.inner_text() and page.locator("#fr-rows i").count() == 0  # as data
    assert "PC 4410 Ahmed" in row.inner_text()
    assert row.get_by_test_id("footage-row-outcome").inner_text() == "pending"
    page.screenshot(path=str(artifacts_dir / "footage_recorded.png"), full_page=True)
    assert_accessible(page, "the footage request page")

    # Found again by the officer's name; then answered: footage provided.
    clicks.type(page.get_by_test_id("footage-search"), "ahmed", "search")
    clicks.click(page.get_by_role("button", name="Search", exact=True), "search")
    wait_js(page, "document.getElementById('fr-summary').textContent.startsWith('1 request')")
    clicks.click(row.get_by_test_id("footage-edit"), "update")
    clicks.select(page.get_by_test_id("edit-outcome"), "provided", "outcome: provided")
    clicks.type(page.get_by_test_id("edit-reason"), "Exported to disc, collected", "why")
    assert_accessible(page, "the footage update dialog")
    clicks.click(page.get_by_test_id("edit-save"), "save")
    row.get_by_test_id("footage-row-outcome").filter(has_text="provided").wait_for()
    clicks.save(artifacts_dir)

    with httpx.Client(base_url=base, headers=site["auth"]) as c:
        found = c.get("/footage-requests", params={"q": "46/20931/26"}).json()["items"][0]
        assert found["outcome"] == "provided" and found["version"] == 2
        assert found["retain_until"] == retain and found["officer"] == "PC 4410 Ahmed, Medway"
        assert datetime.fromisoformat(found["window_start"]).timestamp() == start.timestamp()
        # Another desk changes it while this page shows version 2: this page's save is refused.
        changed = c.patch(
            f"/footage-requests/{found['id']}",
            json={"note": "Officer called back"},
            headers={"If-Match": 'W/"2"'},
        )
        assert changed.status_code == 200, changed.text
    row.get_by_test_id("footage-edit").click()
    page.get_by_test_id("edit-outcome").select_option("refused")
    page.get_by_test_id("edit-save").click()
    wait_js(page, "document.getElementById('fr-status').textContent.includes('changed since')")
    with httpx.Client(base_url=base, headers=site["auth"]) as c:
        assert c.get(f"/footage-requests/{found['id']}").json()["outcome"] == "provided"
    assert errors == []
    offline.check(expected_status=((401, "/footage"), (412, f"/footage-requests/{found['id']}")))


def test_the_seg_is_refused_the_footage_page(
    live_server: Any, page: Any, site: dict[str, Any], errors: list[str], offline: Offline
) -> None:
    base = live_server("assets")
    sign_in(page, base, site["seg"], next_path="/footage")
    reason = page.get_by_test_id("forbidden-reason").inner_text()
    assert "Footage requests needs the role admin or operator" in reason
    assert page.locator("#fr-form").count() == 0
    assert errors == []
    offline.check(expected_status=((403, "/footage"),))


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_health_board_lists_every_camera_worst_first_with_filters(
    live_server: Any,
    page: Any,
    site: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    clicks = Clicks("health-board")
    _sign_in(page, base, "/health-board", site["seg"], clicks)
    ours = set(site["cams"].values())
    rows = page.get_by_test_id("board-row")
    order = [
        (int(r.get_attribute("data-camera")), r.get_attribute("data-health"))
        for r in rows.all()
        if int(r.get_attribute("data-camera")) in ours
    ]
    assert order[0] == (site["cams"]["HBD-001"], "offline")
    assert order[1] == (site["cams"]["HBD-003"], "degraded")
    assert {h for _, h in order[2:]} == {"online"} and len(order) == 4
    first = page.locator(f"[data-testid=board-row][data-camera='{site['cams']['HBD-001']}']")
    assert first.get_by_test_id("row-breached").inner_text() == "1 breached"
    assert TRICKY in page.get_by_test_id("health-board").inner_text()
    page.screenshot(
        path=str(artifacts_dir / f"health_board_{viewport['width']}.png"), full_page=True
    )
    assert_accessible(page, f"the health board at {viewport['width']}px")
    # Only the Gillingham cameras with open faults past their SLA.
    clicks.select(page.get_by_test_id("filter-ward"), "Gillingham South", "ward")
    clicks.check(page.get_by_test_id("filter-breached"), "SLA breached")
    clicks.click(page.get_by_test_id("filter-apply"), "show")
    page.wait_for_load_state("load")
    assert parse_qs(urlsplit(page.url).query)["ward"] == ["Gillingham South"]
    shown = {int(r.get_attribute("data-camera")) for r in rows.all()}
    assert shown == {site["cams"]["HBD-001"]}
    assert page.get_by_test_id("filter-breached").is_checked()
    page.screenshot(
        path=str(artifacts_dir / f"health_board_filtered_{viewport['width']}.png"), full_page=True
    )
    clicks.click(page.get_by_test_id("filter-clear"), "clear filters")
    page.wait_for_load_state("load")
    assert rows.count() >= 4
    if viewport is LAPTOP:
        clicks.save(artifacts_dir)
    assert errors == []
    offline.check(expected_status=((401, "/health-board"),))
