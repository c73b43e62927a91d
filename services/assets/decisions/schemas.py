"""Pydantic I/O of the SEG decision routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class DecisionCreate(InputModel):
    """An SEG decision (seg, If-Match); fields beyond the minute depend on the decision."""

    decision: DecisionKindName
    meeting_date: IsoDate
    minute_ref: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=4000)
    dpia_ref: str | None = Field(None, max_length=120)
    lon: Number | None = Field(None, ge=-180, le=180, description="relocate: new position")
    lat: Number | None = Field(None, ge=-90, le=90, description="relocate: new position")
    bearing_deg: Number | None = Field(None, ge=0, lt=360, description="relocate: new bearing")
    installed_on: IsoDate | None = Field(None, description="replace: install date of the new unit")
    expected_life_years: Integer | None = Field(None, ge=1, le=50, description="replace: new unit")
    keep_under_review: Flag = Field(False, description="retain: stay under review")
    next_review_due: IsoDate | None = Field(None, description="Overrides the default interval")

    @model_validator(mode="after")
    def _relocate_needs_position(self) -> DecisionCreate:
        if self.decision == DecisionKind.RELOCATE and (self.lon is None or self.lat is None):
            raise ValueError("relocate needs the new lon and lat")
        check_in_gb(self.lon, self.lat)
        return self


class DecisionRead(BaseModel):
    """A recorded decision and the lifecycle change it made."""

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


def decision_read(row: Decision) -> DecisionRead:
    """A decision."""
    return DecisionRead.model_validate(row)
