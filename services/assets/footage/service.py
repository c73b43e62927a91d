"""Footage request use cases: record a police request (once per Idempotency-Key) and list them.
Keyword-only, session first; each write commits once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets.cameras.service import commit_change, get_camera
from services.assets.enums import FootageOutcome
from services.assets.models import FootageRequest
from shared.idempotency import bounded_wait, insert_once, release, replay, scoped_key


def add_footage_request(
    session: Session,
    *,
    camera_id: int,
    requested_on: date,
    reference: str,
    outcome: str = FootageOutcome.PENDING,
    note: str | None = None,
    actor: str,
    caller: int | str | None = None,
    idempotency_key: str | None = None,
) -> tuple[FootageRequest, bool]:
    """Record a police footage request unless this caller's key already did: (row, is new).

    ``caller`` scopes the key (the token id; ``actor`` when absent).
    """
    get_camera(session, camera_id=camera_id)
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(FootageRequest).where(FootageRequest.idempotency_key == key)
    same = {
        "camera_id": camera_id,
        "requested_on": requested_on,
        "reference": reference,
        "outcome": outcome,
        "note": note,
    }
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "footage request")), False
    row = FootageRequest(
        camera_id=camera_id,
        requested_on=requested_on,
        reference=reference,
        outcome=outcome,
        note=note,
        recorded_by=actor,
        idempotency_key=key,
    )
    busy = "A request with this Idempotency-Key is in progress; retry"
    with bounded_wait(session, busy):
        inserted = insert_once(session, row, "uq_footage_requests_idempotency_key")
    if not inserted:
        # A concurrent retry with the same key got there first.
        return release(
            session, replay(session.scalars(by_key).one(), same, "footage request")
        ), False
    audit.record(
        session,
        camera_id=camera_id,
        entity="footage_request",
        entity_id=row.id,
        action="footage_request",
        actor=actor,
        before=None,
        after={
            "requested_on": requested_on.isoformat(),
            "reference": reference,
            "outcome": outcome,
        },
        reason=note,
    )
    commit_change(session)
    return row, True


def list_footage_requests(session: Session, *, camera_id: int) -> list[FootageRequest]:
    """Footage requests for a camera, newest first."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(FootageRequest)
            .where(FootageRequest.camera_id == camera_id)
            .order_by(FootageRequest.requested_on.desc(), FootageRequest.id.desc())
        )
    )
