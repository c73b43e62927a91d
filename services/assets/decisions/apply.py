"""How each SEG decision changes its camera, and the scheduled changes applied on their day.

Each decision kind has an applier that changes the camera (lifecycle, deployment, device,
position, next review) and returns the details kept with the decision. A replacement or
relocation decided for a later day keeps its terms (new position, install date ...) in the
decision's details until ``apply_due`` applies it, one camera change per transaction, in the
audit trail like any other; one whose camera no longer allows it lapses, said in the trail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.history import current_device, current_position
from services.assets.cameras.schedule import DecisionEffect
from services.assets.cameras.service import (
    DEFAULT_REVIEW_DAYS,
    apply_lifecycle,
    commit_change,
    get_camera,
    place,
)
from services.assets.clock import now_utc
from services.assets.decisions.schemas import DecisionCreate
from services.assets.enums import CameraLifecycle, DecisionKind, Deployment, Technology
from services.assets.models import Camera, CameraDevice, CameraPosition, Decision
from shared.errors import AppError, Conflict

_L = CameraLifecycle
LONDON = ZoneInfo("Europe/London")
# Terms of a decision that a scheduled change needs on its day (kept in the decision's details).
TERMS = (
    "lon",
    "lat",
    "bearing_deg",
    "installed_on",
    "expected_life_years",
    "keep_under_review",
    "next_review_due",
    "dpia_ref",
)
# Most scheduled changes applied in one run of the task (the next run takes the rest).
MAX_PER_RUN = 500

Applier = Callable[[Session, Camera, DecisionCreate, int], dict[str, Any]]


def london_today(now: datetime | None = None) -> date:
    """Today in Medway (a decision's day is a London day)."""
    return (now or now_utc()).astimezone(LONDON).date()


def terms_of(data: DecisionCreate) -> dict[str, Any]:
    """The decision's terms as JSON, to apply it on a later day."""
    return data.model_dump(mode="json", include=set(TERMS), exclude_none=True)


def apply_now(
    session: Session, camera: Camera, data: DecisionCreate, review_interval_days: int
) -> dict[str, Any]:
    """Change ``camera`` as the decision says; the details to keep with the decision."""
    details = _APPLY[DecisionKind(data.decision)](session, camera, data, review_interval_days)
    if data.dpia_ref:
        camera.dpia_ref = data.dpia_ref
    return details


def apply_due(
    session: Session,
    *,
    today: date | None = None,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
    limit: int = MAX_PER_RUN,
) -> list[tuple[int, str]]:
    """Apply the scheduled changes whose day has come; (decision id, status now) of each.

    Each change is its own transaction (locked, skipped by a concurrent run), so one that
    lapses or fails leaves the others applied; a second run finds nothing left to do.
    """
    today = today or london_today()
    done: list[tuple[int, str]] = []
    while len(done) < limit:
        effect = session.scalars(
            select(DecisionEffect)
            .where(
                DecisionEffect.status == lc.DecisionStatus.SCHEDULED,
                DecisionEffect.effective_on <= today,
            )
            .order_by(DecisionEffect.effective_on, DecisionEffect.decision_id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if effect is None:
            break
        decision_id = effect.decision_id
        try:
            status = _apply_scheduled(session, effect, review_interval_days)
            commit_change(session)
        except AppError as exc:  # the register refused it (a rule): it lapses, said why
            session.rollback()
            status = _lapse_by_id(session, decision_id, exc.detail)
            commit_change(session)
        done.append((decision_id, status))
    return done


def _lapse(session: Session, decision: Decision, effect: DecisionEffect, why: str) -> str:
    """Mark a scheduled change lapsed, with why, in its camera's audit trail."""
    effect.status = lc.DecisionStatus.LAPSED
    audit.record(
        session,
        camera_id=effect.camera_id,
        entity="decision",
        entity_id=decision.id,
        action=f"decision_lapsed:{decision.decision}",
        actor=f"scheduled change of {decision.recorded_by}",
        after={"status": effect.status},
        reason=f"{_why(decision, effect)}; not applied: {why}",
    )
    return str(effect.status)


def _lapse_by_id(session: Session, decision_id: int, why: str) -> str:
    effect = session.get(DecisionEffect, decision_id, with_for_update=True)
    decision = session.get(Decision, decision_id)
    assert effect is not None and decision is not None
    return _lapse(session, decision, effect, why)


def _why(decision: Decision, effect: DecisionEffect) -> str:
    day = effect.effective_on.isoformat()
    return f"{decision.minute_ref}: {decision.reason} (effective {day})"


def _apply_scheduled(session: Session, effect: DecisionEffect, review_interval_days: int) -> str:
    decision = session.get(Decision, effect.decision_id)
    assert decision is not None  # the effect's foreign key
    camera = get_camera(session, camera_id=effect.camera_id, lock=True)
    terms = dict(decision.details.get("terms", {}))
    data = DecisionCreate(
        decision=decision.decision,
        meeting_date=decision.meeting_date,
        minute_ref=decision.minute_ref,
        reason=decision.reason,
        effective_on=effect.effective_on,
        **terms,
    )
    refusal = lc.decision_refusal(
        decision.decision,
        lifecycle=camera.lifecycle,
        technology=camera.technology,
        deployment=camera.deployment,
    )
    if refusal is not None:
        return _lapse(session, decision, effect, refusal)
    before = audit.snapshot(camera)
    details = apply_now(session, camera, data, review_interval_days)
    decision.details = {**decision.details, **details}
    decision.lifecycle_after = camera.lifecycle
    effect.status, effect.applied_at = lc.DecisionStatus.APPLIED, now_utc()
    session.flush()
    audit.camera_change(
        session,
        camera,
        action=f"decision_applied:{decision.decision}",
        actor=f"scheduled change of {decision.recorded_by}",
        before=before,
        reason=_why(decision, effect),
    )
    return str(effect.status)


def _next_review(data: DecisionCreate, interval_days: int) -> date:
    return data.next_review_due or data.meeting_date + timedelta(days=interval_days)


def _to(c: Camera, target: str, d: DecisionCreate, days: int) -> None:
    apply_lifecycle(c, target, today=d.effective_day(), review_interval_days=days)


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
    installed = d.installed_on or d.effective_day()
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
    moved_on = d.effective_day()
    current = current_position(session, camera_id=c.id)
    if current is not None:
        current.valid_to = moved_on
    if d.bearing_deg is not None:
        c.bearing_deg = d.bearing_deg
    place(c, d.lon, d.lat)
    session.add(
        CameraPosition(
            camera_id=c.id,
            geom=c.geom,
            bearing_deg=c.bearing_deg,
            valid_from=moved_on,
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


_APPLY: dict[DecisionKind, Applier] = {
    DecisionKind.RETAIN: _retain,
    DecisionKind.MAKE_PERMANENT: _make_permanent,
    DecisionKind.REPLACE_WITH_DIGITAL: _replace,
    DecisionKind.RELOCATE: _relocate,
    DecisionKind.DECOMMISSION: _decommission,
    DecisionKind.WITHDRAW: _withdraw,
}
