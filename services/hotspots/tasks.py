"""Celery tasks of the hotspots service: ids in, ids out; each opens its own session."""

from __future__ import annotations

from shared.celery_app import TRANSIENT_ERRORS, celery_app


@celery_app.task(
    name="hotspots.compute_surface",
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=28 * 60,
    # A PostGIS restart mid-run leaves the run "running"; retrying computes it again. Delays up
    # to 2, 4, 8, 16, 32 s (jittered) ride out an outage of about a minute.
    max_retries=5,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
)
def compute_surface(run_id: int) -> int:
    """Compute surface run ``run_id`` (idempotent: a finished run is left alone)."""
    from services.hotspots.service import run_surface
    from shared.db import task_session
    from shared.settings import HotspotsSettings

    settings = HotspotsSettings()
    with task_session(settings.database_url) as session:
        run_surface(session, run_id, output_dir=settings.output_dir)
    return run_id


@celery_app.task(
    name="hotspots.fail_stale_runs",
    acks_late=True,
    time_limit=120,
    soft_time_limit=100,
    ignore_result=True,
    max_retries=3,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
)
def fail_stale_runs() -> list[int]:
    """Mark surface runs that no worker will finish as failed (beat, every 10 minutes)."""
    from services.hotspots.service import fail_stale_runs as sweep
    from shared.db import task_session
    from shared.settings import HotspotsSettings

    with task_session(HotspotsSettings().database_url) as session:
        return sweep(session)
