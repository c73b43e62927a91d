"""When each SEG decision takes effect on its camera: applied, scheduled for a later day, lapsed.

A replacement or relocation decided ahead of the works is a *scheduled change*: the register
keeps today's facts (an analogue camera stays analogue) and shows what is due ("replace with
digital on 2027-01-15") until the day comes; then ``assets.apply_scheduled_changes`` (a beat
task) applies it as a camera change in the audit trail. One ``DecisionEffect`` row per decision
(``decision_id`` is its key); at most one scheduled change per camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.assets import lifecycle as lc
from services.assets.enums import check_in
from services.assets.models import SCHEMA, Decision
from shared.db import Base

_S = lc.DecisionStatus


class DecisionEffect(Base):
    """How and when one decision changes its camera, and the request that recorded it."""

    __tablename__ = "decision_effects"
    __table_args__ = (
        CheckConstraint(check_in("status", lc.DecisionStatus), name="status"),
        CheckConstraint("(status = 'applied') = (applied_at IS NOT NULL)", name="applied_at"),
        UniqueConstraint("idempotency_key", name="uq_decision_effects_idempotency_key"),
        Index("ix_decision_effects_camera_id", "camera_id"),
        Index("ix_decision_effects_status_effective_on", "status", "effective_on"),
        Index(
            "uq_decision_effects_one_scheduled",
            "camera_id",
            unique=True,
            postgresql_where=text("status = 'scheduled'"),
        ),
        {"schema": SCHEMA},
    )

    decision_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.decisions.id"), primary_key=True, autoincrement=False
    )
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    effective_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    related_camera_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey(f"{SCHEMA}.cameras.id")
    )
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # scoped_key(caller, Idempotency-Key) of the request that recorded it (shared.idempotency).
    idempotency_key: Mapped[str | None] = mapped_column(String(300))


@dataclass(frozen=True)
class Due:
    """A change waiting for its day on a camera: ``replace with digital on 2027-01-15``."""

    decision_id: int
    camera_id: int
    decision: str
    effective_on: date
    minute_ref: str

    @property
    def text(self) -> str:
        """``replace with digital on 2027-01-15``."""
        return lc.due_text(self.decision, self.effective_on)


def scheduled_for(session: Session, *, camera_ids: Sequence[int]) -> dict[int, Due]:
    """The change scheduled on each of these cameras (at most one each), by camera id."""
    if not camera_ids:
        return {}
    rows = session.execute(
        select(DecisionEffect, Decision)
        .join(Decision, Decision.id == DecisionEffect.decision_id)
        .where(
            DecisionEffect.camera_id.in_(list(camera_ids)),
            DecisionEffect.status == _S.SCHEDULED,
        )
    ).tuples()
    return {
        e.camera_id: Due(d.id, e.camera_id, d.decision, e.effective_on, d.minute_ref)
        for e, d in rows
    }
