"""ORM models in the ``hotspots`` schema: surface runs and their hotspot polygons, comparisons of
two periods and their changed areas, water sites."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.hotspots.enums import Change, RunStatus, check_in
from shared.db import Base

SCHEMA = "hotspots"
SITE_KINDS = ("access_point", "bank_stretch")
# Ids are PostgreSQL integers (int4).
MAX_ID = 2**31 - 1


class _Job:
    """The columns of a background computation: parameters, status, progress, lease, outputs."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.QUEUED.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tif_path: Mapped[str | None] = mapped_column(String(400))
    stats: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The worker computing the job holds a lease it renews while alive; a task that finds the
    # job "running" with the lease expired takes it over (``attempts`` counts the takes).
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SurfaceRun(_Job, Base):
    """One hotspot surface computation: parameters, status, progress, output file and stats."""

    __tablename__ = "surface_runs"
    __table_args__ = (
        CheckConstraint(check_in("status", RunStatus), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        UniqueConstraint("idempotency_key", name="uq_surface_runs_idempotency_key"),
        Index("ix_surface_runs_created_at", "created_at"),
        {"schema": SCHEMA},
    )


class HotspotPolygon(Base):
    """A hotspot of one run: a connected area above the run's threshold (EPSG:27700)."""

    __tablename__ = "hotspot_polygons"
    __table_args__ = (
        Index("ix_hotspot_polygons_run_id", "run_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.surface_runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="kde")
    rank: Mapped[int] = mapped_column(Integer)
    peak: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    # Incidents the run read that fall in the hotspot's cells (None: a run from before counts).
    incidents: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=27700, spatial_index=True))


class SurfaceComparison(_Job, Base):
    """Two periods compared: the difference surface (after minus before) and what changed."""

    __tablename__ = "surface_comparisons"
    __table_args__ = (
        CheckConstraint(check_in("status", RunStatus), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        UniqueConstraint("idempotency_key", name="uq_surface_comparisons_idempotency_key"),
        Index("ix_surface_comparisons_created_at", "created_at"),
        {"schema": SCHEMA},
    )


class ComparisonArea(Base):
    """One area that is a hotspot in either period, and what became of it (EPSG:27700)."""

    __tablename__ = "comparison_areas"
    __table_args__ = (
        CheckConstraint(check_in("change", Change), name="change"),
        Index("ix_comparison_areas_comparison_id", "comparison_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.surface_comparisons.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(10))
    area_before_m2: Mapped[float] = mapped_column(Float)
    area_after_m2: Mapped[float] = mapped_column(Float)
    incidents_before: Mapped[int] = mapped_column(Integer)
    incidents_after: Mapped[int] = mapped_column(Integer)
    peak_before: Mapped[float] = mapped_column(Float)
    peak_after: Mapped[float] = mapped_column(Float)
    ward: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=27700, spatial_index=True))


class WaterSite(Base):
    """A water-edge location: an access point (point) or a stretch of bank (line), EPSG:27700."""

    __tablename__ = "water_sites"
    __table_args__ = (
        CheckConstraint(check_in("kind", SITE_KINDS), name="kind"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=27700, spatial_index=True))
