"""OGC API - Features collections of the hotspots service: hotspots, runs, road and water sites.

``hotspots`` holds the polygons of the newest finished run (``run=<id>`` picks another, a
parameter GDAL passes in the URL), and every finished run is a collection of its own,
``hotspots-run-<id>``, listed in ``/collections`` (the newest ``MAX_RUN_COLLECTIONS``) and
reachable by id whatever its age. ``road-sites`` are computed from the STATS19 collisions with
the parameters given (``min_collisions``, ``radius_m``, ``years``, ``end``); ``water-sites`` is
the register, ``kind=`` one set of it. Every route needs a caller: Bearer, HTTP Basic with a token
as password (QGIS, GDAL) or a session (``shared.web.desktop_auth``). ``incidents`` (the shared
incidents one by one) is for analysts and admins only (403 for other roles).

Vector tiles (``shared.web.tiles``) at ``/ogc/collections/{hotspots,incidents,wards}/tiles``:
hotspots (the newest finished run, ``run=`` another) and incidents need a caller as above;
incidents are counts per cell for every role, points from zoom 14 for analysts and admins;
wards are public.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Depends
from pyproj import Transformer
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from services.hotspots.models import SITE_KINDS, HotspotPolygon, SurfaceRun, WaterSite
from services.hotspots.runs.service import latest_done_run_id
from services.hotspots.sites.road import collisions_extent, road_sites_geojson
from shared.auth import Principal
from shared.cql import Queryable
from shared.errors import AppError, Forbidden, NotFound
from shared.incidents.models import Incident
from shared.ogc import WGS84_SRID, BadQuery, Collection, Filter, ItemQuery, clip_bbox
from shared.ogc_sql import SqlSource, SqlTable
from shared.tiles_sql import Attr, LayerTile, TileId, TileLayer, layer_tile
from shared.web.desktop_auth import desktop_principal
from shared.web.ogc import ogc_router
from shared.web.tiles import INCIDENTS_TILESET, WARDS_TILESET, TileContext, TileSet, tiles_router

T = TypeVar("T")
RUN_PREFIX = "hotspots-run-"
MAX_RUN_COLLECTIONS = 50
BNG = 27700


def _one(q: ItemQuery, name: str, cast: Callable[[str], T], default: T) -> T:
    """The first value of filter ``name`` cast (400 if it cannot be), ``default`` without one."""
    values = q.filters.get(name)
    if not values:
        return default
    try:
        return cast(values[0])
    except ValueError:
        raise BadQuery(f"{name} must be a {cast.__name__}, got {values[0]!r}") from None


RUN_FINISHED = (
    select(SurfaceRun.finished_at).where(SurfaceRun.id == HotspotPolygon.run_id).scalar_subquery()
)
HOTSPOT_PROPS: dict[str, Any] = {
    "run": HotspotPolygon.run_id,
    "kind": HotspotPolygon.kind,
    "rank": HotspotPolygon.rank,
    "peak": HotspotPolygon.peak,
    "mean": HotspotPolygon.mean,
    "area_m2": HotspotPolygon.area_m2,
    "run_finished_at": RUN_FINISHED,
}
HOTSPOT_QUERYABLES = (
    Queryable("geometry", "geometry", "The hotspot's outline"),
    Queryable("run", "integer", "Surface run id"),
    Queryable("kind", "string", "Surface kind"),
    Queryable("rank", "integer", "Rank (1 = highest peak)"),
    Queryable("peak", "number", "Peak density"),
    Queryable("mean", "number", "Mean density"),
    Queryable("area_m2", "number", "Area, square metres"),
    Queryable("run_finished_at", "datetime", "When the run finished"),
)
WATER_PROPS: dict[str, Any] = {
    "name": WaterSite.name,
    "kind": WaterSite.kind,
    "notes": WaterSite.notes,
}
WATER_QUERYABLES = (
    Queryable("geometry", "geometry", "The access point or stretch of bank"),
    Queryable("name", "string", "Name"),
    Queryable("kind", "string", "Site kind", SITE_KINDS),
    Queryable("notes", "string", "Notes"),
    Queryable("created_at", "datetime", "When the site was registered"),
)


INCIDENT_PROPS: dict[str, Any] = {
    "category": Incident.category,
    "source": Incident.source,
    "occurred_at": Incident.occurred_at,
    "time_precision": Incident.time_precision,
}
INCIDENT_QUERYABLES = (
    Queryable("geometry", "geometry", "Where the incident was placed"),
    Queryable("category", "string", "Crime or incident type"),
    Queryable("source", "string", "Source of the data"),
    Queryable("occurred_at", "datetime", "When (month-only sources: the 1st of the month)"),
    Queryable("time_precision", "string", "exact or month"),
)
INCIDENT_ROLES = ("analyst",)  # and admins: the incidents one by one


def _latest_or_asked(session: Session, q: ItemQuery) -> list[ColumnElement[bool]] | None:
    """Polygons of the ``run`` asked for, or of the newest finished run (None: no run yet)."""
    run_id = _one(q, "run", int, None)
    if run_id is None:
        run_id = latest_done_run_id(session)
    return None if run_id is None else [HotspotPolygon.run_id == run_id]


def _hotspot_table(scope: Callable[[Session, ItemQuery], Any]) -> SqlTable:
    return SqlTable(
        id=HotspotPolygon.id,
        geom=HotspotPolygon.geom,
        properties=HOTSPOT_PROPS,
        order_by=(HotspotPolygon.rank,),
        queryables=HOTSPOT_PROPS,
        temporal=RUN_FINISHED,
        scope=scope,
    )


def _to_bng(feature: dict[str, Any]) -> dict[str, Any]:
    """A CRS84 GeoJSON feature moved to EPSG:27700 (metres, 2 decimals)."""
    from shapely.geometry import mapping, shape
    from shapely.ops import transform

    tr = Transformer.from_crs(WGS84_SRID, BNG, always_xy=True)
    geom = transform(lambda x, y, z=None: tr.transform(x, y), shape(feature["geometry"]))
    out = dict(feature)
    out["geometry"] = mapping(geom)
    return out


class RoadSiteSource:
    """Road-casualty cluster sites computed from the STATS19 collisions in the database."""

    def _all(self, session: Session, q: ItemQuery) -> list[dict[str, Any]]:
        try:
            gj = road_sites_geojson(
                session,
                min_collisions=_one(q, "min_collisions", int, 4),
                radius_m=_one(q, "radius_m", float, 50.0),
                years=_one(q, "years", float, 3.0),
                end=_one(q, "end", date.fromisoformat, None),
            )
        except AppError as exc:
            raise BadQuery(exc.detail) from exc
        return list(gj["features"])

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of sites, ranked by KSI, in the CRS asked for."""
        from shapely.geometry import box, shape

        feats = self._all(session, q)
        if q.bbox:
            bbox = q.bbox
            if q.bbox_srid == BNG:
                tr = Transformer.from_crs(BNG, WGS84_SRID, always_xy=True)
                bbox = tr.transform_bounds(*q.bbox)
            clipped = clip_bbox(bbox)
            b = box(*clipped) if clipped else None
            feats = [f for f in feats if b is not None and shape(f["geometry"]).intersects(b)]
        page = feats[q.offset : q.offset + q.limit]
        return ([_to_bng(f) for f in page] if q.srid == BNG else page), len(feats)

    def get(
        self, session: Session, feature_id: str, srid: int = WGS84_SRID
    ) -> dict[str, Any] | None:
        """One site by rank (default parameters)."""
        for f in self._all(session, ItemQuery()):
            if str(f["id"]) == feature_id:
                return _to_bng(f) if srid == BNG else f
        return None

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """WGS84 bbox of the STATS19 collisions."""
        return collisions_extent(session)


def _run_collection(run_id: int) -> Collection:
    def scope(session: Session, q: ItemQuery) -> list[ColumnElement[bool]]:
        return [HotspotPolygon.run_id == run_id]

    return Collection(
        id=f"{RUN_PREFIX}{run_id}",
        title=f"Hotspot polygons of run {run_id}",
        description=f"The hotspots of surface run {run_id}.",
        source=SqlSource(_hotspot_table(scope)),
        keywords=("hotspots", "KDE", "crime"),
        queryables=HOTSPOT_QUERYABLES,
        temporal="run_finished_at",
    )


def resolve_run(session: Session, collection_id: str) -> Collection | None:
    """``hotspots-run-<id>`` of a finished run, or None."""
    digits = collection_id.removeprefix(RUN_PREFIX)
    if not collection_id.startswith(RUN_PREFIX) or not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) > 9:
        return None
    run = session.get(SurfaceRun, int(digits))
    return _run_collection(run.id) if run is not None and run.status == "done" else None


def run_collections(session: Session) -> Sequence[Collection]:
    """The newest finished runs as collections."""
    ids = session.scalars(
        select(SurfaceRun.id)
        .where(SurfaceRun.status == "done")
        .order_by(SurfaceRun.id.desc())
        .limit(MAX_RUN_COLLECTIONS)
    )
    return [_run_collection(i) for i in ids]


COLLECTIONS = (
    Collection(
        id="hotspots",
        title="Hotspot polygons",
        description="Hotspots of a surface run (the newest finished run unless `run` is given; "
        "each run is also a collection, hotspots-run-<id>).",
        source=SqlSource(_hotspot_table(_latest_or_asked)),
        filters=(Filter("run", "Surface run id"),),
        keywords=("hotspots", "KDE", "crime"),
        queryables=HOTSPOT_QUERYABLES,
        temporal="run_finished_at",
    ),
    Collection(
        id="road-sites",
        title="Road-casualty cluster sites",
        description="Places with at least N injury collisions within r metres in the T years "
        "to `end`.",
        source=RoadSiteSource(),
        filters=(
            Filter("min_collisions", "N (default 4)"),
            Filter("radius_m", "r in metres (default 50)"),
            Filter("years", "T in years (default 3)"),
            Filter("end", "Last day of the T years, YYYY-MM-DD (default: the newest collision)"),
        ),
        keywords=("road safety", "STATS19"),
    ),
    Collection(
        id="water-sites",
        title="Water-safety sites",
        description="Access points and stretches of bank in the water-safety register "
        "(`kind` picks one set).",
        source=SqlSource(
            SqlTable(
                id=WaterSite.id,
                geom=WaterSite.geom,
                properties=WATER_PROPS,
                order_by=(WaterSite.id,),
                queryables={**WATER_PROPS, "created_at": WaterSite.created_at},
                temporal=WaterSite.created_at,
            )
        ),
        filters=(Filter("kind", "Site kind", SITE_KINDS),),
        keywords=("water safety",),
        queryables=WATER_QUERYABLES,
        temporal="created_at",
    ),
)


HOTSPOT_TILE_LAYER = TileLayer(
    name="hotspots",
    table=f"{HotspotPolygon.__table__.schema}.{HotspotPolygon.__tablename__}",
    attributes=(
        Attr("run", "run_id", "Number", "Surface run id"),
        Attr("kind", "kind", "String", "Surface kind"),
        Attr("rank", "rank", "Number", "Rank (1 = highest peak)"),
        Attr("peak", "peak", "Number", "Peak density"),
        Attr("mean", "mean", "Number", "Mean density"),
        Attr("area_m2", "area_m2", "Number", "Area, square metres"),
    ),
    geometry="polygon",
    where="run_id = :run",
    max_features=10_000,
    description="Hotspot polygons of one finished surface run",
)


def parse_run(session: Session, raw: dict[str, str] | Any) -> dict[str, Any]:
    """``run``: a finished run's id (404 for another), else the newest finished run (0: none)."""
    text = str(raw.get("run", "")).strip()
    if not text:
        return {"run": latest_done_run_id(session) or 0}
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise BadQuery(f"run must be a surface run id (a whole number), got {text!r}")
    run = session.get(SurfaceRun, int(text))
    if run is None or run.status != "done":
        raise NotFound(f"No finished surface run {text}")
    return {"run": run.id}


def _hotspot_tile(session: Session, tile: TileId, ctx: TileContext) -> list[LayerTile]:
    if not ctx.params["run"]:
        return []
    return [layer_tile(session, HOTSPOT_TILE_LAYER, tile, ctx.params)]


HOTSPOT_TILESET = TileSet(
    id="hotspots",
    title="Hotspot polygons",
    description="Hotspots of the newest finished surface run (run=<id> picks another).",
    layers=(HOTSPOT_TILE_LAYER,),
    render=_hotspot_tile,
    version=lambda session, ctx: f"run-{ctx.params['run']}",  # a finished run never changes
    protected=True,
    params={"run": "Surface run id (default: the newest finished run)"},
    parse=parse_run,
)


INCIDENTS_COLLECTION = Collection(
    id="incidents",
    title="Incidents",
    description="The shared incidents (crime and ASB, collisions, fires, water) one by one: "
    "analysts and admins only.",
    source=SqlSource(
        SqlTable(
            id=Incident.id,
            geom=Incident.geom,
            properties=INCIDENT_PROPS,
            order_by=(Incident.id,),
            queryables=INCIDENT_PROPS,
            filters={"category": Incident.category},
            temporal=Incident.occurred_at,
        )
    ),
    filters=(Filter("category", "Crime or incident type"),),
    keywords=("crime", "incidents"),
    queryables=INCIDENT_QUERYABLES,
    temporal="occurred_at",
)


def desktop_require(*roles: str) -> Callable[..., Principal]:
    """Dependency factory: a desktop caller (Bearer, Basic, session) holding one of ``roles``."""

    def dep(principal: Principal = Depends(desktop_principal)) -> Principal:
        if not principal.holds(*roles):
            raise Forbidden(
                f"Role '{principal.role}' may not read incidents one by one; it needs one of: "
                + ", ".join(sorted({*roles, "admin"}))
                + " (the incidents vector tiles give counts per cell)"
            )
        return principal

    return dep


def _incident_routes() -> APIRouter:
    """The incidents collection's own routes (description, queryables, items), analysts only."""
    whole = ogc_router((INCIDENTS_COLLECTION,), title="", description="")
    own = APIRouter()
    own.routes.extend(
        r for r in whole.routes if getattr(r, "path", "").startswith("/ogc/collections/incidents")
    )
    guarded = APIRouter(dependencies=[Depends(desktop_require(*INCIDENT_ROLES))])
    guarded.include_router(own)
    return guarded


def _listed(session: Session) -> Sequence[Collection]:
    return [INCIDENTS_COLLECTION, *run_collections(session)]


def router() -> APIRouter:
    """The OGC API at /ogc; every route needs a caller (Bearer, Basic with a token, session)."""
    r = ogc_router(
        COLLECTIONS,
        title="CSP hotspots",
        description="Hotspot polygons and safety sites of the Medway CSP.",
        resolver=resolve_run,
        lister=_listed,
    )
    wrapped = APIRouter(dependencies=[Depends(desktop_principal)])
    wrapped.include_router(_incident_routes())  # before the per-run routes' /collections/{id}
    wrapped.include_router(r)
    tilesets = (HOTSPOT_TILESET, INCIDENTS_TILESET, WARDS_TILESET)
    wrapped.include_router(tiles_router(tilesets))
    return wrapped
