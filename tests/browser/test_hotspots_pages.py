"""The analyst map (/map) in headless Chromium: signed in through the suite's form, no token.

The analyst's task end to end, its clicks counted (``clicks-analyst.json``): a burglary surface
for a period ("burglary" as typed: any case), its hotspot table read (checked against PostGIS
and the COG), the polygons downloaded as a GeoPackage (opened with GDAL), then the period
compared with the one before it (the table by hotspot and by ward checked against PostGIS). A
run the page started that is still queued opens by itself when it is done. An analyst reads
what period the incident data cover, picks a window with no incidents and is offered the one
ending on the newest day with data, opens a run's standalone map with nothing but the session;
a session that ends mid-way is told to sign in again. SEG may look but not start; a crew member
gets the 403 page. The services run with tiles off (a closed network): every request to another
host is stopped and must not happen, and no request may fail; the maps draw Medway's wards and
their names instead. axe finds no critical or serious violation; screenshots are kept.
"""

from __future__ import annotations

import calendar
import json
import re
import subprocess
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
from tests.browser.steps import PHONE, Offline, cut_off
from tests.conftest import SHARED_DATA

POLICE = [SHARED_DATA / "police" / f"2022-0{m}-kent-street-medway.csv" for m in (1, 2, 3, 4)]
WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARDS_SOURCE = "browser hotspots wards"
ASB = "Anti-social behaviour"
BURGLARY = "Burglary"


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


@pytest.fixture()
def offline(page: Any) -> Offline:
    """The page with the internet cut off (its new tabs too: the context is)."""
    return cut_off(page.context)


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


def settled(page: Any) -> None:
    """The page has opened the newest finished run by itself and loaded its map: as a person
    sees it before they act (a click mid-load replaces the map and aborts its loading)."""
    page.frame_locator("iframe#map").locator("img.leaflet-image-layer").wait_for()
    page.wait_for_load_state("networkidle")


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
    settled(page)
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
    assert page.get_by_test_id("kde-start").is_disabled()
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
    assert n_window > 1000 and page.get_by_test_id("kde-start").is_enabled()

    # A crime type narrows it (the choice is the data's own categories).
    page.get_by_test_id("kde-category").select_option(ASB)
    n_asb = _count(seeded, offered_from, newest, ASB)
    wait_js(page, f"document.getElementById('window').textContent.startsWith('{n_asb:,} ')")

    # Start the run: the POST goes with the session cookie and the page's CSRF token.
    page.get_by_test_id("run-settings").locator("summary").click()
    page.locator("select[name=method]").select_option("fast")
    page.locator("input[name=radius_m]").fill("300")
    page.locator("input[name=cell_m]").fill("100")
    with page.expect_response(
        lambda r: r.url.endswith("/surfaces") and r.request.method == "POST"
    ) as posted:
        page.get_by_test_id("kde-start").click()
    response = posted.value
    assert response.status == 202, response.text()
    sent = response.request.headers
    assert "authorization" not in sent and sent["x-csrf-token"]
    run = response.json()
    assert run["status"] == "done" and run["stats"]["incidents"] == n_asb
    assert run["parameters"]["categories"] == [ASB] and run["parameters"]["sources"] == ["police"]
    row = page.locator(f'[data-testid="run-row"][data-run="{run["id"]}"]')
    row.wait_for()
    said = row.inner_text()
    assert "done" in said and f"{ASB} · Crime and ASB · from {long_date(offered_from)}" in said
    assert row.get_attribute("aria-current") == "true"
    _run_map_is_drawn(page.frame_locator("iframe#map"))

    # Its hotspots: ward and grid reference of each centre, checked by hand.
    hotspots = page.get_by_test_id("hotspot-table").get_by_test_id("hotspot-row")
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
        cells = hotspots.nth(i).locator("td").all_inner_texts()
        assert cells[0] == str(p["rank"]) and cells[1] == (ward or "Ward not known"), cells
        assert cells[5] == grid_ref_by_hand(x, y), cells
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
    # The hotspot table scrolls in its own box: the page is no wider than the phone.
    page.get_by_test_id("hotspot-table").get_by_test_id("hotspot-row").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
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
    settled(page)
    assert page.get_by_test_id("no-run-role").is_visible()
    assert page.get_by_test_id("kde-start").count() == 0
    assert page.get_by_test_id("compare-start").count() == 0
    page.locator(f'[data-testid="run-row"][data-run="{seeded["run"]}"]').click()
    wait_js(page, f"document.getElementById('chosen-h').textContent === 'Run {seeded['run']}'")
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


@dataclass
class Clicks:
    """What the person does, one step per click, choice or filled-in field."""

    task: str
    steps: list[str] = field(default_factory=list)

    def click(self, target: Any, what: str) -> None:
        target.click()
        self.steps.append(f"click: {what}")

    def choose(self, target: Any, value: str, what: str) -> None:
        target.select_option(value)
        self.steps.append(f"choose: {what}")

    def fill(self, target: Any, value: str, what: str) -> None:
        target.fill(value)
        self.steps.append(f"type: {what}")

    def write(self, folder: Path) -> dict[str, Any]:
        out = {"task": self.task, "clicks": len(self.steps), "steps": self.steps}
        (folder / f"clicks-{self.task}.json").write_text(json.dumps(out, indent=2) + "\n")
        return out


def _cells(rows: Any) -> list[list[str]]:
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def _in_window(seeded: dict[str, Any], start: date, end: date, within: str) -> int:
    """Burglaries in [start, end] that PostGIS puts inside the WKT (EPSG:27700), by hand."""
    return int(
        _scalar(
            seeded,
            "SELECT count(*) FROM incidents.incidents WHERE lower(category) = 'burglary' "
            "AND occurred_at >= :a AND occurred_at < :b "
            "AND ST_Covers(ST_GeomFromText(:w, 27700), geom)",
            a=start,
            b=end + timedelta(days=1),
            w=within,
        )
    )


def _ward_wkt(seeded: dict[str, Any]) -> dict[str, str]:
    with seeded["engine"].connect() as conn:
        rows = conn.execute(
            text("SELECT name, ST_AsText(geom) FROM core.boundary_areas WHERE layer = 'ward'")
        ).all()
    return {name: wkt for name, wkt in rows}


def test_analyst_runs_a_burglary_surface_reads_the_table_downloads_and_compares(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    offline: Offline,
    errors: list[str],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    """The analyst's task as the issue gives it, signed in through the form, clicks counted."""
    import numpy as np
    import rasterio

    base = live_server("hotspots")
    did = Clicks("analyst")
    sign_in(page, base, seeded["analyst"], next_path="/map")
    settled(page)
    did.steps.append("sign in: name, password, Sign in")
    page.get_by_test_id("run-list").locator("[data-testid=run-row]").first.wait_for()

    # A burglary surface for March and April 2022 (the category list has the data's counts).
    category = page.get_by_test_id("kde-category")
    n_burglary = int(
        _scalar(seeded, "SELECT count(*) FROM incidents.incidents WHERE category = :c", c=BURGLARY)
    )
    label = category.locator(f"option[value='{BURGLARY}']").inner_text()
    assert label == f"{BURGLARY} ({n_burglary:,})"
    did.choose(category, BURGLARY, "crime type Burglary")
    did.fill(page.get_by_test_id("run-from"), "2022-03-01", "from 1 March 2022")
    did.fill(page.get_by_test_id("run-to"), "2022-04-30", "to 30 April 2022")
    page.get_by_test_id("run-to").dispatch_event("change")
    start, end = date(2022, 3, 1), date(2022, 4, 30)
    n_window = int(
        _scalar(
            seeded,
            "SELECT count(*) FROM incidents.incidents WHERE category = :c "
            "AND occurred_at >= :a AND occurred_at < :b",
            c=BURGLARY,
            a=start,
            b=end + timedelta(days=1),
        )
    )
    wait_js(page, f"document.getElementById('window').textContent.startsWith('{n_window} ')")
    with page.expect_response(
        lambda r: r.url.endswith("/surfaces") and r.request.method == "POST"
    ) as posted:
        did.click(page.get_by_test_id("kde-start"), "Start surface")
    run = posted.value.json()
    assert posted.value.status == 202 and run["parameters"]["categories"] == [BURGLARY]
    assert run["stats"]["incidents"] == n_window > 100

    # It opens by itself: its map, what it was of, and the hotspot table.
    wait_js(page, f"document.getElementById('chosen-h').textContent === 'Run {run['id']}'")
    _run_map_is_drawn(page.frame_locator("iframe#map"))
    about = page.get_by_test_id("chosen-about").inner_text()
    assert about.startswith(f"{BURGLARY} · all sources · from 1 March 2022 to 30 April 2022 · ")
    table = page.get_by_test_id("hotspot-table")
    rows = table.get_by_test_id("hotspot-row")
    rows.first.wait_for()
    heads = table.locator("thead th").all_inner_texts()
    assert heads == [
        "Rank",
        "Ward",
        "Area (km²)",
        "Incidents inside",
        "Peak density (incidents per km²)",
        "Grid reference",
    ]
    listed = page.locator(f'[data-testid="run-row"][data-run="{run["id"]}"]')
    assert f"{BURGLARY} · all sources · from 1 March 2022 to 30 April 2022" in listed.inner_text()
    assert "radius" in listed.inner_text() and "cell" in listed.inner_text()
    # Each row against PostGIS: the polygon's area, the burglaries it covers, its ward.
    with seeded["engine"].connect() as conn:
        polys = conn.execute(
            text(
                "SELECT rank, ST_Area(geom), ST_AsText(geom), ST_X(ST_Centroid(geom)), "
                "ST_Y(ST_Centroid(geom)) FROM hotspots.hotspot_polygons WHERE run_id = :r "
                "ORDER BY rank"
            ),
            {"r": run["id"]},
        ).all()
    shown = _cells(rows)
    assert len(shown) == min(len(polys), 50) >= 3
    for cells, (rank, area, wkt, cx, cy) in zip(shown, polys, strict=False):
        inside = _in_window(seeded, start, end, wkt)
        assert cells[0] == str(rank)
        assert cells[1] == (ward_by_hand(cx, cy) or "Ward not known")
        assert float(cells[2]) == pytest.approx(area / 1e6, abs=0.006)
        assert cells[3] == f"{inside:,}"
        assert cells[5] == grid_ref_by_hand(cx, cy)
    assert sum(int(c[3].replace(",", "")) for c in shown) > 0
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "analyst_burglary_surface.png"), full_page=True)
    page.get_by_test_id("run-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "analyst_hotspot_table.png"))
    assert_accessible(page, "/map with a burglary surface and its table")

    # The polygons, downloaded with the session cookie as a GeoPackage GDAL opens.
    with page.expect_download() as dl:
        did.click(page.get_by_test_id("download-gpkg"), "download the hotspots (GeoPackage)")
    gpkg = tmp_path / dl.value.suggested_filename
    dl.value.save_as(gpkg)
    assert gpkg.name == f"hotspots-run-{run['id']}.gpkg"
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", str(gpkg)], capture_output=True, text=True, check=True
    ).stdout
    assert f"Feature Count: {len(polys)}" in info and "British National Grid" in info
    assert f'categories=["{BURGLARY}"]' in info and "period=2022-03-01/2022-04-30" in info
    # The peak of the first hotspot is the surface's highest cell (the COG, read here).
    tif = page.request.get(f"{base}/surfaces/{run['id']}.tif")
    assert tif.ok
    (tmp_path / "surface.tif").write_bytes(tif.body())
    with rasterio.open(tmp_path / "surface.tif") as src:
        top = float(np.nanmax(src.read(1, masked=True).filled(np.nan)))
        assert src.tags()["categories"] == f'["{BURGLARY}"]'
    peak = float(shown[0][4].replace(",", ""))
    assert peak == pytest.approx(top, rel=5e-3)

    # Compare: the form already holds March-April after and January-February before.
    assert page.get_by_test_id("compare-after-from").input_value() == "2022-03-01"
    assert page.get_by_test_id("compare-before-from").input_value() == "2022-01-01"
    assert page.get_by_test_id("compare-before-to").input_value() == "2022-02-28"
    with page.expect_response(lambda r: r.url.endswith("/comparisons")) as compared:
        did.click(page.get_by_test_id("compare-start"), "Compare periods")
    comparison = compared.value.json()
    assert compared.value.status == 202, comparison
    assert comparison["parameters"]["before"] == {"from": "2022-01-01", "to": "2022-02-28"}
    name = f"Comparison {comparison['id']}"
    wait_js(page, f"document.getElementById('chosen-h').textContent === '{name}'")
    page.frame_locator("iframe#map").locator("img.leaflet-image-layer").wait_for()
    changes = page.get_by_test_id("change-table").get_by_test_id("change-row")
    changes.first.wait_for()
    words = {"appeared", "grew", "shrank", "went", "stayed about the same"}
    assert {c[1] for c in _cells(changes)} <= words
    summary = page.get_by_test_id("change-summary").inner_text()
    assert summary.startswith("Hotspots: ")
    # By ward: the burglaries in each ward in each period, counted here by PostGIS.
    by_ward = {c[0]: c for c in _cells(page.get_by_test_id("ward-change-row"))}
    wards = _ward_wkt(seeded)
    assert set(by_ward) == set(wards)
    for name in ("Chatham Central", "Gillingham North", "Strood South"):
        before = _in_window(seeded, date(2022, 1, 1), date(2022, 2, 28), wards[name])
        after = _in_window(seeded, start, end, wards[name])
        assert by_ward[name][1] == f"{before:,} → {after:,}", (name, by_ward[name])
    # Each changed area's ward is the one holding most of it (PostGIS, here).
    shown_areas = _cells(changes)
    with seeded["engine"].connect() as conn:
        most = conn.execute(
            text(
                "SELECT a.rank, (SELECT b.name FROM core.boundary_areas b WHERE b.layer = 'ward' "
                "ORDER BY ST_Area(ST_Intersection(b.geom, a.geom)) DESC LIMIT 1) "
                "FROM hotspots.comparison_areas a WHERE a.comparison_id = :c ORDER BY a.rank"
            ),
            {"c": comparison["id"]},
        ).all()
    assert [(c[0], c[2]) for c in shown_areas] == [(str(r), w) for r, w in most][:50]
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "analyst_comparison.png"), full_page=True)
    page.get_by_test_id("run-results").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "analyst_comparison_tables.png"))
    assert_accessible(page, "/map with a comparison")
    # The comparison's own map (a check of the test's, not a step of the task): the
    # difference, the changed areas in their colours, the legend; accessible.
    tab = page.context.new_page()
    tab.goto(f"{base}/comparisons/{comparison['id']}/map")
    _run_map_is_drawn(tab)
    tab.wait_for_load_state("networkidle")
    legend = tab.locator("#csp-legend").inner_text()
    assert "after minus before" in legend and "appeared" in legend and "went" in legend
    assert "incidents per km2 per 30 days" in legend
    assert tab.title() == f"Comparison {comparison['id']}: after minus before: change map"
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(artifacts_dir / "analyst_comparison_map.png"))
    assert_accessible(tab, "a comparison's standalone map")
    tab.close()
    record = did.write(artifacts_dir)
    assert record["clicks"] <= 9, record
    assert errors == []
    offline.check("the analyst's task")


def test_a_run_the_page_started_opens_by_itself_when_it_is_done(
    live_server: Any,
    page: Any,
    seeded: dict[str, Any],
    offline: Offline,
    errors: list[str],
    artifacts_dir: Path,
) -> None:
    """The worker is slow: the POST answers "queued" and the first poll "running"; the page
    says so, keeps polling, and opens the run's map and table once it is done."""
    base = live_server("hotspots")
    sign_in(page, base, seeded["analyst"], next_path="/map")
    settled(page)
    polls: list[str] = []

    def slow_post(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        real = route.fetch()
        run = real.json()
        run.update(status="queued", progress=0.0, links={"self": run["links"]["self"]})
        route.fulfill(response=real, json=run)

    def slow_get(route: Any) -> None:
        real = route.fetch()
        run = real.json()
        polls.append(run["status"])
        if len(polls) == 1:
            run.update(status="running", progress=0.4, links={"self": run["links"]["self"]})
        route.fulfill(response=real, json=run)

    page.route(f"{base}/surfaces", slow_post)
    page.route(re.compile(re.escape(base) + r"/surfaces/\d+$"), slow_get)
    page.get_by_test_id("kde-category").select_option(BURGLARY)
    page.get_by_test_id("run-from").fill("2022-01-01")
    page.get_by_test_id("run-to").fill("2022-02-28")
    page.get_by_test_id("run-to").dispatch_event("change")
    wait_js(
        page,
        "!document.getElementById('kde-start') || "
        "!document.querySelector('[data-testid=kde-start]').disabled",
    )
    page.get_by_test_id("kde-start").click()
    placeholder = page.locator("#placeholder")
    wait_js(page, "document.getElementById('placeholder').textContent.includes('running (40%)')")
    assert "it opens here when it is done" in placeholder.inner_text()
    page.screenshot(path=str(artifacts_dir / "hotspots_run_waiting.png"))
    _run_map_is_drawn(page.frame_locator("iframe#map"))
    page.get_by_test_id("hotspot-table").get_by_test_id("hotspot-row").first.wait_for()
    assert len(polls) >= 2 and polls[-1] == "done"
    about = page.get_by_test_id("chosen-about").inner_text()
    assert about.startswith(f"{BURGLARY} · all sources · from 1 January 2022 to 28 February 2022")

    # Comparing it with the two months before: the data start in January, so the page says
    # there is no incident data for that window (never that nothing happened in it).
    assert page.get_by_test_id("compare-before-from").input_value() == "2021-11-01"
    # The browser database is shared with other page tests, which may hold incidents of late
    # 2021: a window years before anything any test stores is certain to hold none.
    page.get_by_test_id("compare-before-from").fill("2001-01-01")
    page.get_by_test_id("compare-before-to").fill("2001-02-28")
    with page.expect_response(lambda r: r.url.endswith("/comparisons")) as refused:
        page.get_by_test_id("compare-start").click()
    assert refused.value.status == 422
    wait_js(page, "document.getElementById('compare-status').textContent.startsWith('Could')")
    said = page.get_by_test_id("compare-status").inner_text()
    assert said.startswith("Could not compare: before: no incident data for this window: "), said
    assert " cover " in said and "2022" in said and "no evidence" not in said
    page.get_by_test_id("compare-form").screenshot(
        path=str(artifacts_dir / "hotspots_compare_no_data.png")
    )
    offline.failed = [f for f in offline.failed if not f.endswith("/comparisons -> 422")]
    assert errors == []
    offline.check("a run that opens by itself")
