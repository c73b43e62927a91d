"""Pydantic output of the review route."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from services.assets.reviews.service import ReviewDue


class ReviewDueRead(BaseModel):
    """A camera whose review is due within the window, or overdue."""

    camera_id: int
    asset_tag: str
    name: str
    lifecycle: str
    next_review_due: date
    overdue: bool
    days_until_due: int


def review_due_read(r: ReviewDue) -> ReviewDueRead:
    """A due review with its camera's tag, name and lifecycle."""
    return ReviewDueRead(
        camera_id=r.camera.id,
        asset_tag=r.camera.asset_tag,
        name=r.camera.name,
        lifecycle=r.camera.lifecycle,
        next_review_due=r.camera.next_review_due,
        overdue=r.overdue,
        days_until_due=r.days_until_due,
    )
