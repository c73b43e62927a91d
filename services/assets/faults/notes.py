"""A note on a fault without a status change (what the contractor said, a second report of the
same fault): one event whose status is the same before and after, created once per caller's
Idempotency-Key and audited. Keyword-only, session first; each write commits once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets.cameras.service import commit_change, get_camera
from services.assets.clock import aware, now_utc
from services.assets.faults.service import FAULT_CLOCK_SLACK, get_fault
from services.assets.models import Fault, FaultEvent
from shared.errors import InvalidInput
from shared.idempotency import bounded_wait, insert_once, release, replay, scoped_key


def add_note(
    session: Session,
    *,
    fault_id: int,
    note: str,
    actor: str,
    at: datetime | None = None,
    caller: int | str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Fault, bool]:
    """Add a note to a fault unless this caller's key already did: (fault, whether it is new).

    The fault's status does not change; its ETag does (one more event). ``at`` defaults to now
    and lies between the report and now (plus the clock slack).
    """
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(FaultEvent).where(FaultEvent.idempotency_key == key)
    same = {"fault_id": fault_id, "note": note}
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        replay(found, same, "note")
        return release(session, get_fault(session, fault_id=fault_id)), False
    fault = get_fault(session, fault_id=fault_id)
    busy = f"Fault {fault.number} is busy with another change; retry"
    with bounded_wait(session, busy):
        get_camera(session, camera_id=fault.camera_id, lock=True)
        session.refresh(fault, with_for_update=True)
    now = now_utc()
    when = aware(at) if at else now
    if when < fault.reported_at or when > now + FAULT_CLOCK_SLACK:
        raise InvalidInput(
            f"A note's time must lie between the report ({fault.reported_at.isoformat()}) and now",
            errors=[{"field": "at", "message": "between the report and now"}],
        )
    event = FaultEvent(
        fault_id=fault.id,
        from_status=fault.status,
        to_status=fault.status,
        at=when,
        actor=actor,
        note=note,
        idempotency_key=key,
    )
    with bounded_wait(session, busy):
        inserted = insert_once(session, event, "uq_fault_events_idempotency_key")
    if not inserted:
        replay(session.scalars(by_key).one(), same, "note")
        return release(session, fault), False
    audit.record(
        session,
        camera_id=fault.camera_id,
        entity="fault",
        entity_id=fault.id,
        action="fault_note",
        actor=actor,
        before=None,
        after={"number": fault.number, "status": fault.status, "at": when.isoformat()},
        reason=note,
    )
    commit_change(session)
    return fault, True
