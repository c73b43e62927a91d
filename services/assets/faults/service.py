"""Fault use cases: log a fault (once per Idempotency-Key, and not twice while one of its kind is
open), move it through its statuses, list, search and read faults; the camera's health follows
its open faults. Keyword-only, session first; each write commits once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.service import commit_change, get_camera
from services.assets.clock import aware, now_utc
from services.assets.enums import FaultStatus

# The read side lives in ``queries``; ``list_faults`` stays importable from here for callers.
from services.assets.faults.queries import list_faults as list_faults
from services.assets.models import Camera, Fault, FaultEvent
from shared.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from shared.idempotency import bounded_wait, insert_once, release, replay, scoped_key

# No fault, visit or report in this register predates 2000; a camera's own install date, when
# later, moves the start of the window. Clocks of the reporting devices may run a little fast.
FAULT_EARLIEST = date(2000, 1, 1)
FAULT_CLOCK_SLACK = timedelta(minutes=5)


class DuplicateFault(Conflict):
    """The camera already has an open fault of this category (409, naming it)."""

    title, slug = "An open fault of this kind", "duplicate-fault"


def next_fault_number(session: Session, *, year: int) -> str:
    """A new fault number F-YYYY-NNNNNN from the database sequence (unique under concurrency)."""
    n = session.execute(text("SELECT nextval('assets.fault_number_seq')")).scalar_one()
    return f"F-{year}-{int(n):06d}"


def get_fault(session: Session, *, fault_id: int) -> Fault:
    """A fault by id; NotFound if absent."""
    fault = session.get(Fault, fault_id)
    if fault is None:
        raise NotFound(f"No fault with id {fault_id}")
    return fault


def fault_events(session: Session, *, fault_id: int) -> list[FaultEvent]:
    """A fault's status history, oldest first."""
    return list(
        session.scalars(
            select(FaultEvent)
            .where(FaultEvent.fault_id == fault_id)
            .order_by(FaultEvent.at, FaultEvent.id)
        )
    )


def fault_events_for(session: Session, *, fault_ids: Iterable[int]) -> dict[int, list[FaultEvent]]:
    """Status histories of several faults, keyed by fault id."""
    ids = list(fault_ids)
    out: dict[int, list[FaultEvent]] = {i: [] for i in ids}
    if ids:
        for e in session.scalars(
            select(FaultEvent)
            .where(FaultEvent.fault_id.in_(ids))
            .order_by(FaultEvent.at, FaultEvent.id)
        ):
            out[e.fault_id].append(e)
    return out


def open_fault_of_kind(session: Session, *, camera_id: int, category: str) -> Fault | None:
    """The oldest open (or in progress) fault of ``category`` on the camera, if any."""
    return session.scalars(
        select(Fault)
        .where(
            Fault.camera_id == camera_id,
            Fault.category == category,
            Fault.status.in_(lc.OPEN_STATUSES),
        )
        .order_by(Fault.reported_at, Fault.id)
        .limit(1)
    ).first()


def refuse_duplicate(session: Session, camera: Camera, category: str) -> None:
    """DuplicateFault (409) naming the camera's open fault of ``category``, if it has one."""
    found = open_fault_of_kind(session, camera_id=camera.id, category=category)
    if found is None:
        return
    kind = category.replace("_", " ")
    when = f"{found.reported_at.astimezone(UTC):%d %b %Y %H:%M} UTC"
    raise DuplicateFault(
        f"{camera.asset_tag} ({camera.name}) already has an open {kind} fault: {found.number} "
        f"({found.status.replace('_', ' ')}, reported {when} by {found.reported_by}). Add a "
        f"note to it (POST /faults/{found.id}/notes), or send the report again with "
        "?duplicate=allow to log a separate fault.",
        extra={
            "open_fault": {
                "id": found.id,
                "number": found.number,
                "camera_id": found.camera_id,
                "category": found.category,
                "status": found.status,
                "description": found.description,
                "reported_at": found.reported_at.isoformat(),
                "reported_by": found.reported_by,
            },
            "notes": f"/faults/{found.id}/notes",
        },
    )


def _refresh_health(session: Session, camera: Camera, *, actor: str, reason: str) -> None:
    """Set health from open faults; an actual change is audited."""
    session.flush()
    cats = session.scalars(
        select(Fault.category).where(
            Fault.camera_id == camera.id, Fault.status.in_(lc.OPEN_STATUSES)
        )
    ).all()
    health = lc.health_for(cats)
    if health != camera.health:
        before = audit.snapshot(camera)
        camera.health = health
        session.flush()
        audit.camera_change(
            session,
            camera,
            action="health",
            actor=actor,
            before=before,
            reason=reason,
        )


def log_fault(
    session: Session,
    *,
    camera_id: int,
    category: str,
    description: str,
    reported_at: datetime | None = None,
    started_at: datetime | None = None,
    actor: str,
    source: str = "api",
    allow_duplicate: bool = True,
) -> Fault:
    """Log a fault (status open), number it, and update the camera's health.

    Seeds and Open311 keep every report (``allow_duplicate``); the API refuses a second open
    fault of a kind unless asked (``log_fault_once``).
    """
    fault, _ = log_fault_once(
        session,
        camera_id=camera_id,
        category=category,
        description=description,
        reported_at=reported_at,
        started_at=started_at,
        actor=actor,
        source=source,
        idempotency_key=None,
        allow_duplicate=allow_duplicate,
    )
    return fault


def log_fault_once(
    session: Session,
    *,
    camera_id: int,
    category: str,
    description: str,
    reported_at: datetime | None = None,
    started_at: datetime | None = None,
    actor: str,
    caller: int | str | None = None,
    source: str = "api",
    idempotency_key: str | None,
    allow_duplicate: bool = False,
) -> tuple[Fault, bool]:
    """Log a fault unless this caller's key already logged it: (fault, whether it is new).

    A camera with an open fault of the same category gets DuplicateFault (409, naming it)
    unless ``allow_duplicate``; checked under the camera's lock, so two desks logging the same
    fault at once make one. ``started_at``: when the fault began, at or before the report.
    ``caller`` scopes the key (the token id; ``actor`` when absent). A repeat of a committed
    request is answered from a plain read, without the camera's lock; a repeat racing its first
    request waits for the lock at most ``LOCK_WAIT_MS`` (then 409, retry) and releases it at once.
    """
    if category not in lc.FAULT_CATEGORIES:
        raise InvalidInput(
            f"Unknown fault category {category!r}; use one of " + ", ".join(lc.FAULT_CATEGORIES)
        )
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(Fault).where(Fault.idempotency_key == key)
    same: dict[str, Any] = {
        "camera_id": camera_id,
        "category": category,
        "description": description,
    }
    if reported_at:
        # A repeat without a time matches any: the first may have left it out too.
        same["reported_at"] = aware(reported_at)
    if started_at:
        same["started_at"] = aware(started_at)
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "fault")), False
    # The lock serialises faults on one camera, so a retry racing its first request waits here
    # and then finds the fault it made.
    busy = (
        f"A request with this Idempotency-Key is in progress on camera {camera_id}; retry"
        if key
        else f"Camera {camera_id} is busy with another change; retry"
    )
    with bounded_wait(session, busy):
        camera = get_camera(session, camera_id=camera_id, lock=True)
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "fault")), False
    if camera.lifecycle in lc.NO_FAULT_LIFECYCLES:
        raise Conflict(f"Camera {camera_id} is {camera.lifecycle}; faults cannot be logged on it")
    if not allow_duplicate:
        refuse_duplicate(session, camera, category)
    now = now_utc()
    at = aware(reported_at) if reported_at else now
    check_fault_time(camera, at, now=now)
    began = aware(started_at) if started_at else None
    if began is not None:
        check_fault_time(camera, began, now=now, what="started_at")
        if began > at:
            raise InvalidInput(
                f"started_at {began.isoformat()} is after the report ({at.isoformat()}): a "
                "fault begins at or before it is reported",
                errors=[{"field": "started_at", "message": "must not be after reported_at"}],
            )
    fault = Fault(
        number=next_fault_number(session, year=at.year),
        camera_id=camera_id,
        category=category,
        description=description,
        status=FaultStatus.OPEN,
        reported_at=at,
        started_at=began,
        reported_by=actor,
        source=source,
        idempotency_key=key,
    )
    with bounded_wait(session, busy):
        inserted = insert_once(session, fault, "uq_faults_idempotency_key")
    if not inserted:
        # The same key on another camera (not serialised by our lock) got there first.
        return release(session, replay(session.scalars(by_key).one(), same, "fault")), False
    session.add(
        FaultEvent(
            fault_id=fault.id,
            from_status=None,
            to_status=FaultStatus.OPEN,
            at=at,
            actor=actor,
            note=description,
        )
    )
    audit.record(
        session,
        camera_id=camera_id,
        entity="fault",
        entity_id=fault.id,
        action="fault_logged",
        actor=actor,
        before=None,
        after={
            "number": fault.number,
            "category": category,
            "status": FaultStatus.OPEN.value,
            "reported_at": at.isoformat(),
            **({"started_at": began.isoformat()} if began else {}),
        },
        reason=description,
    )
    _refresh_health(session, camera, actor=actor, reason=f"fault {fault.number} logged")
    commit_change(session)
    return fault, True


def fault_window(camera: Camera, now: datetime) -> tuple[datetime, datetime]:
    """When a fault on ``camera`` can have been reported: from its install date (or
    ``FAULT_EARLIEST``, whichever is later) to ``FAULT_CLOCK_SLACK`` past ``now``.

    An install date in the future (a planned date typed early) does not close the window.
    """
    floor = FAULT_EARLIEST
    if camera.installed_on is not None and FAULT_EARLIEST < camera.installed_on <= now.date():
        floor = camera.installed_on
    return datetime.combine(floor, datetime.min.time(), UTC), now + FAULT_CLOCK_SLACK


def check_fault_time(
    camera: Camera, at: datetime, *, now: datetime, what: str = "reported_at"
) -> None:
    """422 naming the window when ``at`` is outside ``fault_window`` (a 1900 fault was taken)."""
    start, end = fault_window(camera, now)
    since = (
        "the camera's install date"
        if start.date() != FAULT_EARLIEST
        else "the register's earliest date"
    )
    window = (
        f"between {start.date().isoformat()} ({since}) and now (up to "
        f"{int(FAULT_CLOCK_SLACK.total_seconds() // 60)} minutes ahead for clock drift)"
    )
    extra = {"window": {"from": start.isoformat(), "to": end.isoformat()}}
    if at > end:
        raise InvalidInput(
            f"A fault cannot be reported in the future: {what} must lie {window}", extra=extra
        )
    if at < start:
        raise InvalidInput(
            f"{what} {at.isoformat()} is too early: it must lie {window}", extra=extra
        )


def update_fault_status(
    session: Session,
    *,
    fault_id: int,
    status: str,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
    expected_changes: int | None = None,
) -> Fault:
    """Move a fault along open -> in_progress -> fixed/closed; the camera's health follows.

    ``expected_changes`` (from If-Match): the number of status events the caller saw; another
    number means the fault moved since it was read (412).
    """
    fault = get_fault(session, fault_id=fault_id)
    camera = get_camera(session, camera_id=fault.camera_id, lock=True)
    session.refresh(fault, with_for_update=True)
    if expected_changes is not None:
        changes = session.scalar(
            select(func.count()).select_from(FaultEvent).where(FaultEvent.fault_id == fault.id)
        )
        if expected_changes != changes:
            raise PreconditionFailed(
                f"Fault {fault.number} changed since you read it (it is now {fault.status}); "
                "fetch it again and retry",
                extra={"current": fault.status},
            )
    allowed = lc.FAULT_TRANSITIONS.get(fault.status, ())
    if status not in allowed:
        raise Conflict(
            f"Fault {fault.number} cannot go from {fault.status} to {status}; allowed next "
            f"states: {lc.shown_allowed(list(allowed))}",
            extra={"allowed": list(allowed), "current": fault.status},
        )
    now = now_utc()
    when = aware(at) if at else now
    if when < fault.reported_at:
        raise InvalidInput("A status change cannot precede the fault report")
    if when > now + FAULT_CLOCK_SLACK:
        raise InvalidInput(
            "A status change cannot be in the future (more than "
            f"{int(FAULT_CLOCK_SLACK.total_seconds() // 60)} minutes ahead)"
        )
    before = fault.status
    fault.status = status
    if status in lc.RESOLVED_STATUSES and fault.resolved_at is None:
        fault.resolved_at = when
    elif status in lc.OPEN_STATUSES:
        fault.resolved_at = None
    session.add(
        FaultEvent(
            fault_id=fault.id, from_status=before, to_status=status, at=when, actor=actor, note=note
        )
    )
    audit.record(
        session,
        camera_id=camera.id,
        entity="fault",
        entity_id=fault.id,
        action="fault_status",
        actor=actor,
        before={"status": before},
        after={"status": status, "at": when.isoformat()},
        reason=note,
    )
    _refresh_health(session, camera, actor=actor, reason=f"fault {fault.number} {status}")
    commit_change(session)
    return fault
