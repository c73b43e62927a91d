"""Footage request routes (operator only): police requests for a camera's footage.

POSTs take an ``Idempotency-Key`` so a retry on a bad network does not record twice.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.assets.dependencies import Operator
from services.assets.footage import schemas as sc
from services.assets.footage import service as svc
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses

router = APIRouter(tags=["footage"])


@router.get("/cameras/{camera_id}/footage-requests", response_model=list[sc.FootageRead])
def list_footage(camera_id: int, session: SessionDep, who: Operator) -> list[sc.FootageRead]:
    """Police footage requests for a camera."""
    return [sc.footage_read(r) for r in svc.list_footage_requests(session, camera_id=camera_id)]


@router.post(
    "/cameras/{camera_id}/footage-requests",
    status_code=201,
    response_model=sc.FootageRead,
    responses=replay_responses(sc.FootageRead),
)
def add_footage(
    camera_id: int,
    body: sc.FootageCreate,
    session: SessionDep,
    who: Operator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> sc.FootageRead:
    """Record a police footage request (operator). Retry with the same Idempotency-Key."""
    row, created = svc.add_footage_request(
        session,
        camera_id=camera_id,
        requested_on=body.requested_on,
        reference=body.reference,
        outcome=body.outcome,
        note=body.note,
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    return sc.footage_read(row)
