"""Celery tasks of the predictive service: the nightly refit that stores each agency's list."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from shared.celery_app import TRANSIENT_ERRORS, celery_app

log = logging.getLogger("csp.predictive.tasks")


def nightly_refit_run(
    session: Any, *, day: date | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Make (or keep) each agency's list for ``day`` (default: the day now starting in Medway)."""
    from services.predictive import service

    target = day or service.today_london()
    done = service.generate_for_all(session, day=target, generated_by="nightly", force=force)
    return [
        {"agency": code, "list_id": lid, "created": created, "date": target.isoformat()}
        for code, lid, created in done
    ]


@celery_app.task(
    name="predictive.nightly_refit",
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=25 * 60,
    # A PostGIS restart mid-refit is retried (a re-run keeps the lists already stored):
    # delays up to 2, 4, 8, 16, 32 s (jittered) ride out an outage of about a minute.
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def nightly_refit(day: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Fit and store one list per agency for ``day`` (ISO date); a re-run adds nothing."""
    from shared.db import task_session
    from shared.settings import common_settings

    with task_session(common_settings().database_url) as session:
        out = nightly_refit_run(session, day=date.fromisoformat(day) if day else None, force=force)
    log.info("nightly refit: %s", out)
    return out
