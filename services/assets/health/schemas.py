"""Request and response bodies of the camera health API: credentials go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.assets.health.availability import MonthRow
from services.assets.health.models import CameraStream, HealthCheck, HealthSnapshot


class StreamWrite(BaseModel):
    """A digital camera's stream: RTSP address, optional ONVIF address and credentials."""

    model_config = ConfigDict(extra="forbid")

    rtsp_url: str | None = Field(
        None,
        max_length=2000,
        description="rtsp:// or rtsps:// address, no user:pass@; leave out to ask the ONVIF "
        "device for it (GetStreamUri of its first profile)",
    )
    onvif_url: str | None = Field(None, max_length=2000, description="http(s):// ONVIF device")
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(
        None, max_length=500, description="Write-only: encrypted at rest, never returned"
    )
    keep_password: bool = Field(False, description="Keep the stored password (address change)")
    reason: str | None = Field(None, max_length=500, description="Why (kept in the audit trail)")


class StreamRead(BaseModel):
    """A camera's stream and its health-check state (no credentials, ever)."""

    camera_id: int
    rtsp_url: str
    onvif_url: str | None
    credentials_set: bool
    reference_set_at: datetime | None
    reference_set_by: str | None
    sharpness_baseline: float | None
    last_checked_at: datetime | None
    last_result: str | None
    last_measurement: dict[str, Any] | None
    consecutive_passes: int
    consecutive_failures: int
    fault_id: int | None


def stream_read(s: CameraStream) -> StreamRead:
    """The public view of a stream row."""
    return StreamRead(
        camera_id=s.camera_id,
        rtsp_url=s.rtsp_url,
        onvif_url=s.onvif_url,
        credentials_set=bool(s.username or s.password_encrypted),
        reference_set_at=s.reference_set_at,
        reference_set_by=s.reference_set_by,
        sharpness_baseline=s.sharpness_baseline,
        last_checked_at=s.last_checked_at,
        last_result=s.last_result,
        last_measurement=s.last_measurement,
        consecutive_passes=s.consecutive_passes or 0,
        consecutive_failures=s.consecutive_failures or 0,
        fault_id=s.fault_id,
    )


class CheckRead(BaseModel):
    """One health check of a camera."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int
    checked_at: datetime
    result: str
    ok: bool
    measurement: dict[str, Any] | None
    duration_ms: int
    fault_id: int | None


class SnapshotRead(BaseModel):
    """A snapshot kept as a fault's evidence (the image is a separate, audited read)."""

    id: int
    camera_id: int
    fault_id: int | None
    taken_at: datetime
    cause: str
    expires_at: datetime
    image: str


def snapshot_read(s: HealthSnapshot) -> SnapshotRead:
    """Metadata of a snapshot with the address of its image."""
    return SnapshotRead(
        id=s.id,
        camera_id=s.camera_id,
        fault_id=s.fault_id,
        taken_at=s.taken_at,
        cause=s.cause,
        expires_at=s.expires_at,
        image=f"/health-snapshots/{s.id}.jpg",
    )


def check_read(c: HealthCheck) -> CheckRead:
    """The public view of a check row."""
    return CheckRead.model_validate(c)


class FromChecks(BaseModel):
    """What the health checks saw of a camera in a month."""

    checks: int
    passed: int
    watched_hours: float
    watched_share: float
    down_hours: float
    degraded_hours: float
    availability: float | None


class MonthlyAvailability(BaseModel):
    """One camera in one month: availability from its faults and from its health checks."""

    camera_id: int
    asset_tag: str
    name: str
    month: str
    fault_downtime_hours: float
    fault_availability: float
    from_checks: FromChecks | None


def monthly_read(r: MonthRow) -> MonthlyAvailability:
    """The API form of a month row."""
    c = r.checks
    return MonthlyAvailability(
        camera_id=r.camera_id,
        asset_tag=r.asset_tag,
        name=r.name,
        month=r.month.strftime("%Y-%m"),
        fault_downtime_hours=round(r.fault_downtime_hours, 3),
        fault_availability=round(r.fault_availability, 6),
        from_checks=None
        if c is None
        else FromChecks(
            checks=c.checks,
            passed=c.passed,
            watched_hours=round(c.watched_s / 3600.0, 3),
            watched_share=round(c.watched_share, 6),
            down_hours=round(c.down_s / 3600.0, 3),
            degraded_hours=round(c.degraded_s / 3600.0, 3),
            availability=None if c.availability is None else round(c.availability, 6),
        ),
    )
