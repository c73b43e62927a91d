"""Fault lists and search (reads only): filters, plain-text search over numbers, descriptions,
notes and camera names, and the change stamp live pages poll."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.service import get_camera
from services.assets.clock import aware
from services.assets.models import Camera, Fault, FaultEvent
from shared.errors import InvalidInput

# Longest text a fault search takes (a number, a tag, a contractor's job number, a few words).
SEARCH_MAX_CHARS = 100
FAULT_SORTS = ("reported", "resolved")


def _like(text_: str) -> str:
    """``text_`` as an ILIKE pattern matching it anywhere (its ``%``, ``_``, ``\\`` literal)."""
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_faults(
    session: Session,
    *,
    camera_id: int | None = None,
    status: str | Sequence[str] | None = None,
    open_only: bool = False,
    category: str | None = None,
    q: str | None = None,
    resolved_since: datetime | None = None,
    resolved_before: datetime | None = None,
    sort: str = "reported",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Fault], int]:
    """Faults, newest first (reported, or resolved with ``sort="resolved"``), with the total.

    ``q`` matches the fault number, description, notes (contractor job numbers) and the
    camera's tag or name, case-insensitively, as plain text. NotFound for a ``camera_id`` not
    registered; InvalidInput for a search longer than ``SEARCH_MAX_CHARS``.
    """
    stmt = select(Fault)
    if camera_id is not None:
        get_camera(session, camera_id=camera_id)
        stmt = stmt.where(Fault.camera_id == camera_id)
    if isinstance(status, str):
        stmt = stmt.where(Fault.status == status)
    elif status:
        stmt = stmt.where(Fault.status.in_(list(status)))
    if open_only:
        stmt = stmt.where(Fault.status.in_(lc.OPEN_STATUSES))
    if category is not None:
        stmt = stmt.where(Fault.category == category)
    if resolved_since is not None:
        stmt = stmt.where(Fault.resolved_at >= aware(resolved_since))
    if resolved_before is not None:
        stmt = stmt.where(Fault.resolved_at < aware(resolved_before))
    if q is not None and q.strip():
        stmt = stmt.where(_matches(q.strip()))
    if sort not in FAULT_SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; use one of " + ", ".join(FAULT_SORTS))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (
        (Fault.resolved_at.desc().nulls_last(), Fault.id.desc())
        if sort == "resolved"
        else (Fault.reported_at.desc(), Fault.id.desc())
    )
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def _matches(q: str) -> Any:
    """Faults whose number, description, notes or camera tag/name contain ``q`` (bound, escaped)."""
    if len(q) > SEARCH_MAX_CHARS:
        raise InvalidInput(
            f"The search is {len(q)} characters long; at most {SEARCH_MAX_CHARS} are taken",
            errors=[{"field": "q", "message": f"at most {SEARCH_MAX_CHARS} characters"}],
        )
    pattern = _like(q)
    note = exists().where(
        FaultEvent.fault_id == Fault.id, FaultEvent.note.ilike(pattern, escape="\\")
    )
    camera = exists().where(
        Camera.id == Fault.camera_id,
        or_(
            Camera.asset_tag.ilike(pattern, escape="\\"),
            Camera.name.ilike(pattern, escape="\\"),
        ),
    )
    return or_(
        Fault.number.ilike(pattern, escape="\\"),
        Fault.description.ilike(pattern, escape="\\"),
        note,
        camera,
    )


def changes_stamp(session: Session) -> tuple[str, int]:
    """A stamp that changes with every fault logged, moved or noted (each adds an event, a
    deleted one takes its events away), and the number of faults open now."""
    last, count = session.execute(select(func.max(FaultEvent.id), func.count(FaultEvent.id))).one()
    open_now = session.scalar(
        select(func.count()).select_from(Fault).where(Fault.status.in_(lc.OPEN_STATUSES))
    )
    return f"{last or 0}.{count}", int(open_now or 0)
