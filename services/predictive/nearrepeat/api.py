"""HTTP API of near-repeat evidence: a Knox table per category (analysts and admins).

GET takes query parameters (band edges as comma-separated numbers), POST the same as a JSON
body; both are bounded before any work and answer 422 problem+json naming what is wrong. A
computation, not a record: nothing is stored, so a retry is harmless (the same seed gives the
same table).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError

from services.predictive.compute.nearrepeat import MAX_PERMUTATIONS
from services.predictive.dependencies import Analyst
from services.predictive.nearrepeat import service
from services.predictive.nearrepeat.schemas import (
    DEFAULT_DISTANCES,
    DEFAULT_TIMES,
    MAX_CATEGORIES,
    NearRepeatRead,
    NearRepeatRequest,
)
from services.predictive.schemas import ListDate
from shared.db import SessionDep
from shared.errors import InvalidInput

router = APIRouter(tags=["predictive"])
MAX_EDGES_TEXT = 200


def _edges(text: str, field: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise service.field_error(
            field, f"give numbers separated by commas, got {text[:40]!r}"
        ) from None


def _joined(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


@router.get(
    "/near-repeat",
    response_model=NearRepeatRead,
    response_model_by_alias=True,
    summary="Knox near-repeat table per category",
)
def near_repeat(
    session: SessionDep,
    _: Analyst,
    category: Annotated[
        list[str], Query(min_length=1, max_length=MAX_CATEGORIES, description="Repeat for more")
    ],
    date_from: Annotated[ListDate, Query(alias="from", description="First day (Medway date)")],
    date_to: Annotated[ListDate, Query(alias="to", description="Last day, inclusive")],
    distance_bands_m: Annotated[
        str, Query(max_length=MAX_EDGES_TEXT, description="Edges in metres, from 0")
    ] = _joined(DEFAULT_DISTANCES),
    time_bands_days: Annotated[
        str, Query(max_length=MAX_EDGES_TEXT, description="Edges in days, from 0")
    ] = _joined(DEFAULT_TIMES),
    permutations: Annotated[int, Query(ge=1, le=MAX_PERMUTATIONS)] = 99,
) -> NearRepeatRead:
    """Observed against expected pairs by distance and time band, with Monte Carlo p-values."""
    try:
        body = NearRepeatRequest.model_validate(
            {
                "categories": category,
                "from": date_from,
                "to": date_to,
                "distance_bands_m": _edges(distance_bands_m, "distance_bands_m"),
                "time_bands_days": _edges(time_bands_days, "time_bands_days"),
                "permutations": permutations,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(
            f"{where}: {message}", errors=[{"field": where, "message": message}]
        ) from None
    return service.analyse(session, body=body)


@router.post(
    "/near-repeat",
    response_model=NearRepeatRead,
    response_model_by_alias=True,
    summary="Knox near-repeat table per category (JSON body)",
)
def near_repeat_post(session: SessionDep, _: Analyst, body: NearRepeatRequest) -> NearRepeatRead:
    """The same analysis as GET, asked for with a JSON body."""
    return service.analyse(session, body=body)
