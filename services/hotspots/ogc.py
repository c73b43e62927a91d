"""OGC API - Features collections of the hotspots service: hotspots, road-sites, water-sites.

The collections are described here; their features come from table-driven sources
(``features.TableSource``) and the road-sites service. Every route needs a token (any role).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Depends
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from services.hotspots.features import FeatureTable, TableSource
from services.hotspots.models import SITE_KINDS, HotspotPolygon, WaterSite
from services.hotspots.runs.service import latest_done_run_id
from services.hotspots.sites.road import collisions_extent, road_sites_geojson
from shared.auth import current_principal
from shared.errors import AppError
from shared.ogc import BadQuery, Collection, Filter, ItemQuery
from shared.web.ogc import ogc_router

T = TypeVar("T")


def _one(q: ItemQuery, name: str, cast: Callable[[str], T], default: T) -> T:
    """The first value of filter ``name`` as a number, ``default`` without one (400 if bad)."""
    values = q.filters.get(name)
    if not values:
        return default
    try:
        return cast(values[0])
    except ValueError:
        raise BadQuery(f"{name} must be a number, got {values[0]!r}") from None


def _run_scope(session: Session, q: ItemQuery) -> Sequence[ColumnElement[bool]] | None:
    """Polygons of the ``run`` asked for, or of the latest finished run (None: no run yet)."""
    run_id = _one(q, "run", int, None)
    if run_id is None:
        run_id = latest_done_run_id(session)
    return None if run_id is None else [HotspotPolygon.run_id == run_id]


HOTSPOTS = FeatureTable(
    id=HotspotPolygon.id,
    geom=HotspotPolygon.geom,
    properties={
        "run": HotspotPolygon.run_id,
        "kind": HotspotPolygon.kind,
        "rank": HotspotPolygon.rank,
        "peak": HotspotPolygon.peak,
        "mean": HotspotPolygon.mean,
        "area_m2": HotspotPolygon.area_m2,
    },
    order_by=(HotspotPolygon.rank,),
)
WATER_SITES = FeatureTable(
    id=WaterSite.id,
    geom=WaterSite.geom,
    properties={"name": WaterSite.name, "kind": WaterSite.kind, "notes": WaterSite.notes},
    order_by=(WaterSite.id,),
    filters={"kind": WaterSite.kind},
)


class RoadSiteSource:
    """Road-casualty cluster sites computed from the STATS19 collisions in the database."""

    def _all(self, session: Session, q: ItemQuery) -> list[dict[str, Any]]:
        try:
            gj = road_sites_geojson(
                session,
                min_collisions=_one(q, "min_collisions", int, 4),
                radius_m=_one(q, "radius_m", float, 50.0),
                years=_one(q, "years", float, 3.0),
            )
        except AppError as exc:
            raise BadQuery(exc.detail) from exc
        return list(gj["features"])

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of sites, ranked by KSI."""
        feats = self._all(session, q)
        if q.bbox:
            from shapely.geometry import box, shape

            b = box(*q.bbox)
            feats = [f for f in feats if shape(f["geometry"]).intersects(b)]
        return feats[q.offset : q.offset + q.limit], len(feats)

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One site by rank (default parameters)."""
        for f in self._all(session, ItemQuery()):
            if str(f["id"]) == feature_id:
                return f
        return None

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """WGS84 bbox of the STATS19 collisions."""
        return collisions_extent(session)


COLLECTIONS = (
    Collection(
        id="hotspots",
        title="Hotspot polygons",
        description="Hotspots of a surface run (the latest finished run unless `run` is given).",
        source=TableSource(HOTSPOTS, scope=_run_scope),
        filters=(Filter("run", "Surface run id"),),
        keywords=("hotspots", "KDE", "crime"),
    ),
    Collection(
        id="road-sites",
        title="Road-casualty cluster sites",
        description="Places with at least N injury collisions within r metres in T years.",
        source=RoadSiteSource(),
        filters=(
            Filter("min_collisions", "N (default 4)"),
            Filter("radius_m", "r in metres (default 50)"),
            Filter("years", "T in years (default 3)"),
        ),
        keywords=("road safety", "STATS19"),
    ),
    Collection(
        id="water-sites",
        title="Water-safety sites",
        description="Access points and stretches of bank in the water-safety register.",
        source=TableSource(WATER_SITES),
        filters=(Filter("kind", "Site kind", SITE_KINDS),),
        keywords=("water safety",),
    ),
)


def router() -> APIRouter:
    """The OGC API at /ogc; every route needs a token (any role)."""
    r = ogc_router(
        COLLECTIONS,
        title="CSP hotspots",
        description="Hotspot polygons and safety sites of the Medway CSP.",
    )
    wrapped = APIRouter(dependencies=[Depends(current_principal)])
    wrapped.include_router(r)
    return wrapped
