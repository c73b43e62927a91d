"""The SEG's quarterly briefing: every figure against a count made here, apart from the suite.

Faults, footage requests and decisions are seeded through the services (tests/factories.py and
the use cases) around a British Summer Time quarter, with faults on its London edges. The test
works out what each figure must be from the seed list itself (its own interval arithmetic and
the maintenance contract's SLA hours), then reads the figures on the page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.assets.decisions.schemas import DecisionCreate
from services.assets.decisions.service import record_decision
from services.assets.faults.availability import camera_availability
from services.assets.faults.service import update_fault_status
from services.assets.footage.service import add_footage_request
from tests.factories import log_fault, make_camera

LONDON = ZoneInfo("Europe/London")
QUARTER = "2024Q2"
# The quarter's London midnights, worked out here: 1 April and 1 July 2024, both in BST.
START = datetime(2024, 4, 1, tzinfo=LONDON).astimezone(UTC)
END = datetime(2024, 7, 1, tzinfo=LONDON).astimezone(UTC)
# The maintenance contract's hours to fix (the register's defaults).
CONTRACT_HOURS = {
    "no_picture": 24,
    "power": 24,
    "network": 48,
    "cabling": 72,
    "intermittent_picture": 72,
    "vandalism": 72,
    "pan_tilt_zoom": 120,
    "other": 120,
}
NO_PICTURE = {"no_picture", "power", "network", "cabling"}
TRICKY = "{{ 7*7 }} <b>bold</b> & co"
REFERENCES = ("KENT-REF-0001", "KENT-REF-0002", "KENT-REF-0003", "KENT-REF-0004")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass(frozen=True)
class F:
    """One seeded fault: camera key, category, reported and resolved (UTC)."""

    cam: str
    category: str
    reported: datetime
    resolved: datetime | None


FAULTS = [
    # 23:30 on 31 March in London: Q1. Fixed in Q2 after 35.5 h (SLA 24 h).
    F("A", "no_picture", utc(2024, 3, 31, 22, 30), utc(2024, 4, 2, 10)),
    # Overlaps the first: the picture comes back only when this one is fixed (24 h: no breach).
    F("A", "power", utc(2024, 4, 2, 9), utc(2024, 4, 3, 9)),
    # 00:30 on 1 April in London: Q2. Never fixed.
    F("B", "no_picture", utc(2024, 3, 31, 23, 30), None),
    # Not a no-picture fault: no downtime, but 240 h against 72 h.
    F("C", "vandalism", utc(2024, 5, 10, 8), utc(2024, 5, 20, 8)),
    # Logged at 23:00 on 30 June (Q2), fixed at 00:30 on 1 July (Q3): open at the end.
    F("C", "other", utc(2024, 6, 30, 22), utc(2024, 6, 30, 23, 30)),
    # Exactly its 48 h: no breach. The camera goes to store afterwards.
    F("E", "network", utc(2024, 5, 1), utc(2024, 5, 3)),
    # Before and after the quarter: in none of its figures.
    F("A", "cabling", utc(2024, 1, 10), utc(2024, 1, 12)),
    F("B", "intermittent_picture", utc(2024, 7, 5), None),
]
FOOTAGE = [  # camera, requested on, reference, outcome
    ("A", date(2024, 4, 5), REFERENCES[0], "provided"),
    ("A", date(2024, 4, 6), REFERENCES[1], "pending"),
    ("B", date(2024, 6, 30), REFERENCES[2], "refused"),
    ("B", date(2024, 7, 1), REFERENCES[3], "provided"),  # Q3
]


# ---------------------------------------------------------------- the counts, worked out here


def taken_hours(f: F, end: datetime) -> float:
    stop = min(f.resolved, end) if f.resolved else end
    return (stop - f.reported).total_seconds() / 3600


def in_period(f: F, start: datetime, end: datetime) -> bool:
    return f.reported < end and (f.resolved is None or f.resolved >= start)


def expected_counts(start: datetime, end: datetime, faults: Sequence[F] = FAULTS) -> dict[str, int]:
    """Open at the start, logged, fixed, open at the end, past the SLA: from the seed list."""
    over = [f for f in faults if in_period(f, start, end)]
    return {
        "open_at_start": sum(
            f.reported < start and (f.resolved is None or f.resolved >= start) for f in faults
        ),
        "opened": sum(start <= f.reported < end for f in faults),
        "fixed": sum(f.resolved is not None and start <= f.resolved < end for f in faults),
        "open_at_end": sum(
            f.reported < end and (f.resolved is None or f.resolved >= end) for f in faults
        ),
        "breached": sum(taken_hours(f, end) > CONTRACT_HOURS[f.category] for f in over),
    }


def worst_breaches(
    start: datetime, end: datetime, numbers: dict[int, str], faults: Sequence[F] = FAULTS
) -> list[tuple[float, str]]:
    """(hours over the target, fault number) of the faults past their SLA, worst first."""
    return sorted(
        (
            (taken_hours(f, end) - CONTRACT_HOURS[f.category], numbers[i])
            for i, f in enumerate(faults)
            if in_period(f, start, end) and taken_hours(f, end) > CONTRACT_HOURS[f.category]
        ),
        reverse=True,
    )


def spells(cam: str, faults: Sequence[F] = FAULTS) -> list[tuple[datetime, datetime]]:
    """The camera's spells without picture, merged by hand (open ones run on for ever)."""
    far = utc(2100, 1, 1)
    out: list[list[datetime]] = []
    for f in sorted(
        (f for f in faults if f.cam == cam and f.category in NO_PICTURE), key=lambda f: f.reported
    ):
        stop = f.resolved or far
        if out and f.reported <= out[-1][1]:
            out[-1][1] = max(out[-1][1], stop)
        else:
            out.append([f.reported, stop])
    return [(a, b) for a, b in out]


def downtime_hours(cam: str, start: datetime, end: datetime, faults: Sequence[F] = FAULTS) -> float:
    total = 0.0
    for a, b in spells(cam, faults):
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds() / 3600
    return total


# ---------------------------------------------------------------- seeds and page reading


@pytest.fixture()
def seeded(db_session: Any) -> Iterator[dict[str, Any]]:
    cams = {
        "A": make_camera(db_session, asset_tag="BRF-A", name=TRICKY, ward="Rainham Central"),
        "B": make_camera(db_session, asset_tag="BRF-B", name="Gillingham High Street"),
        "C": make_camera(db_session, asset_tag="BRF-C", name="Chatham bus station"),
        "D": make_camera(db_session, asset_tag="BRF-D", name="Store camera", lifecycle="in_store"),
        "E": make_camera(db_session, asset_tag="BRF-E", name="Strood pier", deployment="rapid"),
        # No fault, no footage request, no decision: the one with open advice.
        "G": make_camera(db_session, asset_tag="BRF-G", name="Luton Arches"),
    }
    numbers = {}
    for i, f in enumerate(FAULTS):
        fault = log_fault(
            db_session, cams[f.cam], category=f.category, reported_at=f.reported, actor="seed"
        )
        numbers[i] = fault.number
        if f.resolved:
            update_fault_status(
                db_session, fault_id=fault.id, status="fixed", actor="seed", at=f.resolved
            )
    for cam, day, ref, outcome in FOOTAGE:
        add_footage_request(
            db_session,
            camera_id=cams[cam].id,
            requested_on=day,
            reference=ref,
            outcome=outcome,
            actor="seed",
        )
    decide(db_session, cams["C"], "retain", date(2024, 5, 15), "SEG/24/05/3")
    decide(db_session, cams["B"], "retain", date(2024, 7, 2), "SEG/24/07/1")  # Q3
    from services.assets.cameras.service import transition_camera

    db_session.refresh(cams["E"])
    transition_camera(
        db_session,
        camera_id=cams["E"].id,
        to="in_store",
        reason="season over",
        expected_version=cams["E"].version,
        actor="seed",
    )
    yield {"cams": cams, "numbers": numbers}


def decide(session: Any, camera: Any, kind: str, day: date, minute: str) -> None:
    session.refresh(camera)
    record_decision(
        session,
        camera_id=camera.id,
        data=DecisionCreate(
            decision=kind, meeting_date=day, minute_ref=minute, reason=f"Decided at {minute}"
        ),
        expected_version=camera.version,
        actor="seed",
    )


def by_testid(page: str, name: str) -> str:
    """The text of the element carrying ``data-testid=name`` (tags stripped, entities read)."""
    m = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)</', page, re.S)
    assert m is not None, f"no {name} on the page"
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def rows(page: str, name: str, attr: str) -> list[str]:
    return re.findall(rf'data-testid="{name}" data-{attr}="([^"]*)"', page)


def pct(share: float) -> str:
    return f"{share * 100:.2f}%"


# ---------------------------------------------------------------- tests


def test_every_figure_matches_the_seed_list(
    client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any]
) -> None:
    r = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"])
    assert r.status_code == 200, r.text
    page = r.text
    want = expected_counts(START, END)
    assert want == {"open_at_start": 1, "opened": 5, "fixed": 4, "open_at_end": 2, "breached": 3}
    for key, tid in [
        ("open_at_start", "open-at-start"),
        ("opened", "opened"),
        ("fixed", "fixed"),
        ("open_at_end", "open-at-end"),
    ]:
        assert by_testid(page, f"fig-{tid}") == str(want[key])
        assert by_testid(page, f"faults-{tid}") == str(want[key])
    assert by_testid(page, "fig-breached") == str(want["breached"])

    # Worst breaches first, each over by what the contract says.
    over = worst_breaches(START, END, seeded["numbers"])
    assert rows(page, "breach-row", "number") == [n for _, n in over]
    shown = re.findall(r'data-testid="breach-over">([^<]*)<', page)
    assert shown == [f"{h:,.1f} h" for h, _ in over]

    # Back online: A when its merged spell ended (3 April 09:00 UTC = 10:00 BST), and E.
    back = [c for c in "ABCDE" if any(START <= b < END for _, b in spells(c))]
    assert back == ["A", "E"]
    assert rows(page, "back-online-row", "tag") == [f"BRF-{c}" for c in back]
    assert by_testid(page, "fig-back-online") == "2"
    assert "3 April 2024, 10:00" in page

    # Availability: cameras on the street (A, B, C, G) and E (in store now, down in the quarter).
    hours = (END - START).total_seconds() / 3600
    counted = ["A", "B", "C", "E", "G"]
    down = {c: downtime_hours(c, START, END) for c in counted}
    assert down["A"] == pytest.approx(58.0) and down["E"] == pytest.approx(48.0)
    overall = 1 - sum(down.values()) / (hours * len(counted))
    assert by_testid(page, "availability-overall") == pct(overall)
    assert by_testid(page, "fig-availability") == pct(overall)
    assert by_testid(page, "availability-cameras") == "5 cameras"
    listed = sorted((c for c in counted if down[c] > 0), key=lambda c: -down[c])
    assert rows(page, "availability-row", "tag") == [f"BRF-{c}" for c in listed]
    values = re.findall(r'data-testid="availability-value">([^<]*)<', page)
    assert values == [pct(1 - down[c] / hours) for c in listed]

    # Footage: by outcome, the Q3 request left out, no police reference anywhere.
    in_q = [o for _, d, _, o in FOOTAGE if date(2024, 4, 1) <= d <= date(2024, 6, 30)]
    for outcome in ("pending", "provided", "no_relevant_footage", "not_recorded", "refused"):
        assert by_testid(page, f"footage-{outcome}") == str(in_q.count(outcome))
    assert (
        by_testid(page, "footage-total") == str(len(in_q)) == by_testid(page, "fig-footage-total")
    )
    for ref in REFERENCES:
        assert ref not in page

    # Decisions at meetings in the quarter only.
    assert rows(page, "decision-row", "minute") == ["SEG/24/05/3"]
    assert by_testid(page, "fig-decisions") == "1"


def test_the_sql_agrees_with_the_register_s_own_availability(
    db_session: Any, seeded: dict[str, Any]
) -> None:
    """Two implementations of downtime (SQL ranges here, Python intervals in faults) agree."""
    from services.assets.briefing import service as svc
    from services.assets.briefing.quarters import parse_quarter

    period = svc.period_of(parse_quarter(QUARTER), now=datetime.now(UTC))
    got = {c.asset_tag: c.downtime_hours for c in svc.availability(db_session, period=period)
           .with_downtime}  # fmt: skip
    for key, cam in seeded["cams"].items():
        theirs = camera_availability(db_session, camera_id=cam.id, start=START, end=END)
        assert got.get(f"BRF-{key}", 0.0) == pytest.approx(theirs.downtime_hours), key


def test_user_text_is_shown_as_text(
    client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any]
) -> None:
    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    assert "{{ 7*7 }} &lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "<b>bold</b>" not in page
    # 7*7 never evaluated (the clock time on the page, e.g. "05:49 by", is not it).
    assert "49 " not in re.sub(r"\d\d:\d\d", "", page).replace("2049", "")


def test_without_incident_data_no_camera_is_said_to_show_no_evidence(
    client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any]
) -> None:
    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    assert by_testid(page, "summary-incidents").endswith(
        "there is no incident data for this window."
    )
    notice = by_testid(page, "no-incident-data")
    assert notice.startswith("There is no incident data for this window")
    assert "no evidence" not in page.lower()
    assert "No incident data are held." in by_testid(page, "incident-period")
    listed = rows(page, "recommendation-row", "tag")
    assert by_testid(page, "fig-recommendations") == str(len(listed))


def test_a_decision_closes_its_camera_s_recommendation(
    db_session: Any, client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any]
) -> None:
    """With incident data in the window (none in any view), C and G both show no use; C was
    decided in the window (May 2024) and B after it, so G alone has open advice."""
    from tests.factories import incident_row, store_incidents

    far = incident_row(occurred_at=utc(2024, 2, 10, 12), lon=0.40, lat=51.45, source_id="far-1")
    store_incidents(db_session, [far])
    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    assert by_testid(page, "incident-period") == (
        "Incidents up to 10 February 2024 (from 10 February 2024)."
    )
    assert 'data-testid="no-incident-data"' not in page
    assert by_testid(page, "summary-incidents").endswith(
        "Incidents up to 10 February 2024 (from 10 February 2024)."
    )
    assert rows(page, "recommendation-row", "tag") == ["BRF-G"]
    assert by_testid(page, "fig-recommendations") == "1"
    assert "no evidence of use" in page  # the window holds incident data: now it may say so


def test_the_briefing_says_what_the_health_checks_saw(
    client: Any, tokens: dict[str, dict[str, str]], db_session: Any, seeded: dict[str, Any]
) -> None:
    """Two watched cameras' days in the quarter (and one day outside it): the share watched is of
    the quarter's time, the picture share of the time watched, worked out here."""
    from services.assets.health.models import HealthDay

    a = make_camera(db_session, asset_tag="BRF-HC1", name="Checked one")
    b = make_camera(db_session, asset_tag="BRF-HC2", name="Checked two")
    rows = [
        (a.id, date(2024, 4, 1), 86400.0, 3600.0),
        (a.id, date(2024, 5, 1), 43200.0, 0.0),
        (b.id, date(2024, 6, 30), 86400.0, 7200.0),
        (b.id, date(2024, 7, 1), 86400.0, 86400.0),  # the next quarter: not counted
    ]
    for cid, day, watched, down in rows:
        db_session.add(
            HealthDay(camera_id=cid, day=day, checks=10, passed=5, watched_s=watched,
                      down_s=down, degraded_s=down)
        )  # fmt: skip
    db_session.commit()
    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    quarter_s = (END - START).total_seconds()
    watched = 86400.0 + 43200.0 + 86400.0
    share = watched / (2 * quarter_s)
    picture = 1 - (3600.0 + 7200.0) / watched
    line = html.unescape(re.sub(r"\s+", " ", page.split('data-testid="availability-checks">')[1]))
    assert line.startswith(
        f"The health checks watched 2 digital cameras for {share * 100:.2f}% of the period; "
        f"they found a picture {picture * 100:.2f}% of the time they watched."
    ), line[:200]
