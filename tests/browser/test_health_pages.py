"""Camera health on the control room's pages, in headless Chromium (real server, real PostGIS):
an operator sees the faults the health checks found, with their snapshot (each view audited),
and the health board follows the checks without a reload. The checks are recorded through the
service with fabricated readings (black frames, a live scene), so no stream server is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from services.assets.health.causes import Cause
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.browser.steps import LAPTOP, Offline, cut_off
from tests.integration.health.support import camera_with_stream
from tests.integration.health.test_health_availability import reading


@pytest.fixture()
def offline(page: Any) -> Offline:
    """Every other host stopped; every error answer must be one the test names."""
    return cut_off(page, listed=True)


@pytest.fixture(scope="module")
def health_site(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Two digital cameras with streams: one whose checks found black frames (a fault with a
    snapshot), one healthy; an operator and a SEG member."""
    from services.assets.health import service as svc
    from services.assets.settings import AssetsSettings
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    settings = AssetsSettings()
    cams: dict[str, int] = {}
    with make_sessionmaker(eng)() as s:
        for tag, name in (("HCK-001", "Rochester Bridge east"), ("HCK-002", "Star Hill")):
            cams[tag] = camera_with_stream(
                s, settings, f"rtsp://127.0.0.1:9/{tag}", asset_tag=tag, name=name,
                ward="Rochester West",
            )  # fmt: skip
        svc.record_reading(s, reading=reading(cams["HCK-002"], Cause.OK), settings=settings)
        check = svc.record_reading(
            s, reading=reading(cams["HCK-001"], Cause.NO_PICTURE), settings=settings
        )
        assert check.result == "no_picture" and check.fault_id is not None
        s.commit()
    yield {
        "cams": cams,
        "settings": settings,
        "engine": eng,
        "operator": people("hc.operator", "operator", name="Hana Cole"),
        "seg": people("hc.seg", "seg", name="Seth Grant"),
    }
    eng.dispose()


def _open(page: Any, live_server: Any, path: str, username: str) -> str:
    """Sign in through the form and land on ``path`` of the assets service; its base URL."""
    page.set_viewport_size(LAPTOP)
    base: str = live_server("assets")
    page.goto(base + path)  # the sign-in page (401), as a person meets it
    sign_in(page, base, username, next_path=path)
    assert urlsplit(page.url).path == path
    return base


def _snapshot_views(engine: Any, camera_id: int) -> list[Any]:
    from services.assets.models import AuditEntry
    from shared.db import make_sessionmaker

    with make_sessionmaker(engine)() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(
                    AuditEntry.camera_id == camera_id, AuditEntry.action == "snapshot_viewed"
                )
            )
        )


def test_the_control_room_shows_a_fault_the_checks_found_with_its_snapshot(
    live_server: Any,
    page: Any,
    health_site: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    from services.assets.models import Fault
    from shared.db import make_sessionmaker

    _open(page, live_server, "/control-room", health_site["operator"])
    cam = health_site["cams"]["HCK-001"]
    with make_sessionmaker(health_site["engine"])() as s:
        fault = s.scalars(select(Fault).where(Fault.camera_id == cam)).one()
    row = page.locator(f"[data-testid=fault-row][data-fault='{fault.id}']")
    row.wait_for()
    assert "no picture" in row.inner_text()
    assert row.get_by_test_id("fault-found-by-check").inner_text() == "found by health check"
    # The healthy camera has no fault; no other row claims the check found it.
    healthy = health_site["cams"]["HCK-002"]
    assert not page.locator("[data-testid=fault-row]:has-text('HCK-002')").count(), healthy
    row.get_by_test_id("fault-snapshots").locator("summary").click()
    img = row.get_by_test_id("fault-snapshot")
    img.wait_for()
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=10_000
    )
    assert img.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [640, 480]
    assert "HCK-001" in (img.get_attribute("alt") or "")
    page.screenshot(path=str(artifacts_dir / "control_room_check_fault.png"), full_page=True)
    assert_accessible(page, "the control room with a health-check fault")
    # The view was audited: who looked at which snapshot.
    views = _snapshot_views(health_site["engine"], cam)
    assert len(views) == 1 and "Hana Cole" in views[0].actor
    # A live reload of the lists keeps the snapshot open and does not fetch (audit) it again.
    page.get_by_test_id("refresh-faults").click()
    page.wait_for_timeout(800)
    row.get_by_test_id("fault-snapshot").wait_for()
    assert len(_snapshot_views(health_site["engine"], cam)) == 1
    assert errors == []
    offline.check(expected_status=((401, "/control-room"),))


def test_the_health_board_follows_the_checks_without_a_reload(
    live_server: Any,
    page: Any,
    health_site: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    from services.assets.health import service as svc
    from shared.db import make_sessionmaker

    _open(page, live_server, "/health-board", health_site["seg"])
    cam = health_site["cams"]["HCK-002"]
    row = f"[data-testid=board-row][data-camera='{cam}']"
    assert page.locator(row).get_attribute("data-health") == "online"
    assert "picture good" in page.locator(row).get_by_test_id("row-last-check").inner_text()
    assert "from" in page.locator(row).get_by_test_id("row-available").inner_text()
    page.evaluate("window.__sameDocument = true")
    page.wait_for_function(
        "() => !!document.getElementById('board-live-status').dataset.stamp", timeout=10_000
    )
    # The camera's picture goes black: the next check opens a fault and the camera is offline.
    with make_sessionmaker(health_site["engine"])() as s:
        got = svc.record_reading(
            s, reading=reading(cam, Cause.NO_PICTURE), settings=health_site["settings"]
        )
        assert got.fault_id is not None
    page.wait_for_function(
        f"() => document.querySelector(\"{row}\").dataset.health === 'offline'", timeout=15_000
    )
    assert "offline" in page.get_by_test_id("board-news").inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload
    cell = page.locator(row).get_by_test_id("row-last-check").inner_text()
    assert "no picture" in cell
    page.screenshot(path=str(artifacts_dir / "health_board_live.png"), full_page=True)
    assert_accessible(page, "the live health board")
    assert errors == []
    offline.check(expected_status=((401, "/health-board"),))
