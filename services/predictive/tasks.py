"""Celery tasks of the predictive service: the nightly refit that stores each agency's list, and
the backtest jobs analysts start from the browser or the API."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.predictive.dates import today_london
from services.predictive.diagnostics.backtests.jobs import run_job
from services.predictive.diagnostics.backtests.service import JOB_TIME_LIMIT_S
from services.predictive.limits import or_default
from services.predictive.lists.service import generate_for_all
from shared.tasks import background_task

log = logging.getLogger("csp.predictive.tasks")


def nightly_refit_run(
    session: Session, *, day: date | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Make (or keep) each agency's list for ``day`` (default: the day now starting in Medway)."""
    target = day or today_london()
    done = generate_for_all(session, day=target, generated_by="nightly", force=force)
    return [
        {"agency": code, "list_id": lid, "created": created, "date": target.isoformat()}
        for code, lid, created in done
    ]


# A PostGIS restart mid-refit is retried (a re-run keeps the lists already stored): the
# decorator's delays up to 2, 4, 8, 16, 32 s (jittered) ride out an outage of about a minute.
@background_task("predictive.nightly_refit", time_limit_s=30 * 60, soft_time_limit_s=25 * 60)
def nightly_refit(
    session: Session, day: str | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """Fit and store one list per agency for ``day`` (ISO date); a re-run adds nothing."""
    out = nightly_refit_run(session, day=date.fromisoformat(day) if day else None, force=force)
    log.info("nightly refit: %s", out)
    return out


@background_task(
    "predictive.run_backtest",
    time_limit_s=JOB_TIME_LIMIT_S,
    soft_time_limit_s=JOB_TIME_LIMIT_S - 120,
)
def run_backtest(session: Session, job_id: int) -> int:
    """Run backtest job ``job_id`` (a finished one is left alone; a failure is kept on it)."""
    run_job(session, job_id=job_id, limits=or_default(None))
    return job_id
