"""Celery tasks of the hotspots service: ids in, ids out; ``shared.tasks.background_task``
opens each one's session and carries the retry policy. ``start_job`` is the API's way in: it
sends a new (or still queued) job to its task, or computes it in-process in eager mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from services.hotspots import jobs
from services.hotspots.comparisons.execute import run_comparison
from services.hotspots.limits import Limits
from services.hotspots.runs.execute import run_surface
from services.hotspots.runs.leases import new_owner, sweep_stale_runs
from services.hotspots.settings import HotspotsSettings
from shared.tasks import background_task

# Both jobs: 30 min hard limit. A PostGIS restart mid-job leaves it "running" under this task's
# lease; retrying (same task id, so the same lease) computes it again. Delays up to 2, 4, 8, 16,
# 32 s (jittered) ride out an outage of about a minute.
JOB_TASK = dict(time_limit_s=30 * 60, soft_time_limit_s=28 * 60, max_retries=5, retry_backoff_s=2)


def _execute(
    execute: Callable[..., Any], session: Session, job_id: int, task_id: str | None
) -> int:
    """Compute job ``job_id`` with ``execute`` on the worker's settings, under the task's lease."""
    settings = HotspotsSettings()
    execute(
        session,
        job_id,
        output_dir=settings.output_dir,
        limits=Limits.of(settings),
        owner=new_owner(task_id),
    )
    return job_id


@background_task("hotspots.compute_surface", **JOB_TASK)
def compute_surface(session: Session, run_id: int, *, task_id: str | None = None) -> int:
    """Compute surface run ``run_id``: a finished run, or one a live worker holds, is left alone;
    one whose worker died (lease lapsed) is taken over and computed again."""
    return _execute(run_surface, session, run_id, task_id)


@background_task("hotspots.compare_periods", **JOB_TASK)
def compare_periods(session: Session, comparison_id: int, *, task_id: str | None = None) -> int:
    """Compute comparison ``comparison_id`` of two periods, under a lease as a surface run is."""
    return _execute(run_comparison, session, comparison_id, task_id)


# Per kind of job: how it is computed and the task that computes it.
_RUNNERS: dict[str, tuple[Callable[..., Any], Any]] = {
    jobs.SURFACE_RUNS.table: (run_surface, compute_surface),
    jobs.COMPARISONS.table: (run_comparison, compare_periods),
}


def start_job(
    session: Session,
    kind: jobs.JobKind[jobs.JobRow],
    row: jobs.JobRow,
    created: bool,
    eager: bool,
    output_dir: Path,
    limits: Limits,
) -> jobs.JobRow:
    """Set a job just queued (or found still queued) going: computed now in eager (demo/test)
    mode, else sent to its task; a finished or running one is returned as it is."""
    execute, task = _RUNNERS[kind.table]

    def compute() -> jobs.JobRow:
        done: jobs.JobRow = execute(session, row.id, output_dir=output_dir, limits=limits)
        return done

    return jobs.start(
        kind, row, created=created, eager=eager, compute=compute, send=lambda: task.delay(row.id)
    )


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
    compared = sweep_stale_runs(session, table=jobs.COMPARISONS.table)
    for comparison_id in compared.requeued:
        compare_periods.delay(comparison_id)
    return done.failed
