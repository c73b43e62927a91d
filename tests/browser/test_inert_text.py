"""Hostile text on the pages, in Chromium: shown verbatim, never run (server or browser).

Cameras are registered with Jinja, HTML and script payloads in their name, asset tag and ward,
and faults with payloads in their description. The review map (public and signed in) and the
control room must show each payload exactly as typed, run none of it (no dialog, no
``window.__pwned``), and the server must not have evaluated any of it (no ``49`` for ``7*7``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.conftest import wait_js
from tests.factories import log_fault, make_camera

PAYLOADS = [
    "PID-{{ cycler.__init__.__globals__.os.getpid() }}-END",
    "SUM-{{ 7*7 }}-END",
    "RAW-{%raw%}-END",
    "CMT-{# x",
    'IMG-<img src=x onerror="window.__pwned=1">-END',
    "SCR-</script><script>window.__pwned=1</script>-END",
    "TPL-${window.__pwned=1}-`tick`-END",
]


@pytest.fixture(scope="module")
def hostile(browser_db: str) -> dict[str, Any]:
    """One camera per payload (name, tag and ward all hostile), each with a hostile fault."""
    from shared.auth import create_token
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
        _, out["seg"] = create_token(s, name=f"inert seg {os.getpid()}", role="seg")
        _, out["operator"] = create_token(s, name=f"inert operator {os.getpid()}", role="operator")
        s.commit()
    eng.dispose()
    return out


def _watch(page: Any) -> list[str]:
    fired: list[str] = []
    page.on("dialog", lambda d: (fired.append(d.message), d.dismiss()))
    return fired


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
    base = live_server("assets")
    page.goto(base + "/map")
    if signed_in:
        page.fill("#token", hostile["seg"])
        page.click("#sign-in button")
        page.wait_for_selector("#signed-in")
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
        listed = page.locator("#fault-list").text_content() or ""
        assert "no picture" in listed
    page.evaluate(f"window.CSP_CAMERAS['{hostile['cams'][4][0]}'].openPopup()")
    page.screenshot(path=str(artifacts_dir / f"inert_map_{'seg' if signed_in else 'public'}.png"))
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator(".leaflet-popup-content img").count() == 0
    assert fired == []


def test_control_room_shows_payloads_verbatim(
    live_server: Any, page: Any, hostile: dict[str, Any]
) -> None:
    fired = _watch(page)
    base = live_server("assets")
    page.goto(base + "/control-room")
    page.fill("#token", hostile["operator"])
    page.click("#token-form button")
    first_desc = hostile["cams"][0][4]
    wait_js(page, f"document.body.textContent.includes({first_desc!r})")
    body = page.locator("body").text_content() or ""
    for _cam_id, _name, _tag, _ward, desc in hostile["cams"]:
        assert desc in body
    assert "SUM-49-END" not in body
    assert page.evaluate("window.__pwned === undefined")
    assert fired == []
