"""The review map and the control room in headless Chromium, at laptop and phone sizes.

People sign in through the suite's one sign-in form (no token anywhere on the pages). Every
request to another host is stopped: map tiles get a blank stand-in tile (the tile source is a
setting) and anything else is aborted and must not happen; no request may fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.geometry import point_to_bng
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in, wait_js
from tests.browser.steps import LAPTOP, PHONE, Offline, cut_off
from tests.conftest import SHARED_DATA
from tests.factories import incident_row, log_fault, make_camera, store_incidents

TRICKY_NAME = "Quote `tick` ${alert(1)} <b>bold</b> \\ back"
WARD = "Chatham Central"
# Incident data in the evidence window (far from the cameras), removed afterwards.
SOURCE = "assets-window"
WARDS_PATH = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARD_LINES = ".leaflet-csp-wards-pane path.csp-ward"
WARD_NAMES = ".leaflet-csp-labels-pane .csp-area-name"

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


def grid_ref_by_hand(lon: float, lat: float) -> str:
    """The 8-figure reference in Medway's 100 km square TQ, worked out apart from the suite's."""
    x, y = point_to_bng(lon, lat)
    assert 500_000 <= x < 600_000 and 100_000 <= y < 200_000
    return f"TQ {int(x) % 100_000 // 10:04d} {int(y) % 100_000 // 10:04d}"


@pytest.fixture(scope="module")
def seeded(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Cameras in every interesting state, one open fault, people, a token for checks, and
    Medway's wards (when ../shared/data has them; removed again afterwards)."""
    from sqlalchemy import text

    from shared.auth import create_token
    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    out: dict[str, Any] = {"cams": {}, "places": {}, "wards": WARDS_PATH.is_file()}
    with make_sessionmaker(eng)() as s:
        if out["wards"]:
            load_layer(s, WARDS_PATH, layer="ward", source="browser assets wards")
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
                ward=WARD,
                bearing_deg=bearing,
                fov_deg=70.0 if viewed else None,
                range_m=60.0 if viewed else None,
                lifecycle=life,
                expected_life_years=10,
                actor="browser seed",
            )
            out["cams"][tag] = (cam.id, life, viewed)
            out["places"][tag] = f"{WARD} \u00b7 {grid_ref_by_hand(lon, lat)}"
        fault = log_fault(
            s,
            out["cams"]["BRW-003"][0],
            category="vandalism",
            description="Dome sprayed with paint",
            actor="browser seed",
        )
        out["fault_number"] = fault.number
        # The test's own reads of the API (never the page's): a script's token.
        _, out["checker"] = create_token(s, name="browser assets checker", role="operator")
        # Incident data in the evidence window, far from the cameras: without any, no camera
        # is judged on its use (#14, "no incident data for this window") and the
        # recommendation rows read here would not be there.
        recent = datetime.now(UTC) - timedelta(days=10)
        window = incident_row(
            occurred_at=recent, lon=0.5600, lat=51.4300, source=SOURCE, source_id="window-1"
        )
        store_incidents(s, [window], source=SOURCE)
        s.commit()
    out["operator"] = people("assets.operator", "operator", name="Olive Operator")
    out["seg"] = people("assets.seg", "seg", name="Sam Seg")
    out["crew"] = people("assets.crew", "crew", agency="kfrs", name="Chris Crew")
    try:
        yield out
    finally:
        with eng.begin() as conn:
            conn.execute(
                text("DELETE FROM core.boundary_areas WHERE source = 'browser assets wards'")
            )
            for table in ("incidents.incidents", "incidents.imports"):
                conn.execute(text(f"DELETE FROM {table} WHERE source = '{SOURCE}'"))
        eng.dispose()


@pytest.fixture()
def offline(page: Any) -> Offline:
    """Every other host stopped (tiles get a blank stand-in); every error answer named."""
    return cut_off(page, tiles=True, listed=True)


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
    offline: Offline,
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    page.goto(base + "/map")
    wait_js(page, "window.CSP_CAMERAS !== undefined")
    for tag, (cam_id, life, _viewed) in seeded["cams"].items():
        drawn = page.evaluate(f"window.CSP_CAMERAS['{cam_id}'] !== undefined")
        assert drawn is (life in PUBLIC), tag  # proposed, in store, decommissioned: not public
    assert page.locator("path.csp-rec").count() == 0
    assert page.locator("#legend").is_visible()
    note = page.get_by_test_id("public-note")
    assert note.is_visible()
    # The header's "Sign in" leads to the suite's sign-in, coming back to the map.
    link = page.get_by_test_id("signin-link")
    assert link.is_visible() and parse_qs(urlsplit(link.get_attribute("href")).query) == {
        "next": ["/map"]
    }
    assert page.locator("#token, input[type=password]").count() == 0
    assert page.locator(".leaflet-control-layers").count() == 1
    assert "BRW-007" not in page.content() and "BRW-005" not in page.content()
    assert seeded["fault_number"] not in page.content()
    # The popup says where the camera is: ward and OS grid reference, as text.
    cam_id = seeded["cams"]["BRW-001"][0]
    page.evaluate(f"window.CSP_CAMERAS['{cam_id}'].openPopup()")
    popup = page.locator(".leaflet-popup-content")
    assert seeded["places"]["BRW-001"] in popup.inner_text()
    page.screenshot(path=str(artifacts_dir / f"assets_map_public_{viewport['width']}.png"))
    assert_accessible(page, f"public map at {viewport['width']}px")
    assert errors == []
    offline.check()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_signed_in_map_shows_faults_and_recommendations(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    page.goto(base + "/map")
    page.get_by_test_id("signin-link").click()
    page.get_by_test_id("signin-username").fill(seeded["seg"])
    page.get_by_test_id("signin-password").fill("wrong password, surely")
    page.get_by_test_id("signin-submit").click()
    page.wait_for_selector("text=do not match")
    sign_in(page, base, seeded["seg"], next_path="/map")
    assert urlsplit(page.url).path == "/map"
    assert "Sam Seg" in page.get_by_test_id("signed-in-as").inner_text()
    wait_js(page, "window.CSP_CAMERAS !== undefined")
    if seeded["wards"]:  # the suite's ward lines and names, drawn from its own /boundaries
        wait_js(page, "document.querySelector('.folium-map').dataset.cspContext === 'ready'")
        assert page.locator(WARD_LINES).count() == 22
        assert WARD in page.locator(WARD_NAMES).all_text_contents()
    for tag, (cam_id, _life, _viewed) in seeded["cams"].items():
        assert page.evaluate(f"window.CSP_CAMERAS['{cam_id}'] !== undefined"), tag
    # Health drawn on the marker: the camera with the open vandalism fault is not online.
    vandal = seeded["cams"]["BRW-003"][0]
    online = page.evaluate(
        f"window.CSP_CAMERAS['{vandal}'].getElement().classList.contains('csp-health-online')"
    )
    assert online is False
    # Recommendations: one ring per item in the side list; each row says where the camera is.
    rows = page.get_by_test_id("rec-row")
    n_recs = rows.count()
    assert n_recs >= 1
    assert page.locator("path.csp-rec").count() == n_recs
    mine = page.locator(f"[data-testid=rec-row][data-camera='{seeded['cams']['BRW-001'][0]}']")
    assert seeded["places"]["BRW-001"] in mine.first.inner_text()
    # The evidence's dates: what the incident data cover, and the window.
    assert page.get_by_test_id("incident-period").inner_text().startswith(("Incidents up", "No "))
    assert "days from" in page.get_by_test_id("evidence-window").inner_text()
    fault_row = page.get_by_test_id("map-fault-row").filter(has_text=seeded["fault_number"])
    assert seeded["places"]["BRW-003"] in fault_row.inner_text()
    # A click in the side list opens the recommendation's popup with its evidence.
    mine.first.locator("button.pick").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Rule:" in popup.inner_text() and seeded["places"]["BRW-001"] in popup.inner_text()
    assert popup.locator("table.csp-evidence tr").count() >= 3
    # The fault list opens the camera popup, which lists the open fault.
    fault_row.locator("button").click()
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
    assert_accessible(page, f"signed-in map at {viewport['width']}px")
    assert errors == []
    page.get_by_test_id("signout").click()
    page.wait_for_load_state("load")
    page.goto(base + "/map")
    page.get_by_test_id("public-note").wait_for()
    offline.check(expected_status=((401, "/sign-in"),))


def test_map_without_incident_data_in_the_window_offers_the_newest_day(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    """Whatever incident data the browser database holds, the page tells the truth about them."""
    base = live_server("assets")
    sign_in(page, base, seeded["seg"], next_path="/map?tiles=false")
    period = page.get_by_test_id("incident-period").inner_text()
    assert offline.tiles == []  # tiles=false asks for none; the outline is still drawn
    assert page.locator("path.leaflet-interactive, path").count() > 0
    page.screenshot(path=str(artifacts_dir / "assets_map_seg_no_tiles.png"))
    if period.startswith("No incident data"):
        assert page.get_by_test_id("window-no-data").is_visible()
    else:
        m = re.fullmatch(r"Incidents up to (\d+ \w+ \d{4}) \(from \d+ \w+ \d{4}\)\.", period)
        assert m, period
        newest = page.get_by_test_id("window-newest-link")
        if newest.count():
            assert page.get_by_test_id("window-no-data").is_visible()
            assert m.group(1) in newest.inner_text()
            newest.click()
            page.wait_for_load_state("load")
            assert "as_of=" in page.url and "tiles=false" in page.url
            assert page.get_by_test_id("window-no-data").count() == 0
            assert f"to {m.group(1)}." in page.get_by_test_id("evidence-window").inner_text()
            page.screenshot(path=str(artifacts_dir / "assets_map_seg_newest_window.png"))
            assert_accessible(page, "map on the window ending on the newest day with data")
            page.get_by_test_id("window-today-link").click()
            page.wait_for_load_state("load")
            assert "as_of=" not in page.url
    assert errors == []
    offline.check()


def test_tricky_name_is_escaped(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str], offline: Offline
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
    offline.check()


def _api_headers(page: Any, base: str) -> list[dict[str, str]]:
    """Record the headers of every request the page's script sends to the JSON API."""
    sent: list[dict[str, str]] = []

    def note(r: Any) -> None:
        path = urlsplit(r.url).path
        if r.url.startswith(base) and path.startswith(("/cameras", "/faults")):
            sent.append({"method": r.method, "path": path, **r.headers})

    page.on("request", note)
    return sent


# /control-room before signing in: the sign-in page, answered 401.
SIGN_IN_FIRST = ((401, "/control-room"),)


def _open_control_room(page: Any, base: str, username: str) -> None:
    page.goto(base + "/control-room")
    # Nobody signed in: the suite's sign-in page, which comes back here.
    page.get_by_test_id("signin-username").fill(username)
    page.get_by_test_id("signin-password").fill("browser-test-password")
    page.get_by_test_id("signin-submit").click()
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/control-room"
    wait_js(page, "document.querySelectorAll('#camera-options option').length > 0")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_control_room_logs_updates_and_closes_a_fault(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
    viewport: dict[str, int],
) -> None:
    page.set_viewport_size(viewport)
    base = live_server("assets")
    size = viewport["width"]
    sent = _api_headers(page, base)
    _open_control_room(page, base, seeded["operator"])
    assert "Olive Operator" in page.get_by_test_id("signed-in-as").inner_text()
    # Only cameras that can take faults are offered.
    options = page.eval_on_selector_all("#camera-options option", "els => els.map(e => e.value)")
    assert any(o.startswith("BRW-001") for o in options)
    assert not any(o.startswith(("BRW-007", "BRW-008")) for o in options)
    cam_id = seeded["cams"]["BRW-001"][0]
    page.get_by_test_id("fault-camera").fill("BRW-001")
    assert page.inner_text("#picked-health") == _health(base, seeded, cam_id)
    assert page.inner_text("#picked-place") == seeded["places"]["BRW-001"]
    page.get_by_test_id("fault-category").select_option("no_picture")
    description = f"Black screen seen at {size}px"
    page.get_by_test_id("fault-description").fill(description)
    page.get_by_test_id("fault-log").click()
    item = page.get_by_test_id("fault-row").filter(has_text=description)
    item.wait_for()
    number = item.get_attribute("data-number")
    assert number and re.fullmatch(r"F-\d{4}-\d{6}", number)
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    assert seeded["places"]["BRW-001"] in item.locator("[data-testid=place]").inner_text()
    # The camera's health follows the fault: shown on the page and held by the API.
    assert page.inner_text("#picked-health") == "offline" == _health(base, seeded, cam_id)
    page.screenshot(
        path=str(artifacts_dir / f"assets_control_room_logged_{size}.png"), full_page=True
    )
    assert_accessible(page, f"control room at {size}px")
    item.get_by_test_id("fault-to-in_progress").click()
    page.get_by_test_id("move-confirm").click()  # the note is optional
    page.get_by_test_id("fault-row").filter(has_text=description).locator(
        ".fault-status:text-is('in progress')"
    ).wait_for()
    page.locator("#open-faults [data-testid=fault-row]", has_text=description).get_by_test_id(
        "fault-to-fixed"
    ).click()
    page.get_by_test_id("move-confirm").click()
    fixed = page.locator("#fixed-faults [data-testid=fault-row]", has_text=description)
    fixed.wait_for()
    assert page.locator("#open-faults li", has_text=description).count() == 0
    assert page.inner_text("#picked-health") == "online" == _health(base, seeded, cam_id)
    fixed.get_by_test_id("fault-close").click()
    assert page.get_by_test_id("close-unfixed-warning").is_hidden()  # it was fixed
    page.get_by_test_id("move-confirm").click()
    page.locator("#fixed-faults li", has_text=description).wait_for(state="detached")
    assert _fault_status(base, seeded, number) == "closed"
    events = _fault(base, seeded, number)["events"]
    assert {e["actor"] for e in events} == {"Olive Operator (assets.operator, operator)"}
    page.screenshot(
        path=str(artifacts_dir / f"assets_control_room_closed_{size}.png"), full_page=True
    )
    # Only the session: no token in the page's requests or storage; changes carry CSRF.
    assert sent and not any("authorization" in h for h in sent)
    changes = [h for h in sent if h["method"] in ("POST", "PATCH")]
    assert len(changes) == 4, changes  # log, in progress, fixed, closed
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    assert csrf and all(h.get("x-csrf-token") == csrf for h in changes)
    assert page.evaluate("window.localStorage.length + window.sessionStorage.length") == 0
    assert errors == []
    offline.check(expected_status=SIGN_IN_FIRST)


def test_control_room_retry_after_a_lost_answer_logs_the_fault_once(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str], offline: Offline
) -> None:
    """The answer to the first POST is lost; pressing again sends the same key: one fault."""
    base = live_server("assets")
    # As on a plain-http LAN page, where crypto.randomUUID does not exist.
    page.add_init_script("delete Crypto.prototype.randomUUID;")
    posts: list[str | None] = []

    def lose_first_answer(route: Any) -> None:
        if route.request.method != "POST":  # the page's look-ups of open faults
            route.continue_()
            return
        posts.append(route.request.headers.get("idempotency-key"))
        if len(posts) in (1, 3):
            route.fetch()  # the server logs the fault ...
            route.abort("connectionreset")  # ... but the page never hears back
        else:
            route.continue_()

    page.route(re.compile(r"/cameras/\d+/faults(\?.*)?$"), lose_first_answer)
    _open_control_room(page, base, seeded["operator"])
    page.get_by_test_id("fault-camera").fill("BRW-002")
    page.get_by_test_id("fault-category").select_option("power")
    description = "Mast lost power during the storm"
    page.get_by_test_id("fault-description").fill(description)
    page.get_by_test_id("fault-log").click()
    wait_js(page, "document.querySelector('#status.error') !== null")
    page.get_by_test_id("fault-log").click()
    wait_js(page, "document.querySelector('#status').textContent.startsWith('Logged')")
    assert len(posts) == 2 and posts[0] == posts[1] and posts[0]
    assert [f["description"] for f in _faults(base, seeded)].count(description) == 1
    # The next fault (another kind: the power fault is open) gets a new key; so does the form
    # once it is edited after a lost answer.
    page.get_by_test_id("fault-category").select_option("network")
    page.get_by_test_id("fault-description").fill(description + " again")
    page.get_by_test_id("fault-log").click()
    wait_js(page, "document.querySelector('#status.error') !== null")
    page.get_by_test_id("fault-description").fill(description + " and again")
    page.get_by_test_id("fault-log").click()
    # The lost third post did log its fault: the fourth is a second open network fault, and
    # the page says so, naming it, before anything more is logged.
    warning = page.get_by_test_id("duplicate-warning")
    warning.wait_for()
    again = next(f for f in _faults(base, seeded) if f["description"] == description + " again")
    assert again["number"] in warning.inner_text()
    page.get_by_test_id("log-anyway").click()
    page.locator("#open-faults li", has_text=description + " and again").wait_for()
    assert len(posts) == 5 and len({posts[0], posts[2], posts[3]}) == 3, posts
    assert posts[4] == posts[3]  # the insisted report keeps the refused one's key
    assert errors == []
    offline.expected_failures = 2  # the two answers this test threw away, nothing else
    refused = (409, f"/cameras/{seeded['cams']['BRW-002'][0]}/faults")
    offline.check(expected_status=(*SIGN_IN_FIRST, refused))


def test_control_room_after_the_session_ends_asks_to_sign_in_again(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str], offline: Offline
) -> None:
    base = live_server("assets")
    _open_control_room(page, base, seeded["operator"])
    # Signed out elsewhere (another tab, another service): this page's session is gone.
    page.context.clear_cookies()
    page.get_by_test_id("refresh-faults").click()
    again = page.get_by_test_id("signin-again")
    again.wait_for()
    assert "Your session has ended" in page.get_by_test_id("cr-status").inner_text()
    assert page.locator("input[type=password], #token").count() == 0  # never a token box
    assert parse_qs(urlsplit(again.get_attribute("href")).query) == {"next": ["/control-room"]}
    again.click()
    page.get_by_test_id("signin-username").fill(seeded["operator"])
    page.get_by_test_id("signin-password").fill("browser-test-password")
    page.get_by_test_id("signin-submit").click()
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/control-room"
    wait_js(page, "document.querySelectorAll('#open-faults li').length > 0")
    assert errors == []
    # The page's next call after the cookie went (a poll, or a reload it had started) is 401.
    offline.check(expected_status=(*SIGN_IN_FIRST, (401, "/faults/changes"), (401, "/faults")))


def test_crew_gets_the_page_naming_the_operator_role(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    errors: list[str],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    base = live_server("assets")
    sign_in(page, base, seeded["crew"])
    response = page.goto(base + "/control-room")
    assert response is not None and response.status == 403
    reason = page.get_by_test_id("forbidden-reason").inner_text()
    assert "The control room needs the role admin or operator" in reason
    assert "Chris Crew" in reason and "crew" in reason
    assert page.locator("#fault-form").count() == 0
    # Crews are not offered the control room in the header either.
    assert page.locator("header a", has_text="Control room").count() == 0
    page.screenshot(path=str(artifacts_dir / "assets_control_room_403.png"))
    assert_accessible(page, "the control room's 403 page")
    assert errors == []
    offline.check(expected_status=((403, "/control-room"),))


def _health(base: str, seeded: dict[str, Any], cam_id: int) -> str:
    import httpx

    r = httpx.get(
        f"{base}/cameras/{cam_id}", headers={"Authorization": f"Bearer {seeded['checker']}"}
    )
    r.raise_for_status()
    return str(r.json()["health"])


def _faults(base: str, seeded: dict[str, Any]) -> list[dict[str, Any]]:
    import httpx

    r = httpx.get(
        f"{base}/faults?limit=1000", headers={"Authorization": f"Bearer {seeded['checker']}"}
    )
    r.raise_for_status()
    return list(r.json()["items"])


def _fault(base: str, seeded: dict[str, Any], number: str) -> dict[str, Any]:
    return next(f for f in _faults(base, seeded) if f["number"] == number)


def _fault_status(base: str, seeded: dict[str, Any], number: str) -> str:
    return str(_fault(base, seeded, number)["status"])


def test_control_room_stale_fault_is_refused_and_reloaded(
    live_server: Any, page: Any, seeded: dict[str, Any], errors: list[str], offline: Offline
) -> None:
    """Another operator moves a fault after this page listed it: this page's press is 412."""
    import httpx

    base = live_server("assets")
    auth = {"Authorization": f"Bearer {seeded['checker']}"}
    cam_id = seeded["cams"]["BRW-005"][0]
    description = "Lens misted after the rain"
    r = httpx.post(
        f"{base}/cameras/{cam_id}/faults",
        headers=auth,
        json={"category": "intermittent_picture", "description": description},
    )
    assert r.status_code == 201, r.text
    fault_id, number = r.json()["id"], r.json()["number"]
    _open_control_room(page, base, seeded["operator"])
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
    item.get_by_test_id("fault-close").click()
    # Never marked fixed: the page asks first, and wants a reason.
    assert page.get_by_test_id("close-unfixed-warning").is_visible()
    page.get_by_test_id("move-note").fill("Camera is in store; closing")
    page.get_by_test_id("move-confirm").click()
    wait_js(page, "document.querySelector('#status.error') !== null")
    assert "changed since you read it" in page.inner_text("#status")
    page.locator("#open-faults li", has_text=description).locator(
        ".fault-status:text-is('in progress')"
    ).wait_for()
    assert _fault_status(base, seeded, number) == "in_progress"
    assert errors == []
    offline.check(expected_status=(*SIGN_IN_FIRST, (412, f"/faults/{fault_id}")))
