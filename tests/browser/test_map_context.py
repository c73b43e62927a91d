"""Maps without tiles are readable: ward lines with their names, LSOAs close in (Chromium).

A service started with tiles off (``tile_url=""``) serves the public review map; every request
to another host is stopped and counted. The page must draw the 22 ward lines and their names
(thinned so none overlap) from the suite's own ``/boundaries``, under the data and taking no
clicks; LSOA outlines appear from zoom 14 and go again when zoomed out; nothing fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.boundaries.demo import LSOA_FILE, WARDS_FILE
from tests.browser.axe import violations
from tests.browser.conftest import wait_js
from tests.conftest import SHARED_DATA
from tests.support import free_port, service_app, serving

WARDS = SHARED_DATA / WARDS_FILE
LSOAS = SHARED_DATA / LSOA_FILE
pytestmark = pytest.mark.skipif(not WARDS.is_file(), reason="no ../shared/data boundaries")
MAP = "document.querySelector('.folium-map')"
WARD_PATHS = ".leaflet-csp-wards-pane path.csp-ward"
LSOA_PATHS = ".leaflet-csp-lsoa-pane path.csp-lsoa"
NAMES = ".leaflet-csp-labels-pane .csp-area-name"
SHOWN = NAMES + ":not(.csp-area-name-hidden)"


def _names(path: Any, field: str) -> list[str]:
    return [f["properties"][field] for f in json.loads(path.read_text())["features"]]


@pytest.fixture(scope="module")
def no_tiles(browser_db: str) -> Iterator[str]:
    """The assets service with tiles off, on the browser database with the boundaries loaded."""
    from sqlalchemy import text

    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        load_layer(s, WARDS, layer="ward", source="browser test wards")
        load_layer(s, LSOAS, layer="lsoa", source="browser test lsoas")
        s.commit()
    app = service_app("assets", browser_db, tile_url="", port=free_port())
    try:
        with serving(app) as url:
            yield url
    finally:
        with eng.begin() as conn:
            conn.execute(text("DELETE FROM core.boundary_areas WHERE source LIKE 'browser test %'"))
        eng.dispose()


def _zoom(page: Any, zoom: int) -> None:
    page.evaluate(
        f"() => {{ const m = window[{MAP}.id]; m.setView([51.383, 0.525], {zoom}, "
        "{animate: false}); }"
    )
    wait_js(page, f"window[{MAP}.id].getZoom() === {zoom}")


def test_wards_and_names_drawn_without_tiles_or_internet(
    page: Any, no_tiles: str, artifacts_dir: Any
) -> None:
    elsewhere: list[str] = []
    failed: list[str] = []
    bad_status: list[str] = []

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: bad_status.append(r.url) if r.status >= 400 else None)
    response = page.goto(f"{no_tiles}/map")
    assert response is not None and response.ok
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in policy  # tiles off: no tile host admitted

    wait_js(page, f"{MAP}.getAttribute('data-csp-context') === 'ready'")
    _zoom(page, 12)  # district zoom, whatever the page fitted to (its cameras, if any)
    ward_names = _names(WARDS, "WD13NM")
    assert page.locator(WARD_PATHS).count() == len(ward_names) == 22
    assert page.locator(".leaflet-tile").count() == 0
    drawn = page.locator(NAMES).all_text_contents()
    assert sorted(drawn) == sorted(ward_names)
    shown = page.locator(SHOWN).all_text_contents()
    assert len(shown) >= 5, shown  # readable at district zoom ...
    assert _no_overlap(page), "names overlap"  # ... and not cluttered

    # Under the data, taking no clicks; no LSOAs at district zoom.
    panes = page.evaluate(
        """() => { const z = n => Number(getComputedStyle(
                       document.querySelector('.leaflet-' + n + '-pane')).zIndex);
                   const pe = n => getComputedStyle(
                       document.querySelector('.leaflet-' + n + '-pane')).pointerEvents;
                   return {wards: z('csp-wards'), labels: z('csp-labels'),
                           overlay: z('overlay'), pe: [pe('csp-wards'), pe('csp-labels')]}; }"""
    )
    assert panes["wards"] < panes["overlay"] and panes["labels"] < panes["overlay"], panes
    assert panes["pe"] == ["none", "none"]
    assert page.locator(f"{WARD_PATHS}.leaflet-interactive").count() == 0
    assert page.locator(LSOA_PATHS).count() == 0
    page.screenshot(path=str(artifacts_dir / "map_context_no_tiles_district.png"))

    _zoom(page, 15)
    wait_js(page, f"document.querySelectorAll('{LSOA_PATHS}').length > 0")
    assert page.locator(LSOA_PATHS).count() == len(_names(LSOAS, "LSOA11CD")) == 163
    assert page.locator(f"{LSOA_PATHS}.leaflet-interactive").count() == 0
    assert _no_overlap(page)
    page.screenshot(path=str(artifacts_dir / "map_context_no_tiles_zoom15.png"))

    page.emulate_media(media="print")
    assert page.locator(WARD_PATHS).count() == 22 and page.locator(LSOA_PATHS).count() == 163
    page.screenshot(path=str(artifacts_dir / "map_context_no_tiles_print.png"))
    page.emulate_media(media="screen")

    _zoom(page, 12)
    wait_js(page, f"document.querySelectorAll('{LSOA_PATHS}').length === 0")
    mine = [v for v in violations(page) if any(".csp-area" in t for t in v["targets"])]
    assert mine == [], mine
    assert elsewhere == [] and failed == [] and bad_status == [], (elsewhere, failed, bad_status)


def _no_overlap(page: Any) -> bool:
    result: bool = page.evaluate(
        f"""() => {{
            const r = [...document.querySelectorAll('{SHOWN}')].map(e => e.getBoundingClientRect());
            for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++) {{
                const a = r[i], b = r[j];
                if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
                    return false;
            }}
            return true; }}"""
    )
    return result
