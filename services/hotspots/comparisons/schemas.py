"""Pydantic I/O of comparisons of two periods: the request, a comparison, its ward table."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.hotspots.schemas import Day, Kernel, RunStatusName


class PeriodIn(BaseModel):
    """A period of whole days, both ends inclusive."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Day = Field(alias="from", description="First day, inclusive")
    to: Day = Field(description="Last day, inclusive")


class ComparisonCreate(BaseModel):
    """Two periods to compare with the same incidents and KDE settings (bbox WGS84)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    before: PeriodIn
    after: PeriodIn = Field(description="Starts after the period before ends")
    method: Literal["exact", "fast"] = "exact"
    kernel: Kernel = "quartic"
    radius_m: float | None = Field(None, gt=0, le=20_000, description="Search radius, metres")
    cell_m: float | None = Field(None, ge=1, le=5_000, description="Cell size, metres")
    categories: list[str] | None = Field(None, max_length=100)
    sources: list[str] | None = Field(None, max_length=10)
    bbox: list[float] | None = Field(
        None, min_length=4, max_length=4, description="minlon, minlat, maxlon, maxlat (WGS84)"
    )
    percentile: float = Field(95.0, gt=0, lt=100, description="Hotspot cut-off percentile")
    use_weights: bool = True


class ComparisonRead(BaseModel):
    """A comparison: status, progress 0..1, parameters, summary statistics and links."""

    id: int
    status: RunStatusName
    progress: float
    parameters: dict[str, Any]
    stats: dict[str, Any]
    error: str | None
    message: str | None = Field(
        None, description='Beyond the status: "interrupted, retrying" after a worker stopped'
    )
    attempts: int = 0
    created_by: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]


class ComparisonPage(BaseModel):
    """A page of comparisons, newest first."""

    items: list[ComparisonRead]
    total: int
    limit: int
    offset: int


class WardChangeRead(BaseModel):
    """One ward in both periods: incidents in it, its hotspot area (km²) and what changed."""

    ward: str
    code: str
    change: Literal["appeared", "grew", "shrank", "gone", "stayed", "none"]
    incidents_before: int
    incidents_after: int
    hotspot_before_km2: float
    hotspot_after_km2: float


class WardTable(BaseModel):
    """A comparison's table by ward, by name."""

    comparison: int
    items: list[WardChangeRead]
