"""Backtest jobs in the database: plan and queue one (checked before it is queued), read them.

Keyword-only use cases, session first. Queueing commits once at its end; reading never writes.
The worker's side (running a queued job) is ``jobs.run_job``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import agency_area, find_agency, get_agency
from services.predictive.compute.areas import check_area_cells
from services.predictive.dates import epoch_days, local_midnight
from services.predictive.diagnostics.backtests.schemas import (
    MAX_CELL_FITS,
    MAX_FITS,
    BacktestCreate,
    BacktestProgress,
    BacktestRead,
)
from services.predictive.lists.period import DataPeriod, incident_period
from services.predictive.models import Agency, BacktestJob, BacktestStatus
from shared.errors import Conflict, InvalidInput, NotFound
from shared.extent import GridTooLarge
from shared.idempotency import insert_once, scoped_key
from shared.incidents.models import Incident
from shared.incidents.registry import Precision

# The fits see the incidents of the year before the first origin day, as a daily list does.
TRAINING_DAYS = 365
# Incidents dated by month only (police files): each forecast covers four weeks, a week apart.
MONTH_HORIZON_DAYS = 28
MONTH_STEP_DAYS = 7
KEY_CONSTRAINT = "uq_backtest_jobs_idempotency_key"
# A job's time limit on the worker (the task is stopped then); a job still "running" a minute
# after it has stalled: its worker died before it could record the end.
JOB_TIME_LIMIT_S = 30 * 60
STALLED_AFTER = timedelta(seconds=JOB_TIME_LIMIT_S + 60)


def field_error(field: str, message: str, **extra: Any) -> InvalidInput:
    """A 422 about ``field``: detail ``"<field>: <message>"`` and one field-level error."""
    return InvalidInput(
        f"{field}: {message}", errors=[{"field": field, "message": message}], extra=extra
    )


def origin_days(date_from: date, date_to: date, step_days: float) -> np.ndarray:
    """The origins (days since the epoch, each a Medway midnight) from ``date_from`` to
    ``date_to`` inclusive, ``step_days`` apart, as the backtest makes them."""
    start = epoch_days(local_midnight(date_from))
    end = epoch_days(local_midnight(date_to + timedelta(days=1)))
    return np.arange(start, end, step_days, dtype=np.float64)


@dataclass(frozen=True)
class Plan:
    """A checked request: the agency and the parameters the job will run with."""

    agency: Agency
    params: dict[str, Any]
    origins_total: int


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _check_data(agency: Agency, period: DataPeriod, body: BacktestCreate, horizon: int) -> None:
    """Refuse a window the incident data do not cover, saying what period they do cover."""
    name = agency.name
    if period.first is None or period.last is None:
        raise field_error("agency", f"no incident data for {name} at all: import incidents first")
    held = (
        f"{name}'s incident data run from {period.first.isoformat()} to {period.last.isoformat()}"
    )
    last_origin = period.last - timedelta(days=horizon - 1)
    length = (body.date_to - body.date_from).days
    suggested = {
        "data_from": period.first.isoformat(),
        "data_to": period.last.isoformat(),
        "suggested_from": (last_origin - timedelta(days=length)).isoformat(),
        "suggested_to": last_origin.isoformat(),
    }
    if body.date_from > period.last or body.date_to < period.first:
        raise field_error("from", f"no incident data for this window: {held}", **suggested)
    if body.date_from <= period.first:
        raise field_error(
            "from",
            f"no incident data before {body.date_from.isoformat()} to fit on: {held}; start "
            "the backtest later so that the fits have incidents before its first origin day",
            **suggested,
        )


def month_only(
    session: Session,
    *,
    categories: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
) -> bool:
    """Whether every incident of ``categories`` (all when empty) from ``start`` to ``end`` is
    dated by month only (police files); False when there is none."""
    q = select(Incident.time_precision).distinct()
    if categories:
        q = q.where(Incident.category.in_(list(categories)))
    if start is not None:
        q = q.where(Incident.occurred_at >= start)
    if end is not None:
        q = q.where(Incident.occurred_at < end)
    kinds = {str(p) for p in session.scalars(q)}
    return bool(kinds) and kinds <= {str(Precision.MONTH)}


def default_window(period: DataPeriod, *, by_month: bool) -> tuple[date, date] | None:
    """A period of origin days to offer: the newest the data cover (28 days; 13 weeks when the
    data are dated by month), its first day after the data's first; None without data."""
    if period.first is None or period.last is None:
        return None
    horizon = MONTH_HORIZON_DAYS if by_month else 1
    last = period.last - timedelta(days=horizon - 1)
    first = max(last - timedelta(days=(91 if by_month else 28) - 1), period.first + timedelta(1))
    return (first, last) if first <= last else None


def plan(session: Session, *, agency: Agency, body: BacktestCreate, max_cells: int) -> Plan:
    """Check a request against the data and the limits; the parameters the job runs with.

    Refused with a 422 naming the field: an agency without a loaded area, a grid over the cell
    limit, a window the incident data do not cover (the period they cover is named), too much
    work (origin days x methods, and x cells).
    """
    cell = float(body.cell_size_m or agency.cell_size_m)
    area = agency_area(session, agency=agency)
    if area is None:
        raise field_error(
            "agency", "no partnership area is loaded: run `csp predict load-boundaries` first"
        )
    try:
        nx, ny = check_area_cells(area, cell, max_cells, what="backtest's grid")
    except GridTooLarge as exc:
        raise field_error("cell_size_m", str(exc)) from exc
    by_month = month_only(
        session,
        categories=list(agency.categories),
        start=local_midnight(body.date_from - timedelta(days=TRAINING_DAYS)),
        end=local_midnight(body.date_to + timedelta(days=1)),
    )
    horizon = body.horizon_days or (MONTH_HORIZON_DAYS if by_month else 1)
    step = body.step_days or (MONTH_STEP_DAYS if by_month else 1)
    origins = origin_days(body.date_from, body.date_to, step).size
    methods = list(dict.fromkeys(body.methods))
    fits = origins * len(methods)
    if fits > MAX_FITS:
        raise field_error(
            "methods",
            f"{origins} origin days x {len(methods)} methods is {fits:,} fits; at most "
            f"{MAX_FITS:,} are accepted: shorten the period, take a longer step or fewer methods",
        )
    if fits * nx * ny > MAX_CELL_FITS:
        raise field_error(
            "cell_size_m",
            f"{fits:,} fits over {nx * ny:,} boxes is {fits * nx * ny:,} box scores; at most "
            f"{MAX_CELL_FITS:,} are accepted: take bigger boxes, a shorter period or fewer methods",
        )
    period = incident_period(session, categories=list(agency.categories))
    _check_data(agency, period, body, horizon)
    params = {
        "methods": methods,
        "k_boxes": body.k_boxes or agency.boxes_per_day,
        "area_shares": sorted(body.area_shares),
        "horizon_days": horizon,
        "step_days": step,
        "cell_size_m": cell,
        "categories": list(agency.categories),
        "month_only": by_month,
        "data_from": _day(period.first),
        "data_to": _day(period.last),
        "request": body.model_dump(mode="json", by_alias=True),
    }
    return Plan(agency, params, origins)


def _agency_for(session: Session, code: str) -> Agency:
    try:
        found = find_agency(session, code=code)
    except NotFound as exc:
        raise field_error("agency", exc.detail) from exc
    return found or get_agency(session, code=code)


def _replay(found: BacktestJob, body: BacktestCreate) -> BacktestJob:
    if found.params.get("request") != body.model_dump(mode="json", by_alias=True):
        raise Conflict(
            "This Idempotency-Key was used for a different backtest; send a new key for a new one"
        )
    return found


def create_backtest(
    session: Session,
    *,
    body: BacktestCreate,
    actor: str,
    caller: int | str,
    idempotency_key: str | None,
    max_cells: int,
) -> tuple[BacktestJob, bool]:
    """Queue a backtest (checked first); the same key (per caller) returns the first job.

    Returns (job, created). Commits once.
    """
    key = scoped_key(caller, idempotency_key)
    if key is not None:
        found = session.scalars(select(BacktestJob).where(BacktestJob.idempotency_key == key))
        first = found.first()
        if first is not None:
            return _replay(first, body), False
    checked = plan(
        session, agency=_agency_for(session, body.agency), body=body, max_cells=max_cells
    )
    job = BacktestJob(
        agency_id=checked.agency.id,
        status=BacktestStatus.QUEUED,
        date_from=body.date_from,
        date_to=body.date_to,
        params=checked.params,
        origins_total=checked.origins_total,
        origins_done=0,
        created_by=actor[:240],
        idempotency_key=key,
        created_at=datetime.now(UTC),
    )
    if not insert_once(session, job, KEY_CONSTRAINT):
        # A concurrent retry with the same key won the race: answer with its job.
        first = session.scalars(select(BacktestJob).where(BacktestJob.idempotency_key == key)).one()
        session.commit()
        return _replay(first, body), False
    session.commit()
    return job, True


def get_backtest(session: Session, *, job_id: int) -> BacktestJob:
    """One job, or NotFound."""
    job = session.get(BacktestJob, job_id)
    if job is None:
        raise NotFound(f"No backtest {job_id}")
    return job


def list_backtests(
    session: Session, *, agency_code: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[BacktestJob], int]:
    """Jobs newest first (of one agency when given), and how many there are."""
    cond = []
    if agency_code:
        cond.append(BacktestJob.agency_id.in_(select(Agency.id).where(Agency.code == agency_code)))
    total = int(session.scalar(select(func.count()).select_from(BacktestJob).where(*cond)) or 0)
    rows = session.scalars(
        select(BacktestJob).where(*cond).order_by(BacktestJob.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def stalled(job: BacktestJob, now: datetime | None = None) -> bool:
    """Whether a "running" job has outlived its time limit (its worker died)."""
    if job.status != BacktestStatus.RUNNING or job.started_at is None:
        return False
    return (now or datetime.now(UTC)) - job.started_at > STALLED_AFTER


def job_message(job: BacktestJob) -> str:
    """Where the job is, in one sentence for people."""
    done, total = job.origins_done, job.origins_total
    days = "origin day" if total == 1 else "origin days"
    if job.status == BacktestStatus.QUEUED:
        return f"Waiting for a worker to start it ({total} {days})."
    if stalled(job):
        return (
            f"Stalled: its worker stopped after {done} of {total} {days} without finishing; "
            "start the backtest again."
        )
    if job.status == BacktestStatus.RUNNING:
        return f"Running: {done} of {total} {days} done."
    if job.status == BacktestStatus.DONE:
        return f"Done: {total} {days}."
    return f"Failed: {job.error or 'see the worker log'}"


def job_read(
    session: Session,
    job: BacktestJob,
    *,
    with_results: bool = True,
    agency_code: str | None = None,
) -> BacktestRead:
    """A job as the API shows it, with links (the plot once done).

    With ``agency_code`` given it reads nothing more from the database (so a handler that has
    just committed holds no connection while an in-process job runs after its response).
    """
    code = agency_code or session.scalar(select(Agency.code).where(Agency.id == job.agency_id))
    links = {"self": f"/backtests/{job.id}", "page": f"/backtests/page?job={job.id}"}
    if job.status == BacktestStatus.DONE:
        links["plot"] = f"/backtests/{job.id}/plot.png"
    total = max(job.origins_total, 1)
    return BacktestRead(
        id=job.id,
        agency=code or "",
        status=BacktestStatus(job.status),
        message=job_message(job),
        stalled=stalled(job),
        date_from=job.date_from,
        date_to=job.date_to,
        progress=BacktestProgress(
            origins_done=job.origins_done,
            origins_total=job.origins_total,
            fraction=job.origins_done / total,
        ),
        params={k: v for k, v in job.params.items() if k != "request"},
        results=job.results if with_results else None,
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        links=links,
    )


def plot_png(session: Session, *, job_id: int) -> bytes:
    """The PNG plot of a finished job; Conflict (409) while it is not done."""
    job = get_backtest(session, job_id=job_id)
    if job.status != BacktestStatus.DONE or job.plot_png is None:
        raise Conflict(f"Backtest {job_id} has no plot yet ({job_message(job)})")
    return job.plot_png
