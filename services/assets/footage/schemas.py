"""Pydantic I/O of the footage request routes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.assets.enums import FootageOutcome
from services.assets.fields import FootageOutcomeName, InputModel, IsoDate, UtcDatetime
from services.assets.models import FootageRequest

OFFICER_MAX = 200
REFERENCE_MAX = 120


def _window_in_order(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError("window_end must be after window_start")


class FootageCreate(InputModel):
    """A police footage request (operator)."""

    requested_on: IsoDate
    reference: str = Field(min_length=1, max_length=REFERENCE_MAX, description="Police reference")
    outcome: FootageOutcomeName = FootageOutcome.PENDING.value
    note: str | None = Field(None, max_length=4000)
    window_start: UtcDatetime | None = Field(None, description="Start of the footage asked for")
    window_end: UtcDatetime | None = Field(None, description="End of the footage asked for")
    officer: str | None = Field(
        None, max_length=OFFICER_MAX, description="Who asked: name, collar number, station"
    )
    retain_until: IsoDate | None = Field(None, description="Footage kept as evidence until")

    @model_validator(mode="after")
    def _window(self) -> FootageCreate:
        _window_in_order(self.window_start, self.window_end)
        return self


class FootagePatch(InputModel):
    """Changes to a footage request (operator; ``If-Match`` its ETag). Absent fields stay."""

    outcome: FootageOutcomeName | None = None
    note: str | None = Field(None, max_length=4000)
    officer: str | None = Field(None, max_length=OFFICER_MAX)
    retain_until: IsoDate | None = None
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    reason: str | None = Field(None, max_length=400, description="Why (kept in the audit trail)")

    @model_validator(mode="after")
    def _window(self) -> FootagePatch:
        _window_in_order(self.window_start, self.window_end)
        return self


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
    window_start: datetime | None
    window_end: datetime | None
    officer: str | None
    retain_until: date | None
    version: int
    updated_at: datetime | None


class FootagePage(BaseModel):
    """One page of footage requests."""

    items: list[FootageRead]
    total: int
    limit: int
    offset: int


def footage_read(row: FootageRequest) -> FootageRead:
    """A footage request."""
    return FootageRead.model_validate(row)


def footage_etag(row: FootageRequest) -> str:
    """The weak ETag of a footage request: its version."""
    return f'W/"{row.version}"'
