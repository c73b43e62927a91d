"""A camera's history: the devices that stood at its position, the positions it has had, and
its audit trail (its own changes and those of its faults, requests and decisions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets.cameras.service import get_camera
from services.assets.models import AuditEntry, CameraDevice, CameraPosition


def camera_devices(session: Session, *, camera_id: int) -> list[CameraDevice]:
    """Devices that stood at a camera position, oldest first; NotFound for no such camera."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(CameraDevice)
            .where(CameraDevice.camera_id == camera_id)
            .order_by(CameraDevice.id)
        )
    )


def current_device(session: Session, *, camera_id: int) -> CameraDevice | None:
    """The device standing at a camera position now (the newest not removed), if any."""
    return session.scalars(
        select(CameraDevice)
        .where(CameraDevice.camera_id == camera_id, CameraDevice.removed_on.is_(None))
        .order_by(CameraDevice.id.desc())
    ).first()


def camera_positions(session: Session, *, camera_id: int) -> list[CameraPosition]:
    """Positions a camera has had, oldest first; NotFound for no such camera."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(CameraPosition)
            .where(CameraPosition.camera_id == camera_id)
            .order_by(CameraPosition.id)
        )
    )


def current_position(session: Session, *, camera_id: int) -> CameraPosition | None:
    """The position record still open (no ``valid_to``), if any."""
    return session.scalars(
        select(CameraPosition).where(
            CameraPosition.camera_id == camera_id, CameraPosition.valid_to.is_(None)
        )
    ).first()


def camera_history(session: Session, *, camera_id: int) -> list[AuditEntry]:
    """The audit trail of a camera and its faults, requests and decisions, oldest first."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.camera_id == camera_id)
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )
