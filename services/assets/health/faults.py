"""Faults found by the health checks, through the faults service's public functions.

A failed check opens a fault (the cause's nearest category, ``causes.FAULT_CATEGORY``; source
``health_check``; the measurement in its description; a snapshot as evidence; a lost connection
only at its ``health_connection_failures_to_open``-th failure in a row) unless the camera
already has one open from the checks, or an operator's open fault of that category, which then
gets a note instead. Repeated failures add notes to the same fault: at the first repeat, when the
cause changes, and every ``NOTE_EVERY`` failures after (an hour at 5 minutes), so a long outage
does not bury the fault in notes. After ``health_fixed_after_passes`` good checks in a row the
fault is marked fixed by the check; an operator still closes it. Snapshots are personal data:
kept ``health_snapshot_retention_days`` and deleted by ``delete_expired_snapshots``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import cv2
import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.clock import now_utc
from services.assets.faults import notes
from services.assets.faults import service as faults
from services.assets.health.causes import CONNECTION_CAUSES, FAULT_CATEGORY, SAID, Cause
from services.assets.health.models import CameraStream, HealthCheck, HealthSnapshot
from services.assets.models import Fault
from services.assets.settings import AssetsSettings
from shared.auth import Principal
from shared.errors import NotFound

ACTOR = "health-check"
SOURCE = "health_check"
NOTE_EVERY = 12


def _words(check: HealthCheck) -> str:
    m = {k: v for k, v in (check.measurement or {}).items() if v is not None}
    shown = ", ".join(f"{k} {v}" for k, v in m.items())
    return f"{SAID[Cause(check.result)]}; measured: {shown}"


def follow_check(
    session: Session,
    *,
    stream: CameraStream,
    check: HealthCheck,
    frame: np.ndarray | None,
    settings: AssetsSettings,
    now: datetime,
) -> None:
    """Open, note or fix the camera's health-check fault after ``check``."""
    fault = session.get(Fault, stream.fault_id) if stream.fault_id else None
    if fault is not None and fault.status not in lc.OPEN_STATUSES:
        fault = None  # an operator resolved it: a new failure opens a new fault
        stream.fault_id = None
    if check.ok:
        stream.consecutive_passes += 1
        stream.consecutive_failures = 0
        if fault is not None and stream.consecutive_passes >= settings.health_fixed_after_passes:
            stream.fault_id = None
            session.flush()
            faults.update_fault_status(
                session,
                fault_id=fault.id,
                status="fixed",
                actor=ACTOR,
                note=f"Fixed by itself: {stream.consecutive_passes} health checks passed in a "
                "row; an operator closes the fault",
                at=now,
            )
        return
    stream.consecutive_passes = 0
    stream.consecutive_failures += 1
    cause = Cause(check.result)
    if fault is None:
        needed = settings.health_connection_failures_to_open if cause in CONNECTION_CAUSES else 1
        if stream.consecutive_failures < needed:
            return  # one lost connection may be the network's blip: wait for the next check
        fault = _open(session, stream=stream, check=check, now=now)
        check.fault_id = fault.id
        _keep_snapshot(session, stream, fault, cause, frame, settings, now)
        return
    with session.no_autoflush:
        changed = (fault_cause(session, fault.id) or cause) != cause
    check.fault_id = fault.id
    n = stream.consecutive_failures
    if changed or n == 2 or n % NOTE_EVERY == 0:
        session.flush()
        notes.add_note(
            session,
            fault_id=fault.id,
            note=f"Health check {now:%d %b %Y %H:%M} UTC, failure {n} in a row: {_words(check)}",
            actor=ACTOR,
            at=now,
        )
        if changed:
            _keep_snapshot(session, stream, fault, cause, frame, settings, now)


def fault_cause(session: Session, fault_id: int) -> Cause | None:
    """The cause of the newest failed check recorded against a fault (before this one)."""
    got = session.scalars(
        select(HealthCheck.result)
        .where(HealthCheck.fault_id == fault_id)
        .order_by(HealthCheck.checked_at.desc(), HealthCheck.id.desc())
        .limit(1)
    ).first()
    return Cause(got) if got else None


def _open(session: Session, *, stream: CameraStream, check: HealthCheck, now: datetime) -> Fault:
    category = FAULT_CATEGORY[Cause(check.result)]
    found = faults.open_fault_of_kind(session, camera_id=stream.camera_id, category=category)
    session.flush()
    if found is not None:
        # An operator logged it already: the check's evidence goes on that fault.
        notes.add_note(
            session,
            fault_id=found.id,
            note=f"Health check found it too: {_words(check)}",
            actor=ACTOR,
            at=max(now, found.reported_at),
        )
        stream.fault_id = found.id
        return found
    fault = faults.log_fault(
        session,
        camera_id=stream.camera_id,
        category=category,
        description=f"Found by the health check at {now:%d %b %Y %H:%M} UTC: {_words(check)}",
        reported_at=now,
        started_at=now,
        actor=ACTOR,
        source=SOURCE,
        allow_duplicate=True,
    )
    stream.fault_id = fault.id
    return fault


def _keep_snapshot(
    session: Session,
    stream: CameraStream,
    fault: Fault,
    cause: Cause,
    frame: np.ndarray | None,
    settings: AssetsSettings,
    now: datetime,
) -> None:
    if frame is None:
        return  # no connection, no picture to keep
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        return
    session.add(
        HealthSnapshot(
            camera_id=stream.camera_id,
            fault_id=fault.id,
            taken_at=now,
            cause=cause.value,
            image_jpeg=jpeg.tobytes(),
            expires_at=now + timedelta(days=settings.health_snapshot_retention_days),
        )
    )


def snapshots_of(
    session: Session, *, fault_id: int, now: datetime | None = None
) -> list[HealthSnapshot]:
    """The snapshots kept as a fault's evidence (not expired), oldest first."""
    return list(
        session.scalars(
            select(HealthSnapshot)
            .where(
                HealthSnapshot.fault_id == fault_id,
                HealthSnapshot.expires_at > (now or now_utc()),
            )
            .order_by(HealthSnapshot.taken_at, HealthSnapshot.id)
        )
    )


def view_snapshot(session: Session, *, snapshot_id: int, who: Principal, now: datetime) -> bytes:
    """A snapshot's JPEG for an operator or admin; the view is audited (who, when, which)."""
    snap = session.get(HealthSnapshot, snapshot_id)
    if snap is None or snap.expires_at <= now:
        raise NotFound(
            f"No snapshot with id {snapshot_id} (snapshots are deleted when they expire)"
        )
    audit.record(
        session,
        camera_id=snap.camera_id,
        entity="health_snapshot",
        entity_id=snap.id,
        action="snapshot_viewed",
        actor=who.actor,
        before=None,
        after={"fault_id": snap.fault_id, "taken_at": snap.taken_at.isoformat()},
        reason="snapshot viewed",
    )
    session.commit()
    return snap.image_jpeg


def delete_old_checks(session: Session, *, now: datetime, keep_days: int) -> int:
    """Delete the checks older than ``keep_days`` (their days stay rolled up); how many went."""
    gone = session.execute(
        delete(HealthCheck)
        .where(HealthCheck.checked_at < now - timedelta(days=keep_days))
        .returning(HealthCheck.id)
    ).all()
    session.commit()
    return len(gone)


def delete_expired_snapshots(session: Session, *, now: datetime) -> int:
    """Delete every snapshot past its retention; how many went."""
    gone = session.execute(
        delete(HealthSnapshot).where(HealthSnapshot.expires_at <= now).returning(HealthSnapshot.id)
    ).all()
    session.commit()
    return len(gone)
