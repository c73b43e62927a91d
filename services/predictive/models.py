"""Predictive service tables: agencies, areas (district and wards), daily lists, boxes, visits."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

SCHEMA = "predictive"


class Agency(Base):
    """One partner that receives daily lists (fire service, police) and its settings."""

    __tablename__ = "agencies"
    __table_args__ = (
        CheckConstraint("boxes_per_day BETWEEN 1 AND 500", name="boxes_per_day"),
        CheckConstraint("shift_start_hour BETWEEN 0 AND 23", name="shift_start_hour"),
        CheckConstraint("shift_length_hours BETWEEN 1 AND 24", name="shift_length_hours"),
        CheckConstraint("cell_size_m BETWEEN 25 AND 2000", name="cell_size_m"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSONB, default=list)
    boxes_per_day: Mapped[int] = mapped_column(Integer, default=20)
    shift_start_hour: Mapped[int] = mapped_column(Integer, default=0)
    shift_length_hours: Mapped[int] = mapped_column(Integer, default=24)
    cell_size_m: Mapped[float] = mapped_column(Float, default=150.0)
    method: Mapped[str] = mapped_column(String(20), default="auto")
    area: Mapped[Any | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=27700, spatial_index=True)
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Area(Base):
    """A boundary used for lists: the partnership's district outline or one ward (EPSG:27700)."""

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("kind", "code", name="uq_areas_kind_code"),
        CheckConstraint("kind IN ('district','ward')", name="kind"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=27700, spatial_index=True))


class TargetList(Base):
    """One agency's list of boxes for one date, with how it was fitted."""

    __tablename__ = "target_lists"
    __table_args__ = (
        UniqueConstraint("agency_id", "list_date", name="uq_target_lists_agency_id_list_date"),
        Index("ix_target_lists_list_date", "list_date"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.agencies.id", ondelete="CASCADE"))
    list_date: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(40))
    requested_method: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSONB, default=list)
    categories: Mapped[list[str]] = mapped_column(JSONB, default=list)
    cell_size_m: Mapped[float] = mapped_column(Float)
    shift_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    shift_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trained_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    n_events: Mapped[int] = mapped_column(Integer)
    n_candidate_cells: Mapped[int] = mapped_column(Integer)
    generated_by: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TargetBox(Base):
    """One ranked box of a list: the cell, its score and the ward holding its centre."""

    __tablename__ = "target_boxes"
    __table_args__ = (
        UniqueConstraint("list_id", "rank", name="uq_target_boxes_list_id_rank"),
        UniqueConstraint("list_id", "cell_id", name="uq_target_boxes_list_id_cell_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.target_lists.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)
    cell_id: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    ward: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=27700, spatial_index=False))


class Visit(Base):
    """A crew's visit to a box of a list; visits feed diagnostics, never the training data."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_agency_id_list_date", "agency_id", "list_date"),
        UniqueConstraint("idempotency_key", name="uq_visits_idempotency_key"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.agencies.id", ondelete="CASCADE"))
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.target_lists.id", ondelete="SET NULL")
    )
    list_date: Mapped[date] = mapped_column(Date)
    cell_id: Mapped[str] = mapped_column(String(40))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    crew: Mapped[str] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)
    logged_by: Mapped[str] = mapped_column(String(240))
    # f"{actor}:{Idempotency-Key}" of the request that logged it (shared.idempotency).
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BacktestStatus(StrEnum):
    """Where a backtest job is: waiting for a worker, computing, finished, or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BacktestJob(Base):
    """A rolling-origin backtest of one agency over a period of origin days, run in the background.

    ``origins_done`` of ``origins_total`` is its progress; ``results`` holds the table of methods,
    the hit-rate curves and the boxes per ward once done, ``plot_png`` the plot.
    """

    __tablename__ = "backtest_jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in BacktestStatus) + ")", name="status"
        ),
        CheckConstraint("date_from <= date_to", name="period"),
        CheckConstraint("origins_done BETWEEN 0 AND origins_total", name="origins_done"),
        UniqueConstraint("idempotency_key", name="uq_backtest_jobs_idempotency_key"),
        Index("ix_backtest_jobs_agency_id_created_at", "agency_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.agencies.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=BacktestStatus.QUEUED)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    origins_total: Mapped[int] = mapped_column(Integer)
    origins_done: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    plot_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(240))
    # scoped_key(caller, Idempotency-Key) of the request that asked for it (shared.idempotency).
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
