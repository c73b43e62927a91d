"""Hostile text on the pages, in Chromium: shown verbatim, never run (server or browser).

Cameras are registered with Jinja, HTML and script payloads in their name, asset tag and ward,
and faults with payloads in their description. The review map (public, and signed in through
the suite's sign-in form) and the control room must show each payload exactly as typed (popups,
side lists, fault rows, the camera picker), run none of it (no dialog, no ``window.__pwned``),
and the server must not have evaluated any of it (no ``49`` for ``7*7``).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import sign_in, wait_js
from tests.factories import incident_row, log_fault, make_camera, store_incidents

PAYLOADS = [
    "PID-{{ cycler.__init__.__globals__.os.getpid() }}-END",
    "SUM-{{ 7*7 }}-END",
    "RAW-{%raw%}-END",
    "CMT-{# x",
    'IMG-<img src=x onerror="window.__pwned=1">-END',
    "SCR-</script><script>window.__pwned=1</script>-END",
    "TPL-${window.__pwned=1}-`tick`-END",
]
# Incident data in the evidence window (far from the cameras), removed afterwards.
SOURCE = "inert-window"
BLANK_TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)


@pytest.fixture(scope="module")
def hostile(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """One camera per payload (name, tag and ward all hostile), each with a hostile fault."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    out: dict[str, Any] = {"cams": []}
    with make_sessionmaker(eng)() as s:
        for i, text in enumerate(PAYLOADS):
            cam = make_camera(
                s,
                asset_tag=f"X{i}-{text}"[:60],
                name=f"N{i} {text}",
                ward=f"W{i} {text}"[:120],
                lon=0.5600 + i * 0.0012,
                lat=51.4000,
                expected_life_years=10,
                actor="inert seed",
            )
            log_fault(s, cam, category="no_picture", description=f"D{i} {text}", actor="inert seed")
            out["cams"].append((cam.id, cam.name, cam.asset_tag, cam.ward, f"D{i} {text}"))
        # Incident data in the evidence window, far from the cameras: without any, no camera
        # is judged on its use (#14, "no incident data for this window") and the
        # recommendation rows read here would not be there.
        recent = datetime.now(UTC) - timedelta(days=10)
        window = incident_row(
            occurred_at=recent, lon=0.5600, lat=51.4300, source=SOURCE, source_id="window-1"
        )
        store_incidents(s, [window], source=SOURCE)
        s.commit()
    eng.dispose()
    out["seg"] = people("inert.seg", "seg", name="Inert Seg")
    out["operator"] = people("inert.operator", "operator", name="Inert Operator")
    yield out
    from sqlalchemy import text as sql

    eng = make_engine(browser_db)
    with eng.begin() as conn:
        for table in ("incidents.incidents", "incidents.imports"):
            conn.execute(sql(f"DELETE FROM {table} WHERE source = '{SOURCE}'"))
    eng.dispose()


def _watch(page: Any) -> list[str]:
    fired: list[str] = []

    def dialog(d: Any) -> None:
        fired.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    return fired


def _offline(page: Any) -> list[str]:
    """Stop every request to another host (tiles get a blank stand-in); list failed requests."""
    failed: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        elif url.endswith(".png"):
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            failed.append(f"blocked {url}")
            route.abort()

    page.route("**/*", handle)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    return failed


def _popup_text(page: Any, cam_id: int) -> str:
    text: str = page.evaluate(
        "(id) => { const m = window.CSP_CAMERAS[String(id)]; m.openPopup();"
        " return m.getPopup().getElement().querySelector('.leaflet-popup-content').textContent; }",
        cam_id,
    )
    return text


@pytest.mark.parametrize("signed_in", [False, True], ids=["public", "seg"])
def test_review_map_shows_payloads_verbatim(
    live_server: Any, page: Any, hostile: dict[str, Any], signed_in: bool, artifacts_dir: Any
) -> None:
    fired = _watch(page)
    failed = _offline(page)
    base = live_server("assets")
    if signed_in:
        sign_in(page, base, hostile["seg"], next_path="/map")
        assert "Inert Seg" in page.get_by_test_id("signed-in-as").inner_text()
    else:
        page.goto(base + "/map")
        assert page.get_by_test_id("signin-link").is_visible()
    html = page.content()
    assert "SUM-49-END" not in html and f"PID-{os.getpid()}" not in html
    wait_js(page, "window.CSP_CAMERAS !== undefined")
    for cam_id, name, tag, ward, desc in hostile["cams"]:
        text = _popup_text(page, cam_id)
        assert name in text and tag in text and ward in text
        assert (desc in text) is signed_in  # faults only for people signed in
        tip = page.evaluate(f"window.CSP_CAMERAS['{cam_id}'].getTooltip().getContent().textContent")
        assert tip == f"{name} ({tag})"
    if signed_in:
        # The side lists: fault rows and recommendation rows name the camera and its ward.
        faults = page.locator("#fault-list").text_content() or ""
        recs = page.locator("#rec-list").text_content() or ""
        assert "no picture" in faults
        for _cam_id, name, _tag, ward, _desc in hostile["cams"]:
            assert name in faults and ward in faults, name
            assert name in recs and ward in recs, name
    page.evaluate(f"window.CSP_CAMERAS['{hostile['cams'][4][0]}'].openPopup()")
    page.screenshot(path=str(artifacts_dir / f"inert_map_{'seg' if signed_in else 'public'}.png"))
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator(".leaflet-popup-content img, #side img").count() == 0
    assert fired == []
    assert failed == []


def test_control_room_shows_payloads_verbatim(
    live_server: Any, page: Any, hostile: dict[str, Any], artifacts_dir: Any
) -> None:
    fired = _watch(page)
    failed = _offline(page)
    base = live_server("assets")
    sign_in(page, base, hostile["operator"], next_path="/control-room")
    first_desc = hostile["cams"][0][4]
    wait_js(page, f"document.body.textContent.includes({first_desc!r})")
    rows = page.locator("#open-faults").text_content() or ""
    for _cam_id, name, tag, ward, desc in hostile["cams"]:
        assert desc in rows and name in rows and tag in rows and ward in rows, desc
    # The camera picker shows the picked camera's name, tag and ward as typed.
    _cam_id, name, tag, ward, _desc = hostile["cams"][4]
    page.get_by_test_id("fault-camera").fill(f"{tag} \u2014 {name}")
    picked = page.locator("#camera-picked").text_content() or ""
    assert name in picked and tag in picked and ward in picked
    body = page.locator("body").text_content() or ""
    assert "SUM-49-END" not in body
    page.screenshot(path=str(artifacts_dir / "inert_control_room.png"), full_page=True)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#control-room img").count() == 0
    assert fired == []
    assert failed == []
