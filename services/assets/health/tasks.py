"""Celery tasks of the camera health checks: a round splits the cameras into batches (any
worker takes any batch), a batch checks its cameras, and expired snapshots are deleted.

Run by beat (``csp.worker``): a round every ``health_check_interval_min`` minutes, snapshot
expiry hourly. A redelivered batch skips cameras another worker has claimed; checking a camera
twice only adds one more check, so the tasks may be retried.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from services.assets.clock import now_utc
from services.assets.health import faults as hf
from services.assets.health import service as svc
from services.assets.settings import AssetsSettings
from shared.tasks import background_task

log = logging.getLogger("csp.assets.health")


@background_task("assets.health_round", time_limit_s=5 * 60)
def health_round(session: Session) -> dict[str, int]:
    """Queue one batch task per ``health_batch_size`` cameras."""
    settings = AssetsSettings()
    ids = svc.checkable_ids(session)
    parts = svc.batches(ids, settings.health_batch_size)
    for part in parts:
        health_check_batch.delay(part)
    log.info("health round: %d cameras in %d batches", len(ids), len(parts))
    return {"cameras": len(ids), "batches": len(parts)}


@background_task("assets.health_check_batch", time_limit_s=10 * 60, max_retries=2)
def health_check_batch(session: Session, camera_ids: list[int]) -> dict[str, int]:
    """Check the cameras of one batch; the counts of each result."""
    checks = svc.check_batch(session, camera_ids=camera_ids, settings=AssetsSettings())
    counts: dict[str, int] = {}
    for c in checks:
        counts[c.result] = counts.get(c.result, 0) + 1
    log.info("health batch of %d: %s", len(camera_ids), counts)
    return counts


@background_task("assets.health_delete_expired_snapshots", time_limit_s=10 * 60)
def delete_expired_snapshots(session: Session) -> int:
    """Delete the snapshots past their retention (personal data), and the checks past theirs."""
    now = now_utc()
    gone = hf.delete_expired_snapshots(session, now=now)
    old = hf.delete_old_checks(
        session, now=now, keep_days=AssetsSettings().health_check_retention_days
    )
    log.info("expired health snapshots deleted: %d; checks older than kept: %d", gone, old)
    return gone
