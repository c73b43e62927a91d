"""SEG decision routes: seg records decisions (If-Match, Idempotency-Key), seg and analysts
read them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.assets.cameras.schemas import camera_etag
from services.assets.cameras.service import get_camera
from services.assets.decisions import schemas as sc
from services.assets.decisions import service as svc
from services.assets.dependencies import (
    IF_MATCH_RESPONSES,
    IfMatch,
    ReviewReader,
    Seg,
    SettingsDep,
    parse_if_match,
)
from shared.db import SessionDep
from shared.idempotency import REPLAYED_HEADER, IdempotencyKey, replay_responses

router = APIRouter(tags=["decisions"])


@router.get("/cameras/{camera_id}/decisions", response_model=list[sc.DecisionRead])
def list_decisions(camera_id: int, session: SessionDep, who: ReviewReader) -> list[sc.DecisionRead]:
    """SEG decisions on a camera, with when each takes (took) effect."""
    return [sc.decision_read(d, e) for d, e in svc.list_decisions(session, camera_id=camera_id)]


@router.post(
    "/cameras/{camera_id}/decisions",
    status_code=201,
    response_model=sc.DecisionRead,
    responses={
        **replay_responses(sc.DecisionRead),
        409: {
            "description": "Decision not possible in this state (see `allowed`), or this "
            "Idempotency-Key was used for a different decision"
        },
        **IF_MATCH_RESPONSES,
    },
)
def record_decision(
    camera_id: int,
    body: sc.DecisionCreate,
    session: SessionDep,
    who: Seg,
    settings: SettingsDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record an SEG decision and apply it to the camera (seg, If-Match).

    A replacement or relocation with a later ``effective_on`` is scheduled: the camera keeps
    today's facts and shows what is due until that day. Retry with the same Idempotency-Key.
    """
    decision, effect, created = svc.record_decision(
        session,
        camera_id=camera_id,
        data=body,
        expected_version=parse_if_match(if_match),
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
        review_interval_days=settings.review_interval_days,
    )
    camera = get_camera(session, camera_id=camera_id)
    headers = {"ETag": camera_etag(camera)}
    if not created:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(
        sc.decision_read(decision, effect).model_dump(mode="json"),
        status_code=201 if created else 200,
        headers=headers,
    )
