"""SEG decision use cases: record a decision and apply it to the camera (If-Match), list them.

Each decision kind has an applier that changes the camera (lifecycle, deployment, device,
position, next review) and returns the details kept with the decision. Keyword-only, session
first; the write commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.history import current_device, current_position
from services.assets.cameras.service import (
    DEFAULT_REVIEW_DAYS,
    apply_lifecycle,
    check_version,
    commit_change,
    get_camera,
    place,
)
from services.assets.decisions.schemas import DecisionCreate
from services.assets.enums import CameraLifecycle, DecisionKind, Deployment, Technology
from services.assets.models import Camera, CameraDevice, CameraPosition, Decision
from shared.errors import Conflict

_L = CameraLifecycle


def record_decision(
    session: Session,
    *,
    camera_id: int,
    data: DecisionCreate,
    expected_version: int | None,
    actor: str,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
) -> Decision:
    """Record an SEG decision and apply it to the camera as a lifecycle change (If-Match)."""
    camera = get_camera(session, camera_id=camera_id, lock=True)
    check_version(camera, expected_version)
    allowed_from = lc.DECISION_FROM[data.decision]
    if camera.lifecycle not in allowed_from:
        raise Conflict(
            f"Decision {data.decision} is not possible for a camera that is {camera.lifecycle}; "
            f"it needs one of: {', '.join(allowed_from)}",
            extra={"allowed": list(allowed_from), "current": camera.lifecycle},
        )
    before = audit.snapshot(camera)
    details = _APPLY[DecisionKind(data.decision)](session, camera, data, review_interval_days)
    if data.dpia_ref:
        camera.dpia_ref = data.dpia_ref
    decision = Decision(
        camera_id=camera.id,
        decision=data.decision,
        meeting_date=data.meeting_date,
        minute_ref=data.minute_ref,
        reason=data.reason,
        dpia_ref=data.dpia_ref,
        lifecycle_before=before["lifecycle"],
        lifecycle_after=camera.lifecycle,
        details=details,
        recorded_by=actor,
    )
    session.add(decision)
    session.flush()
    audit.camera_change(
        session,
        camera,
        action=f"decision:{data.decision}",
        actor=actor,
        before=before,
        reason=f"{data.minute_ref}: {data.reason}",
    )
    commit_change(session)
    return decision


def list_decisions(session: Session, *, camera_id: int) -> list[Decision]:
    """Decisions recorded for a camera, oldest first."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.camera_id == camera_id)
            .order_by(Decision.meeting_date, Decision.id)
        )
    )


def _next_review(data: DecisionCreate, interval_days: int) -> date:
    return data.next_review_due or data.meeting_date + timedelta(days=interval_days)


def _to(c: Camera, target: str, d: DecisionCreate, days: int) -> None:
    apply_lifecycle(c, target, today=d.meeting_date, review_interval_days=days)


def _back_in_service(c: Camera, d: DecisionCreate, days: int) -> str:
    """Make the camera active (if it is not) with its next review; the date, ISO."""
    if c.lifecycle != _L.ACTIVE:
        _to(c, _L.ACTIVE, d, days)
    c.next_review_due = _next_review(d, days)
    return c.next_review_due.isoformat()


def _retain(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    target = _L.UNDER_REVIEW if d.keep_under_review else _L.ACTIVE
    if c.lifecycle != target:
        _to(c, target, d, days)
    c.next_review_due = _next_review(d, days)
    return {"next_review_due": c.next_review_due.isoformat()}


def _make_permanent(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.deployment != Deployment.RAPID:
        raise Conflict(f"Camera {c.id} is already a fixed camera", extra={"allowed": []})
    c.deployment = Deployment.FIXED
    return {"deployment": Deployment.FIXED.value, "next_review_due": _back_in_service(c, d, days)}


def _replace(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.technology == Technology.DIGITAL:
        raise Conflict(f"Camera {c.id} is already digital", extra={"allowed": []})
    old = current_device(session, camera_id=c.id)
    installed = d.installed_on or d.meeting_date
    if old is not None:
        old.removed_on = installed
    new = CameraDevice(
        camera_id=c.id,
        technology=Technology.DIGITAL,
        installed_on=installed,
        expected_life_years=d.expected_life_years or c.expected_life_years,
        replaces_id=old.id if old else None,
        note=f"SEG {d.minute_ref}",
    )
    session.add(new)
    session.flush()
    c.technology, c.installed_on = Technology.DIGITAL, installed
    c.expected_life_years = new.expected_life_years
    _back_in_service(c, d, days)
    return {
        "old_device_id": old.id if old else None,
        "new_device_id": new.id,
        "installed_on": installed.isoformat(),
    }


def _relocate(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    assert d.lon is not None and d.lat is not None  # checked by DecisionCreate
    current = current_position(session, camera_id=c.id)
    if current is not None:
        current.valid_to = d.meeting_date
    if d.bearing_deg is not None:
        c.bearing_deg = d.bearing_deg
    place(c, d.lon, d.lat)
    session.add(
        CameraPosition(
            camera_id=c.id,
            geom=c.geom,
            bearing_deg=c.bearing_deg,
            valid_from=d.meeting_date,
            reason=f"SEG {d.minute_ref}",
        )
    )
    _back_in_service(c, d, days)
    return {"lon": d.lon, "lat": d.lat, "previous_position_id": current.id if current else None}


def _decommission(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    _to(c, _L.DECOMMISSIONING, d, days)
    c.next_review_due = None
    return {}


def _withdraw(session: Session, c: Camera, d: DecisionCreate, days: int) -> dict[str, Any]:
    if c.deployment != Deployment.RAPID:
        raise Conflict(
            f"Only rapid-deployment cameras can be withdrawn to store; camera {c.id} "
            "is fixed (decommission it instead)",
            extra={"allowed": [DecisionKind.DECOMMISSION.value]},
        )
    _to(c, _L.IN_STORE, d, days)
    c.next_review_due = None
    return {}


_APPLY: dict[DecisionKind, Callable[[Session, Camera, DecisionCreate, int], dict[str, Any]]] = {
    DecisionKind.RETAIN: _retain,
    DecisionKind.MAKE_PERMANENT: _make_permanent,
    DecisionKind.REPLACE_WITH_DIGITAL: _replace,
    DecisionKind.RELOCATE: _relocate,
    DecisionKind.DECOMMISSION: _decommission,
    DecisionKind.WITHDRAW: _withdraw,
}
