"""OGC API - Features collections of the hotspots service: hotspots, road-sites, water-sites."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.hotspots import service
from shared.auth import current_principal
from shared.errors import AppError
from shared.ogc import BadQuery, Collection, Filter, ItemQuery, ogc_router

_ENVELOPE = "ST_Transform(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326), 27700)"


def _one(q: ItemQuery, name: str, cast: type, default: Any) -> Any:
    values = q.filters.get(name)
    if not values:
        return default
    try:
        return cast(values[0])
    except ValueError:
        raise BadQuery(f"{name} must be a number, got {values[0]!r}") from None


def _bbox_params(q: ItemQuery) -> dict[str, float]:
    assert q.bbox is not None
    return dict(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))


class HotspotSource:
    """Hotspot polygons of one run (``run`` filter) or of the latest finished run."""

    def _run_id(self, session: Session, q: ItemQuery) -> int | None:
        run = _one(q, "run", int, None)
        if run is not None:
            return int(run)
        return session.scalar(text(
            "SELECT id FROM hotspots.surface_runs WHERE status = 'done' ORDER BY id DESC LIMIT 1"
        ))

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of polygons, ranked by peak."""
        run_id = self._run_id(session, q)
        if run_id is None:
            return [], 0
        where = "run_id = :run"
        params: dict[str, Any] = {"run": run_id}
        if q.bbox:
            where += f" AND ST_Intersects(geom, {_ENVELOPE})"
            params.update(_bbox_params(q))
        matched = int(session.scalar(
            text(f"SELECT count(*) FROM hotspots.hotspot_polygons WHERE {where}"), params
        ) or 0)
        rows = session.execute(
            text(f"SELECT {self._cols} FROM hotspots.hotspot_polygons WHERE {where} "
                 "ORDER BY rank LIMIT :limit OFFSET :offset"),
            {**params, "limit": q.limit, "offset": q.offset},
        )
        return [self._feature(r) for r in rows], matched

    _cols = ("id, run_id, kind, rank, peak, mean, area_m2, "
             "ST_AsGeoJSON(ST_Transform(geom, 4326), 7) AS g")

    @staticmethod
    def _feature(r: Any) -> dict[str, Any]:
        return {"type": "Feature", "id": r.id, "geometry": json.loads(r.g),
                "properties": {"run": r.run_id, "kind": r.kind, "rank": r.rank, "peak": r.peak,
                               "mean": r.mean, "area_m2": r.area_m2}}

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One polygon by id."""
        if not _is_id(feature_id):
            return None
        r = session.execute(
            text(f"SELECT {self._cols} FROM hotspots.hotspot_polygons WHERE id = :id"),
            {"id": int(feature_id)},
        ).first()
        return None if r is None else self._feature(r)

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """WGS84 bbox of every polygon."""
        return _extent(session, "hotspots.hotspot_polygons")


def _is_id(feature_id: str) -> bool:
    """An int4 id in ASCII digits ("²" and "٣٣" are digits to str.isdigit, not to PostgreSQL)."""
    return feature_id.isascii() and feature_id.isdigit() and int(feature_id) <= 2**31 - 1


class WaterSiteSource:
    """The water-safety site register."""

    _cols = "id, name, kind, notes, ST_AsGeoJSON(ST_Transform(geom, 4326), 7) AS g"

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of sites, by id."""
        where, params = "TRUE", {}  # type: tuple[str, dict[str, Any]]
        kinds = q.filters.get("kind")
        if kinds:
            where += " AND kind = ANY(:kinds)"
            params["kinds"] = list(kinds)
        if q.bbox:
            where += f" AND ST_Intersects(geom, {_ENVELOPE})"
            params.update(_bbox_params(q))
        matched = int(session.scalar(
            text(f"SELECT count(*) FROM hotspots.water_sites WHERE {where}"), params
        ) or 0)
        rows = session.execute(
            text(f"SELECT {self._cols} FROM hotspots.water_sites WHERE {where} "
                 "ORDER BY id LIMIT :limit OFFSET :offset"),
            {**params, "limit": q.limit, "offset": q.offset},
        )
        return [self._feature(r) for r in rows], matched

    @staticmethod
    def _feature(r: Any) -> dict[str, Any]:
        return {"type": "Feature", "id": r.id, "geometry": json.loads(r.g),
                "properties": {"name": r.name, "kind": r.kind, "notes": r.notes}}

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One site by id."""
        if not _is_id(feature_id):
            return None
        r = session.execute(
            text(f"SELECT {self._cols} FROM hotspots.water_sites WHERE id = :id"),
            {"id": int(feature_id)},
        ).first()
        return None if r is None else self._feature(r)

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """WGS84 bbox of every site."""
        return _extent(session, "hotspots.water_sites")


class RoadSiteSource:
    """Road-casualty cluster sites computed from the STATS19 collisions in the database."""

    def _all(self, session: Session, q: ItemQuery) -> list[dict[str, Any]]:
        try:
            gj = service.road_sites_geojson(
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
        return _extent(session, "incidents.incidents", "source = 'stats19'")


def _extent(
    session: Session, table: str, where: str = "TRUE"
) -> tuple[float, float, float, float] | None:
    r = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
        f"ST_Extent(ST_Transform(geom, 4326)) AS e FROM {table} WHERE {where}) s"
    )).first()
    if r is None or r[0] is None:
        return None
    return (float(r[0]), float(r[1]), float(r[2]), float(r[3]))


COLLECTIONS = (
    Collection(
        id="hotspots",
        title="Hotspot polygons",
        description="Hotspots of a surface run (the latest finished run unless `run` is given).",
        source=HotspotSource(),
        filters=(Filter("run", "Surface run id"),),
        keywords=("hotspots", "KDE", "crime"),
    ),
    Collection(
        id="road-sites",
        title="Road-casualty cluster sites",
        description="Places with at least N injury collisions within r metres in T years.",
        source=RoadSiteSource(),
        filters=(Filter("min_collisions", "N (default 4)"),
                 Filter("radius_m", "r in metres (default 50)"),
                 Filter("years", "T in years (default 3)")),
        keywords=("road safety", "STATS19"),
    ),
    Collection(
        id="water-sites",
        title="Water-safety sites",
        description="Access points and stretches of bank in the water-safety register.",
        source=WaterSiteSource(),
        filters=(Filter("kind", "Site kind", ("access_point", "bank_stretch")),),
        keywords=("water safety",),
    ),
)


def router() -> APIRouter:
    """The OGC API at /ogc; every route needs a token (any role)."""
    r = ogc_router(COLLECTIONS, title="CSP hotspots",
                   description="Hotspot polygons and safety sites of the Medway CSP.")
    wrapped = APIRouter(dependencies=[Depends(current_principal)])
    wrapped.include_router(r)
    return wrapped
