"""Pydantic output of the recommendations route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.assets.recommendations.rules import Recommendation


class RecommendationRead(BaseModel):
    """Advice for the SEG with the evidence that triggered it."""

    camera_id: int
    action: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    related_camera_id: int | None


class RecommendationsRead(BaseModel):
    """All recommendations over a window."""

    window_start: datetime
    window_end: datetime
    items: list[RecommendationRead]


def recommendation_read(r: Recommendation) -> RecommendationRead:
    """One piece of advice with its evidence."""
    return RecommendationRead(
        camera_id=r.camera_id,
        action=r.action,
        rule=r.rule,
        reason=r.reason,
        evidence=r.evidence,
        related_camera_id=r.related_camera_id,
    )
