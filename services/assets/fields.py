"""Field types every assets schema shares: the name sets as Literals, ISO times and dates within
the register's years, strict numbers, and the input base that refuses blank text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from services.assets import lifecycle as lc
from services.assets.enums import (
    CameraHealth,
    CameraLifecycle,
    DecisionKind,
    Deployment,
    FaultCategory,
    FaultStatus,
    FootageOutcome,
    Technology,
    literal_of,
)
from shared.geometry import lonlat_in_gb

# Literals of the enums' values: inline enums in the OpenAPI document, plain ``str`` values.
if TYPE_CHECKING:
    TechnologyName: TypeAlias = str
    DeploymentName: TypeAlias = str
    LifecycleName: TypeAlias = str
    HealthName: TypeAlias = str
    RegisterableName: TypeAlias = str
    FaultCategoryName: TypeAlias = str
    FaultStatusName: TypeAlias = str
    FootageOutcomeName: TypeAlias = str
    DecisionKindName: TypeAlias = str
else:
    TechnologyName = literal_of(Technology)
    DeploymentName = literal_of(Deployment)
    LifecycleName = literal_of(CameraLifecycle)
    HealthName = literal_of(CameraHealth)
    RegisterableName = literal_of(lc.REGISTERABLE)
    FaultCategoryName = literal_of(FaultCategory)
    FaultStatusName = literal_of(FaultStatus)
    FootageOutcomeName = literal_of(FootageOutcome)
    DecisionKindName = literal_of(DecisionKind)

# Times the register deals with; outside these years date arithmetic (SLA due times, windows)
# overflows. The incident parsers use the same years.
YEARS = (1900, 2200)
# What pydantic would otherwise take for a time: numbers and digit strings as Unix seconds
# (a fault reported at 123 became F-1970-...). Only ISO 8601 text (or a datetime) is a time.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTSIDE_GB = "position is outside Great Britain (are lon and lat swapped?)"


def _in_years(year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"must be between the years {YEARS[0]} and {YEARS[1]}")


def utc_time(dt: datetime) -> datetime:
    """An input time in UTC (naive stays naive), within ``YEARS``.

    PostgreSQL refuses UTC offsets beyond +-15:59 that ISO 8601 (and Python) allow.
    """
    _in_years(dt.year)
    return dt.astimezone(UTC) if dt.tzinfo is not None else dt


def iso_datetime_input(value: Any) -> Any:
    """Let through a datetime or ISO 8601 date-time text; refuse numbers and bare digits."""
    if isinstance(value, datetime) or (
        isinstance(value, str) and _ISO_DATETIME.match(value.strip())
    ):
        return value
    raise ValueError("must be an ISO 8601 date-time such as 2024-05-01T09:00:00Z")


def iso_date_input(value: Any) -> Any:
    """Let through a date or ISO 8601 date text (YYYY-MM-DD); refuse numbers and digits."""
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _ISO_DATE.match(value.strip())
    ):
        return value
    raise ValueError("must be an ISO 8601 date such as 2024-05-01")


def _date_in_years(d: date) -> date:
    _in_years(d.year)
    return d


UtcDatetime = Annotated[datetime, BeforeValidator(iso_datetime_input), AfterValidator(utc_time)]
IsoDate = Annotated[date, BeforeValidator(iso_date_input), AfterValidator(_date_in_years)]
# JSON true is not 1, "1.5" is not a number and NaN/inf are not coordinates.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Integer = Annotated[int, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]


def has_visible_text(value: str) -> bool:
    """True when ``value`` holds a character that shows: not only spaces or format characters
    (zero-width space, BOM, word joiner), which strip_whitespace leaves in place."""
    return any(ch.isprintable() and not ch.isspace() for ch in value)


def check_in_gb(lon: float | None, lat: float | None) -> None:
    """ValueError when both coordinates are given and the point is outside Great Britain."""
    if lon is not None and lat is not None and not lonlat_in_gb(lon, lat):
        raise ValueError(OUTSIDE_GB)


# Optional in a PATCH, never empty in the register (a null name was a NOT NULL violation, 500).
_NOT_NULL = frozenset({"name"})


class InputModel(BaseModel):
    """Base of request bodies: unknown fields refused, text stripped, blank text refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_blank_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Blank text is refused where a value is required and stored as None where optional."""
        name = str(info.field_name)
        if value is None and name in _NOT_NULL:
            raise ValueError("must not be null")
        if not isinstance(value, str) or has_visible_text(value):
            return value
        field = cls.model_fields[name]
        if field.is_required() or field.default is not None or name in _NOT_NULL:
            raise ValueError("must not be blank")
        return None
