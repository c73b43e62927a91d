"""Audit trail: camera snapshots and one row per change, in the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from services.assets.models import AuditEntry, Camera
from shared.geometry import point_to_wgs84

AUDITED = (
    "asset_tag",
    "name",
    "ward",
    "ward_code",
    "purpose",
    "technology",
    "deployment",
    "bearing_deg",
    "fov_deg",
    "range_m",
    "installed_on",
    "expected_life_years",
    "owner",
    "retention_days",
    "dpia_ref",
    "lifecycle",
    "health",
    "next_review_due",
)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(camera: Camera) -> dict[str, Any]:
    """The audited fields of a camera, JSON-ready, with its WGS84 position."""
    out = {k: _json(getattr(camera, k)) for k in AUDITED}
    if camera.geom is not None:
        p = camera.geom if hasattr(camera.geom, "x") else to_shape(camera.geom)
        lon, lat = point_to_wgs84(p.x, p.y)
        out["lon"], out["lat"] = round(lon, 6), round(lat, 6)
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: Session,
    *,
    camera_id: int | None,
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    changed_only: bool = True,
) -> AuditEntry:
    """Add one audit row (flushed with the change it describes, committed with it)."""
    if changed_only and before is not None and after is not None:
        before, after = diff(before, after)
    row = AuditEntry(
        camera_id=camera_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor=actor,
        before=before,
        after=after,
        reason=reason,
        at=datetime.now().astimezone(),
    )
    session.add(row)
    return row


def camera_change(
    session: Session,
    camera: Camera,
    *,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    reason: str | None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Audit a change to ``camera``: ``before`` against ``after`` (its snapshot now by default)."""
    return record(
        session,
        camera_id=camera.id,
        entity="camera",
        entity_id=camera.id,
        action=action,
        actor=actor,
        before=before,
        after=snapshot(camera) if after is None else after,
        reason=reason,
    )
