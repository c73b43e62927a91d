"""Celery tasks of the hotspots service: ids in, ids out; ``shared.tasks.background_task``
opens each one's session and carries the retry policy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.hotspots.comparisons.execute import run_comparison
from services.hotspots.limits import Limits
from services.hotspots.runs.execute import run_surface
from services.hotspots.runs.leases import COMPARISONS, new_owner, sweep_stale_runs
from services.hotspots.settings import HotspotsSettings
from shared.tasks import background_task


@background_task(
    "hotspots.compute_surface",
    time_limit_s=30 * 60,
    soft_time_limit_s=28 * 60,
    # A PostGIS restart mid-run leaves the run "running" under this task's lease; retrying
    # (same task id, so the same lease) computes it again. Delays up to 2, 4, 8, 16, 32 s
    # (jittered) ride out an outage of about a minute.
    max_retries=5,
    retry_backoff_s=2,
)
def compute_surface(session: Session, run_id: int, *, task_id: str | None = None) -> int:
    """Compute surface run ``run_id``: a finished run, or one a live worker holds, is left alone;
    one whose worker died (lease lapsed) is taken over and computed again."""
    settings = HotspotsSettings()
    run_surface(
        session,
        run_id,
        output_dir=settings.output_dir,
        limits=Limits.of(settings),
        owner=new_owner(task_id),
    )
    return run_id


@background_task(
    "hotspots.compare_periods",
    time_limit_s=30 * 60,
    soft_time_limit_s=28 * 60,
    max_retries=5,
    retry_backoff_s=2,
)
def compare_periods(session: Session, comparison_id: int, *, task_id: str | None = None) -> int:
    """Compute comparison ``comparison_id`` of two periods, under a lease as a surface run is."""
    settings = HotspotsSettings()
    run_comparison(
        session,
        comparison_id,
        output_dir=settings.output_dir,
        limits=Limits.of(settings),
        owner=new_owner(task_id),
    )
    return comparison_id


@background_task(
    "hotspots.fail_stale_runs",
    time_limit_s=120,
    soft_time_limit_s=100,
    max_retries=3,
    retry_backoff_s=5,
    ignore_result=True,
)
def fail_stale_runs(session: Session) -> list[int]:
    """Beat, every 10 minutes: send runs (and comparisons) whose worker died (lease lapsed) to a
    worker again; fail those interrupted too often or never picked up. Returns the runs failed."""
    done = sweep_stale_runs(session)
    for run_id in done.requeued:
        compute_surface.delay(run_id)
    compared = sweep_stale_runs(session, table=COMPARISONS)
    for comparison_id in compared.requeued:
        compare_periods.delay(comparison_id)
    return done.failed
