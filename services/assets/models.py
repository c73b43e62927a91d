"""CCTV register ORM models (schema ``assets``).

Model choice: a ``Camera`` row is a camera *position* (site): where it is, what it views, its
lifecycle, health, reviews, faults, footage requests and decisions. The physical units that have
stood there are ``CameraDevice`` rows; replacing an analogue unit by a digital one closes the old
device and adds a new one whose ``replaces_id`` points at it, so the position keeps one id and its
whole history. The camera's ``technology``, ``installed_on`` and ``expected_life_years`` mirror its
current device. A relocation closes the current ``CameraPosition`` and opens a new one.
"""

from __future__ import annotations

from datetime import date, datetime
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
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.assets.enums import (
    CameraHealth,
    CameraLifecycle,
    DecisionKind,
    Deployment,
    FaultStatus,
    Technology,
    check_in,
)
from shared.db import Base

SCHEMA = "assets"
FAULT_SEQUENCE = f"{SCHEMA}.fault_number_seq"


class Camera(Base):
    """A camera position: register fields, point and view polygon in EPSG:27700, two states."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(check_in("lifecycle", CameraLifecycle), name="lifecycle"),
        CheckConstraint(check_in("health", CameraHealth), name="health"),
        CheckConstraint(check_in("technology", Technology), name="technology"),
        CheckConstraint(check_in("deployment", Deployment), name="deployment"),
        Index("ix_cameras_lifecycle", "lifecycle"),
        Index("ix_cameras_next_review_due", "next_review_due"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_tag: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ward: Mapped[str | None] = mapped_column(String(120))
    ward_code: Mapped[str | None] = mapped_column(String(12))
    purpose: Mapped[str | None] = mapped_column(String(400))
    technology: Mapped[str] = mapped_column(String(10))
    deployment: Mapped[str] = mapped_column(String(10))
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=27700, spatial_index=True))
    view_geom: Mapped[Any | None] = mapped_column(
        Geometry("POLYGON", srid=27700, spatial_index=True)
    )
    installed_on: Mapped[date | None] = mapped_column(Date)
    expected_life_years: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(200))
    retention_days: Mapped[int | None] = mapped_column(Integer)
    dpia_ref: Mapped[str | None] = mapped_column(String(120))
    lifecycle: Mapped[str] = mapped_column(String(20))
    health: Mapped[str] = mapped_column(String(10), default=CameraHealth.ONLINE.value)
    next_review_due: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class CameraDevice(Base):
    """A physical unit that stood at a camera position; ``replaces_id`` links old to new."""

    __tablename__ = "camera_devices"
    __table_args__ = (
        CheckConstraint(check_in("technology", Technology), name="technology"),
        Index("ix_camera_devices_camera_id", "camera_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    technology: Mapped[str] = mapped_column(String(10))
    installed_on: Mapped[date | None] = mapped_column(Date)
    expected_life_years: Mapped[int | None] = mapped_column(Integer)
    removed_on: Mapped[date | None] = mapped_column(Date)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey(f"{SCHEMA}.camera_devices.id"))
    note: Mapped[str | None] = mapped_column(String(400))


class CameraPosition(Base):
    """Where a camera position stood and what it viewed, from ``valid_from`` to ``valid_to``."""

    __tablename__ = "camera_positions"
    __table_args__ = (
        Index("ix_camera_positions_camera_id", "camera_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=27700, spatial_index=False))
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(400))


class Fault(Base):
    """A fault on a camera; ``number`` (F-YYYY-NNNNNN) comes from a database sequence."""

    __tablename__ = "faults"
    __table_args__ = (
        CheckConstraint(check_in("status", FaultStatus), name="status"),
        CheckConstraint(
            "started_at IS NULL OR started_at <= reported_at", name="started_before_report"
        ),
        CheckConstraint("media_url IS NULL OR media_url ~* '^https?://'", name="media_url_http"),
        Index("ix_faults_camera_id", "camera_id"),
        Index("ix_faults_status", "status"),
        UniqueConstraint("idempotency_key", name="uq_faults_idempotency_key"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    category: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the fault began, if before the report (None: at the report). Downtime counts from
    # it; the SLA from the report (migration 0013).
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    # f"{actor}:{Idempotency-Key}" of the request that logged it (shared.idempotency).
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What an Open311 report carries (migration 0018): the reporter's photo link (http(s)), the
    # address in their words, and which caller filed it (token id or "user:<id>"; never shown).
    media_url: Mapped[str | None] = mapped_column(String(2048))
    address_string: Mapped[str | None] = mapped_column(String(500))
    reporter_key: Mapped[str | None] = mapped_column(String(60))


class FaultEvent(Base):
    """One status change of a fault (from, to, when, who, a note), or a note alone (the same
    status before and after)."""

    __tablename__ = "fault_events"
    __table_args__ = (
        Index("ix_fault_events_fault_id", "fault_id"),
        UniqueConstraint("idempotency_key", name="uq_fault_events_idempotency_key"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.faults.id"))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # Of a note added on its own (shared.idempotency; migration 0013).
    idempotency_key: Mapped[str | None] = mapped_column(String(300))


class FootageRequest(Base):
    """A police request for footage from a camera: date, reference, the time window asked for,
    the officer, outcome and how long the footage is kept as evidence."""

    __tablename__ = "footage_requests"
    __table_args__ = (
        CheckConstraint(
            "window_start IS NULL OR window_end IS NULL OR window_end > window_start",
            name="window_order",
        ),
        Index("ix_footage_requests_camera_id", "camera_id"),
        UniqueConstraint("idempotency_key", name="uq_footage_requests_idempotency_key"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    requested_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Migration 0013: the footage asked for, who asked, kept until; a version for If-Match.
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    officer: Mapped[str | None] = mapped_column(String(200))
    retain_until: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class Decision(Base):
    """A Strategic Executive Group decision on a camera and the lifecycle change it made."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(check_in("decision", DecisionKind), name="decision"),
        Index("ix_decisions_camera_id", "camera_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    decision: Mapped[str] = mapped_column(String(30))
    meeting_date: Mapped[date] = mapped_column(Date)
    minute_ref: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    dpia_ref: Mapped[str | None] = mapped_column(String(120))
    lifecycle_before: Mapped[str] = mapped_column(String(20))
    lifecycle_after: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    """One change: who, when, what entity, before and after (changed fields) and why."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_camera_id", "camera_id"),
        Index("ix_audit_log_entity", "entity", "entity_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id"))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)


class CameraImport(Base):
    """One register import: counts and the rows that could not be placed (line + reason)."""

    __tablename__ = "imports"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_added: Mapped[int] = mapped_column(Integer)
    rows_updated: Mapped[int] = mapped_column(Integer)
    rows_unchanged: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    warnings: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    imported_by: Mapped[str] = mapped_column(String(200))
