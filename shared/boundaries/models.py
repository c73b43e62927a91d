"""ORM model of the boundary areas (``core.boundary_areas``), stored in EPSG:27700."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.boundaries.layers import CODE_MAX, LAYER_CHECK, NAME_MAX
from shared.db import Base


class BoundaryArea(Base):
    """One area of one layer (a ward, an LSOA, the outline); (layer, code) is its identity."""

    __tablename__ = "boundary_areas"
    __table_args__ = (
        UniqueConstraint("layer", "code", name="uq_boundary_areas_layer_code"),
        CheckConstraint(LAYER_CHECK, name="layer"),
        {"schema": "core"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(CODE_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=27700, spatial_index=True))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
