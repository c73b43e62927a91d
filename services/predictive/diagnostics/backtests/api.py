"""HTTP API of backtest jobs: start one (202 + Location), read its progress and results, its plot.

Analysts (and admins) only. A job runs on a Celery worker; in eager mode (the demo, the tests) it
runs in this process after the response is sent, so the caller polls it just the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from services.predictive.dependencies import Analyst, LimitsDep
from services.predictive.diagnostics.backtests import service
from services.predictive.diagnostics.backtests.jobs import run_job
from services.predictive.diagnostics.backtests.schemas import (
    MAX_ID,
    BacktestCreate,
    BacktestPage,
    BacktestRead,
)
from services.predictive.limits import Limits
from services.predictive.models import BacktestStatus
from shared.db import SessionDep, close_session, make_sessionmaker
from shared.errors import ServiceUnavailable
from shared.idempotency import REPLAYED_HEADER, IdempotencyKey, replay_responses
from shared.web.deps import AppSettings
from shared.web.params import Page, paging

log = logging.getLogger("csp.predictive.backtests")
router = APIRouter(tags=["predictive"])
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Backtest id")]
JobsPage = Annotated[Page, Depends(paging(default=20, maximum=100))]


def job_sessions(request: Request) -> Callable[[], Session]:
    """Sessions for jobs run in this process (eager mode): the app's own session factory."""
    factory: Callable[[], Session] | None = getattr(request.app.state, "sessionmaker", None)
    return factory or make_sessionmaker(request.app.state.engine)


JobSessions = Annotated[Callable[[], Session], Depends(job_sessions)]


def run_in_process(sessions: Callable[[], Session], job_id: int, limits: Limits) -> None:
    """Run a job here, in a session of its own (eager mode, after the response is sent)."""
    session = sessions()
    try:
        run_job(session, job_id=job_id, limits=limits)
    except Exception:  # noqa: BLE001 - nobody waits for this: the log is where it goes
        log.exception("backtest %s could not run", job_id)
    finally:
        close_session(session)


def _queue(job_id: int) -> None:
    """Send the job to a worker; with the queue down it stays queued and the client retries."""
    from services.predictive.tasks import run_backtest

    try:
        run_backtest.delay(job_id)
    except Exception as exc:  # noqa: BLE001 - broker down: the job stays queued
        raise ServiceUnavailable(
            f"Backtest {job_id} is queued but the job queue cannot be reached; retry the POST "
            "with the same Idempotency-Key",
            internal=repr(exc),
        ) from exc


@router.post(
    "/backtests",
    status_code=202,
    response_model=BacktestRead,
    responses={
        202: {"description": "Queued: poll the job at its Location"},
        **replay_responses(BacktestRead),
        422: {"description": "A field is wrong, the data do not cover the window, or too big"},
        503: {"description": "The job queue cannot be reached; retry with the same key"},
    },
    summary="Start a backtest of an agency over a period (analyst, admin)",
)
def start_backtest(
    body: BacktestCreate,
    session: SessionDep,
    who: Analyst,
    limits: LimitsDep,
    settings: AppSettings,
    background: BackgroundTasks,
    sessions: JobSessions,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue a rolling-origin backtest; 202 with the job and where to poll it (``Location``).

    Checked before it is queued: the period (at most 366 origin days), the methods, the grid
    (the cell limit) and the total work; a window the incident data do not cover is a 422
    naming the period they cover. A retry with the same Idempotency-Key returns the first job
    (200, ``Idempotent-Replayed: true``).
    """
    job, created = service.create_backtest(
        session,
        body=body,
        actor=who.actor,
        caller=who.caller,
        idempotency_key=idempotency_key,
        max_cells=limits.max_cells,
    )
    if settings.celery_eager:
        if created:
            background.add_task(run_in_process, sessions, job.id, limits)
    elif created or job.status == BacktestStatus.QUEUED:
        _queue(job.id)
    read = service.job_read(session, job, agency_code=body.agency)
    headers = {"Location": read.links["self"]}
    if not created:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(
        read.model_dump(mode="json", by_alias=True),
        status_code=202 if created else 200,
        headers=headers,
    )


@router.get(
    "/backtests",
    response_model=BacktestPage,
    response_model_by_alias=True,
    summary="Backtest jobs, newest first",
)
def list_backtests(
    session: SessionDep,
    _: Analyst,
    page: JobsPage,
    agency: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> Any:
    """Jobs with their status and progress (of one agency when given); read one for results."""
    jobs, total = service.list_backtests(
        session, agency_code=agency, limit=page.limit, offset=page.offset
    )
    return BacktestPage(
        items=[service.job_read(session, j, with_results=False) for j in jobs],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/backtests/{job_id}",
    response_model=BacktestRead,
    response_model_by_alias=True,
    summary="A backtest's status, progress and results",
)
def get_backtest(job_id: JobId, session: SessionDep, _: Analyst) -> Any:
    """Status, origin days done of all, and once done the table of methods (hit rate and PAI
    at K boxes and at each area share, with bootstrap intervals), curves and boxes per ward."""
    return service.job_read(session, service.get_backtest(session, job_id=job_id))


@router.get(
    "/backtests/{job_id}/plot.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "Hit rate against area share"},
        409: {"description": "The backtest is not done yet"},
    },
    summary="A finished backtest's plot (PNG)",
)
def backtest_plot(job_id: JobId, session: SessionDep, _: Analyst) -> Response:
    """Mean hit rate against the share of the area searched, one line per method."""
    png = service.plot_png(session, job_id=job_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})
