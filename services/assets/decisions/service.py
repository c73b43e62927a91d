"""SEG decision use cases: record a decision (If-Match, once per Idempotency-Key), list them.

A decision takes effect when recorded, or - a replacement or relocation decided for a later
day - is a scheduled change (``cameras.schedule``): the register keeps today's facts until then
and shows what is due; ``apply.apply_due`` applies it on its day. Keyword-only, session first;
the write commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.schedule import DecisionEffect, scheduled_for
from services.assets.cameras.service import (
    DEFAULT_REVIEW_DAYS,
    check_version,
    commit_change,
    get_camera,
)
from services.assets.clock import now_utc
from services.assets.decisions.apply import apply_now, london_today, terms_of
from services.assets.decisions.schemas import DecisionCreate
from services.assets.models import Camera, Decision
from shared.errors import Conflict, InvalidInput
from shared.idempotency import bounded_wait, insert_once, release, scoped_key

Recorded = tuple[Decision, DecisionEffect]
BUSY = "A decision on this camera is being recorded; retry"


def record_decision(
    session: Session,
    *,
    camera_id: int,
    data: DecisionCreate,
    expected_version: int | None,
    actor: str,
    caller: int | str | None = None,
    idempotency_key: str | None = None,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
    today: date | None = None,
) -> tuple[Decision, DecisionEffect, bool]:
    """Record an SEG decision and apply it (or schedule it): (decision, effect, is new).

    A retry with the caller's same Idempotency-Key returns the first decision (not new), even
    though the camera's version has moved on since; the same key for another decision is 409.
    """
    today = today or london_today()
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    if (found := _by_key(session, key)) is not None:
        return (*release(session, _replay(found, camera_id, data)), False)
    with bounded_wait(session, BUSY):
        camera = get_camera(session, camera_id=camera_id, lock=True)
    if (found := _by_key(session, key)) is not None:  # a retry that waited for the first
        return (*release(session, _replay(found, camera_id, data)), False)
    check_version(camera, expected_version)
    effective = _check(session, camera, data, today)
    before = audit.snapshot(camera)
    decision = Decision(
        camera_id=camera.id,
        decision=data.decision,
        meeting_date=data.meeting_date,
        minute_ref=data.minute_ref,
        reason=data.reason,
        dpia_ref=data.dpia_ref,
        lifecycle_before=camera.lifecycle,
        lifecycle_after=camera.lifecycle,
        details={},
        recorded_by=actor,
    )
    session.add(decision)
    session.flush()
    effect = DecisionEffect(
        decision_id=decision.id,
        camera_id=camera.id,
        effective_on=effective,
        related_camera_id=data.related_camera_id,
        recommendation=data.answers.model_dump() if data.answers else None,
        idempotency_key=key,
    )
    why = f"{data.minute_ref}: {data.reason}"
    if effective > today:
        _schedule(session, camera, decision, effect, terms=terms_of(data), actor=actor, why=why)
    else:
        decision.details = apply_now(session, camera, data, review_interval_days)
        decision.lifecycle_after = camera.lifecycle
        effect.status, effect.applied_at = lc.DecisionStatus.APPLIED, now_utc()
    with bounded_wait(session, BUSY):
        inserted = insert_once(session, effect, "uq_decision_effects_idempotency_key")
    if not inserted:  # the same key on another camera, recorded meanwhile
        session.rollback()
        first = _by_key(session, key)
        assert first is not None
        return (*release(session, _replay(first, camera_id, data)), False)
    if effect.status == lc.DecisionStatus.APPLIED:
        audit.camera_change(
            session,
            camera,
            action=f"decision:{data.decision}",
            actor=actor,
            before=before,
            reason=why,
        )
    commit_change(session)
    return decision, effect, True


def _check(session: Session, camera: Camera, data: DecisionCreate, today: date) -> date:
    """The day the decision takes effect; 422 for dates it cannot have, 409 for the camera."""
    if data.meeting_date > today:
        raise InvalidInput(
            f"meeting_date {data.meeting_date.isoformat()} is after today "
            f"({today.isoformat()}): record a decision once the meeting has taken it",
            errors=[{"field": "meeting_date", "message": "in the future"}],
        )
    effective = data.effective_day()
    if effective > today and data.decision not in lc.SCHEDULABLE:
        raise InvalidInput(
            f"Only a replacement or relocation can take effect on a later day; "
            f"{lc.decision_words(data.decision)} takes effect when recorded (leave "
            "effective_on empty or give a day up to today)",
            errors=[{"field": "effective_on", "message": "after today"}],
        )
    if data.related_camera_id is not None:
        if data.related_camera_id == camera.id:
            raise InvalidInput("related_camera_id is this camera; name the other of the pair")
        if session.get(Camera, data.related_camera_id) is None:
            raise InvalidInput(f"related_camera_id: no camera with id {data.related_camera_id}")
    pending = scheduled_for(session, camera_ids=[camera.id]).get(camera.id)
    scheduled = pending.decision if pending else None
    kinds = {"lifecycle": camera.lifecycle, "technology": camera.technology}
    refusal = lc.decision_refusal(
        data.decision, **kinds, deployment=camera.deployment, scheduled=scheduled
    )
    if refusal is not None:
        allowed = lc.allowed_decisions(**kinds, deployment=camera.deployment, scheduled=scheduled)
        why = f"; due: {pending.text}" if pending else ""
        raise Conflict(
            f"Decision {data.decision} is not possible for camera {camera.id}: {refusal}{why}",
            extra={"allowed": list(allowed), "current": camera.lifecycle},
        )
    return effective


def _schedule(
    session: Session,
    camera: Camera,
    decision: Decision,
    effect: DecisionEffect,
    *,
    terms: dict[str, object],
    actor: str,
    why: str,
) -> None:
    """Keep today's facts; the terms wait in the decision until ``effective_on``."""
    decision.details = {"terms": terms}
    effect.status = lc.DecisionStatus.SCHEDULED
    # What the register shows of the camera changed (what is due): a new version, a new ETag.
    camera.updated_at = now_utc()
    audit.record(
        session,
        camera_id=camera.id,
        entity="decision",
        entity_id=decision.id,
        action=f"decision_scheduled:{decision.decision}",
        actor=actor,
        after={
            "decision": decision.decision,
            "effective_on": effect.effective_on.isoformat(),
            "due": lc.due_text(decision.decision, effect.effective_on),
            **terms,
        },
        reason=why,
    )


def _by_key(session: Session, key: str | None) -> Recorded | None:
    if key is None:
        return None
    row = session.execute(
        select(Decision, DecisionEffect)
        .join(DecisionEffect, DecisionEffect.decision_id == Decision.id)
        .where(DecisionEffect.idempotency_key == key)
    ).first()
    return (row[0], row[1]) if row else None


def _replay(found: Recorded, camera_id: int, data: DecisionCreate) -> Recorded:
    """``found`` when the retry asks for the same decision, else 409."""
    decision, effect = found
    same = (
        decision.camera_id == camera_id
        and decision.decision == data.decision
        and decision.meeting_date == data.meeting_date
        and decision.minute_ref == data.minute_ref
        and effect.effective_on == data.effective_day()
    )
    if not same:
        raise Conflict(
            "This Idempotency-Key was used for a different decision; send a new key for a new "
            "decision"
        )
    return found


def list_decisions(session: Session, *, camera_id: int) -> list[Recorded]:
    """Decisions recorded for a camera with their effect, oldest first."""
    get_camera(session, camera_id=camera_id)
    return decisions_on(session, camera_ids=[camera_id])


def decisions_on(
    session: Session, *, camera_ids: Sequence[int] | None = None, since: date | None = None
) -> list[Recorded]:
    """Decisions on these cameras (all when None) taken at meetings on or after ``since``,
    oldest first, each with its effect (decisions keep one each; see migration 0016)."""
    stmt = select(Decision, DecisionEffect).join(
        DecisionEffect, DecisionEffect.decision_id == Decision.id
    )
    if camera_ids is not None:
        stmt = stmt.where(Decision.camera_id.in_(list(camera_ids)))
    if since is not None:
        stmt = stmt.where(Decision.meeting_date >= since)
    rows = session.execute(stmt.order_by(Decision.meeting_date, Decision.id)).tuples()
    return [(d, e) for d, e in rows]


def decisions_due(session: Session) -> list[Recorded]:
    """Every change still waiting for its day, soonest first."""
    rows = session.execute(
        select(Decision, DecisionEffect)
        .join(DecisionEffect, DecisionEffect.decision_id == Decision.id)
        .where(DecisionEffect.status == lc.DecisionStatus.SCHEDULED)
        .order_by(DecisionEffect.effective_on, Decision.id)
    ).tuples()
    return [(d, e) for d, e in rows]
