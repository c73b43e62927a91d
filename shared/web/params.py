"""Query parameters every service parses the same way: paging and a WGS84 bbox.

One definition each, so ``limit``/``offset`` have one ceiling (``MAX_OFFSET``: PostgreSQL's
bigint ``OFFSET`` overflowed on larger values) and a ``bbox`` goes through one strict parser.
"""

# No ``from __future__ import annotations`` here: ``paging`` builds its parameters' annotations
# from its own arguments, which FastAPI must see as objects, not as strings it cannot resolve.
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from shared.errors import InvalidInput

MAX_OFFSET = 10**9
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return."""

    limit: int
    offset: int


def paging(*, default: int, maximum: int) -> Callable[..., Page]:
    """A dependency reading ``limit`` (1..maximum, default) and ``offset`` (0..MAX_OFFSET)."""

    def page_params(
        limit: Annotated[int, Query(ge=1, le=maximum)] = default,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Page:
        return Page(limit=limit, offset=offset)

    return page_params


class BadBBox(ValueError):
    """A bbox that is not four finite WGS84 numbers with min < max."""


def parse_bbox(raw: str) -> BBox:
    """``min_lon,min_lat,max_lon,max_lat`` as finite WGS84 degrees with min < max."""
    try:
        parts = tuple(float(v) for v in raw.split(","))
    except ValueError as exc:
        raise BadBBox("bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from exc
    if len(parts) != 4 or parts[0] >= parts[2] or parts[1] >= parts[3]:
        raise BadBBox("bbox must be min_lon,min_lat,max_lon,max_lat with min < max")
    lon_ok = all(math.isfinite(v) and -180 <= v <= 180 for v in parts[0::2])
    lat_ok = all(math.isfinite(v) and -90 <= v <= 90 for v in parts[1::2])
    if not (lon_ok and lat_ok):
        raise BadBBox("bbox must be WGS84 degrees: longitudes -180..180, latitudes -90..90")
    return parts[0], parts[1], parts[2], parts[3]


def bbox_query(
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
) -> BBox | None:
    """Dependency: the request's ``bbox`` parsed strictly (422 naming the problem), or None."""
    if not bbox:
        return None
    try:
        return parse_bbox(bbox)
    except BadBBox as exc:
        raise InvalidInput(str(exc), errors=[{"field": "bbox", "message": str(exc)}]) from exc
