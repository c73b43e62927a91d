"""Pydantic I/O of the predictive API: agencies, visits and diagnostics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

# Dates and times the lists deal with; outside these years the date arithmetic (training
# windows, shifts) overflows. The incident parsers use the same years.
YEARS = (1900, 2200)


def in_years(day: date) -> date:
    """``day`` (a date or a time) if it falls within ``YEARS``, else ValueError."""
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(f"must be between the years {YEARS[0]} and {YEARS[1]}")
    return day


def utc_time(dt: datetime) -> datetime:
    """An input time in UTC (naive stays naive), within ``YEARS``.

    PostgreSQL refuses UTC offsets beyond +-15:59 that ISO 8601 (and Python) allow.
    """
    in_years(dt)
    return dt.astimezone(UTC) if dt.tzinfo is not None else dt


ListDate = Annotated[date, AfterValidator(in_years)]
UtcDatetime = Annotated[datetime, AfterValidator(utc_time)]


class AgencyRead(BaseModel):
    """An agency's list settings."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    categories: list[str]
    boxes_per_day: int
    shift_start_hour: int
    shift_length_hours: int
    cell_size_m: float
    method: str
    has_own_area: bool = False


class AgencyUpdate(BaseModel):
    """Settings an admin may change (omitted fields stay as they are; none may be null)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    categories: list[str] | None = Field(None, max_length=50)
    boxes_per_day: int | None = Field(None, ge=1, le=500)
    shift_start_hour: int | None = Field(None, ge=0, le=23)
    shift_length_hours: int | None = Field(None, ge=1, le=24)
    cell_size_m: float | None = Field(None, ge=25, le=2000)
    method: str | None = None
    area: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon or MultiPolygon in WGS84; null keeps the current area"
    )
    clear_area: bool = Field(False, description="Use the whole partnership area again")

    @field_validator(
        "name",
        "categories",
        "boxes_per_day",
        "shift_start_hour",
        "shift_length_hours",
        "cell_size_m",
        "method",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """An explicit null: the columns are NOT NULL (it was a 500 from the database)."""
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ListRequest(BaseModel):
    """Ask for an agency's list for a date to be made (a year back to a week ahead of today)."""

    model_config = ConfigDict(extra="forbid")

    agency: str = Field(..., min_length=1, max_length=20)
    date: ListDate | None = Field(None, description="List date (default: today in Medway)")


class VisitForBox(BaseModel):
    """A visit logged against a box of a known list."""

    model_config = ConfigDict(extra="forbid")

    visited_at: UtcDatetime
    crew: str = Field(..., min_length=1, max_length=120)
    notes: str | None = Field(None, max_length=2000)


class VisitCreate(VisitForBox):
    """A visit logged by agency, list date and box."""

    agency: str = Field(..., min_length=1, max_length=20)
    date: ListDate
    cell_id: str = Field(..., min_length=3, max_length=40)


class VisitRead(BaseModel):
    """A logged visit."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    list_id: int | None
    list_date: date
    cell_id: str
    visited_at: datetime
    crew: str
    notes: str | None
    logged_by: str
    created_at: datetime | None = None


class VisitPage(BaseModel):
    """Visits of one agency over a date range."""

    agency: str
    date_from: date = Field(..., serialization_alias="from")
    date_to: date = Field(..., serialization_alias="to")
    count: int
    visits: list[VisitRead]
