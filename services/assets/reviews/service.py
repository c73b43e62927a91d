"""Review use cases: in-service cameras whose next review falls due (overdue first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.clock import now_utc
from services.assets.models import Camera
from shared.errors import InvalidInput


@dataclass(frozen=True)
class ReviewDue:
    """A camera with a review due (or overdue) at ``today``."""

    camera: Camera
    overdue: bool
    days_until_due: int


def reviews_due(
    session: Session, *, within_days: int = 30, today: date | None = None
) -> list[ReviewDue]:
    """In-service cameras whose next review falls within ``within_days`` (overdue first)."""
    today = today or now_utc().date()
    try:
        horizon = today + timedelta(days=within_days)
    except OverflowError:
        raise InvalidInput(f"{today} plus {within_days} days is past the calendar's end") from None
    rows = session.scalars(
        select(Camera)
        .where(
            Camera.lifecycle.in_(lc.IN_SERVICE),
            Camera.next_review_due.is_not(None),
            Camera.next_review_due <= horizon,
        )
        .order_by(Camera.next_review_due, Camera.id)
    ).all()
    out = []
    for c in rows:
        assert c.next_review_due is not None
        days = (c.next_review_due - today).days
        out.append(ReviewDue(c, days < 0, days))
    return out
