"""The crews' daily list in headless Chromium: phone and laptop, print, visits, agencies, dates.

People sign in through the suite's one form (``tests.browser.conftest.sign_in``). Every request
to another host is stopped: map tiles get a blank stand-in (the tile source is a setting),
anything else is aborted and must not happen; no request of the suite's may fail. axe-core
checks each page; screenshots are kept in the artifacts folder.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in, wait_js
from tests.conftest import SHARED_DATA
from tests.factories import load_medway, make_list, store_incidents, synthetic_incidents, today

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
A4_PX = {"width": 794, "height": 1123}  # an A4 page at 96 CSS px per inch
A4_CONTENT_PX = 703  # 186 mm between the page's 12 mm margins
# Lists are read, never made, by the page, and a visit logged "now" counts for today's list:
# the module's fixture stores today's lists as the nightly job would.
LIST_DAY = today()
# The real police file for September 2022: months only, so the data cover up to 30 September
# and 1 October 2022 is the newest day a list can use them all.
POLICE_FILE = SHARED_DATA / "police" / "2022-09-kent-street-medway.csv"
POLICE_DATA_DAY = date(2022, 10, 1)
WARDS_PATH = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARDS_SOURCE = "browser predictive wards"
RANK_FILLS = ("#b2182b", "#ef8a62", "#fddbc7")
BOX_PATHS = ", ".join(f'path[fill="{c}"]' for c in RANK_FILLS)
BLANK_TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)
TILE_URL = re.compile(r"^https?://[^/]+/\d+/\d+/\d+\.png$")


@pytest.fixture(scope="module")
def seeded(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Boundaries, incidents and lists in the browser database, and a crew member per agency.

    KFRS: synthetic fires up to today and today's list. Police: the real September 2022 file,
    a list for 1 October 2022 (data near it) and one for today (none near it).
    """
    from sqlalchemy import text

    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker
    from shared.incidents.store import import_file

    assert POLICE_FILE.is_file() and WARDS_PATH.is_file(), "needs ../shared/data"
    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        load_medway(s)
        load_layer(s, WARDS_PATH, layer="ward", source=WARDS_SOURCE)
        store_incidents(s, synthetic_incidents(seed=11, end=LIST_DAY), source="fire")
        import_file(s, POLICE_FILE, source="police", skip_known=True)
        s.commit()
        out: dict[str, Any] = {
            "kfrs": make_list(s, "kfrs", LIST_DAY),
            "police_data": make_list(s, "police", POLICE_DATA_DAY),
            "police_today": make_list(s, "police", LIST_DAY),
        }
        s.commit()
    out["kfrs_crew"] = people("pred.kfrs", "crew", agency="kfrs", name="Kit Crew")
    out["police_crew"] = people("pred.police", "crew", agency="police", name="Pat Police")
    try:
        yield out
    finally:
        with eng.begin() as conn:
            conn.execute(
                text("DELETE FROM core.boundary_areas WHERE source = :s"), {"s": WARDS_SOURCE}
            )
        eng.dispose()


@dataclass
class Offline:
    """What the page asked of other hosts: tiles (answered by a stand-in), and anything else."""

    tiles: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Nothing but tiles left the machine and no request failed."""
        assert self.blocked == [], self.blocked[:5]
        assert self.failed == [], self.failed[:5]


@pytest.fixture()
def offline(page: Any) -> Iterator[Offline]:
    """Stop every request to another host; record failed requests and JavaScript errors."""
    seen = Offline()

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        elif TILE_URL.match(url):
            seen.tiles.append(url)
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            seen.blocked.append(url)
            route.abort()

    page.route("**/*", handle)
    page.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
    page.on("pageerror", lambda exc: seen.failed.append(f"JavaScript: {exc}"))
    page.on(
        "response",
        lambda r: (
            seen.failed.append(f"{r.url} -> {r.status}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    yield seen


def _url(base: str, agency: str, day: date) -> str:
    return f"{base}/targets/page?agency={agency}&date={day.isoformat()}"


def _open(page: Any, base: str, user: str, agency: str, day: date, status: int = 200) -> None:
    """Sign in through the form, coming back to the list page; wait for its map."""
    path = f"/targets/page?agency={agency}&date={day.isoformat()}"
    sign_in(page, base, user, next_path=path)
    assert page.url == base + path, page.url
    _settle(page)  # leaving the page mid-fetch would cancel its map's ward request
    response = page.goto(base + path)  # the status of the page itself
    assert response is not None and response.status == status, page.content()[:500]
    if status == 200:
        page.wait_for_selector("#map-wrap .leaflet-container", timeout=15_000)
        page.wait_for_load_state("networkidle")


def _settle(page: Any) -> None:
    """Wait until every map on the page has its ward context (or said it failed).

    Navigating away while ``/boundaries/ward.geojson`` is in flight cancels it, which the
    browser reports as a failed request (net::ERR_ABORTED).
    """
    wait_js(page, "!document.querySelector('.leaflet-container:not([data-csp-context])')")


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"predictive-{name}.png"), full_page=True)


CONTRAST_JS = """() => {
  const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const l = c.map(v => { v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  return [...document.querySelectorAll('ol.boxes .rank')].map(e => {
    const st = getComputedStyle(e);
    const [a, b] = [lum(rgb(st.color)), lum(rgb(st.backgroundColor))].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}"""

# Every box of the list printed whole: shown, and inside every box that clips it.
PRINTED_JS = """() => [...document.querySelectorAll('ol.boxes li')].map(li => {
  const r = li.getBoundingClientRect();
  let ok = r.height > 0 && r.width > 0;
  for (let a = li; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.display === 'none' || s.visibility === 'hidden') ok = false;
    if (a !== li && (s.overflowX !== 'visible' || s.overflowY !== 'visible')) {
      const q = a.getBoundingClientRect();
      if (r.top < q.top - 1 || r.bottom > q.bottom + 1 || r.left < q.left - 1
          || r.right > q.right + 1) ok = false;
    }
  }
  return [li.dataset.testid, ok, getComputedStyle(li).breakInside];
})"""

# The print map's boxes and rank labels, each inside the map's frame.
IN_MAP_JS = """(sel) => {
  const map = document.querySelector('#print-map .leaflet-container').getBoundingClientRect();
  return [...document.querySelectorAll(sel)].map(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.left >= map.left - 1 && r.right <= map.right + 1
        && r.top >= map.top - 1 && r.bottom <= map.bottom + 1;
  });
}"""


def test_list_on_a_phone_and_on_paper(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    _open(page, base, seeded["kfrs_crew"], "kfrs", LIST_DAY)
    n = len(seeded["kfrs"].boxes)
    assert n == 20
    assert page.locator("[data-testid^=box-]").count() == n
    assert page.locator(f"#map-wrap :is({BOX_PATHS})").count() == n  # one polygon per box
    assert page.locator("#map-wrap .rank-label").count() == n
    assert page.locator("#map-wrap path.csp-ward").count() > 0  # ward lines from the suite
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    heights = page.eval_on_selector_all(
        "a.go, .actions button, .actions a, details summary",
        "els => els.map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 44  # touch targets
    viewport = page.get_attribute("meta[name=viewport]", "content") or ""
    assert "user-scalable" not in viewport and "maximum-scale" not in viewport  # pinch zoom
    assert min(page.evaluate(CONTRAST_JS)) >= 4.5  # rank labels, white or black on colour
    how = page.get_by_test_id("how-chosen").inner_text()
    assert how.startswith("The 20 boxes (150 m squares) where incidents are most likely"), how
    assert page.get_by_test_id("data-period").inner_text().startswith("Incidents up to ")
    assert page.get_by_test_id("stale-data").count() == 0
    assert not page.get_by_test_id("about-list").locator("dl").is_visible()  # collapsed
    box = seeded["kfrs"].boxes[0]
    assert (box.ward or "Outside the wards") in page.get_by_test_id("box-1").inner_text()
    assert re.fullmatch(r"TQ \d{4} \d{4}", page.get_by_test_id("grid-ref-1").inner_text())
    assert_accessible(page, "list page (phone)")
    _shot(page, artifacts_dir, "targets-phone")

    # On paper: the fixed-size print map with every box, then every box of the list, whole.
    page.set_viewport_size(A4_PX)
    page.emulate_media(media="print")
    assert not page.locator("#map-wrap").is_visible() and not page.locator(".actions").is_visible()
    assert page.get_by_test_id("print-map").is_visible()
    frame = page.locator("#print-map .leaflet-container").bounding_box()
    assert frame and frame["width"] <= A4_CONTENT_PX
    assert page.locator(f"#print-map :is({BOX_PATHS})").count() == n
    for sel in (f"#print-map :is({BOX_PATHS})", "#print-map .rank-label"):
        inside = page.evaluate(IN_MAP_JS, sel)
        assert len(inside) == n and all(inside), (sel, inside)
    printed = page.evaluate(PRINTED_JS)
    assert [t for t, _, _ in printed] == [f"box-{i}" for i in range(1, n + 1)]
    assert all(ok for _, ok, _ in printed), printed
    assert {b for _, _, b in printed} == {"avoid"}  # no box split across two pages
    assert not page.locator("details.visit").first.is_visible()
    _shot(page, artifacts_dir, "targets-print")
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts_dir / "predictive-targets.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 4, pages
    offline.check()


def test_list_on_a_laptop(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    page.set_viewport_size(LAPTOP)
    _open(page, base, seeded["kfrs_crew"], "kfrs", LIST_DAY)
    map_box = page.locator("#map-wrap").bounding_box()
    list_box = page.locator("section.list").bounding_box()
    assert map_box and list_box and map_box["x"] + map_box["width"] <= list_box["x"] + 1
    assert map_box["height"] > 400
    # The list scrolls in its own pane: the page is not made long by the boxes.
    assert page.evaluate("document.scrollingElement.scrollHeight") < 2 * LAPTOP["height"]
    page.get_by_test_id("about-list").locator("summary").click()
    about = page.get_by_test_id("about-list").inner_text()
    assert seeded["kfrs"].target_list.method in about and "Trained on" in about
    assert_accessible(page, "list page (laptop)")
    _shot(page, artifacts_dir, "targets-laptop")
    # The CSV with the session alone: one row per box, with its grid reference.
    with page.expect_download() as dl:
        page.get_by_test_id("download-csv").click()
    rows = Path(dl.value.path()).read_text().splitlines()
    # A download ends its navigation (net::ERR_ABORTED): that is the browser, not a failure.
    download = f"{base}/targets/page.csv?agency=kfrs&date={LIST_DAY}"
    offline.failed = [f for f in offline.failed if f != f"{download} net::ERR_ABORTED"]
    assert rows[0].startswith("rank,") and rows[0].endswith(",grid_ref") and len(rows) == 21
    assert rows[1].endswith(page.get_by_test_id("grid-ref-1").inner_text())
    offline.check()


def test_crew_logs_a_visit_from_the_phone(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """Signed in once on the phone, a crew logs a visit to a box; the name is kept for next time."""
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    _open(page, base, seeded["kfrs_crew"], "kfrs", LIST_DAY)
    box = page.get_by_test_id("box-3")
    cell = box.get_attribute("data-cell")
    before = _visits(page, base)
    page.get_by_test_id("log-visit-3").click()
    heights = box.locator("input:not([type=hidden]), textarea, button").evaluate_all(
        "els => els.map(e => e.offsetHeight)"
    )
    assert heights and min(heights) >= 44  # touch targets
    box.locator("input[name=crew]").fill("Chatham Blue Watch")
    box.locator("textarea[name=notes]").fill("Bins alight behind the shops, cleared")
    page.get_by_test_id("visited-now-3").click()
    page.wait_for_selector("[data-testid=visit-logged]")
    assert "box 3" in page.get_by_test_id("visit-logged").inner_text()
    assert page.url.endswith(f"#box-{cell}")
    assert page.get_by_test_id("box-3").locator(".visited").inner_text() == "Visited 1 time"
    new = [v for v in _visits(page, base) if v["id"] not in {b["id"] for b in before}]
    assert [(v["cell_id"], v["crew"], v["notes"]) for v in new] == [
        (cell, "Chatham Blue Watch", "Bins alight behind the shops, cleared")
    ]
    assert_accessible(page, "list page after a visit")
    _shot(page, artifacts_dir, "targets-visit-logged-phone")
    # The crew's name is filled in on the next box's form.
    page.get_by_test_id("log-visit-5").click()
    nxt = page.get_by_test_id("box-5")
    assert nxt.locator("input[name=crew]").input_value() == "Chatham Blue Watch"
    # Signed out once, the page asks again.
    page.get_by_test_id("signout").click()
    page.wait_for_load_state("load")
    response = page.goto(_url(base, "kfrs", LIST_DAY))
    assert response is not None and response.status == 401
    assert page.get_by_test_id("signin-password").is_visible()
    offline.check()


def _visits(page: Any, base: str) -> list[dict[str, Any]]:
    day = LIST_DAY.isoformat()
    r = page.request.get(f"{base}/visits?agency=kfrs&from={day}&to={day}")  # the session's
    assert r.ok, r.text()
    return list(r.json()["visits"])


def test_a_kfrs_crew_member_cannot_open_the_police_list(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    _open(page, base, seeded["kfrs_crew"], "police", LIST_DAY, status=403)
    reason = page.get_by_test_id("forbidden-reason").inner_text()
    assert reason.startswith("This list is for Kent Police (Medway).") and (
        "crew member of Kent Fire and Rescue Service (KFRS)" in reason
    ), reason
    assert page.get_by_test_id("box-1").count() == 0
    assert_accessible(page, "another agency's list (403)")
    _shot(page, artifacts_dir, "targets-other-agency-403-phone")
    for path in ("/targets", "/targets.csv", "/visits"):
        api = page.request.get(f"{base}{path}?agency=police&date={LIST_DAY}")
        assert api.status == 403, (path, api.status)
        assert api.headers["content-type"] == "application/problem+json"
    page.get_by_test_id("own-list-link").click()
    page.wait_for_selector("#map-wrap .leaflet-container")
    assert page.url.endswith(f"/targets/page?agency=kfrs&date={LIST_DAY}")
    assert page.locator("[data-testid^=box-]").count() == len(seeded["kfrs"].boxes)
    offline.check()


def test_a_day_without_recent_data_says_so_and_links_the_newest(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """Today's police list rests on nothing recent (the police file ends in 2022): said, linked."""
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    _open(page, base, seeded["police_crew"], "police", LIST_DAY)
    assert page.get_by_test_id("data-period").inner_text() == "Incidents up to 30 September 2022."
    notice = page.get_by_test_id("stale-data").inner_text()
    assert "No recent incident data." in notice and "30 September 2022" in notice
    link = page.get_by_test_id("newest-data-link")
    assert "1 October 2022" in link.inner_text()
    assert_accessible(page, "list without recent data")
    _shot(page, artifacts_dir, "targets-stale-phone")
    _settle(page)
    link.click()
    page.wait_for_selector("#map-wrap .leaflet-container")
    assert page.url.endswith(f"/targets/page?agency=police&date={POLICE_DATA_DAY}")
    assert page.get_by_test_id("stale-data").count() == 0
    assert page.locator("[data-testid^=box-]").count() == len(seeded["police_data"].boxes) > 0
    assert page.get_by_test_id("data-period").inner_text() == "Incidents up to 30 September 2022."
    _shot(page, artifacts_dir, "targets-police-2022-phone")
    offline.check()


def test_a_date_without_a_list_is_a_readable_page(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """No list is made by looking: the page says so, the data's period, and the newest list."""
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    _open(page, base, seeded["police_crew"], "police", date(2150, 1, 1), status=404)
    title = page.get_by_test_id("no-list-title").inner_text()
    assert title == "No list for Kent Police (Medway) on 1 January 2150", title
    period = page.get_by_test_id("data-period").inner_text()
    assert period.endswith("to 30 September 2022."), period
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "no-list page")
    _shot(page, artifacts_dir, "targets-no-list-phone")
    page.get_by_test_id("newest-list-link").click()
    page.wait_for_selector("#map-wrap .leaflet-container")
    assert page.url.endswith(f"/targets/page?agency=police&date={LIST_DAY}")  # the newest list
    offline.check()
