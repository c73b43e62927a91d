"""The crews' daily list in headless Chromium: phone and laptop, print, visits, agencies, dates.

People sign in through the suite's one form (``tests.browser.conftest.sign_in``). Every request
to another host is stopped: map tiles get a blank stand-in (the tile source is a setting),
anything else is aborted and must not happen; no request of the suite's may fail. axe-core
checks each page; screenshots, PDFs and the crew's click count are kept in the artifacts folder.

The printed list is checked on the page as Chromium lays it out for print (A4): every box and
every rank label inside the print map, no two labels overlapping (nor the north arrow or the
scale bar), each label on its box or joined to it by a leader line; and in the PDF Chromium
prints: one page for 20 boxes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in, wait_js
from tests.browser.steps import LAPTOP, PHONE, Offline, cut_off
from tests.conftest import SHARED_DATA
from tests.factories import load_medway, make_list, store_incidents, synthetic_incidents, today

# What Chromium lays out on an A4 page at 96 CSS px per inch: 186 x 273 mm between the page's
# 12 mm margins.
A4_CONTENT = {"width": 703, "height": 1032}
A4_CONTENT_PX = A4_CONTENT["width"]
# Lists are read, never made, by the page, and a visit logged "now" counts for today's list:
# the module's fixture stores today's lists as the nightly job would.
LIST_DAY = today()
TOMORROW = LIST_DAY + timedelta(days=1)
# The real police file for September 2022: months only, so the data cover up to 30 September
# and 1 October 2022 is the newest day a list can use them all.
POLICE_FILE = SHARED_DATA / "police" / "2022-09-kent-street-medway.csv"
POLICE_DATA_DAY = date(2022, 10, 1)
WARDS_PATH = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARDS_SOURCE = "browser predictive wards"
RANK_FILLS = ("#b2182b", "#ef8a62", "#fddbc7")
BOX_PATHS = ", ".join(f'path[fill="{c}"]' for c in RANK_FILLS)


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
            "kfrs_tomorrow": make_list(s, "kfrs", TOMORROW),
            "police_data": make_list(s, "police", POLICE_DATA_DAY),
            "police_today": make_list(s, "police", LIST_DAY),
        }
        out["dense"] = _dense_list(s, "police", DENSE_DAY)
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


# A list no map can label in place: 19 boxes side by side in one block in Chatham, and one
# 8 km away on the Hoo peninsula, so the print map's scale makes the block a few labels wide.
DENSE_DAY = date(2022, 9, 20)  # inside the police file's month: no stale notice
DENSE_BLOCK = (575700, 167700)  # EPSG:27700, a corner of the block (150 m cells)
DENSE_FAR = (580650, 174150)


def _dense_list(session: Any, agency_code: str, day: date) -> list[str]:
    """Store a 20-box list for (agency, day) by hand; returns its cell ids by rank."""
    from datetime import datetime, time

    from services.predictive.agencies.service import find_agency
    from services.predictive.dates import LONDON
    from services.predictive.models import TargetBox, TargetList

    agency = find_agency(session, code=agency_code)
    assert agency is not None
    x0, y0 = DENSE_BLOCK
    corners = [(x0 + 150 * (i % 5), y0 + 150 * (i // 5)) for i in range(19)] + [DENSE_FAR]
    start = datetime.combine(day, time(9), tzinfo=LONDON)
    lst = TargetList(
        agency_id=agency.id,
        list_date=day,
        method="naive28",
        requested_method="naive28",
        params={},
        warnings=[],
        categories=list(agency.categories),
        cell_size_m=150.0,
        shift_start=start,
        shift_end=start + timedelta(hours=12),
        trained_before=datetime.combine(day, time(0), tzinfo=LONDON),
        n_events=100,
        n_candidate_cells=500,
        generated_by="cli",
    )
    session.add(lst)
    session.flush()
    cells = []
    for rank, (x, y) in enumerate(corners, start=1):
        cell = f"150m_{x}_{y}"
        ring = f"{x} {y},{x + 150} {y},{x + 150} {y + 150},{x} {y + 150},{x} {y}"
        session.add(
            TargetBox(
                list_id=lst.id,
                rank=rank,
                cell_id=cell,
                score=1.0 / rank,
                ward="Chatham Central" if rank < 20 else "Peninsula",
                geom=f"SRID=27700;POLYGON(({ring}))",
            )
        )
        cells.append(cell)
    session.flush()
    return cells


@pytest.fixture()
def offline(page: Any) -> Offline:
    """Stop every request to another host (tiles get a stand-in); record failed requests and
    JavaScript errors."""
    seen = cut_off(page, tiles=True)
    page.on("pageerror", lambda exc: seen.failed.append(f"JavaScript: {exc}"))
    return seen


def _written(d: date) -> str:
    """ "2 December 2026", by the C library rather than the page's own month names."""
    return f"{d.day} {d.strftime('%B')} {d.year}"


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

# The print (or screen) map as laid out: its frame, the boxes (in rank order: the layer draws
# them in the list's order), the rank labels, the leader lines' two ends, the north arrow and
# the scale bar; all in page pixels.
LAYOUT_JS = """([root, boxes]) => {
  const rect = e => { const r = e.getBoundingClientRect();
    return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; };
  const all = sel => [...document.querySelectorAll(sel)];
  const ends = p => { const m = p.getScreenCTM(), n = p.getTotalLength();
    const at = t => { const q = p.getPointAtLength(t);
      return [q.x * m.a + q.y * m.c + m.e, q.x * m.b + q.y * m.d + m.f]; };
    return [at(0), at(n)]; };
  const shown = e => getComputedStyle(e).visibility !== 'hidden' && rect(e).x1 > rect(e).x0;
  return {
    frame: rect(document.querySelector(root + ' .leaflet-container')),
    boxes: all(root + ' :is(' + boxes + ')').map(rect),
    labels: all(root + ' .rank-label').map(e => ({rank: +e.dataset.rank, ...rect(e)})),
    leaders: all(root + ' path.rank-leader').map(ends),
    furniture: all(root + ' .north-arrow, ' + root + ' .leaflet-control-scale')
      .filter(shown).map(rect),
  };
}"""


def _overlap(a: dict[str, float], b: dict[str, float], tol: float = 0.5) -> bool:
    return (
        a["x0"] < b["x1"] - tol
        and b["x0"] < a["x1"] - tol
        and a["y0"] < b["y1"] - tol
        and b["y0"] < a["y1"] - tol
    )


def _within(a: dict[str, float], frame: dict[str, float], margin: float = 0.0) -> bool:
    return (
        a["x0"] >= frame["x0"] + margin - 0.5
        and a["y0"] >= frame["y0"] + margin - 0.5
        and a["x1"] <= frame["x1"] - margin + 0.5
        and a["y1"] <= frame["y1"] - margin + 0.5
    )


def _centre(r: dict[str, float]) -> tuple[float, float]:
    return (r["x0"] + r["x1"]) / 2, (r["y0"] + r["y1"]) / 2


def _near(p: tuple[float, float] | list[float], q: tuple[float, float], d: float) -> bool:
    return bool((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 <= d * d)


def check_labels(lay: dict[str, Any], n: int, *, box_margin: float = 0.0) -> int:
    """Every box and rank label inside the frame, no two labels (or a label and the north
    arrow or scale bar) overlapping, each label on its box or joined to it by a leader line.
    Returns how many labels have a leader."""
    frame, boxes, labels = lay["frame"], lay["boxes"], lay["labels"]
    assert len(boxes) == n and sorted(lab["rank"] for lab in labels) == list(range(1, n + 1))
    outside = [i + 1 for i, b in enumerate(boxes) if not _within(b, frame, box_margin)]
    assert not outside, f"boxes outside the map (or its margin): {outside}"
    assert all(_within(lab, frame) for lab in labels), [
        lab["rank"] for lab in labels if not _within(lab, frame)
    ]
    clashes = [
        (a["rank"], b["rank"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if _overlap(a, b)
    ]
    assert not clashes, f"labels overlapping: {clashes}"
    covered = [lab["rank"] for lab in labels for f in lay["furniture"] if _overlap(lab, f)]
    assert not covered, f"labels over the north arrow or the scale bar: {covered}"
    hidden = [i + 1 for i, b in enumerate(boxes) for f in lay["furniture"] if _overlap(b, f)]
    assert not hidden, f"boxes under the north arrow or the scale bar: {hidden}"
    led = 0
    for lab in labels:
        box_at, label_at = _centre(boxes[lab["rank"] - 1]), _centre(lab)
        radius = (lab["x1"] - lab["x0"]) / 2 + 2.5
        if (
            _near(box_at, label_at, radius)
            and lab["x1"] - lab["x0"]
            <= boxes[lab["rank"] - 1]["x1"] - boxes[lab["rank"] - 1]["x0"] + 1
        ):
            continue  # on its own box, which is larger than the label
        joined = [
            ends
            for ends in lay["leaders"]
            if any(
                _near(ends[i], box_at, 2.5) and _near(ends[1 - i], label_at, radius) for i in (0, 1)
            )
        ]
        assert joined, f"label {lab['rank']} is neither on its box nor joined to it"
        led += 1
    return led


def check_print(page: Any, n: int) -> dict[str, Any]:
    """The page as printed: the print map with its boxes, labels, wards, scale and north
    arrow; the table of boxes; nothing of the screen's controls."""
    for hidden in (
        "#map-wrap",
        ".actions",
        "section.list",
        "header.top",
        "[data-testid=date-picker]",
    ):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.get_by_test_id("print-map").is_visible()
    lay = page.evaluate(LAYOUT_JS, ["#print-map", BOX_PATHS])
    frame = lay["frame"]
    assert frame["x1"] - frame["x0"] <= A4_CONTENT_PX
    lay["leaders_used"] = check_labels(lay, n, box_margin=8)
    # The context prints: ward lines and some ward names on the print map.
    assert page.locator("#print-map path.csp-ward").count() > 0
    names = page.locator("#print-map .csp-area-name:not(.csp-area-name-hidden)")
    assert names.count() > 0 and names.first.is_visible()
    scale = page.locator("#print-map .leaflet-control-scale-line").first
    assert scale.is_visible() and re.fullmatch(r"\d+ k?m", scale.inner_text()), scale.inner_text()
    arrow = page.get_by_test_id("north-arrow")
    assert arrow.is_visible() and _within(
        page.evaluate(
            "() => { const r = document.querySelector('#print-map .north-arrow')"
            ".getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; }"
        ),
        frame,
    )
    # The table: rank, ward, grid reference, a tick box and room for notes, one row per box.
    table = page.get_by_test_id("print-table")
    heads = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert heads == ["Rank", "Ward", "Grid reference", "Visited", "Notes"], heads
    rows = table.locator("tbody tr")
    assert rows.count() == n
    for i in range(n):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text().strip() == str(i + 1)
        assert cells.nth(1).inner_text().strip()
        assert re.fullmatch(r"TQ \d{4} \d{4}", cells.nth(2).inner_text().strip())
        tick = cells.nth(3).locator(".tick").bounding_box()
        assert tick and tick["width"] >= 10 and tick["height"] >= 10
        notes = cells.nth(4).bounding_box()
        assert notes and notes["width"] >= 200 and notes["height"] >= 18  # room to write
    return dict(lay)


def save_pdf(page: Any, path: Path) -> tuple[int, str]:
    """Print the page as Chromium does to A4; keep the PDF; its page count and its text."""
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    path.write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    text = ""
    if shutil.which("pdftotext"):
        done = subprocess.run(  # noqa: S603 - a fixed tool on a file the test wrote
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        )
        text = done.stdout
        assert text.count("\f") <= pages  # pdftotext ends each page with a form feed
    return pages, text


@dataclass
class Clicks:
    """The actions a person makes (a click, a choice, a form filled in and sent), in order."""

    steps: list[str] = field(default_factory=list)

    def do(self, step: str, action: Callable[[], Any]) -> None:
        """Do ``action`` and count it as one of the person's actions."""
        action()
        self.steps.append(step)

    def save(self, path: Path, task: str) -> None:
        """Write {"task", "clicks", "steps"} to ``path``."""
        body = {"task": task, "clicks": len(self.steps), "steps": self.steps}
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


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
    check_labels(page.evaluate(LAYOUT_JS, ["#map-wrap", BOX_PATHS]), n)  # on screen too
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

    refs = [page.get_by_test_id(f"grid-ref-{i}").inner_text() for i in range(1, n + 1)]
    # On paper: the fixed-size print map with every box and label, then the table; one page.
    page.set_viewport_size(A4_CONTENT)
    page.emulate_media(media="print")
    check_print(page, n)
    _shot(page, artifacts_dir, "targets-print")
    pages, text = save_pdf(page, artifacts_dir / "predictive-targets.pdf")
    assert pages == 1, pages
    if text:  # pdftotext installed: the table's words are on that page
        assert "Grid reference" in text and all(r in text for r in refs), text[:500]
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
    assert "No incident data for this window." in notice and "30 September 2022" in notice
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
    # A date the page cannot read: a readable page saying what a date looks like, and the picker.
    response = page.goto(f"{base}/targets/page?agency=police&date=31/12/2022")
    assert response is not None and response.status == 422
    assert "YYYY-MM-DD" in page.get_by_test_id("bad-date").inner_text()
    assert page.get_by_test_id("list-date").is_visible()
    assert_accessible(page, "bad-date page")
    _shot(page, artifacts_dir, "targets-bad-date-phone")
    page.go_back()
    page.get_by_test_id("newest-list-link").click()
    page.wait_for_selector("#map-wrap .leaflet-container")
    assert page.url.endswith(f"/targets/page?agency=police&date={LIST_DAY}")  # the newest list
    offline.check()


NO_PRINT_DIALOG = "window.print = function () { window.__printed = (window.__printed || 0) + 1; };"


def test_crew_picks_a_date_logs_a_visit_and_prints_the_list(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """Issue #14's crews' task as a KFRS crew member on a phone, every action counted: sign in,
    open the list, log a visit to a box, pick tomorrow's list, print it on one A4 page."""
    base = live_server("predictive")
    page.set_viewport_size(PHONE)
    page.add_init_script(NO_PRINT_DIALOG)  # headless: count the print instead of a dialog
    clicks = Clicks()
    clicks.do(
        "sign in: username and password, Sign in",
        lambda: sign_in(page, base, seeded["kfrs_crew"], next_path="/"),
    )
    nav = page.locator("header nav").get_by_role("link", name="KFRS boxes")
    clicks.do("open KFRS boxes in the header", nav.click)
    page.wait_for_selector("#map-wrap .leaflet-container")
    assert page.url == f"{base}/targets/page?agency=kfrs"  # today's list
    assert page.get_by_test_id("list-date").input_value() == LIST_DAY.isoformat()
    _settle(page)

    # A visit to box 2 of today's list.
    before = _visits(page, base)
    clicks.do("Log visit on box 2", page.get_by_test_id("log-visit-2").click)
    form = page.get_by_test_id("box-2")
    form.locator("input[name=crew]").fill("Gillingham White Watch")
    form.locator("textarea[name=notes]").fill("Spoke to the shop owners about the bins")
    clicks.do("Visited now (crew and notes typed)", page.get_by_test_id("visited-now-2").click)
    page.wait_for_selector("[data-testid=visit-logged]")
    new = [v for v in _visits(page, base) if v["id"] not in {b["id"] for b in before}]
    cell = seeded["kfrs"].boxes[1].cell_id
    assert [(v["cell_id"], v["crew"], v["list_date"]) for v in new] == [
        (cell, "Gillingham White Watch", LIST_DAY.isoformat())
    ], new
    assert page.get_by_test_id("box-2").locator(".visited").is_visible()
    _shot(page, artifacts_dir, "crew-list-1-visit-logged")
    _settle(page)

    # The date picker: today, tomorrow and the newest day with data, each saying if it has a list.
    picker = page.get_by_test_id("list-date")
    options = picker.locator("option").all_inner_texts()
    assert options[0] == f"Today, {_written(LIST_DAY)}" and options[1].startswith(
        f"Tomorrow, {_written(TOMORROW)}"
    ), options
    clicks.do(
        "pick tomorrow in the date picker", lambda: picker.select_option(TOMORROW.isoformat())
    )
    clicks.do("Show", page.get_by_test_id("list-date-show").click)
    page.wait_for_selector("#map-wrap .leaflet-container")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{base}/targets/page?agency=kfrs&date={TOMORROW.isoformat()}"
    assert page.get_by_test_id("list-title").inner_text().endswith(_written(TOMORROW))
    tomorrow = seeded["kfrs_tomorrow"]
    n = len(tomorrow.boxes)
    assert n == 20 and page.locator("[data-testid^=box-]").count() == n
    # "Go" opens the phone's maps app at the box (a geo: link with a pin and its label).
    go = page.get_by_test_id("go-1").get_attribute("href") or ""
    found = re.fullmatch(r"geo:(-?[\d.]+),(-?[\d.]+)\?q=(-?[\d.]+),(-?[\d.]+)\(([^()]+)\)", go)
    assert found, go
    lat, lon = float(found.group(1)), float(found.group(2))
    assert (found.group(3), found.group(4)) == (found.group(1), found.group(2))
    assert 51.3 < lat < 51.5 and 0.4 < lon < 0.7 and found.group(5).startswith("Box%201%2C%20")
    assert_accessible(page, "tomorrow's list (phone)")
    _shot(page, artifacts_dir, "crew-list-2-tomorrow")

    clicks.do("Print", page.get_by_test_id("print").click)
    assert page.evaluate("window.__printed") == 1
    page.set_viewport_size(A4_CONTENT)
    page.emulate_media(media="print")
    check_print(page, n)
    _shot(page, artifacts_dir, "crew-list-3-printed")
    pages, text = save_pdf(page, artifacts_dir / "crew-list.pdf")
    assert pages == 1, pages
    # The wards print: names only the map shows (not a box's ward in the table) are in the PDF.
    names = page.locator("#print-map .csp-area-name:not(.csp-area-name-hidden):not(.rank-covered)")
    table_wards = set(
        page.get_by_test_id("print-table").locator("tbody td:nth-child(2)").all_inner_texts()
    )
    only_map = [w for w in names.all_inner_texts() if w not in table_wards]
    assert only_map, names.all_inner_texts()
    if text:
        assert any(w in text for w in only_map), (only_map, text[:400])
    clicks.save(artifacts_dir / "clicks-crew-list.json", "crew-list")
    assert len(clicks.steps) == 7, clicks.steps
    offline.check()


def test_a_dense_cluster_prints_with_every_label_apart(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """19 boxes side by side and one 8 km off: no label can sit on its box; each goes beside
    it with a leader line, none overlapping, on screen and on one printed page."""
    base = live_server("predictive")
    page.set_viewport_size(LAPTOP)
    _open(page, base, seeded["police_crew"], "police", DENSE_DAY)
    assert page.get_by_test_id("stale-data").count() == 0
    screen = check_labels(page.evaluate(LAYOUT_JS, ["#map-wrap", BOX_PATHS]), 20)
    assert screen >= 15, screen
    _shot(page, artifacts_dir, "targets-dense-laptop")
    page.set_viewport_size(A4_CONTENT)
    page.emulate_media(media="print")
    lay = check_print(page, 20)
    assert lay["leaders_used"] >= 19, lay["leaders_used"]  # a box is a few pixels wide
    _shot(page, artifacts_dir, "targets-dense-print")
    pages, _ = save_pdf(page, artifacts_dir / "predictive-targets-dense.pdf")
    assert pages == 1, pages
    offline.check()


def test_the_label_layout_keeps_labels_apart_in_a_crowd(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any]
) -> None:
    """ranks.js's layout alone, on crowds no list has yet: 60 boxes in a 40 px blob, and 40
    boxes along a line, in a small map with a control in its corner."""
    base = live_server("predictive")
    _open(page, base, seeded["kfrs_crew"], "kfrs", LIST_DAY)
    import random

    rng = random.Random(14)
    crowds: dict[str, list[dict[str, float]]] = {
        "blob": [{"x": 300 + rng.uniform(-20, 20), "y": 200 + rng.uniform(-20, 20), "half": 3}
                 for _ in range(60)],
        "line": [{"x": 40 + 13 * i, "y": 150, "half": 3} for i in range(40)],
    }  # fmt: skip
    corner = {"x0": 0.0, "y0": 360.0, "x1": 120.0, "y1": 400.0}
    for name, anchors in crowds.items():
        opts = {"size": 20, "width": 600, "height": 400, "margin": 2, "obstacles": [corner]}
        out = page.evaluate("([a, o]) => CSP_RANKS.layout(a, o)", [anchors, opts])
        rects = [{"x0": p["x"] - 10, "y0": p["y"] - 10, "x1": p["x"] + 10, "y1": p["y"] + 10}
                 for p in out]  # fmt: skip
        frame = {"x0": 0.0, "y0": 0.0, "x1": 600.0, "y1": 400.0}
        assert len(out) == len(anchors) and all(_within(r, frame) for r in rects), name
        clashes = [
            (i, j) for i in range(len(rects)) for j in range(i) if _overlap(rects[i], rects[j])
        ]
        assert not clashes and not any(_overlap(r, corner) for r in rects), (name, clashes[:5])
        assert all(p["leader"] for p in out), name  # 6 px boxes: never a label on top
    offline.check()
