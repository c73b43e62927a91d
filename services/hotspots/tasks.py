"""Celery tasks of the hotspots service: ids in, ids out; each opens its own session."""

from __future__ import annotations

from celery import Task

from shared.celery_app import TRANSIENT_ERRORS, celery_app


@celery_app.task(
    name="hotspots.compute_surface",
    bind=True,
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=28 * 60,
    # A PostGIS restart mid-run leaves the run "running" under this task's lease; retrying
    # (same task id, so the same lease) computes it again. Delays up to 2, 4, 8, 16, 32 s
    # (jittered) ride out an outage of about a minute.
    max_retries=5,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
)
def compute_surface(self: Task, run_id: int) -> int:
    """Compute surface run ``run_id``: a finished run, or one a live worker holds, is left alone;
    one whose worker died (lease lapsed) is taken over and computed again."""
    from services.hotspots.leases import new_owner
    from services.hotspots.limits import Limits
    from services.hotspots.service import run_surface
    from shared.db import task_session
    from shared.settings import HotspotsSettings

    settings = HotspotsSettings()
    owner = new_owner(getattr(self.request, "id", None))
    with task_session(settings.database_url) as session:
        run_surface(session, run_id, output_dir=settings.output_dir,
                    limits=Limits.of(settings), owner=owner)
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
    """Beat, every 10 minutes: send runs whose worker died (lease lapsed) to a worker again;
    fail those interrupted too often or never picked up. Returns the runs failed."""
    from services.hotspots.leases import sweep_stale_runs
    from shared.db import task_session
    from shared.settings import HotspotsSettings

    with task_session(HotspotsSettings().database_url) as session:
        done = sweep_stale_runs(session)
    for run_id in done.requeued:
        compute_surface.delay(run_id)
    return done.failed
