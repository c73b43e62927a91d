"""Open311 end to end: a reporter's client files a fault with a photo in XML; the operator, signed
in through the form, sees the reporter's address and photo link in the control room and moves
the fault; the client reads the status change back (``clicks-open311-follow-up.json``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import PASSWORD, wait_js
from tests.browser.steps import cut_off, watch_errors
from tests.browser.test_control_room import Clicks, _row
from tests.factories import make_camera
from tests.integration.test_open311_client import JURISDICTION, Open311Client

PHOTO = "https://photos.example.org/fms/20931.jpeg"
ADDRESS = "By the bus stop outside 40 Canterbury Street, Gillingham"


@pytest.fixture(scope="module")
def reporter(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """A camera on Canterbury Street, a crew's Open311 key, and an operator to sign in."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        make_camera(
            s, asset_tag="O311-B1", name="Canterbury Street", lon=0.5489, lat=51.3829,
            ward="Gillingham North", actor="browser seed",
        )  # fmt: skip
        _, key = create_token(s, name="FixMyStreet bridge", role="crew")
        s.commit()
    yield {"key": key, "operator": people("o311.olu", "operator", name="Olu Adeyemi")}
    eng.dispose()


def test_operator_sees_the_photo_and_address_and_the_reporter_sees_the_move(
    live_server: Any, page: Any, reporter: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("assets")
    errors, offline = watch_errors(page), cut_off(page, listed=True)
    since = datetime.now(UTC) - timedelta(minutes=1)
    with httpx.Client(timeout=10) as http:
        client = Open311Client(http, f"{base}/open311", reporter["key"], JURISDICTION)
        client.discover()
        number = client.post(
            {
                "service_code": "vandalism",
                "attribute[camera]": "O311-B1",
                "description": "Camera pole bent over <after a collision>",
                "address_string": ADDRESS,
                "media_url": PHOTO,
            }
        )

    clicks = Clicks("open311-follow-up")
    page.goto(base + "/control-room")
    clicks.type(page.get_by_test_id("signin-username"), reporter["operator"], "user name")
    clicks.type(page.get_by_test_id("signin-password"), PASSWORD, "password")
    clicks.click(page.get_by_test_id("signin-submit"), "sign in")
    wait_js(page, "document.getElementById('live').textContent.startsWith('Live updates: on')")
    row = _row(page, "open-faults", number)
    row.wait_for()
    assert row.get_by_test_id("fault-address").inner_text() == f"Reporter\u2019s address: {ADDRESS}"
    link = row.get_by_test_id("fault-media")
    assert link.evaluate("a => a.tagName") == "A" and link.get_attribute("href") == PHOTO
    assert "photos.example.org" in link.inner_text()
    assert "<after a collision>" in row.inner_text()  # the reporter's text, shown as text
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "open311_control_room_row.png"), full_page=True)
    assert_accessible(page, "the control room with an Open311 report")

    clicks.click(row.get_by_test_id("fault-to-in_progress"), "in progress")
    clicks.type(page.get_by_test_id("move-note"), "Council highways job 77 (internal)", "note")
    clicks.click(page.get_by_test_id("move-confirm"), "save: in progress")
    row.locator(".fault-status:text-is('in progress')").wait_for()
    page.screenshot(path=str(artifacts_dir / "open311_control_room_moved.png"), full_page=True)
    clicks.save(artifacts_dir)
    assert clicks.count == 3  # sign in, in progress, save

    with httpx.Client(timeout=10) as http:
        client = Open311Client(http, f"{base}/open311", reporter["key"], JURISDICTION)
        client.discover()
        assert client.request_xml(number)["status"] == "open"  # in progress is still open
        updates = client.updates(since, datetime.now(UTC) + timedelta(minutes=1))
    mine = [u for u in updates if u["service_request_id"] == number]
    assert [u["status"] for u in mine] == ["in_progress"]
    assert "highways job" not in str(mine)
    assert errors == []
    offline.check(expected_status=((401, "/control-room"),))  # the sign-in form first
