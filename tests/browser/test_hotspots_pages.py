"""The analyst map at /map in headless Chromium: token, run list, run map; laptop and phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA


def _seed(session: Any, db_url: str) -> tuple[str, int]:
    from services.hotspots.runs.execute import run_surface
    from services.hotspots.runs.service import create_run
    from services.hotspots.schemas import SurfaceCreate
    from services.hotspots.settings import HotspotsSettings
    from shared.auth import create_token
    from shared.incidents.store import import_file

    import_file(
        session,
        SHARED_DATA / "police" / "2022-01-kent-street-medway.csv",
        source="police",
        skip_known=True,
    )
    _, clear = create_token(session, name="browser analyst", role="analyst")
    session.commit()
    run, _ = create_run(
        session,
        body=SurfaceCreate(method="fast", radius_m=300, cell_m=75),
        actor="browser",
        idempotency_key=None,
    )
    out = HotspotsSettings(database_url=db_url, environment="test").output_dir
    done = run_surface(session, run.id, output_dir=out)
    assert done.status == "done", done.error
    return clear, run.id


def test_map_page_laptop_and_phone(
    live_server: Any, page: Any, browser_session: Any, browser_db: str, artifacts_dir: Path
) -> None:
    token, run_id = _seed(browser_session, browser_db)
    base = live_server("hotspots")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            external.append(r.url) if not r.url.startswith((base, "data:", "about:")) else None
        ),
    )

    page.goto(f"{base}/map")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Use token").click()
    run_button = page.locator(f'ul.runs button[data-run="{run_id}"]')
    run_button.wait_for()
    assert "done" in run_button.inner_text()
    frame_el = page.locator("iframe#map")
    frame_el.wait_for(state="visible")
    frame = page.frame_locator("iframe#map")
    frame.locator("img.leaflet-image-layer").wait_for()
    frame.locator("path.leaflet-interactive").first.wait_for()
    assert frame.locator("#csp-legend").is_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "hotspots_map_laptop.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # the token is remembered in localStorage
    page.locator(f'ul.runs button[data-run="{run_id}"]').wait_for()
    page.frame_locator("iframe#map").locator("img.leaflet-image-layer").wait_for()
    box = page.locator("iframe#map").bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] > 300
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "hotspots_map_phone.png"), full_page=True)

    page.get_by_role("button", name="Forget token").click()
    assert page.get_by_label("API token").is_visible()
    assert errors == []
    # Only OSM tiles may be asked for off-site; scripts and styles are local.
    assert all("tile.openstreetmap.org" in u for u in external), external
