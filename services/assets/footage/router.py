"""Footage request routes (operator only): police requests for a camera's footage.

POSTs take an ``Idempotency-Key`` so a retry on a bad network does not record twice; a PATCH
needs ``If-Match`` with the request's ETag (its version) and is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.assets.dependencies import (
    IF_MATCH_RESPONSES,
    IfMatch,
    ListPage,
    Operator,
    parse_if_match,
)
from services.assets.fields import FootageOutcomeName
from services.assets.footage import schemas as sc
from services.assets.footage import service as svc
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey, mark_replay, replay_responses

router = APIRouter(tags=["footage"])

Search = Annotated[
    str | None,
    Query(
        max_length=svc.SEARCH_MAX_CHARS,
        description="Plain text in the police reference, officer, note or camera tag or name",
    ),
]


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
        window_start=body.window_start,
        window_end=body.window_end,
        officer=body.officer,
        retain_until=body.retain_until,
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
    )
    mark_replay(response, created)
    response.headers["ETag"] = sc.footage_etag(row)
    return sc.footage_read(row)


@router.get("/footage-requests", response_model=sc.FootagePage)
def search_footage(
    session: SessionDep,
    who: Operator,
    page: ListPage,
    q: Search = None,
    outcome: FootageOutcomeName | None = None,
    camera_id: int | None = None,
) -> sc.FootagePage:
    """Footage requests of every camera, newest first; search and filter by outcome."""
    rows, total = svc.search_footage_requests(
        session, q=q, outcome=outcome, camera_id=camera_id, limit=page.limit, offset=page.offset
    )
    return sc.FootagePage(
        items=[sc.footage_read(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/footage-requests/{request_id}", response_model=sc.FootageRead)
def get_footage(
    request_id: int, session: SessionDep, who: Operator, response: Response
) -> sc.FootageRead:
    """One footage request; its ETag is its version."""
    row = svc.get_footage_request(session, request_id=request_id)
    response.headers["ETag"] = sc.footage_etag(row)
    return sc.footage_read(row)


@router.patch(
    "/footage-requests/{request_id}",
    response_model=sc.FootageRead,
    responses=IF_MATCH_RESPONSES,
)
def patch_footage(
    request_id: int,
    body: sc.FootagePatch,
    session: SessionDep,
    who: Operator,
    response: Response,
    if_match: IfMatch = None,
) -> sc.FootageRead:
    """Change a request's outcome, note, officer, retention or window (operator; If-Match)."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    row = svc.update_footage_request(
        session,
        request_id=request_id,
        changes=changes,
        expected_version=parse_if_match(if_match),
        actor=who.actor,
        reason=body.reason,
    )
    response.headers["ETag"] = sc.footage_etag(row)
    return sc.footage_read(row)
