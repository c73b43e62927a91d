"""OGC API - Features for the assets service: public cameras and their view cones.

Two collections at ``/ogc``: ``cameras`` (points) and ``camera-views`` (view polygons). Only
cameras that physically stand on the street (``lifecycle.PUBLIC_LIFECYCLES``) are published, with
public fields only: name, asset tag, ward, purpose, technology, deployment, lifecycle, health,
bearing, field of view and range. DPIA references, owners, retention, faults and decisions stay
behind the authenticated JSON API. Geometry is stored in EPSG:27700 and served in CRS84.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.service import meets_wgs84_box
from services.assets.models import Camera
from shared.ogc import Collection, Filter, ItemQuery, int_feature_id
from shared.web.ogc import ogc_router

WGS84 = 4326
DECIMALS = 7  # about 1 cm in latitude

PUBLIC_COLUMNS = (
    Camera.id,
    Camera.asset_tag,
    Camera.name,
    Camera.ward,
    Camera.ward_code,
    Camera.purpose,
    Camera.technology,
    Camera.deployment,
    Camera.lifecycle,
    Camera.health,
    Camera.bearing_deg,
    Camera.fov_deg,
    Camera.range_m,
)
FILTERS = (
    Filter("status", "Lifecycle state of the camera", lc.PUBLIC_LIFECYCLES),
    Filter("technology", "Analogue or digital", lc.TECHNOLOGIES),
    Filter("deployment", "Fixed or rapid-deployment camera", lc.DEPLOYMENTS),
    Filter("health", "Online, degraded or offline", lc.HEALTHS),
)
FILTER_COLUMNS = {
    "status": Camera.lifecycle,
    "technology": Camera.technology,
    "deployment": Camera.deployment,
    "health": Camera.health,
}


def _where(q: ItemQuery, geom: Any) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES)]
    for name, values in q.filters.items():
        conds.append(FILTER_COLUMNS[name].in_(values))
    if q.bbox is not None:
        conds.extend(meets_wgs84_box(geom, q.bbox))
    return conds


def _feature(row: Any, geometry_json: str) -> dict[str, Any]:
    props = {c.key: getattr(row, c.key) for c in PUBLIC_COLUMNS if c.key != "id"}
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": json.loads(geometry_json),
        "properties": props,
    }


class CameraSource:
    """Camera points (or their view polygons) as CRS84 GeoJSON features."""

    def __init__(self, *, views: bool = False) -> None:
        self.views = views
        self.geom = Camera.view_geom if views else Camera.geom

    def _select(self) -> Select[*tuple[Any, ...]]:
        gj = func.ST_AsGeoJSON(func.ST_Transform(self.geom, WGS84), DECIMALS).label("gj")
        stmt = select(*PUBLIC_COLUMNS, gj)
        if self.views:
            stmt = stmt.where(Camera.view_geom.is_not(None))
        return stmt

    def query(self, session: Session, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of public cameras matching the query, ordered by id, and the total."""
        conds = _where(q, self.geom)
        if self.views:
            conds.append(Camera.view_geom.is_not(None))
        matched = session.scalar(select(func.count()).select_from(Camera).where(and_(*conds)))
        stmt = self._select().where(*conds).order_by(Camera.id).limit(q.limit).offset(q.offset)
        rows = session.execute(stmt).all()
        return [_feature(r, r.gj) for r in rows], int(matched or 0)

    def get(self, session: Session, feature_id: str) -> dict[str, Any] | None:
        """One public camera by id."""
        camera_id = int_feature_id(feature_id)
        if camera_id is None:
            return None
        stmt = self._select().where(
            Camera.id == camera_id, Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES)
        )
        row = session.execute(stmt).first()
        return None if row is None else _feature(row, row.gj)

    def extent(self, session: Session) -> tuple[float, float, float, float] | None:
        """WGS84 bbox of the public cameras."""
        box = func.ST_Extent(func.ST_Transform(self.geom, WGS84))
        stmt = select(
            func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)
        ).where(Camera.lifecycle.in_(lc.PUBLIC_LIFECYCLES))
        row = session.execute(stmt).first()
        if row is None or row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


COLLECTIONS = (
    Collection(
        id="cameras",
        title="Public-space CCTV cameras",
        description="Cameras of the Medway CSP that stand on the street: where they are, what "
        "they are and whether they work. Lon/lat in CRS84.",
        source=CameraSource(),
        filters=FILTERS,
        keywords=("CCTV", "community safety", "Medway"),
    ),
    Collection(
        id="camera-views",
        title="Camera view cones",
        description="The area each public camera can see (a sector from its bearing, field of "
        "view and range), as polygons in CRS84.",
        source=CameraSource(views=True),
        filters=FILTERS,
        keywords=("CCTV", "viewshed", "Medway"),
    ),
)

router = ogc_router(
    COLLECTIONS,
    title="Medway CSP CCTV register (OGC API - Features)",
    description="Public cameras and their view cones of the Medway Community Safety Partnership.",
)
