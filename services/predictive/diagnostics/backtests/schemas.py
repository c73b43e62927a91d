"""Pydantic I/O of backtest jobs, and the bounds on what one may ask for.

Every size a client controls is bounded here before any work starts: the period (origin days),
the methods, the area shares; the grid (cells, against the service's cell limit) and the total
work (origin days x methods x cells) are checked by ``service.plan`` before the job is queued.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.predictive.compute.methods import default_methods
from services.predictive.models import BacktestStatus
from services.predictive.schemas import ListDate

MAX_ID = 2**31 - 1  # job ids are PostgreSQL integers
MAX_PERIOD_DAYS = 366  # origin days in one backtest
MAX_METHODS = 6
MAX_SHARES = 4
MAX_SHARE = 0.5  # the hit-rate curve the backtest draws stops at half the area
MAX_FITS = 1500  # origin days x methods: each is one fit and one scoring of the grid
MAX_CELL_FITS = 60_000_000  # origin days x methods x grid cells
DEFAULT_METHODS = ("auto", "naive28", "naive90")
DEFAULT_SHARES = (0.01, 0.05)


def _method(name: str) -> str:
    """A method the registry knows ("auto", a name, or an alias), as its canonical name."""
    canonical = default_methods.canonical(name)
    if canonical not in default_methods.choices:
        raise ValueError(f"unknown method {name[:40]!r}; choose from {', '.join(METHOD_CHOICES)}")
    return canonical


METHOD_CHOICES = default_methods.choices
MethodName = Annotated[
    str,
    Field(min_length=1, max_length=40, json_schema_extra={"enum": list(METHOD_CHOICES)}),
    AfterValidator(_method),
]
Share = Annotated[float, Field(gt=0, le=MAX_SHARE, description="Share of the cells, 0.01 = 1%")]


def _distinct(values: list[Any], what: str) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError(f"each {what} may be given once")
    return values


class BacktestCreate(BaseModel):
    """Ask for a rolling-origin backtest of an agency's incidents over a period of origin days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agency: str = Field(..., min_length=1, max_length=20, description="kfrs | police")
    date_from: ListDate = Field(..., alias="from", description="First origin day (Medway date)")
    date_to: ListDate = Field(..., alias="to", description="Last origin day, inclusive")
    methods: Annotated[
        list[MethodName],
        Field(min_length=1, max_length=MAX_METHODS),
        AfterValidator(lambda v: _distinct(v, "method")),
    ] = Field(default_factory=lambda: list(DEFAULT_METHODS), description="auto or method names")
    k_boxes: int | None = Field(
        None, ge=1, le=500, description="Boxes chosen per origin (default: the agency's)"
    )
    area_shares: Annotated[
        list[Share],
        Field(min_length=1, max_length=MAX_SHARES),
        AfterValidator(lambda v: _distinct(v, "area share")),
    ] = Field(default_factory=lambda: list(DEFAULT_SHARES))
    horizon_days: int | None = Field(
        None, ge=1, le=31, description="Days each forecast covers (default 1; 28 for month-only)"
    )
    step_days: int | None = Field(
        None, ge=1, le=31, description="Days between origins (default 1; 7 for month-only)"
    )
    cell_size_m: float | None = Field(
        None, ge=25, le=2000, description="Box size (default: the agency's)"
    )

    @field_validator("date_to")
    @classmethod
    def _period(cls, date_to: date, info: ValidationInfo) -> date:
        """The period runs forwards and holds at most MAX_PERIOD_DAYS origin days."""
        date_from = info.data.get("date_from")
        if date_from is None:
            return date_to
        if date_to < date_from:
            raise ValueError("'to' is before 'from'")
        days = (date_to - date_from).days + 1
        if days > MAX_PERIOD_DAYS:
            raise ValueError(
                f"the period holds {days} days; at most {MAX_PERIOD_DAYS} origin days are accepted"
            )
        return date_to


class BacktestProgress(BaseModel):
    """How far a job has got: origin days done of all of them."""

    origins_done: int
    origins_total: int
    fraction: float


class BacktestRead(BaseModel):
    """A backtest job: what was asked, where it is, and its results once done."""

    id: int
    agency: str
    status: BacktestStatus
    message: str
    stalled: bool = Field(False, description="Still running past its time limit: its worker died")
    date_from: date = Field(..., serialization_alias="from")
    date_to: date = Field(..., serialization_alias="to")
    progress: BacktestProgress
    params: dict[str, Any]
    results: dict[str, Any] | None = None
    error: str | None = None
    created_by: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    links: dict[str, str]


class BacktestPage(BaseModel):
    """Backtest jobs, newest first (without their results: read one for those)."""

    items: list[BacktestRead]
    total: int
    limit: int
    offset: int
