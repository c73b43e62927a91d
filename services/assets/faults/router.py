"""Fault routes: log, list, search, read, note and move faults; SLA breaches, camera
availability and a change stamp for live pages.

Fault and note POSTs take an ``Idempotency-Key`` so a retry on a bad network does not record
twice (``shared.idempotency``); a fault's ETag counts its events (status changes and notes).
A second open fault of the same category on a camera is 409 ``duplicate-fault`` naming the
open one, unless the report says ``?duplicate=allow``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from services.assets.cameras.service import camera_names
from services.assets.clock import now_utc
from services.assets.dependencies import FaultReader, IfMatch, ListPage, Operator, parse_if_match
from services.assets.faults import availability as av
from services.assets.faults import notes
from services.assets.faults import queries as qs
from services.assets.faults import schemas as sc
from services.assets.faults import service as svc
from services.assets.fields import FaultCategoryName, FaultStatusName, UtcDatetime
from services.assets.models import Fault
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses

router = APIRouter(tags=["faults"])

Duplicate = Annotated[
    Literal["refuse", "allow"],
    Query(
        description="refuse (default): 409 duplicate-fault naming the camera's open fault of "
        "this category, if it has one; allow: log a separate fault all the same"
    ),
]
Search = Annotated[
    str | None,
    Query(
        max_length=qs.SEARCH_MAX_CHARS,
        description="Plain text (not a pattern) in the fault number, description, notes "
        "(contractor job numbers) or the camera's tag or name; case-insensitive",
    ),
]
DUPLICATE_RESPONSE: dict[int | str, dict[str, object]] = {
    409: {
        "description": "duplicate-fault: the camera has an open fault of this category "
        "(``open_fault`` names it; ``notes`` is where to add a note); or the Idempotency-Key "
        "was used for a different record"
    }
}


def _fault_reads(session: Session, faults: list[Fault]) -> list[sc.FaultRead]:
    events = svc.fault_events_for(session, fault_ids=[f.id for f in faults])
    now = now_utc()
    return [sc.fault_read(f, events[f.id], now=now) for f in faults]


def _one_fault(session: Session, fault: Fault, response: Response) -> sc.FaultRead:
    read = _fault_reads(session, [fault])[0]
    response.headers["ETag"] = sc.fault_etag(read)
    return read


@router.get("/cameras/{camera_id}/availability", response_model=sc.AvailabilityRead)
def camera_availability(
    camera_id: int,
    start: UtcDatetime,
    end: UtcDatetime,
    session: SessionDep,
    who: FaultReader,
) -> sc.AvailabilityRead:
    """Downtime and availability over [start, end) from fault intervals (overlaps merged)."""
    a = av.camera_availability(session, camera_id=camera_id, start=start, end=end)
    return sc.AvailabilityRead(
        camera_id=a.camera_id,
        start=a.start,
        end=a.end,
        downtime_hours=round(a.downtime_hours, 3),
        degraded_hours=round(a.degraded_hours, 3),
        availability=round(a.availability, 6),
    )


@router.get("/cameras/{camera_id}/faults", response_model=sc.FaultPage)
def camera_faults(
    camera_id: int,
    session: SessionDep,
    who: FaultReader,
    page: ListPage,
    status: FaultStatusName | None = None,
    open_only: bool = False,
    category: FaultCategoryName | None = None,
) -> sc.FaultPage:
    """Faults of one camera, newest first (``open_only``: open or in progress)."""
    rows, total = qs.list_faults(
        session,
        camera_id=camera_id,
        status=status,
        open_only=open_only,
        category=category,
        limit=page.limit,
        offset=page.offset,
    )
    return sc.FaultPage(
        items=_fault_reads(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/cameras/{camera_id}/faults",
    status_code=201,
    response_model=sc.FaultRead,
    responses=replay_responses(sc.FaultRead) | DUPLICATE_RESPONSE,
)
def log_fault(
    camera_id: int,
    body: sc.FaultCreate,
    session: SessionDep,
    who: Operator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    duplicate: Duplicate = "refuse",
) -> sc.FaultRead:
    """Log a fault (operator); the camera's health follows. Retry with the same Idempotency-Key.

    A camera with an open fault of this category: 409 ``duplicate-fault`` naming it (add a
    note to it instead, or send ``?duplicate=allow``).
    """
    fault, created = svc.log_fault_once(
        session,
        camera_id=camera_id,
        category=body.category,
        description=body.description,
        reported_at=body.reported_at,
        started_at=body.started_at,
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
        allow_duplicate=duplicate == "allow",
    )
    mark_replay(response, created)
    return _one_fault(session, fault, response)


@router.get("/faults", response_model=sc.FaultPage)
def list_faults(
    session: SessionDep,
    who: FaultReader,
    page: ListPage,
    status: FaultStatusName | None = None,
    open_only: bool = False,
    category: FaultCategoryName | None = None,
    q: Search = None,
    resolved_since: UtcDatetime | None = None,
    resolved_before: UtcDatetime | None = None,
    sort: Literal["reported", "resolved"] = "reported",
) -> sc.FaultPage:
    """All faults, newest reported first (``sort=resolved``: newest fixed or closed first).

    ``q`` searches; ``resolved_since``/``resolved_before`` bound when faults were fixed or
    closed (e.g. closed today: ``status=closed&resolved_since=<midnight>``).
    """
    rows, total = qs.list_faults(
        session,
        status=status,
        open_only=open_only,
        category=category,
        q=q,
        resolved_since=resolved_since,
        resolved_before=resolved_before,
        sort=sort,
        limit=page.limit,
        offset=page.offset,
    )
    return sc.FaultPage(
        items=_fault_reads(session, rows), total=total, limit=page.limit, offset=page.offset
    )


@router.get("/faults/sla-breaches", response_model=list[sc.SlaBreachRead])
def sla_breaches(
    session: SessionDep,
    who: FaultReader,
    include_resolved: bool = False,
    since: UtcDatetime | None = None,
) -> list[sc.SlaBreachRead]:
    """Faults past their SLA target (hours per category); open ones unless include_resolved."""
    rows = av.sla_breaches(session, include_resolved=include_resolved, since=since)
    names = camera_names(session, camera_ids=sorted({f.camera_id for f in rows}))
    return [
        sc.SlaBreachRead(fault=r, camera_name=names[r.camera_id])
        for r in _fault_reads(session, rows)
    ]


@router.get("/faults/changes", response_model=sc.FaultChanges)
def fault_changes(session: SessionDep, who: FaultReader, response: Response) -> sc.FaultChanges:
    """A stamp that changes whenever a fault is logged, moved or noted (poll it; reload the
    lists when it changes). Cheap: two aggregates."""
    stamp, open_now = qs.changes_stamp(session)
    response.headers["Cache-Control"] = "no-store"
    return sc.FaultChanges(stamp=stamp, open=open_now)


@router.get("/faults/{fault_id}", response_model=sc.FaultRead)
def get_fault(
    fault_id: int, session: SessionDep, who: FaultReader, response: Response
) -> sc.FaultRead:
    """One fault with its SLA and history; the ETag changes with each status change."""
    return _one_fault(session, svc.get_fault(session, fault_id=fault_id), response)


@router.post(
    "/faults/{fault_id}/notes",
    status_code=201,
    response_model=sc.FaultRead,
    responses=replay_responses(sc.FaultRead),
)
def add_fault_note(
    fault_id: int,
    body: sc.FaultNoteCreate,
    session: SessionDep,
    who: Operator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> sc.FaultRead:
    """Add a note to a fault without changing its status (operator): the fault with its
    history. Retry with the same Idempotency-Key."""
    fault, created = notes.add_note(
        session,
        fault_id=fault_id,
        note=body.note,
        at=body.at,
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    return _one_fault(session, fault, response)


@router.patch(
    "/faults/{fault_id}",
    response_model=sc.FaultRead,
    responses={
        409: {"description": "Not an allowed status change"},
        412: {"description": "Stale ETag"},
    },
)
def patch_fault(
    fault_id: int,
    body: sc.FaultPatch,
    session: SessionDep,
    who: Operator,
    response: Response,
    if_match: IfMatch = None,
) -> sc.FaultRead:
    """Change a fault's status (operator); the camera's health follows.

    ``If-Match`` is optional here (the control room moves faults with one press; two operators
    cannot both make the same change, the second gets 409); with it a stale ETag gets 412.
    """
    fault = svc.update_fault_status(
        session,
        fault_id=fault_id,
        status=body.status,
        actor=who.actor,
        note=body.note,
        at=body.at,
        expected_changes=parse_if_match(if_match),
    )
    return _one_fault(session, fault, response)
