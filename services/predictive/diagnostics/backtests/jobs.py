"""Running a queued backtest job (the worker's side): mark it running, read the agency's
incidents, backtest each method over the origin days while recording how many are done, store
the results and the plot, and record a failure on the job in words.

A finished job is never run again; a job redelivered while "running" (its worker died, or
PostGIS went away) is run again from its first origin day.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.predictive.agencies.service import agency_area, ward_areas
from services.predictive.compute.areas import area_grid
from services.predictive.compute.backtest import BacktestResult, backtest_scorers
from services.predictive.compute.events import Events
from services.predictive.compute.methods import AUTO, default_methods
from services.predictive.compute.scorer import FitReport, Scorer
from services.predictive.compute.selection import resolve_method
from services.predictive.dates import epoch_days, local_midnight
from services.predictive.diagnostics.backtests.results import build_results
from services.predictive.diagnostics.backtests.service import TRAINING_DAYS, origin_days
from services.predictive.limits import Limits
from services.predictive.models import Agency, BacktestJob, BacktestStatus
from shared.db_errors import is_database_down
from shared.errors import AppError, InvalidInput
from shared.extent import GridTooLarge, OutsideExtent
from shared.grid import Grid
from shared.incidents.store import load_points

log = logging.getLogger("csp.predictive.backtests")
FINISHED = (BacktestStatus.DONE, BacktestStatus.FAILED)


class CountingScorer:
    """A scorer that reports each origin day it has scored (wrapping the backtest's last method,
    whose scoring ends an origin day); everything else is the wrapped scorer's."""

    def __init__(self, inner: Scorer, on_done: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_done = on_done
        self._origin: float | None = None
        self._done: set[float] = set()

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Fit the wrapped scorer; remember the origin day."""
        self._origin = as_of_days
        return self._inner.fit(events, grid, as_of_days)

    def score(self, horizon_days: float) -> Any:
        """Score with the wrapped scorer; the origin day is done (told once per day)."""
        out = self._inner.score(horizon_days)
        if self._origin is not None and self._origin not in self._done:
            self._done.add(self._origin)
            self._on_done(len(self._done))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _record_progress(session: Session, job: BacktestJob, done: int) -> None:
    """Store how many origin days are done (a commit of its own, so readers see it now)."""
    session.execute(
        update(BacktestJob)
        .where(BacktestJob.id == job.id)
        .values(origins_done=min(done, job.origins_total))
    )
    session.commit()


def _labels(
    events: Events, grid: Grid, methods: list[str], start: float
) -> tuple[dict[str, str], list[str]]:
    """Each requested method's fitted method ("auto" resolved on the events before the first
    origin day only: no look-ahead), and notes on the choice."""
    labels: dict[str, str] = {}
    notes: list[str] = []
    for m in methods:
        if m == AUTO:
            chosen, warns = resolve_method(
                events.select(events.t_days < start), grid, requested=AUTO
            )
            labels[f"auto ({chosen})"] = chosen
            notes.append(f"auto chose {chosen} on the incidents before the first origin day.")
            notes.extend(warns)
        else:
            labels[m] = m
    return labels, notes


def _plot(result: BacktestResult) -> bytes:
    """The backtest's own PNG of hit rate against area share, as bytes."""
    with tempfile.TemporaryDirectory(prefix="csp-backtest-") as tmp:
        path = Path(tmp) / "plot.png"
        result.plot_png(path)
        return path.read_bytes()


def compute(
    session: Session, job: BacktestJob, *, limits: Limits, on_progress: Callable[[int], None]
) -> tuple[dict[str, Any], bytes]:
    """Backtest the job's methods on its agency's incidents; (results, plot PNG)."""
    agency = session.get(Agency, job.agency_id)
    assert agency is not None  # the job's foreign key cascades
    p = job.params
    area = agency_area(session, agency=agency)
    if area is None:
        raise InvalidInput("no partnership area is loaded: run `csp predict load-boundaries`")
    grid, mask = area_grid(
        area, float(p["cell_size_m"]), max_cells=limits.max_cells, what="backtest's grid"
    )
    step, horizon = float(p["step_days"]), float(p["horizon_days"])
    origins = origin_days(job.date_from, job.date_to, step)
    end = local_midnight(job.date_to + timedelta(days=1))
    pts = load_points(
        session,
        categories=list(p["categories"]) or None,
        start=local_midnight(job.date_from - timedelta(days=TRAINING_DAYS)),
        end=end + timedelta(days=horizon),
        bbox_m=grid.bounds,
    )
    events = Events(pts.x, pts.y, pts.t_days(), pts.weight)
    start = float(origins[0])
    labels, notes = _labels(events, grid, list(p["methods"]), start)
    fitted = list(dict.fromkeys(labels.values()))
    scorers: dict[str, Scorer] = {}
    for m in fitted:
        sized = {"k_boxes": int(p["k_boxes"])} if default_methods.get(m).takes_k_boxes else {}
        scorers[m] = default_methods.make(m, **sized)
    scorers[fitted[-1]] = CountingScorer(scorers[fitted[-1]], on_progress)
    result = backtest_scorers(
        events,
        grid,
        scorers=scorers,
        start_days=start,
        end_days=epoch_days(end),
        step_days=step,
        horizon_days=horizon,
        k_boxes=int(p["k_boxes"]),
        fractions=tuple(float(f) for f in p["area_shares"]),
        mask=mask,
    )
    result.methods = fitted
    data_to = datetime.fromisoformat(p["data_to"]).date() if p.get("data_to") else None
    data_end = None if data_to is None else epoch_days(local_midnight(data_to + timedelta(days=1)))
    results = build_results(
        result,
        labels=labels,
        grid=grid,
        wards=ward_areas(session),
        origins=origins.tolist(),
        n_events=len(events),
        notes=notes,
        step_days=step,
        data_to=data_to,
        data_end_days=data_end,
    )
    return results, _plot(result)


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, AppError):
        return exc.detail
    if isinstance(exc, GridTooLarge | OutsideExtent | ValueError):
        return str(exc)[:500]
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        return "it ran past its time limit: shorten the period, take a longer step or fewer methods"
    log.exception("backtest failed")
    return f"internal error ({type(exc).__name__}); see the worker log"


def _fail(session: Session, job_id: int, exc: Exception) -> None:
    message = _failure_message(exc)
    job = session.get(BacktestJob, job_id, populate_existing=True)
    if job is None:
        return
    job.status, job.error, job.finished_at = BacktestStatus.FAILED, message, datetime.now(UTC)
    session.commit()


def run_job(session: Session, *, job_id: int, limits: Limits) -> BacktestJob | None:
    """Run a queued (or interrupted) job to its end; a finished one is left alone.

    Returns the job, or None when there is no such job. A database outage is raised (the task
    retries the job); any other failure is recorded on the job in words.
    """
    job = session.get(BacktestJob, job_id, populate_existing=True)
    if job is None:
        log.warning("backtest %s: no such job", job_id)
        return None
    if job.status in FINISHED:
        return job
    job.status, job.started_at = BacktestStatus.RUNNING, datetime.now(UTC)
    job.origins_done, job.error = 0, None
    session.commit()
    running = job
    try:
        results, png = compute(
            session, job, limits=limits, on_progress=lambda n: _record_progress(session, running, n)
        )
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
        session.rollback()
        if is_database_down(exc):
            raise
        _fail(session, job_id, exc)
        return session.get(BacktestJob, job_id)
    job = session.get(BacktestJob, job_id, populate_existing=True)
    assert job is not None
    job.results, job.plot_png = results, png
    job.status, job.origins_done = BacktestStatus.DONE, job.origins_total
    job.finished_at = datetime.now(UTC)
    session.commit()
    log.info("backtest %s done: %d origin days", job_id, job.origins_total)
    return job
