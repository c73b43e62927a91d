"""The analyst map (/map) in headless Chromium: signed in through the suite's form, no token.

An analyst reads what period the incident data cover, picks a window with no incidents and is
offered the one ending on the newest day with data, starts a run (the session cookie and the
page's CSRF token), reads its hotspots (ward and OS grid reference) and opens its standalone
map with nothing but the session; a session that ends mid-way is told to sign in again. SEG may
look but not start; a crew member gets the 403 page. The services run with tiles off (a closed
network): every request to another host is stopped and must not happen, and no request may
fail; the maps draw Medway's wards and their names instead. axe finds no critical or serious
violation; screenshots are kept.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from shared.geometry import point_to_wgs84
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in, wait_js
from tests.conftest import SHARED_DATA

POLICE = [SHARED_DATA / "police" / f"2022-0{m}-kent-street-medway.csv" for m in (1, 2)]
WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARDS_SOURCE = "browser hotspots wards"
PHONE = {"width": 390, "height": 844}
ASB = "Anti-social behaviour"


def long_date(day: date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def grid_ref_by_hand(x: float, y: float) -> str:
    """The 8-figure reference in Medway's 100 km square TQ, worked out apart from the suite's."""
    assert 500_000 <= x < 600_000 and 100_000 <= y < 200_000
    return f"TQ {int(x) % 100_000 // 10:04d} {int(y) % 100_000 // 10:04d}"


def ward_by_hand(x: float, y: float) -> str | None:
    """The ward holding an EPSG:27700 point, from the boundary file with shapely."""
    import json

    from shapely.geometry import Point, shape

    p = Point(*point_to_wgs84(x, y))
    for f in json.loads(WARDS.read_text(encoding="utf-8"))["features"]:
        if shape(f["geometry"]).covers(p):
            return str(f["properties"]["WD13NM"])
    return None


@pytest.fixture(scope="module")
def seeded(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Two months of police data, Medway's wards, one finished run and three people."""
    from services.hotspots.runs.execute import run_surface
    from services.hotspots.runs.service import create_run
    from services.hotspots.schemas import SurfaceCreate
    from services.hotspots.settings import HotspotsSettings
    from shared.auth import create_token
    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker
    from shared.incidents.store import import_file

    eng = make_engine(browser_db)
    out: dict[str, Any] = {}
    with make_sessionmaker(eng)() as s:
        for f in POLICE:
            import_file(s, f, source="police", skip_known=True)
        load_layer(s, WARDS, layer="ward", source=WARDS_SOURCE)
        _, out["checker"] = create_token(s, name="browser hotspots checker", role="analyst")
        s.commit()
        run, _ = create_run(
            s,
            body=SurfaceCreate(method="fast", radius_m=300, cell_m=75),
            actor="browser seed",
            idempotency_key=None,
        )
        done = run_surface(
            s,
            run.id,
            output_dir=HotspotsSettings(database_url=browser_db, environment="test").output_dir,
        )
        assert done.status == "done", done.error
        out["run"] = run.id
    out["analyst"] = people("hotspots.analyst", "analyst", name="Ann Analyst")
    out["seg"] = people("hotspots.seg", "seg", name="Sam Seg")
    out["crew"] = people("hotspots.crew", "crew", agency="kfrs", name="Chris Crew")
    out["engine"] = eng
    yield out
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM core.boundary_areas WHERE source = :s"), {"s": WARDS_SOURCE})
    eng.dispose()


def _scalar(seeded: dict[str, Any], sql: str, **params: Any) -> Any:
    with seeded["engine"].connect() as conn:
        return conn.execute(text(sql), params).scalar()


@dataclass
class Offline:
    """Requests to other hosts (stopped) and failed requests of the suite's own."""

    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self, what: str) -> None:
        """Nothing was asked of another host (no tile either) and nothing failed."""
        assert self.blocked == [], f"{what}: requests to other hosts: {self.blocked[:5]}"
        assert self.failed == [], f"{what}: failed requests: {self.failed[:5]}"


def cut_off(page: Any) -> Offline:
    """Stop every request not to 127.0.0.1 from ``page``'s context (its new tabs too); count
    failed requests of the suite's."""
    seen = Offline()

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    def response(r: Any) -> None:
        # A page may itself be a 401 sign-in or 403 page; what it loads must not fail.
        if r.status >= 400 and r.request.resource_type != "document":
            seen.failed.append(f"{r.url} -> {r.status}")

    context = page.context
    context.route("**/*", handle)
    context.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
    context.on("response", response)
    return seen


@pytest.fixture()
def offline(page: Any) -> Offline:
    """The page with the internet cut off."""
    return cut_off(page)


@pytest.fixture()
def errors(page: Any) -> list[str]:
    """JavaScript errors raised on the page (none expected)."""
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


def _police_period(seeded: dict[str, Any]) -> tuple[date, date, int]:
    """First day, newest day (the 1st of the newest month) and count of the police data."""
    row = (
        "SELECT min((occurred_at AT TIME ZONE 'UTC')::date) AS a, "
        "max((occurred_at AT TIME ZONE 'UTC')::date) AS b, count(*) AS n "
        "FROM incidents.incidents WHERE source = 'police'"
    )
    with seeded["engine"].connect() as conn:
        first, newest, n = conn.execute(text(row)).one()
    return first, newest, int(n)


def _count(seeded: dict[str, Any], start: date, end: date, category: str | None = None) -> int:
    sql = (
        "SELECT count(*) FROM incidents.incidents WHERE source = 'police' "
        "AND occurred_at >= :a AND occurred_at < :b"
    )
    if category:
        sql += " AND category = :c"
    return int(_scalar(seeded, sql, a=start, b=end + timedelta(days=1), c=category))


def _ward_names() -> list[str]:
    import json

    return [f["properties"]["WD13NM"] for f in json.loads(WARDS.read_text())["features"]]


def _run_map_is_drawn(frame: Any) -> None:
    """The surface, the hotspot outlines, the legend, and the ward lines with their names."""
    frame.locator("img.leaflet-image-layer").wait_for()
    frame.locator("path.leaflet-interactive").first.wait_for()
    assert frame.locator("#csp-legend").is_visible()
    wards = _ward_names()
    frame.locator(".leaflet-csp-wards-pane path.csp-ward").nth(len(wards) - 1).wait_for()
    assert frame.locator(".leaflet-csp-wards-pane path.csp-ward").count() == len(wards)
    names = frame.locator(".leaflet-csp-labels-pane .csp-area-name").all_text_contents()
    assert sorted(names) == sorted(wards)


def test_analyst_starts_a_run_and_opens_its_map_with_the_session_only(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    offline: Offline,
    errors: list[str],
    artifacts_dir: Path,
) -> None:
    base = live_server("hotspots")
    sign_in(page, base, seeded["analyst"], next_path="/map")
    assert urlsplit(page.url).path == "/map"
    assert "Ann Analyst" in page.get_by_test_id("signed-in-as").inner_text()
    assert page.locator("input[type=password]").count() == 0
    assert page.evaluate("window.localStorage.length") == 0

    # What the data cover, worked out from the database.
    first, newest, n_police = _police_period(seeded)
    last = newest.replace(day=calendar.monthrange(newest.year, newest.month)[1])
    period = " ".join(page.get_by_test_id("period-police").inner_text().split())
    assert period == (
        f"Crime and ASB up to {long_date(last)} (from {long_date(first)}; "
        f"{n_police:,} incidents; recorded by month, each dated the 1st)"
    )

    # A window after the data: said in words before any run, and the start button is off.
    page.get_by_test_id("run-source").select_option("police")
    page.get_by_test_id("run-from").fill("2031-01-01")
    page.get_by_test_id("run-to").fill("2031-01-31")
    status = page.get_by_test_id("window-status")
    wait_js(page, "document.getElementById('window').textContent.startsWith('No incidents')")
    said = status.inner_text()
    assert said.startswith("No incidents from 1 January 2031 to 31 January 2031.")
    assert f"dated {long_date(newest)}" in said and "recorded by month" in said
    assert page.get_by_test_id("start-run").is_disabled()
    offer = page.get_by_test_id("use-newest-window")
    offered_from = newest - timedelta(days=30)  # the same 31 days, ending on the newest day
    assert offer.inner_text() == f"Use {long_date(offered_from)} to {long_date(newest)}"
    page.screenshot(path=str(artifacts_dir / "hotspots_map_empty_window.png"), full_page=True)
    assert_accessible(page, "/map with an empty window")
    offer.click()
    assert page.get_by_test_id("run-from").input_value() == offered_from.isoformat()
    assert page.get_by_test_id("run-to").input_value() == newest.isoformat()
    n_window = _count(seeded, offered_from, newest)
    wait_js(page, "!document.getElementById('window').textContent.startsWith('No incidents')")
    assert status.inner_text() == (
        f"{n_window:,} incidents from {long_date(offered_from)} to {long_date(newest)}."
    )
    assert n_window > 1000 and page.get_by_test_id("start-run").is_enabled()

    # A crime type narrows it (the choice is the data's own categories).
    page.get_by_test_id("run-category").select_option(ASB)
    n_asb = _count(seeded, offered_from, newest, ASB)
    wait_js(page, f"document.getElementById('window').textContent.startsWith('{n_asb:,} ')")

    # Start the run: the POST goes with the session cookie and the page's CSRF token.
    page.locator("select[name=method]").select_option("fast")
    page.locator("input[name=radius_m]").fill("300")
    page.locator("input[name=cell_m]").fill("100")
    with page.expect_response(
        lambda r: r.url.endswith("/surfaces") and r.request.method == "POST"
    ) as posted:
        page.get_by_test_id("start-run").click()
    response = posted.value
    assert response.status == 202, response.text()
    sent = response.request.headers
    assert "authorization" not in sent and sent["x-csrf-token"]
    run = response.json()
    assert run["status"] == "done" and run["stats"]["incidents"] == n_asb
    assert run["parameters"]["categories"] == [ASB] and run["parameters"]["sources"] == ["police"]
    row = page.locator(f'[data-testid="run-row"][data-run="{run["id"]}"]')
    row.wait_for()
    assert (
        "done" in row.inner_text() and "Crime and ASB (Anti-social behaviour)" in row.inner_text()
    )
    assert row.get_attribute("aria-current") == "true"
    _run_map_is_drawn(page.frame_locator("iframe#map"))

    # Its hotspots: ward and grid reference of each centre, checked by hand.
    hotspots = page.get_by_test_id("hotspot-row")
    hotspots.first.wait_for()
    check = page.request.get(
        f"{base}/surfaces/{run['id']}/polygons",
        headers={"Authorization": f"Bearer {seeded['checker']}"},
    ).json()
    feats = check["features"]
    assert hotspots.count() == min(len(feats), 50) >= 1
    for i, f in enumerate(feats[:5]):
        p = f["properties"]
        x, y = p["centroid_x_27700"], p["centroid_y_27700"]
        ward = ward_by_hand(x, y)
        line = hotspots.nth(i).inner_text()
        assert line.startswith(f"{ward or 'Ward not known'} · {grid_ref_by_hand(x, y)}"), line
    assert any(
        ward_by_hand(f["properties"]["centroid_x_27700"], f["properties"]["centroid_y_27700"])
        for f in feats
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "hotspots_map_laptop.png"), full_page=True)
    page.locator(".side").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    page.screenshot(path=str(artifacts_dir / "hotspots_map_laptop_hotspots.png"))
    assert_accessible(page, "/map with a run")

    # The run's own map opens in a new tab with nothing but the session cookie.
    link = page.get_by_test_id("open-map")
    assert link.get_attribute("href") == f"/surfaces/{run['id']}/map"
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state("load")
    assert urlsplit(tab.url).path == f"/surfaces/{run['id']}/map"
    _run_map_is_drawn(tab)
    assert tab.title() == f"Run {run['id']}: KDE: hotspot map"
    viewport = tab.locator("meta[name=viewport]").get_attribute("content")
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(artifacts_dir / "hotspots_run_map.png"))
    assert_accessible(tab, "a run's standalone map")
    offline.check("the run's map")
    tab.close()

    # A phone: the map below the list, as wide as the screen.
    page.set_viewport_size(PHONE)
    page.reload()
    page.frame_locator("iframe#map").locator("img.leaflet-image-layer").wait_for()
    box = page.locator("iframe#map").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] > 300
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "hotspots_map_phone.png"), full_page=True)
    assert_accessible(page, "/map on a phone")

    # The session ends (signed out elsewhere): the next call says so and links to the sign-in.
    page.context.clear_cookies()
    page.get_by_test_id("run-to").fill("2022-01-31")
    page.get_by_test_id("run-to").dispatch_event("change")
    expired = page.get_by_test_id("session-expired")
    expired.wait_for()
    page.screenshot(path=str(artifacts_dir / "hotspots_map_session_ended.png"))
    href = expired.locator("a").get_attribute("href")
    assert urlsplit(href).path == "/sign-in" and parse_qs(urlsplit(href).query)["next"] == ["/map"]
    offline.failed = [f for f in offline.failed if "/incidents/coverage" not in f]  # the 401
    assert errors == []
    offline.check("/map")


def test_seg_may_look_but_not_start(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    offline: Offline,
    errors: list[str],
    artifacts_dir: Path,
) -> None:
    base = live_server("hotspots")
    sign_in(page, base, seeded["seg"], next_path="/map")
    assert page.get_by_test_id("no-run-role").is_visible()
    assert page.get_by_test_id("start-run").count() == 0
    page.locator(f'[data-testid="run-row"][data-run="{seeded["run"]}"]').click()
    _run_map_is_drawn(page.frame_locator("iframe#map"))
    page.get_by_test_id("hotspot-row").first.wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "hotspots_map_seg.png"), full_page=True)
    assert_accessible(page, "/map for SEG")
    assert errors == []
    offline.check("/map for SEG")


def test_crew_gets_the_403_page(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    offline: Offline,
    artifacts_dir: Path,
) -> None:
    base = live_server("hotspots")
    page.goto(f"{base}/map")
    assert page.get_by_test_id("signin-username").is_visible()  # nobody signed in: sign in
    sign_in(page, base, seeded["crew"], next_path="/map")
    reason = page.get_by_test_id("forbidden-reason").inner_text()
    assert "The hotspot map needs the role admin or analyst or seg" in reason
    assert "Chris Crew" in reason and page.get_by_test_id("signout").is_visible()
    assert page.get_by_test_id("run-list").count() == 0
    page.screenshot(path=str(artifacts_dir / "hotspots_map_crew_403.png"), full_page=True)
    assert_accessible(page, "/map refused to a crew member")
    offline.check("/map for a crew member")
