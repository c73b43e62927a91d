"""The SEG's quarterly CCTV briefing in headless Chromium, as an SEG member would use it.

Signed in through the suite's form, the member picks a quarter with seeded faults, footage
requests and decisions, reads each section (every figure checked against a count worked out
here from the seed list, with the register's own cameras counted by a plain query) and
downloads the PDF, whose text must hold the same figures. Every action is counted
(``clicks-seg-briefing.json``); every host but 127.0.0.1 is stopped and no request may fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.conftest import SHARED_DATA
from tests.factories import delete_cameras, log_fault, make_camera
from tests.integration.assets.test_briefing import (
    F,
    downtime_hours,
    expected_counts,
    spells,
    worst_breaches,
)

LONDON = ZoneInfo("Europe/London")
QUARTER = "2025Q2"
START = datetime(2025, 4, 1, tzinfo=LONDON).astimezone(UTC)
END = datetime(2025, 7, 1, tzinfo=LONDON).astimezone(UTC)
WARDS_PATH = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
WARDS_SOURCE = "browser briefing wards"
ON_STREET = ("active", "under_review", "decommissioning")
REFERENCES = ("KENT-BRF-0001", "KENT-BRF-0002", "KENT-BRF-0003", "KENT-BRF-0004")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


FAULTS = [
    F("A", "no_picture", utc(2025, 3, 31, 22, 30), utc(2025, 4, 2, 10)),  # open at the start
    F("A", "power", utc(2025, 4, 2, 9), utc(2025, 4, 3, 9)),  # overlaps: back online 3 April
    F("B", "no_picture", utc(2025, 4, 10, 8), utc(2025, 7, 3, 8)),  # open at the end
    F("C", "vandalism", utc(2025, 5, 10, 8), utc(2025, 5, 20, 8)),  # 240 h against 72 h
    F("C", "other", utc(2025, 6, 30, 22), utc(2025, 6, 30, 23, 30)),  # 23:00 BST on 30 June
    F("S", "network", utc(2025, 5, 1), utc(2025, 5, 3)),  # exactly 48 h; to store afterwards
    F("B", "intermittent_picture", utc(2025, 7, 5), utc(2025, 7, 6)),  # Q3
]
FOOTAGE = [
    ("A", date(2025, 4, 5), REFERENCES[0], "provided"),
    ("A", date(2025, 4, 6), REFERENCES[1], "pending"),
    ("B", date(2025, 6, 30), REFERENCES[2], "refused"),
    ("B", date(2025, 7, 1), REFERENCES[3], "provided"),  # Q3
]
CAMERAS = {  # key: (tag, name, ward, (lon, lat))
    "A": ("BRB-A", "Rainham High Street (west)", "Rainham Central", (0.6110, 51.3620)),
    "B": ("BRB-B", "Gillingham High Street", "Gillingham North", (0.5490, 51.3880)),
    "C": ("BRB-C", "Chatham bus station", "River", (0.5270, 51.3830)),
    "S": ("BRB-S", "Strood rapid camera", "Strood South", (0.4850, 51.3940)),
}


@pytest.fixture(scope="module")
def seeded(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """The quarter's faults, requests and decisions on four cameras, Medway's wards, people."""
    from sqlalchemy import text

    from services.assets.cameras.service import transition_camera
    from services.assets.decisions.schemas import DecisionCreate
    from services.assets.decisions.service import record_decision
    from services.assets.faults.service import update_fault_status
    from services.assets.footage.service import add_footage_request
    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    out: dict[str, Any] = {"numbers": {}}
    with make_sessionmaker(eng)() as s:
        load_layer(s, WARDS_PATH, layer="ward", source=WARDS_SOURCE)
        cams = {
            k: make_camera(
                s,
                asset_tag=tag,
                name=name,
                ward=ward,
                lon=where[0],
                lat=where[1],
                deployment="rapid" if k == "S" else "fixed",
                actor="briefing seed",
            )
            for k, (tag, name, ward, where) in CAMERAS.items()
        }
        for i, f in enumerate(FAULTS):
            fault = log_fault(s, cams[f.cam], category=f.category, reported_at=f.reported)
            out["numbers"][i] = fault.number
            if f.resolved:
                update_fault_status(s, fault_id=fault.id, status="fixed", actor="t", at=f.resolved)
        for cam, day, ref, outcome in FOOTAGE:
            add_footage_request(
                s,
                camera_id=cams[cam].id,
                requested_on=day,
                reference=ref,
                outcome=outcome,
                actor="briefing seed",
            )
        for cam, day, minute in (("C", date(2025, 5, 15), "SEG/25/05/4"),
                                 ("B", date(2025, 7, 2), "SEG/25/07/1")):  # fmt: skip
            s.refresh(cams[cam])
            record_decision(
                s,
                camera_id=cams[cam].id,
                data=DecisionCreate(
                    decision="retain", meeting_date=day, minute_ref=minute, reason="Busy junction"
                ),
                expected_version=cams[cam].version,
                actor="briefing seed",
            )
        s.refresh(cams["S"])
        transition_camera(
            s,
            camera_id=cams["S"].id,
            to="in_store",
            reason="season over",
            expected_version=cams["S"].version,
            actor="briefing seed",
        )
        s.commit()
        out["ids"] = [c.id for c in cams.values()]
    out["seg"] = people("briefing.seg", "seg", name="Sasha Seg")
    out["operator"] = people("briefing.operator", "operator", name="Owen Operator")
    try:
        yield out
    finally:
        with eng.begin() as conn:
            # delete_cameras does not know decision_effects (migration 0016) yet.
            conn.execute(
                text("DELETE FROM assets.decision_effects WHERE camera_id = ANY(:c)"),
                {"c": out["ids"]},
            )
            delete_cameras(conn, out["ids"])
            conn.execute(
                text("DELETE FROM core.boundary_areas WHERE source = :s"), {"s": WARDS_SOURCE}
            )
        eng.dispose()


def lifecycle_count(browser_db: str, lifecycle: str) -> int:
    """How many cameras the browser database holds in ``lifecycle``."""
    from sqlalchemy import text

    from shared.db import make_engine

    eng = make_engine(browser_db)
    with eng.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM assets.cameras WHERE lifecycle = :l"), {"l": lifecycle}
        ).scalar_one()
    eng.dispose()
    return int(n)


def cameras_counted(browser_db: str) -> int:
    """Cameras on the street now (a plain count), and BRB-S (in store, down in the quarter)."""
    from sqlalchemy import text

    from shared.db import make_engine

    eng = make_engine(browser_db)
    with eng.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM assets.cameras WHERE lifecycle = ANY(:l)"),
            {"l": list(ON_STREET)},
        ).scalar_one()
    eng.dispose()
    return int(n) + 1


class Offline:
    """Requests to other hosts (stopped) and failed or error answers (none expected)."""

    def __init__(self, page: Any) -> None:
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.bad: list[tuple[int, str]] = []
        page.route("**/*", self._route)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: self.bad.append((r.status, urlsplit(r.url).path)) if r.status >= 400 else 0,
        )

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def check(self, expected: tuple[tuple[int, str], ...] = ()) -> None:
        """Nothing left the machine, nothing failed, no error answer but ``expected``."""
        assert self.blocked == [] and self.failed == [], (self.blocked, self.failed)
        assert [b for b in self.bad if b not in expected] == [], self.bad


class Clicks:
    """The person's actions (a click, a choice, a form filled in and sent), in order."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def do(self, step: str, action: Any) -> Any:
        """Do ``action`` and count it as one action."""
        out = action()
        self.steps.append(step)
        return out

    def save(self, path: Path, task: str) -> None:
        """Write {"task", "clicks", "steps"}."""
        body = {"task": task, "clicks": len(self.steps), "steps": self.steps}
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def text_of(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).inner_text()).strip()


def attrs(page: Any, testid: str, attr: str) -> list[str]:
    return [str(a) for a in page.locator(f"[data-testid={testid}]").evaluate_all(
        f"els => els.map(e => e.dataset.{attr})"
    )]  # fmt: skip


def pct(share: float) -> str:
    return f"{share * 100:.2f}%"


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the briefing's PDF")
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    return re.sub(r"[ \t]+", " ", done.stdout)


def check_sections(page: Any, seeded: dict[str, Any], counted: int) -> dict[str, int]:
    """Every section's figures against the seed list; returns the fault counts."""
    want = expected_counts(START, END, FAULTS)
    assert want == {"open_at_start": 1, "opened": 5, "fixed": 4, "open_at_end": 2, "breached": 3}
    for key in ("open_at_start", "opened", "fixed", "open_at_end"):
        tid = key.replace("_", "-")
        assert text_of(page, f"fig-{tid}") == str(want[key]), key
        assert text_of(page, f"faults-{tid}") == str(want[key]), key
    assert text_of(page, "fig-breached") == text_of(page, "faults-breached") == "3"
    over = worst_breaches(START, END, seeded["numbers"], FAULTS)
    assert attrs(page, "breach-row", "number") == [n for _, n in over]
    assert page.get_by_test_id("breach-over").all_inner_texts() == [f"{h:,.1f} h" for h, _ in over]

    back = [k for k in CAMERAS if any(START <= b < END for _, b in spells(k, FAULTS))]
    assert (
        attrs(page, "back-online-row", "tag")
        == [CAMERAS[k][0] for k in back]
        == [
            "BRB-A",
            "BRB-S",
        ]
    )
    assert text_of(page, "fig-back-online") == "2"

    hours = (END - START).total_seconds() / 3600
    down = {k: downtime_hours(k, START, END, FAULTS) for k in CAMERAS}
    overall = 1 - sum(down.values()) / (hours * counted)
    assert text_of(page, "availability-overall") == text_of(page, "fig-availability")
    assert text_of(page, "availability-overall") == pct(overall)
    assert text_of(page, "availability-cameras") == f"{counted} cameras"
    listed = sorted((k for k in CAMERAS if down[k] > 0), key=lambda k: -down[k])
    assert attrs(page, "availability-row", "tag") == [CAMERAS[k][0] for k in listed]
    values = page.get_by_test_id("availability-value").all_inner_texts()
    assert values == [pct(1 - down[k] / hours) for k in listed]

    in_q = [o for _, d, _, o in FOOTAGE if date(2025, 4, 1) <= d <= date(2025, 6, 30)]
    for outcome in ("pending", "provided", "no_relevant_footage", "not_recorded", "refused"):
        assert text_of(page, f"footage-{outcome}") == str(in_q.count(outcome)), outcome
    assert text_of(page, "footage-total") == text_of(page, "fig-footage-total") == str(len(in_q))

    assert attrs(page, "decision-row", "minute") == ["SEG/25/05/4"]
    assert text_of(page, "fig-decisions") == "1"
    recs = attrs(page, "recommendation-row", "tag")
    assert text_of(page, "fig-recommendations") == str(len(recs))
    assert "BRB-C" not in recs and "BRB-B" not in recs  # decided since the window began
    period = text_of(page, "incident-period")
    assert period.startswith("Incidents up to") or period == "No incident data are held."
    body = str(page.locator("main").inner_text())
    for ref in REFERENCES:
        assert ref not in body
    return want


def test_seg_member_reads_a_quarter_and_downloads_the_pdf(
    page: Any, live_server: Any, seeded: dict[str, Any], browser_db: str, artifacts_dir: Path
) -> None:
    offline = Offline(page)
    base = live_server("assets")
    clicks = Clicks()
    clicks.do(
        "sign in: username and password, Sign in",
        lambda: sign_in(page, base, seeded["seg"], next_path="/briefing"),
    )
    assert urlsplit(page.url).path == "/briefing"
    picker = page.get_by_test_id("quarter-picker")
    assert picker.locator("option").first.inner_text().endswith("so far)")  # the running one
    clicks.do("pick 2025 Q2 in the quarter picker", lambda: picker.select_option(QUARTER))
    clicks.do("Show", page.get_by_test_id("quarter-show").click)
    page.wait_for_load_state("load")
    assert page.url == f"{base}/briefing?quarter={QUARTER}"
    assert page.get_by_role("heading", level=1).inner_text() == "CCTV briefing: April to June 2025"
    for section in ("summary", "map", "faults", "back-online", "availability", "footage",
                    "decisions", "recommendations"):  # fmt: skip
        assert page.get_by_test_id(f"briefing-{section}").is_visible(), section
    want = check_sections(page, seeded, cameras_counted(browser_db))

    alt = str(page.get_by_test_id("briefing-map-image").get_attribute("alt"))
    # The browser database is shared with other page tests: count what it holds now.
    in_store = lifecycle_count(browser_db, "in_store")
    assert alt.startswith("Map of 22 wards with ") and f"{in_store} in store" in alt, alt
    assert page.evaluate(
        "(() => { const i = document.querySelector('[data-testid=briefing-map-image]');"
        " return i.complete && i.naturalWidth > 600; })()"
    )
    assert_accessible(page, "briefing")
    page.screenshot(path=str(artifacts_dir / "briefing-seg-laptop.png"), full_page=True)

    with page.expect_download() as download:
        clicks.do("Download PDF", page.get_by_test_id("briefing-pdf").click)
    pdf = artifacts_dir / "briefing-2025Q2.pdf"
    download.value.save_as(str(pdf))
    assert download.value.suggested_filename == "cctv-briefing-2025Q2.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "CCTV briefing: April to June 2025" in text
    assert f"Open at the start of the period {want['open_at_start']}" in text
    assert f"Logged in the period {want['opened']}" in text
    assert f"Fixed or closed in the period {want['fixed']}" in text
    assert f"Still open at the end of the period {want['open_at_end']}" in text
    for _, number in worst_breaches(START, END, seeded["numbers"], FAULTS):
        assert number in text
    assert text_of(page, "availability-overall") in text
    assert "SEG/25/05/4" in text and "SEG/25/07/1" not in text
    assert "All requests 3" in text
    for ref in REFERENCES:
        assert ref not in text

    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    assert page.get_by_test_id("quarter-form").is_hidden()  # no controls on paper
    assert page.locator("header nav").is_hidden()
    page.screenshot(path=str(artifacts_dir / "briefing-seg-print.png"), full_page=True)
    clicks.save(artifacts_dir / "clicks-seg-briefing.json", "seg-briefing")
    assert len(clicks.steps) == 4, clicks.steps
    offline.check()


def test_operator_is_shown_the_403_page(
    page: Any, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    offline = Offline(page)
    base = live_server("assets")
    sign_in(page, base, seeded["operator"], next_path="/briefing")
    assert urlsplit(page.url).path == "/briefing"
    body = str(page.locator("main").inner_text())
    assert "The CCTV briefing" in body and "seg" in body
    assert page.get_by_test_id("quarter-picker").count() == 0
    assert_accessible(page, "briefing 403")
    page.screenshot(path=str(artifacts_dir / "briefing-operator-403.png"))
    offline.check(expected=((403, "/briefing"),))


def test_a_bad_quarter_is_a_readable_page(
    page: Any, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    offline = Offline(page)
    base = live_server("assets")
    sign_in(page, base, seeded["seg"], next_path="/briefing?quarter=2025Q9")
    assert "is not a quarter" in text_of(page, "briefing-error")
    assert page.get_by_test_id("quarter-picker").is_visible()
    assert page.get_by_test_id("briefing-pdf").count() == 0
    assert_accessible(page, "briefing, bad quarter")
    offline.check(expected=((422, "/briefing"),))
