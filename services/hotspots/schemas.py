"""Pydantic I/O of the hotspots API: surface runs, evaluations, water sites."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.hotspots.enums import RunStatus

# Days the incidents can fall on (the incident parsers use the same years); outside them the
# day arithmetic (the day after ``to``) overflows.
YEARS = (1900, 2200)


def in_years(day: date) -> date:
    """``day`` if it falls within ``YEARS``, else ValueError."""
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(f"must be between the years {YEARS[0]} and {YEARS[1]}")
    return day


Day = Annotated[date, AfterValidator(in_years)]

Kernel = Literal["quartic", "triweight", "epanechnikov", "uniform", "triangular"]

# Every RunStatus, as a Literal of its members: the OpenAPI document keeps the inline
# {"type": "string", "enum": [...]} clients were given (a StrEnum field would be a $ref), and
# mypy takes a RunStatus for it. A test checks that it names every member.
RunStatusName = Literal[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.DONE, RunStatus.FAILED]


class SurfaceCreate(BaseModel):
    """Parameters of a surface run; dates are whole days (``to`` inclusive), bbox is WGS84."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["exact", "fast"] = "exact"
    kernel: Kernel = "quartic"
    radius_m: float | None = Field(None, gt=0, le=20_000, description="Search radius, metres")
    cell_m: float | None = Field(None, ge=1, le=5_000, description="Cell size, metres")
    categories: list[str] | None = Field(None, max_length=100)
    sources: list[str] | None = Field(None, max_length=10)
    from_: Day | None = Field(None, alias="from", description="First day, inclusive")
    to: Day | None = Field(None, description="Last day, inclusive")
    bbox: list[float] | None = Field(
        None, min_length=4, max_length=4, description="minlon, minlat, maxlon, maxlat (WGS84)"
    )
    percentile: float = Field(95.0, gt=0, lt=100, description="Hotspot cut-off percentile")
    gistar: bool = Field(False, description="Getis-Ord Gi* on cell counts instead of a KDE")
    neighbourhood_cells: float = Field(1.0, ge=1, le=50, description="Gi* window radius, cells")
    use_weights: bool = True


class RunRead(BaseModel):
    """A surface run: status, progress 0..1, parameters, summary statistics and links."""

    id: int
    status: RunStatusName
    progress: float
    parameters: dict[str, Any]
    stats: dict[str, Any]
    error: str | None
    message: str | None = Field(
        None, description='Beyond the status: "interrupted, retrying" after a worker stopped'
    )
    attempts: int = Field(0, description="Times a worker took the run up (retries included)")
    created_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]


class RunPage(BaseModel):
    """A page of runs, newest first."""

    items: list[RunRead]
    total: int
    limit: int
    offset: int


class EvaluateRequest(BaseModel):
    """Later incidents to score a surface on: a day range (``to`` inclusive), optional filters."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Day = Field(alias="from")
    to: Day
    categories: list[str] | None = None
    sources: list[str] | None = None


class EvaluationRow(BaseModel):
    """Hit rate and PAI when the hottest ``area_fraction`` of cells is chosen."""

    area_fraction: float
    cells: int
    hits: float
    total: float
    hit_rate: float
    pai: float


class EvaluationRead(BaseModel):
    """Evaluation of one run against incidents in a later window."""

    run: int
    incidents: int
    rows: list[EvaluationRow]


class WaterSiteCreate(BaseModel):
    """A water-edge location: a Point access point or a LineString stretch of bank (WGS84)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["access_point", "bank_stretch"]
    geometry: dict[str, Any] = Field(description="GeoJSON Point or LineString, lon/lat")
    notes: str | None = Field(None, max_length=2000)


class WaterSiteRead(BaseModel):
    """A registered water site, geometry in WGS84 GeoJSON."""

    id: int
    name: str
    kind: str
    notes: str | None
    geometry: dict[str, Any]
    created_at: datetime | None
    links: dict[str, str]
    warnings: list[str] = Field(
        default_factory=list, description="Notes on the registration (a site in the margin)"
    )


class SourcePeriodRead(BaseModel):
    """The days one incident source covers (UTC days) and how many incidents it holds."""

    source: str
    label: str = Field(description='Its plain name ("Crime and ASB" for police)')
    first_day: date
    last_day: date = Field(
        description="Last day covered: for a month-only source, the last day of its newest month"
    )
    newest_day: date = Field(
        description="Day the newest incident is dated on (month-only data: the 1st of its month)"
    )
    by_month: bool = Field(description="Every time is a month (each incident dated the 1st)")
    incidents: int


class CoverageWindowRead(BaseModel):
    """The window asked about: incidents in it, and where the newest data are if it has none."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(None, alias="from")
    to: date | None
    sources: list[str]
    categories: list[str]
    incidents: int = Field(description="Incidents a run with these filters would read")
    newest_day: date | None = Field(
        description="Newest day with incidents of these sources and categories (None: none)"
    )
    suggested_from: date | None = Field(
        description="When the window has no incidents: the same length ending on newest_day"
    )
    suggested_to: date | None


class CoverageRead(BaseModel):
    """What the incident data cover, per source, and what a chosen window of days holds."""

    sources: list[SourcePeriodRead]
    window: CoverageWindowRead
