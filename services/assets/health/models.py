"""Camera health ORM models (schema ``assets``): where each camera's stream is, what its checks
found, and the snapshots kept as evidence (personal data, deleted after their retention).

The Camera model is not touched: a digital camera's stream lives in its own row here. The
password is a Fernet token (``health.credentials``), never a plain value. The reference view is
kept as ORB features (key points and descriptors), not as a picture; the frozen test compares
against a 32x32 grey thumbnail of the last check (too small to identify anyone).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.assets.enums import check_in
from services.assets.health.causes import Cause
from shared.db import Base

SCHEMA = "assets"


class CameraStream(Base):
    """A digital camera's stream address, credentials (encrypted) and health-check state."""

    __tablename__ = "camera_streams"
    __table_args__ = (
        CheckConstraint(
            "last_result IS NULL OR " + check_in("last_result", Cause), name="last_result"
        ),
        CheckConstraint("consecutive_passes >= 0 AND consecutive_failures >= 0", name="counts"),
        {"schema": SCHEMA},
    )

    camera_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.cameras.id", ondelete="CASCADE"), primary_key=True
    )
    rtsp_url: Mapped[str] = mapped_column(Text)
    onvif_url: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    reference_features: Mapped[bytes | None] = mapped_column(LargeBinary)
    reference_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reference_set_by: Mapped[str | None] = mapped_column(String(200))
    sharpness_baseline: Mapped[float | None] = mapped_column(Float)
    last_fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[str | None] = mapped_column(String(20))
    last_measurement: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    consecutive_passes: Mapped[int] = mapped_column(Integer, server_default="0")
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    # The open fault the checks opened (None when there is none).
    fault_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.faults.id", ondelete="SET NULL")
    )
    # A worker's claim on this camera for one check (a redelivered batch skips it).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HealthCheck(Base):
    """One check of one camera: when, what it found, the measurement, how long it took."""

    __tablename__ = "camera_health_checks"
    __table_args__ = (
        CheckConstraint(check_in("result", Cause), name="result"),
        Index("ix_camera_health_checks_camera_id_checked_at", "camera_id", "checked_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool] = mapped_column(Boolean)
    measurement: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    duration_ms: Mapped[int] = mapped_column(Integer)
    fault_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.faults.id", ondelete="SET NULL")
    )


class HealthSnapshot(Base):
    """A frame kept as a fault's evidence (JPEG): personal data, deleted at ``expires_at``."""

    __tablename__ = "camera_health_snapshots"
    __table_args__ = (
        Index("ix_camera_health_snapshots_expires_at", "expires_at"),
        Index("ix_camera_health_snapshots_fault_id", "fault_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey(f"{SCHEMA}.cameras.id", ondelete="CASCADE"))
    fault_id: Mapped[int | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.faults.id", ondelete="SET NULL")
    )
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cause: Mapped[str] = mapped_column(String(20))
    image_jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HealthDay(Base):
    """One camera's checks rolled up per day (Medway's local day): how long it was watched, how
    long the checks found no picture, or any fault, and how many checks passed.

    Each check's finding holds until the next check, for at most twice the check interval: a
    longer gap (the checks stopped) is time not watched, never counted as up or down. Kept after
    the checks themselves are deleted, so monthly availability outlives them.
    """

    __tablename__ = "camera_health_days"
    __table_args__ = (
        CheckConstraint(
            "checks >= 0 AND passed >= 0 AND passed <= checks AND watched_s >= 0 "
            "AND down_s >= 0 AND down_s <= degraded_s AND degraded_s <= watched_s + 0.001",
            name="sane",
        ),
        {"schema": SCHEMA},
    )

    camera_id: Mapped[int] = mapped_column(
        ForeignKey(f"{SCHEMA}.cameras.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    checks: Mapped[int] = mapped_column(Integer, server_default="0")
    passed: Mapped[int] = mapped_column(Integer, server_default="0")
    watched_s: Mapped[float] = mapped_column(Float, server_default="0")
    down_s: Mapped[float] = mapped_column(Float, server_default="0")
    degraded_s: Mapped[float] = mapped_column(Float, server_default="0")
