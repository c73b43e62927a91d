"""Recommendations route: advice for the SEG with its evidence (seg, analyst, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.assets.dependencies import ReviewReader, SettingsDep
from services.assets.fields import UtcDatetime
from services.assets.recommendations import schemas as sc
from services.assets.recommendations import service as svc
from shared.db import SessionDep

router = APIRouter(tags=["reviews"])


@router.get("/recommendations", response_model=sc.RecommendationsRead)
def recommendations(
    session: SessionDep,
    who: ReviewReader,
    settings: SettingsDep,
    window_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    as_of: UtcDatetime | None = None,
) -> sc.RecommendationsRead:
    """Advice for the SEG with the evidence behind each item (seg, analyst, admin)."""
    days = window_days or settings.recommend_window_days
    start, end = svc.window(window_days=days, as_of=as_of)
    recs = svc.recommendations(session, window_days=days, settings=settings, as_of=end)
    return sc.RecommendationsRead(
        window_start=start, window_end=end, items=[sc.recommendation_read(r) for r in recs]
    )
