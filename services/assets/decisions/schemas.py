"""Pydantic I/O of the SEG decision routes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.assets import lifecycle as lc
from services.assets.cameras.schedule import DecisionEffect
from services.assets.enums import DecisionKind
from services.assets.fields import (
    DecisionKindName,
    Flag,
    InputModel,
    Integer,
    IsoDate,
    Number,
    check_in_gb,
)
from services.assets.models import Decision

_WORD = r"^[a-z][a-z_]{0,39}$"


class Answers(InputModel):
    """The recommendation a decision answers (as ``GET /recommendations`` gave it)."""

    action: str = Field(pattern=_WORD, description="e.g. decommission")
    rule: str = Field(pattern=_WORD, description="e.g. redundant_overlap")


class DecisionCreate(InputModel):
    """An SEG decision (seg, If-Match); fields beyond the minute depend on the decision."""

    decision: DecisionKindName
    meeting_date: IsoDate
    minute_ref: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=4000)
    dpia_ref: str | None = Field(None, max_length=120)
    effective_on: IsoDate | None = Field(
        None,
        description="The day it takes effect (default: the meeting day). A replacement or "
        "relocation on a later day is a scheduled change: the register keeps today's facts "
        "until then and shows what is due",
    )
    related_camera_id: Integer | None = Field(
        None, ge=1, description="The other camera of a redundant pair decided together"
    )
    answers: Answers | None = Field(None, description="The recommendation this decision answers")
    lon: Number | None = Field(None, ge=-180, le=180, description="relocate: new position")
    lat: Number | None = Field(None, ge=-90, le=90, description="relocate: new position")
    bearing_deg: Number | None = Field(None, ge=0, lt=360, description="relocate: new bearing")
    installed_on: IsoDate | None = Field(
        None, description="replace: install date of the new unit (default: the effective day)"
    )
    expected_life_years: Integer | None = Field(None, ge=1, le=50, description="replace: new unit")
    keep_under_review: Flag = Field(False, description="retain: stay under review")
    next_review_due: IsoDate | None = Field(None, description="Overrides the default interval")

    @model_validator(mode="after")
    def _relocate_needs_position(self) -> DecisionCreate:
        if self.decision == DecisionKind.RELOCATE and (self.lon is None or self.lat is None):
            raise ValueError("relocate needs the new lon and lat")
        check_in_gb(self.lon, self.lat)
        return self

    @model_validator(mode="after")
    def _effective_after_the_meeting(self) -> DecisionCreate:
        day = self.effective_on
        if day is not None and day < self.meeting_date:
            raise ValueError("effective_on is before the meeting_date")
        if day is not None and day > self.meeting_date + timedelta(days=lc.MAX_SCHEDULE_DAYS):
            raise ValueError(
                f"effective_on is more than {lc.MAX_SCHEDULE_DAYS} days after the meeting_date"
            )
        return self

    def effective_day(self) -> date:
        """The day it takes effect: given, else the meeting day."""
        return self.effective_on or self.meeting_date


class DecisionRead(BaseModel):
    """A recorded decision, the lifecycle change it made and when it takes (took) effect."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    decision: str
    meeting_date: date
    minute_ref: str
    reason: str
    dpia_ref: str | None
    lifecycle_before: str
    lifecycle_after: str
    details: dict[str, Any]
    recorded_by: str
    created_at: datetime | None
    effective_on: date | None = None
    status: str = Field(
        lc.DecisionStatus.APPLIED.value,
        description="applied; scheduled (waits for effective_on); lapsed (its day came but "
        "the camera no longer allowed it)",
    )
    applied_at: datetime | None = None
    due: str | None = Field(None, description='A scheduled change: "replace with digital on ..."')
    related_camera_id: int | None = None
    answers: dict[str, Any] | None = None


def decision_read(row: Decision, effect: DecisionEffect | None = None) -> DecisionRead:
    """A decision with when it takes effect."""
    out = DecisionRead.model_validate(row)
    if effect is None:
        return out
    scheduled = effect.status == lc.DecisionStatus.SCHEDULED
    return out.model_copy(
        update={
            "effective_on": effect.effective_on,
            "status": effect.status,
            "applied_at": effect.applied_at,
            "due": lc.due_text(row.decision, effect.effective_on) if scheduled else None,
            "related_camera_id": effect.related_camera_id,
            "answers": effect.recommendation,
        }
    )
