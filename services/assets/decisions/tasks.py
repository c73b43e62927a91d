"""Celery task of the SEG decisions: apply the scheduled changes whose day has come.

Run by beat (``csp.worker``: hourly, so a change decided for a day takes effect in its first
hour); idempotent, so a retry or a second run applies nothing twice.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.orm import Session

from services.assets.decisions.apply import apply_due
from shared.tasks import background_task

log = logging.getLogger("csp.assets.tasks")


def apply_scheduled_changes_run(session: Session, *, day: date | None = None) -> list[list[object]]:
    """Apply each scheduled change due on or before ``day`` (default today in Medway)."""
    done = apply_due(session, today=day)
    log.info("scheduled changes: %s", done)
    return [[decision_id, status] for decision_id, status in done]


@background_task("assets.apply_scheduled_changes", time_limit_s=10 * 60)
def apply_scheduled_changes(session: Session, day: str | None = None) -> list[list[object]]:
    """Apply each scheduled change due on or before ``day`` (ISO; default today in Medway)."""
    return apply_scheduled_changes_run(session, day=date.fromisoformat(day) if day else None)
