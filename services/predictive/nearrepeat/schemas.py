"""Requests and answers of the near-repeat API, with every size a client controls bounded."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.predictive.compute.nearrepeat import MAX_BANDS, MAX_PERMUTATIONS
from services.predictive.schemas import ListDate

MAX_PERIOD_DAYS = 3 * 366  # three years of incidents in one analysis
MAX_CATEGORIES = 10
MAX_DISTANCE_M = 2000.0  # the last distance edge: pairs are searched within it
MAX_TIME_DAYS = 365.0
DEFAULT_DISTANCES = (0.0, 100.0, 200.0, 400.0, 800.0)
DEFAULT_TIMES = (0.0, 7.0, 14.0, 28.0, 56.0)

Category = Annotated[str, Field(min_length=1, max_length=120)]


def check_edges(edges: list[float], what: str, top: float) -> list[float]:
    """Band edges: 2 to MAX_BANDS + 1 of them, from 0 or more, increasing, the last <= top."""
    if not 2 <= len(edges) <= MAX_BANDS + 1:
        raise ValueError(f"give 2 to {MAX_BANDS + 1} {what} band edges, got {len(edges)}")
    if edges[0] < 0 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"{what} band edges must start at 0 or more and increase")
    if edges[-1] > top:
        raise ValueError(f"the last {what} band edge is {edges[-1]:g}; at most {top:g}")
    return edges


class NearRepeatRequest(BaseModel):
    """A near-repeat analysis: which incidents, which bands, how many permutations."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    categories: list[Category] = Field(
        ..., min_length=1, max_length=MAX_CATEGORIES, description="One table per category"
    )
    date_from: ListDate = Field(..., alias="from", description="First day (Medway date)")
    date_to: ListDate = Field(..., alias="to", description="Last day, inclusive")
    distance_bands_m: list[float] = Field(
        default_factory=lambda: list(DEFAULT_DISTANCES),
        max_length=MAX_BANDS + 1,
        description="Distance band edges in metres, from 0",
    )
    time_bands_days: list[float] = Field(
        default_factory=lambda: list(DEFAULT_TIMES),
        max_length=MAX_BANDS + 1,
        description="Time band edges in days, from 0",
    )
    permutations: int = Field(99, ge=1, le=MAX_PERMUTATIONS, description="Monte Carlo runs")

    @field_validator("date_to")
    @classmethod
    def _period(cls, date_to: date, info: ValidationInfo) -> date:
        """The period runs forwards and holds at most MAX_PERIOD_DAYS days."""
        date_from = info.data.get("date_from")
        if date_from is None:
            return date_to
        if date_to < date_from:
            raise ValueError("'to' is before 'from'")
        days = (date_to - date_from).days + 1
        if days > MAX_PERIOD_DAYS:
            raise ValueError(f"the period holds {days} days; at most {MAX_PERIOD_DAYS}")
        return date_to

    @field_validator("distance_bands_m")
    @classmethod
    def _distances(cls, edges: list[float]) -> list[float]:
        return check_edges(edges, "distance", MAX_DISTANCE_M)

    @field_validator("time_bands_days")
    @classmethod
    def _times(cls, edges: list[float]) -> list[float]:
        return check_edges(edges, "time", MAX_TIME_DAYS)


class NearRepeatTable(BaseModel):
    """One category's Knox table, or why there is none."""

    category: str
    n_events: int
    note: str | None = None
    near_repeat: bool | None = Field(
        None, description="More pairs than expected in the nearest, soonest band (p <= 0.05)"
    )
    table: dict[str, Any] | None = None


class NearRepeatRead(BaseModel):
    """The tables of a near-repeat analysis."""

    model_config = ConfigDict(populate_by_name=True)

    date_from: date = Field(..., serialization_alias="from")
    date_to: date = Field(..., serialization_alias="to")
    permutations: int
    tables: list[NearRepeatTable]
