"""Daily lists: find, read, make on request and make for every agency (the nightly job).

Keyword-only use cases, session first. Reading (``get_list``, ``view_list``) never writes;
making a list commits once at its end (``get_or_create_list``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.predictive.agencies.service import ensure_agencies, find_agency, get_agency
from services.predictive.dates import today_london
from services.predictive.limits import Limits, or_default
from services.predictive.lists.generate import generate_list
from services.predictive.models import Agency, TargetBox, TargetList, Visit
from shared.errors import InvalidInput, NotFound
from shared.extent import GridTooLarge

log = logging.getLogger("csp.predictive")
GENERATORS = ("nightly", "on_demand", "cli", "demo")
# Lists are made on request (POST /targets) for dates from a year back to a week ahead.
WINDOW_BACK_DAYS = 366
WINDOW_AHEAD_DAYS = 7


@dataclass
class ListView:
    """A stored list, its agency, its boxes (by rank) and visit counts per box."""

    target_list: TargetList
    agency: Agency
    boxes: list[TargetBox]
    visits: dict[str, int]


class NoList(NotFound):
    """No list is stored for (agency, date); ``dates`` are the latest dates that have one."""

    def __init__(self, agency_code: str, day: date, dates: list[date]) -> None:
        shown = ", ".join(d.isoformat() for d in dates) or "none yet"
        super().__init__(
            f"no list for {agency_code} on {day.isoformat()}; lists are made nightly or by "
            f"POST /targets (analyst or admin). Dates with a list: {shown}",
            extra={
                "agency": agency_code,
                "date": day.isoformat(),
                "dates_with_lists": [d.isoformat() for d in dates],
            },
        )
        self.agency_code, self.day, self.dates = agency_code, day, dates


def find_list(session: Session, *, agency: Agency | None, day: date) -> TargetList | None:
    """The stored list of ``agency`` for ``day``, if any (None for an agency not stored)."""
    if agency is None or agency.id is None:
        return None
    return session.scalars(
        select(TargetList).where(TargetList.agency_id == agency.id, TargetList.list_date == day)
    ).first()


def list_agency_code(session: Session, *, list_id: int) -> str:
    """The code of the agency a stored list is for; NotFound for an unknown list."""
    code = session.scalar(
        select(Agency.code)
        .join(TargetList, TargetList.agency_id == Agency.id)
        .where(TargetList.id == list_id)
    )
    if code is None:
        raise NotFound(f"No target list {list_id}")
    return code


def list_dates(session: Session, *, agency: Agency | None, limit: int = 14) -> list[date]:
    """The latest ``limit`` dates with a stored list for ``agency``, newest first."""
    if agency is None or agency.id is None:
        return []
    q = (
        select(TargetList.list_date)
        .where(TargetList.agency_id == agency.id)
        .order_by(TargetList.list_date.desc())
        .limit(limit)
    )
    return list(session.scalars(q))


def stored_list(session: Session, *, agency_code: str, day: date) -> TargetList:
    """The stored list row of (agency, day); ``NoList`` (404) naming the dates that have one."""
    agency = find_agency(session, code=agency_code)
    lst = find_list(session, agency=agency, day=day)
    if lst is None:
        raise NoList(agency_code, day, list_dates(session, agency=agency))
    return lst


def get_list(session: Session, *, agency_code: str, day: date) -> ListView:
    """The stored list of (agency, day); ``NoList`` (404) when none was made. Never writes."""
    lst = stored_list(session, agency_code=agency_code, day=day)
    return view_list(session, list_id=lst.id)


def view_list(session: Session, *, list_id: int) -> ListView:
    """A stored list with its boxes by rank and the number of visits logged per box."""
    lst = session.get(TargetList, list_id)
    if lst is None:
        raise NotFound(f"No target list {list_id}")
    agency = session.get(Agency, lst.agency_id)
    assert agency is not None
    boxes = list(
        session.scalars(
            select(TargetBox).where(TargetBox.list_id == lst.id).order_by(TargetBox.rank)
        )
    )
    counts = session.execute(
        select(Visit.cell_id, func.count())
        .where(Visit.agency_id == lst.agency_id, Visit.list_date == lst.list_date)
        .group_by(Visit.cell_id)
    ).all()
    return ListView(lst, agency, boxes, {c: int(n) for c, n in counts})


def list_window(today: date | None = None) -> tuple[date, date]:
    """First and last date a list may be asked for: a year back to a week ahead of today."""
    t = today or today_london()
    return t - timedelta(days=WINDOW_BACK_DAYS), t + timedelta(days=WINDOW_AHEAD_DAYS)


def request_list(
    session: Session, *, agency_code: str, day: date, limits: Limits | None = None
) -> tuple[ListView, bool]:
    """Make (or return) the list of (agency, day) on request, for a date within the window."""
    lo, hi = list_window()
    if not lo <= day <= hi:
        msg = (
            f"lists are made for dates from {lo.isoformat()} to {hi.isoformat()} "
            f"({WINDOW_BACK_DAYS} days back to {WINDOW_AHEAD_DAYS} days ahead of today)"
        )
        raise InvalidInput(msg, errors=[{"field": "date", "message": msg}])
    return get_or_create_list(session, agency_code=agency_code, day=day, limits=limits)


def get_or_create_list(
    session: Session,
    *,
    agency_code: str,
    day: date,
    generated_by: str = "on_demand",
    force: bool = False,
    limits: Limits | None = None,
) -> tuple[ListView, bool]:
    """The list for (agency, day), generated from incidents before ``day`` when missing.

    A write (the nightly job, ``request_list``, the CLI and the demo; never a GET). Idempotent:
    an existing list is returned untouched unless ``force``; then it is refitted in place (same
    id, so visits keep their link). Returns (view, created_or_replaced).
    """
    if generated_by not in GENERATORS:
        raise ValueError(f"generated_by must be one of {GENERATORS}")
    agency = get_agency(session, code=agency_code)
    existing = find_list(session, agency=agency, day=day)
    if existing is not None and not force:
        return view_list(session, list_id=existing.id), False
    # Serialise generation per (agency, day) so concurrent requests make one list.
    session.execute(
        text("SELECT pg_advisory_xact_lock(:a, :d)"),
        {"a": 7_000_000 + agency.id, "d": day.toordinal()},
    )
    existing = find_list(session, agency=agency, day=day)
    if existing is not None and not force:
        return view_list(session, list_id=existing.id), False
    lst = generate_list(
        session,
        agency=agency,
        day=day,
        generated_by=generated_by,
        into=existing,
        limits=or_default(limits),
    )
    session.commit()
    return view_list(session, list_id=lst.id), True


def generate_for_all(
    session: Session,
    *,
    day: date,
    generated_by: str = "nightly",
    force: bool = False,
    limits: Limits | None = None,
) -> list[tuple[str, int | None, bool]]:
    """Make (agency, day) lists for every agency: (code, list id or None, created) each.

    An agency whose list cannot be made (its area's grid over the cell limit, no area and no
    incidents) is logged and skipped, so it does not stop the others.
    """
    out: list[tuple[str, int | None, bool]] = []
    for agency in ensure_agencies(session):
        session.commit()
        try:
            view, created = get_or_create_list(
                session,
                agency_code=agency.code,
                day=day,
                generated_by=generated_by,
                force=force,
                limits=limits,
            )
        except (InvalidInput, GridTooLarge) as exc:
            session.rollback()
            log.error("no list for %s on %s: %s", agency.code, day, exc)
            out.append((agency.code, None, False))
            continue
        out.append((agency.code, view.target_list.id, created))
    return out
