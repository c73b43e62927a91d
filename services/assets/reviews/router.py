"""Review route: cameras whose review is due (any role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.assets.fields import IsoDate
from services.assets.reviews import schemas as sc
from services.assets.reviews import service as svc
from shared.auth import AnyRole
from shared.db import SessionDep

router = APIRouter(tags=["reviews"])


@router.get("/reviews/due", response_model=list[sc.ReviewDueRead])
def reviews_due(
    session: SessionDep,
    who: AnyRole,
    within_days: Annotated[int, Query(ge=0, le=3650)] = 30,
    today: IsoDate | None = None,
) -> list[sc.ReviewDueRead]:
    """In-service cameras whose review is due within ``within_days`` or overdue."""
    return [
        sc.review_due_read(r)
        for r in svc.reviews_due(session, within_days=within_days, today=today)
    ]
