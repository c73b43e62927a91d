"""Shared incidents (crime/ASB, road collisions, water, fires) and their imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.incidents.registry import NAME_MAX, Precision

SCHEMA = "incidents"
# "time_precision IN ('exact','month')", as migration 0001 wrote it.
PRECISION_CHECK = f"time_precision IN ({','.join(repr(p.value) for p in Precision)})"


class IncidentImport(Base):
    """One import of one file: what was read, added, already there, and rejected (with lines)."""

    __tablename__ = "imports"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(NAME_MAX))
    file_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_existing: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    warnings: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    imported_by: Mapped[str | None] = mapped_column(String(200))


class Incident(Base):
    """A geocoded incident in EPSG:27700; (source, source_id) is its identity across re-imports."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_incidents_source_source_id"),
        Index("ix_incidents_category_time", "category", "occurred_at"),
        Index("ix_incidents_occurred_at", "occurred_at"),
        CheckConstraint(PRECISION_CHECK, name="precision"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(NAME_MAX))
    source_id: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    time_precision: Mapped[str] = mapped_column(String(8))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=27700, spatial_index=True))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    import_id: Mapped[int | None] = mapped_column(ForeignKey(f"{SCHEMA}.imports.id"))
