"""Pydantic I/O of the footage request routes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.assets.enums import FootageOutcome
from services.assets.fields import FootageOutcomeName, InputModel, IsoDate
from services.assets.models import FootageRequest


class FootageCreate(InputModel):
    """A police footage request (operator)."""

    requested_on: IsoDate
    reference: str = Field(min_length=1, max_length=120)
    outcome: FootageOutcomeName = FootageOutcome.PENDING.value
    note: str | None = Field(None, max_length=4000)


class FootageRead(BaseModel):
    """A recorded footage request."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    requested_on: date
    reference: str
    outcome: str
    note: str | None
    recorded_by: str


def footage_read(row: FootageRequest) -> FootageRead:
    """A footage request."""
    return FootageRead.model_validate(row)
