"""Visits: log a crew's visit to a box of a list (idempotent per caller's key), read them back.

Keyword-only use cases, session first; logging a visit commits once at its end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import default_agency, find_agency
from services.predictive.dates import LONDON, check_range, local_midnight
from services.predictive.lists.service import stored_list
from services.predictive.models import Agency, TargetBox, TargetList, Visit
from shared.errors import InvalidInput, NotFound
from shared.idempotency import insert_once, replay, scoped_key

# A visit is logged against a list from the day before its date to the day after it, and never
# ahead of the clock by more than a phone's clock error.
VISIT_EARLY_DAYS = 1
VISIT_LATE_DAYS = 1
VISIT_CLOCK_SKEW = timedelta(minutes=10)


def log_visit(
    session: Session,
    *,
    agency_code: str,
    day: date,
    cell_id: str,
    visited_at: datetime,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None = None,
    caller: int | str | None = None,
) -> tuple[Visit, bool]:
    """Record a visit to a box of (agency, day)'s list: (visit, whether it is new)."""
    lst = stored_list(session, agency_code=agency_code, day=day)
    return _add_visit(
        session,
        lst=lst,
        cell_id=cell_id,
        visited_at=visited_at,
        crew=crew,
        notes=notes,
        actor=actor,
        idempotency_key=idempotency_key,
        caller=caller,
    )


def log_visit_for_list(
    session: Session,
    *,
    list_id: int,
    cell_id: str,
    visited_at: datetime | None,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None = None,
    caller: int | str | None = None,
) -> tuple[Visit, bool]:
    """Record a visit to box ``cell_id`` of list ``list_id``: (visit, whether it is new).

    ``visited_at`` None: now (the list page's "Visited now").
    """
    lst = session.get(TargetList, list_id)
    if lst is None:
        raise NotFound(f"No target list {list_id}")
    return _add_visit(
        session,
        lst=lst,
        cell_id=cell_id,
        visited_at=visited_at,
        crew=crew,
        notes=notes,
        actor=actor,
        idempotency_key=idempotency_key,
        caller=caller,
    )


def _add_visit(
    session: Session,
    *,
    lst: TargetList,
    cell_id: str,
    visited_at: datetime | None,
    crew: str,
    notes: str | None,
    actor: str,
    idempotency_key: str | None,
    caller: int | str | None,
) -> tuple[Visit, bool]:
    """Add the visit unless this caller's key already did (either route): (visit, is new).

    Keys are scoped by ``caller`` (``Principal.caller``: a token id or the person), else by
    ``actor``.
    """
    now = datetime.now(UTC)
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(Visit).where(Visit.idempotency_key == key)
    same: dict[str, Any] = {
        "agency_id": lst.agency_id,
        "list_date": lst.list_date,
        "cell_id": cell_id,
        "crew": crew.strip(),
        "notes": notes,
    }
    if visited_at is not None:
        # A repeat without a time ("now") matches any: the first was logged at its own now.
        same["visited_at"] = (
            visited_at if visited_at.tzinfo is not None else visited_at.replace(tzinfo=LONDON)
        )
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return replay(found, same, "visit"), False
    on_list = session.scalar(
        select(func.count())
        .select_from(TargetBox)
        .where(TargetBox.list_id == lst.id, TargetBox.cell_id == cell_id)
    )
    if not on_list:
        raise NotFound(f"Box {cell_id!r} is not on list {lst.id} ({lst.list_date})")
    at = same.get("visited_at", now)
    _check_visit_time(at, lst.list_date, now)
    fields = same | {"visited_at": at}
    visit = Visit(list_id=lst.id, logged_by=actor, idempotency_key=key, **fields)
    if not insert_once(session, visit, "uq_visits_idempotency_key"):
        # A concurrent retry with the same key got there first.
        return replay(session.scalars(by_key).one(), same, "visit"), False
    session.commit()
    return visit, True


def visit_window(day: date) -> tuple[datetime, datetime]:
    """When a visit to ``day``'s list may have happened: from the day before to the day after."""
    start = local_midnight(day - timedelta(days=VISIT_EARLY_DAYS))
    end = local_midnight(day + timedelta(days=1 + VISIT_LATE_DAYS))
    return start, end


def visit_window_open(day: date, now: datetime | None = None) -> bool:
    """Whether a visit made now could be logged against ``day``'s list."""
    start, end = visit_window(day)
    return start <= (now or datetime.now(UTC)) < end


def _check_visit_time(at: datetime, day: date, now: datetime) -> None:
    """InvalidInput (field visited_at) unless ``at`` is in the list's window and not ahead."""
    start, end = visit_window(day)
    if at > now + VISIT_CLOCK_SKEW:
        msg = f"visited_at is in the future (more than {VISIT_CLOCK_SKEW.seconds // 60} minutes)"
        raise InvalidInput(msg, errors=[{"field": "visited_at", "message": msg}])
    if not start <= at < end:
        fmt = "%Y-%m-%d %H:%M %Z"
        msg = (
            f"a visit to the list of {day.isoformat()} must be logged as made from "
            f"{start.astimezone(LONDON).strftime(fmt)} to {end.astimezone(LONDON).strftime(fmt)} "
            f"(the day before the list's date to the day after it); got "
            f"{at.astimezone(LONDON).strftime(fmt)}"
        )
        raise InvalidInput(msg, errors=[{"field": "visited_at", "message": msg}])


def list_visits(
    session: Session, *, agency_code: str, date_from: date, date_to: date
) -> tuple[Agency, list[Visit]]:
    """Visits logged against (agency)'s lists dated ``date_from`` to ``date_to`` inclusive."""
    check_range(date_from, date_to)
    agency = find_agency(session, code=agency_code)
    if agency is None:
        return default_agency(agency_code), []
    rows = session.scalars(
        select(Visit)
        .where(
            Visit.agency_id == agency.id, Visit.list_date >= date_from, Visit.list_date <= date_to
        )
        .order_by(Visit.visited_at, Visit.id)
    )
    return agency, list(rows)
