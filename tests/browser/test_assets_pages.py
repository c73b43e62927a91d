"""The review map and the control room in headless Chromium, at laptop and phone sizes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import wait_js
from tests.factories import log_fault, make_camera

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TRICKY_NAME = "Quote `tick` ${alert(1)} <b>bold</b> \\ back"

# tag, lon, lat, lifecycle (reached by the factory's transitions), technology, deployment, bearing
SEED = [
    ("BRW-001", 0.5230, 51.3830, "active", "digital", "fixed", 90.0),
    ("BRW-002", 0.5262, 51.3841, "active", "analogue", "fixed", 200.0),
    ("BRW-003", 0.5301, 51.3866, "active", "digital", "rapid", 10.0),
    ("BRW-004", 0.5204, 51.3811, "under_review", "analogue", "fixed", 300.0),
    ("BRW-005", 0.5322, 51.3799, "in_store", "digital", "rapid", None),
    ("BRW-006", 0.5180, 51.3858, "decommissioning", "analogue", "fixed", 45.0),
    ("BRW-007", 0.5345, 51.3880, "proposed", "digital", "fixed", 135.0),
    ("BRW-008", 0.5280, 51.3905, "decommissioned", "analogue", "fixed", 0.0),
]
PUBLIC = {"active", "under_review", "decommissioning"}


@pytest.fixture(scope="module")
def seeded(browser_db: str) -> dict[str, Any]:
    """Cameras in every interesting state, one open fault, and tokens, committed."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    out: dict[str, Any] = {"cams": {}}
    with make_sessionmaker(eng)() as s:
        for i, (tag, lon, lat, life, tech, dep, bearing) in enumerate(SEED):
            viewed = bearing is not None
            cam = make_camera(
                s,
                asset_tag=tag,
                name=TRICKY_NAME if i == 1 else f"Chatham camera {tag}",
                lon=lon,
                lat=lat,
                technology=tech,
                deployment=dep,
                ward="Chatham Central",
                bearing_deg=bearing,
                fov_deg=70.0 if viewed else None,
                range_m=60.0 if viewed else None,
                lifecycle=life,
                expected_life_years=10,
                actor="browser seed",
            )
            out["cams"][tag] = (cam.id, life, viewed)
        fault = log_fault(
            s,
            out["cams"]["BRW-003"][0],
            category="vandalism",
            description="Dome sprayed with paint",
            actor="browser seed",
        )
        out["fault_number"] = fault.number
        for role in ("operator", "seg"):
            _, clear = create_token(s, name=f"browser {role}", role=role)
            out[role] = clear
        s.commit()
    eng.dispose()
    return out


@pytest.fixture()
def errors(page: Any) -> list[str]:
    """JavaScript errors raised on the page (none expected)."""
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


@pytest.fixture()
def requests_seen(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    return seen


def _external(urls: list[str]) -> list[str]:
    """Requests that left the machine, other than basemap tiles."""
    out = []
    for u in urls:
        host = urlsplit(u).hostname or ""
        if host in ("127.0.0.1", "localhost") or u.startswith(("data:", "about:")):
            continue
        if host.endswith("tile.openstreetmap.org"):
            continue
        out.append(u)
    return out


def _expected_on_map(seeded: dict[str, Any], public: bool) -> tuple[int, int]:
    """Markers and cones drawn at load: decommissioned layers start hidden; public shows less."""
    shown = [
        v
        for v in seeded["cams"].values()
        if v[1] != "decommissioned" and (not public or v[1] in PUBLIC)
    ]
    listed = [v for v in seeded["cams"].values() if not public or v[1] in PUBLIC]
    return len(shown), sum(1 for v in listed if v[2])


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_public_map(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    requests_seen: list[str],
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    page.goto(base + "/map")
    markers, cones = _expected_on_map(seeded, public=True)
    wait_js(page, f"document.querySelectorAll('path.csp-cam').length === {markers}")
    assert page.locator("path.csp-cone").count() == cones
    assert page.locator("path.csp-rec").count() == 0
    assert page.locator("#legend").is_visible()
    assert page.locator("#public-note").is_visible()
    assert page.locator(".leaflet-control-layers").count() == 1
    # Proposed and in-store cameras are not public.
    assert "BRW-007" not in page.content() and "BRW-005" not in page.content()
    assert seeded["fault_number"] not in page.content()
    page.screenshot(path=str(artifacts_dir / f"assets_map_public_{viewport['width']}.png"))
    assert errors == []
    assert _external(requests_seen) == []


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_signed_in_map_shows_faults_and_recommendations(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    page.goto(base + "/map")
    page.fill("#token", "csp_not_a_real_token")
    page.click("#sign-in button")
    page.wait_for_selector("text=That token is not valid")
    page.fill("#token", seeded["seg"])
    page.click("#sign-in button")
    page.wait_for_selector("#signed-in")
    markers, cones = _expected_on_map(seeded, public=False)
    wait_js(page, f"document.querySelectorAll('path.csp-cam').length === {markers}")
    assert page.locator("path.csp-cone").count() == cones
    # Health drawn on the marker: the camera with the open vandalism fault is degraded or offline.
    assert page.locator("path.csp-cam.csp-health-online").count() == markers - 1
    # Recommendations: one ring per item in the side list.
    n_recs = page.locator("#rec-list li[data-rec]").count()
    assert n_recs >= 1
    assert page.locator("path.csp-rec").count() == n_recs
    assert seeded["fault_number"] in page.inner_text("#fault-list")
    # A click in the side list opens the recommendation's popup with its evidence.
    page.locator("#rec-list li[data-rec]").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Rule:" in popup.inner_text()
    assert popup.locator("table.csp-evidence tr").count() >= 3
    # The fault list opens the camera popup, which lists the open fault.
    page.locator("#fault-list li[data-camera]").first.click()
    wait_js(
        page,
        f"document.querySelector('.leaflet-popup-content')?.innerText.includes("
        f"'{seeded['fault_number']}')",
    )
    page.screenshot(path=str(artifacts_dir / f"assets_map_seg_{viewport['width']}.png"))
    if viewport is PHONE:
        map_box = page.locator("#map-wrap").bounding_box()
        side_box = page.locator("#side").bounding_box()
        assert side_box["y"] >= map_box["y"] + map_box["height"] - 1  # list below the map
    assert errors == []
    page.click("text=Sign out")
    page.wait_for_selector("#public-note")


def test_tricky_name_is_escaped(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str]
) -> None:
    base = live_server("assets")
    page.goto(base + "/map")
    cam_id = seeded["cams"]["BRW-002"][0]
    wait_js(page, "window.CSP_CAMERAS !== undefined")
    page.evaluate(f"window.CSP_CAMERAS['{cam_id}'].openPopup()")
    text = page.locator(".leaflet-popup-content").inner_text()
    assert TRICKY_NAME in text
    assert page.locator(".leaflet-popup-content b:text-is('bold')").count() == 0
    assert errors == []


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_control_room_logs_updates_and_closes_a_fault(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    requests_seen: list[str],
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    size = viewport["width"]
    keys: list[str | None] = []
    page.on(
        "request",
        lambda r: (
            keys.append(r.headers.get("idempotency-key"))
            if r.method == "POST" and r.url.endswith("/faults")
            else None
        ),
    )
    page.goto(base + "/control-room")
    page.fill("#token", seeded["operator"])
    page.click("#token-form button")
    wait_js(page, "document.querySelectorAll('#camera-options option').length > 0")
    # Only cameras that can take faults are offered.
    options = page.eval_on_selector_all("#camera-options option", "els => els.map(e => e.value)")
    assert any(o.startswith("BRW-001") for o in options)
    assert not any(o.startswith(("BRW-007", "BRW-008")) for o in options)
    cam_id = seeded["cams"]["BRW-001"][0]
    page.fill("#camera-search", "BRW-001")
    assert page.inner_text("#picked-health") == _health(base, seeded, cam_id)
    page.select_option("#category", "no_picture")
    description = f"Black screen seen at {size}px"
    page.fill("#description", description)
    page.click("#log-button")
    item = page.locator("#open-faults li", has_text=description)
    item.wait_for()
    number = item.get_attribute("data-number")
    assert number and re.fullmatch(r"F-\d{4}-\d{6}", number)
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    # The POST carried a fresh random Idempotency-Key (hex from crypto.getRandomValues).
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f]{32}", keys[0] or ""), keys
    # The camera's health follows the fault: shown on the page and held by the API.
    assert page.inner_text("#picked-health") == "offline" == _health(base, seeded, cam_id)
    page.screenshot(
        path=str(artifacts_dir / f"assets_control_room_logged_{size}.png"), full_page=True
    )
    item.locator("button[data-to=in_progress]").click()
    page.locator("#open-faults li", has_text=description).locator(
        ".fault-status:text-is('in progress')"
    ).wait_for()
    page.locator("#open-faults li", has_text=description).locator("button[data-to=fixed]").click()
    fixed = page.locator("#fixed-faults li", has_text=description)
    fixed.wait_for()
    assert page.locator("#open-faults li", has_text=description).count() == 0
    assert page.inner_text("#picked-health") == "online" == _health(base, seeded, cam_id)
    fixed.locator("button[data-to=closed]").click()
    page.locator("#fixed-faults li", has_text=description).wait_for(state="detached")
    assert _fault_status(base, seeded, number) == "closed"
    page.screenshot(
        path=str(artifacts_dir / f"assets_control_room_closed_{size}.png"), full_page=True
    )
    assert errors == []
    assert _external(requests_seen) == []


def test_control_room_retry_after_a_lost_answer_logs_the_fault_once(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str]
) -> None:
    """The answer to the first POST is lost; pressing again sends the same key: one fault."""
    base = live_server("assets")
    # As on a plain-http LAN page, where crypto.randomUUID does not exist.
    page.add_init_script("delete Crypto.prototype.randomUUID;")
    posts: list[str | None] = []

    def lose_first_answer(route: Any) -> None:
        posts.append(route.request.headers.get("idempotency-key"))
        if len(posts) in (1, 3):
            route.fetch()  # the server logs the fault ...
            route.abort("connectionreset")  # ... but the page never hears back
        else:
            route.continue_()

    page.route("**/cameras/*/faults", lose_first_answer)
    page.goto(base + "/control-room")
    page.evaluate(f"window.localStorage.setItem('csp_token', '{seeded['operator']}')")
    page.reload()
    wait_js(page, "document.querySelectorAll('#camera-options option').length > 0")
    page.fill("#camera-search", "BRW-002")
    page.select_option("#category", "power")
    description = "Mast lost power during the storm"
    page.fill("#description", description)
    page.click("#log-button")
    wait_js(page, "document.querySelector('#status.error') !== null")
    page.click("#log-button")
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    assert len(posts) == 2 and posts[0] == posts[1] and posts[0]
    assert [f["description"] for f in _faults(base, seeded)].count(description) == 1
    # The next fault gets a new key; so does the form once it is edited after a lost answer.
    page.fill("#description", description + " again")
    page.click("#log-button")
    wait_js(page, "document.querySelector('#status.error') !== null")
    page.fill("#description", description + " and again")
    page.click("#log-button")
    page.locator("#open-faults li", has_text=description + " and again").wait_for()
    assert len(posts) == 4 and len({posts[0], posts[2], posts[3]}) == 3, posts
    assert errors == []


def test_control_room_rejects_a_bad_token(
    live_server: Any, page: Any, seeded: dict[str, Any]
) -> None:
    base = live_server("assets")
    page.goto(base + "/control-room")
    page.evaluate("window.localStorage.clear()")
    page.reload()
    page.fill("#token", "csp_wrong")
    page.click("#token-form button")
    wait_js(page, "document.querySelector('#status').textContent.includes('token')")
    assert page.locator("#status.error").count() == 1


def _health(base: str, seeded: dict[str, Any], cam_id: int) -> str:
    import httpx

    r = httpx.get(
        f"{base}/cameras/{cam_id}", headers={"Authorization": f"Bearer {seeded['operator']}"}
    )
    r.raise_for_status()
    return str(r.json()["health"])


def _faults(base: str, seeded: dict[str, Any]) -> list[dict[str, Any]]:
    import httpx

    r = httpx.get(
        f"{base}/faults?limit=1000", headers={"Authorization": f"Bearer {seeded['operator']}"}
    )
    r.raise_for_status()
    return list(r.json()["items"])


def _fault_status(base: str, seeded: dict[str, Any], number: str) -> str:
    return next(f["status"] for f in _faults(base, seeded) if f["number"] == number)


def test_control_room_stale_fault_is_refused_and_reloaded(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str]
) -> None:
    """Another operator moves a fault after this page listed it: this page's press is 412."""
    import httpx

    base = live_server("assets")
    auth = {"Authorization": f"Bearer {seeded['operator']}"}
    cam_id = seeded["cams"]["BRW-005"][0]
    description = "Lens misted after the rain"
    r = httpx.post(
        f"{base}/cameras/{cam_id}/faults",
        headers=auth,
        json={"category": "intermittent_picture", "description": description},
    )
    assert r.status_code == 201, r.text
    fault_id, number = r.json()["id"], r.json()["number"]
    page.goto(base + "/control-room")
    page.evaluate(f"window.localStorage.setItem('csp_token', '{seeded['operator']}')")
    page.reload()
    item = page.locator("#open-faults li", has_text=description)
    item.wait_for()
    # Meanwhile, from another desk: open -> in progress.
    moved = httpx.patch(
        f"{base}/faults/{fault_id}",
        headers={**auth, "If-Match": 'W/"1"'},
        json={"status": "in_progress", "note": "engineer on the way"},
    )
    assert moved.status_code == 200 and moved.headers["etag"] == 'W/"2"', moved.text
    # This page still shows it open; "closed" would be allowed from in progress too, so only
    # the If-Match the page sends stops it closing a fault it has not seen being worked on.
    item.locator("button[data-to=closed]").click()
    wait_js(page, "document.querySelector('#status.error') !== null")
    assert "changed since you read it" in page.inner_text("#status")
    page.locator("#open-faults li", has_text=description).locator(
        ".fault-status:text-is('in progress')"
    ).wait_for()
    assert _fault_status(base, seeded, number) == "in_progress"
    assert errors == []
