"""OGC API - Features for the assets service: public cameras and their view cones.

Two collections at ``/ogc``: ``cameras`` (points) and ``camera-views`` (view polygons). Only
cameras that physically stand on the street (``lifecycle.PUBLIC_LIFECYCLES``) are published, and
only where they are, what they are and what they are for: name, asset tag, ward, purpose,
technology, deployment, lifecycle, installation date, bearing, field of view and range. Live
health and faults are not public (a list of offline cameras tells someone where nobody watches);
DPIA references, owners, retention and decisions stay behind the authenticated JSON API too.
Geometry is stored in EPSG:27700 and served in CRS84 or EPSG:27700 (``crs``).

Vector tiles (OGC API - Tiles, ``shared.web.tiles``) at ``/ogc/collections/cameras/tiles`` and
``/ogc/collections/wards/tiles``: public, the same published cameras with where they are, what
they are and what they are for (no health, no dates); the ETag comes from those fields only, so
a camera going offline does not change it.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.models import Camera
from shared.cql import Queryable
from shared.ogc import Collection, Filter, ItemQuery
from shared.ogc_sql import SqlSource, SqlTable
from shared.tiles_sql import Attr, LayerTile, TileId, TileLayer, layer_tile, version_of
from shared.web.ogc import ogc_router
from shared.web.tiles import WARDS_TILESET, TileContext, TileSet, tiles_router

PROPERTIES = {
    "asset_tag": Camera.asset_tag,
    "name": Camera.name,
    "ward": Camera.ward,
    "ward_code": Camera.ward_code,
    "purpose": Camera.purpose,
    "technology": Camera.technology,
    "deployment": Camera.deployment,
    "lifecycle": Camera.lifecycle,
    "installed_on": Camera.installed_on,
    "bearing_deg": Camera.bearing_deg,
    "fov_deg": Camera.fov_deg,
    "range_m": Camera.range_m,
}
QUERYABLES = (
    Queryable("geometry", "geometry", "Where the camera stands (or what it sees)"),
    Queryable("asset_tag", "string", "Asset tag"),
    Queryable("name", "string", "Name"),
    Queryable("ward", "string", "Ward"),
    Queryable("ward_code", "string", "Ward code"),
    Queryable("purpose", "string", "Purpose"),
    Queryable("technology", "string", "Analogue or digital", lc.TECHNOLOGIES),
    Queryable("deployment", "string", "Fixed or rapid-deployment", lc.DEPLOYMENTS),
    Queryable("lifecycle", "string", "Lifecycle state", lc.PUBLIC_LIFECYCLES),
    Queryable("installed_on", "datetime", "Date installed"),
    Queryable("bearing_deg", "number", "Bearing, degrees from north"),
    Queryable("fov_deg", "number", "Field of view, degrees"),
    Queryable("range_m", "number", "Range, metres"),
)
FILTERS = (
    Filter("status", "Lifecycle state of the camera", lc.PUBLIC_LIFECYCLES),
    Filter("technology", "Analogue or digital", lc.TECHNOLOGIES),
    Filter("deployment", "Fixed or rapid-deployment camera", lc.DEPLOYMENTS),
)


def _public(views: bool) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES)]
    if views:
        conds.append(Camera.view_geom.is_not(None))
    return conds


def _table(*, views: bool) -> SqlTable:
    def scope(session: Session, q: ItemQuery) -> list[ColumnElement[bool]]:
        return _public(views)

    return SqlTable(
        id=Camera.id,
        geom=Camera.view_geom if views else Camera.geom,
        properties=PROPERTIES,
        order_by=(Camera.id,),
        queryables={q.name: PROPERTIES[q.name] for q in QUERYABLES if q.name in PROPERTIES},
        filters={"status": Camera.lifecycle},
        temporal=Camera.installed_on,
        scope=scope,
    )


class CameraSource(SqlSource):
    """Camera points (or their view polygons) as GeoJSON features."""

    def __init__(self, *, views: bool = False) -> None:
        super().__init__(_table(views=views))
        self.views = views


COLLECTIONS = (
    Collection(
        id="cameras",
        title="Public-space CCTV cameras",
        description="Cameras of the Medway CSP that stand on the street: where they are, what "
        "they are and what they are for. Time: the installation date.",
        source=CameraSource(),
        filters=FILTERS,
        keywords=("CCTV", "community safety", "Medway"),
        queryables=QUERYABLES,
        temporal="installed_on",
    ),
    Collection(
        id="camera-views",
        title="Camera view cones",
        description="The area each public camera can see (a sector from its bearing, field of "
        "view and range), as polygons.",
        source=CameraSource(views=True),
        filters=FILTERS,
        keywords=("CCTV", "viewshed", "Medway"),
        queryables=QUERYABLES,
        temporal="installed_on",
    ),
)

_PUBLIC_SQL = "lifecycle IN (" + ", ".join(f"'{v}'" for v in lc.PUBLIC_LIFECYCLES) + ")"
CAMERA_TILE_LAYER = TileLayer(
    name="cameras",
    table=f"{Camera.__table__.schema}.{Camera.__tablename__}",
    attributes=(
        Attr("name", "name", "String", "Name"),
        Attr("asset_tag", "asset_tag", "String", "Asset tag"),
        Attr("purpose", "purpose", "String", "Purpose"),
        Attr("technology", "technology", "String", "Analogue or digital"),
        Attr("deployment", "deployment", "String", "Fixed or rapid-deployment"),
        Attr("ward", "ward", "String", "Ward"),
        Attr("bearing_deg", "bearing_deg", "Number", "Bearing, degrees from north"),
        Attr("fov_deg", "fov_deg", "Number", "Field of view, degrees"),
        Attr("range_m", "range_m", "Number", "Range, metres"),
    ),
    where=_PUBLIC_SQL,
    max_features=20_000,
    description="Public-space CCTV cameras that stand on the street",
)
# The version of what the tiles publish (not of the rows: a health change bumps Camera.version).
_CAMERA_VERSION = (
    "SELECT md5(coalesce(string_agg(concat_ws('|', id, name, asset_tag, purpose, technology, "
    "deployment, ward, bearing_deg, fov_deg, range_m, ST_AsText(geom)), ',' ORDER BY id), '')) "
    f"FROM {CAMERA_TILE_LAYER.table} WHERE {_PUBLIC_SQL}"
)


def _camera_tile(session: Session, tile: TileId, ctx: TileContext) -> list[LayerTile]:
    return [layer_tile(session, CAMERA_TILE_LAYER, tile)]


CAMERA_TILESET = TileSet(
    id="cameras",
    title="Public-space CCTV cameras",
    description="Cameras of the Medway CSP that stand on the street: where they are, what they "
    "are and what they are for (public; no live health).",
    layers=(CAMERA_TILE_LAYER,),
    render=_camera_tile,
    version=lambda session, ctx: version_of(session, _CAMERA_VERSION),
)

features_router = ogc_router(
    COLLECTIONS,
    title="Medway CSP CCTV register (OGC API - Features)",
    description="Public cameras and their view cones of the Medway Community Safety Partnership.",
)
router = APIRouter()
router.include_router(features_router)
router.include_router(tiles_router((CAMERA_TILESET, WARDS_TILESET)))
