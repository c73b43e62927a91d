"""What the briefing's map draws, read from the database: cameras, wards, the outline."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.assets.briefing.mapimage import MapArea, MapCamera
from services.assets.models import Camera
from shared.boundaries.layers import Layer
from shared.boundaries.service import layer_features
from shared.extent import partnership_extent

MAX_CAMERAS = 5000


def map_cameras(session: Session) -> list[MapCamera]:
    """Every camera of the register (EPSG:27700) with its lifecycle today."""
    rows = session.execute(
        select(func.ST_X(Camera.geom), func.ST_Y(Camera.geom), Camera.lifecycle)
        .order_by(Camera.id)
        .limit(MAX_CAMERAS)
    ).all()
    return [MapCamera(float(x), float(y), str(life)) for x, y, life in rows]


def map_areas(session: Session) -> tuple[list[MapArea], list[MapArea]]:
    """The wards held (maybe none) and the outline (the bundled one when none is held)."""
    wards = [MapArea(f.name, f.geom) for f in layer_features(session, Layer.WARD)]
    outline = [MapArea(f.name, f.geom) for f in layer_features(session, Layer.OUTLINE)]
    if not outline:
        extent = partnership_extent(0.0)
        outline = [MapArea(extent.name, extent.outline)]
    return wards, outline
