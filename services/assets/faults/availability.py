"""Downtime and availability of cameras from their fault intervals, and faults past their SLA."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.service import get_camera
from services.assets.clock import aware, now_utc
from services.assets.models import Fault
from shared.errors import InvalidInput


@dataclass(frozen=True)
class Availability:
    """Downtime (no picture) and degraded time of one camera over [start, end)."""

    camera_id: int
    start: datetime
    end: datetime
    downtime_hours: float
    degraded_hours: float
    availability: float


def began(fault: Fault) -> datetime:
    """When a fault began: its ``started_at`` if given (before the report), else the report."""
    return fault.started_at or fault.reported_at


def _fault_intervals(
    faults: Iterable[Fault], end: datetime, *, no_picture_only: bool
) -> list[tuple[datetime, datetime]]:
    return [
        (began(f), f.resolved_at or end)
        for f in faults
        if not no_picture_only or f.category in lc.NO_PICTURE_CATEGORIES
    ]


def availability_from_faults(
    camera_id: int, faults: Sequence[Fault], start: datetime, end: datetime, now: datetime
) -> Availability:
    """Downtime from fault intervals (overlaps merged), each from when the fault began (its
    ``started_at``, else the report); open faults run to ``now``."""
    horizon = min(end, now) if end > now else end
    down = lc.covered_seconds(_fault_intervals(faults, horizon, no_picture_only=True), start, end)
    degr = lc.covered_seconds(_fault_intervals(faults, horizon, no_picture_only=False), start, end)
    period = (end - start).total_seconds()
    return Availability(
        camera_id,
        start,
        end,
        down / 3600.0,
        degr / 3600.0,
        1.0 - down / period if period > 0 else 1.0,
    )


def faults_overlapping(
    session: Session, *, camera_ids: Sequence[int] | None, start: datetime, end: datetime
) -> list[Fault]:
    """Faults open at some time in [start, end), of these cameras (all when None)."""
    stmt = select(Fault).where(
        func.coalesce(Fault.started_at, Fault.reported_at) < end,
        or_(Fault.resolved_at.is_(None), Fault.resolved_at > start),
    )
    if camera_ids is not None:
        stmt = stmt.where(Fault.camera_id.in_(list(camera_ids)))
    return list(session.scalars(stmt))


def camera_availability(
    session: Session,
    *,
    camera_id: int,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> Availability:
    """Downtime and availability of a camera over [start, end)."""
    if aware(end) <= aware(start):
        raise InvalidInput("The period must end after it starts")
    get_camera(session, camera_id=camera_id)
    start, end = aware(start), aware(end)
    faults = faults_overlapping(session, camera_ids=[camera_id], start=start, end=end)
    return availability_from_faults(camera_id, faults, start, end, now or now_utc())


def sla_breaches(
    session: Session,
    *,
    now: datetime | None = None,
    include_resolved: bool = False,
    since: datetime | None = None,
) -> list[Fault]:
    """Faults past their SLA target: open ones now, and (optionally) ones fixed late."""
    now = now or now_utc()
    stmt = select(Fault)
    if not include_resolved:
        stmt = stmt.where(Fault.status.in_(lc.OPEN_STATUSES))
    if since is not None:
        stmt = stmt.where(Fault.reported_at >= aware(since))
    rows = session.scalars(stmt.order_by(Fault.reported_at, Fault.id)).all()
    return [
        f for f in rows if lc.sla_status(f.category, f.reported_at, f.resolved_at, now).breached
    ]
