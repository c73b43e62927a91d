"""The job kit of the hotspots service: a surface run and a comparison of two periods are both
background jobs (a ``_Job`` table each), and go through the same steps here.

Queue one row per idempotency key (a concurrent retry that loses the race to the unique key gets
the winner's row); send it to Celery, or compute it in-process in eager (demo/test) mode; compute
it under a lease (``runs.leases``) renewed by a heartbeat; record it done, or failed with a
user-safe message. What differs between the kinds (model, table, names in messages) is a
``JobKind``; what a job computes stays with its domain (``runs.execute``, ``comparisons.execute``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.hotspots.enums import RunStatus
from services.hotspots.models import SurfaceComparison, SurfaceRun
from services.hotspots.runs import leases
from shared.db_errors import is_database_down
from shared.errors import AppError, Conflict, NotFound, ServiceUnavailable
from shared.extent import GridTooLarge, OutsideExtent
from shared.grid import Grid
from shared.idempotency import scoped_key

log = logging.getLogger("csp.hotspots")

JobRow = TypeVar("JobRow", SurfaceRun, SurfaceComparison)


@dataclass(frozen=True)
class JobKind(Generic[JobRow]):
    """One kind of job: its table, and how messages name it ("surface run" / "Run")."""

    model: type[JobRow]
    table: str  # one of leases.JOB_TABLES
    noun: str  # in log lines and "No <noun> 7"
    title: str  # first word of a message about one job: "Run 7 is queued ..."


SURFACE_RUNS = JobKind(SurfaceRun, leases.SURFACES, "surface run", "Run")
COMPARISONS = JobKind(SurfaceComparison, leases.COMPARISONS, "comparison", "Comparison")


def get(session: Session, kind: JobKind[JobRow], job_id: int) -> JobRow:
    """One job or NotFound."""
    row = session.get(kind.model, job_id)
    if row is None:
        raise NotFound(f"No {kind.noun} {job_id}")
    return row


def newest_first(
    session: Session, kind: JobKind[JobRow], *, limit: int, offset: int
) -> tuple[list[JobRow], int]:
    """A page of jobs newest first, and how many there are."""
    model = kind.model
    total = int(session.scalar(select(func.count()).select_from(model)) or 0)
    rows = session.scalars(select(model).order_by(model.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def output_file(row: SurfaceRun | SurfaceComparison, *, output_dir: Path, missing: str) -> Path:
    """Absolute path of a job's output file, checked to lie inside ``output_dir``; NotFound with
    the user-safe ``missing`` when it does not or is gone."""
    root = Path(output_dir).resolve()
    path = (root / (row.tif_path or "")).resolve()
    if not row.tif_path or not path.is_relative_to(root) or not path.is_file():
        raise NotFound(missing, internal=f"tif {path} outside {root} or gone")
    return path


def queue(
    session: Session,
    kind: JobKind[JobRow],
    *,
    params: dict[str, Any],
    actor: str | None,
    idempotency_key: str | None,
) -> tuple[JobRow, bool]:
    """Store a queued job and commit; the same key (per caller) returns the first job instead.

    The key is scoped to the actor (a digest, never a truncation); the same key with other
    parameters is a Conflict. Returns the job and whether it was created now.
    """
    model = kind.model
    key = scoped_key(actor, idempotency_key)
    if key is not None:
        found = session.scalars(select(model).where(model.idempotency_key == key)).first()
        if found is not None:
            if found.params != params:
                raise Conflict("This Idempotency-Key was used with different parameters")
            return found, False
    row = model(
        status=RunStatus.QUEUED,
        progress=0.0,
        params=params,
        created_by=actor,
        idempotency_key=key,
        stats={},
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent retry with the same key won the race: return its job.
        return session.scalars(select(model).where(model.idempotency_key == key)).one(), False
    session.commit()
    return row, True


def start(
    kind: JobKind[JobRow],
    row: JobRow,
    *,
    created: bool,
    eager: bool,
    compute: Callable[[], JobRow],
    send: Callable[[], object],
) -> JobRow:
    """Set a job going once it is new or still queued: ``compute`` it in-process when ``eager``,
    else ``send`` it to the queue; a broker that cannot be reached is a 503 (the job stays
    queued and a retry of the POST with the same key sends it again)."""
    if not (created or row.status == RunStatus.QUEUED):
        return row
    if eager:
        return compute()
    try:
        send()
    except Exception as exc:  # noqa: BLE001 - broker down: the job stays queued
        raise ServiceUnavailable(
            f"{kind.title} {row.id} is queued but the job queue cannot be reached; retry the "
            "POST with the same Idempotency-Key",
            internal=repr(exc),
        ) from exc
    return row


def read_fields(row: SurfaceRun | SurfaceComparison) -> dict[str, Any]:
    """What the API shows of any job beside its stats and links."""
    return {
        "id": row.id,
        "status": RunStatus(row.status),
        "progress": row.progress,
        "parameters": row.params,
        "error": row.error,
        "message": leases.run_message(row),
        "attempts": row.attempts or 0,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


def execute(
    session: Session,
    kind: JobKind[JobRow],
    job_id: int,
    *,
    owner: str | None,
    work: Callable[[JobRow, str], None],
) -> JobRow:
    """Run ``work(row, owner)`` on a job under its lease, renewed by a heartbeat while it runs.

    A finished job, or one a live worker holds, is left alone; a "running" one whose lease
    lapsed (its worker died) is taken over and computed again. ``owner`` names the caller's
    lease (the Celery task id keeps it across the task's own retries). A failure is recorded on
    the job, except a database outage, which is raised for the task to retry.
    """
    me = owner or leases.new_owner()
    row = session.get(kind.model, job_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"No {kind.noun} {job_id}")
    if leases.take(session, row, owner=me) != "mine":
        return row
    bind = session.get_bind()
    # The heartbeat needs its own connection: only when the session has an engine behind it
    # (a worker, the demo), not a test's single connection.
    heart = (
        leases.Heartbeat(bind, job_id, me, table=kind.table) if isinstance(bind, Engine) else None
    )
    try:
        if heart:
            heart.__enter__()
        work(row, me)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
        session.rollback()
        if is_database_down(exc):
            # Transient, and it cannot be recorded anyway: the task retries the job, which is
            # still "running" under our lease and so is computed again.
            raise
        fail(session, kind, job_id, exc, owner=me)
    finally:
        if heart:
            heart.__exit__(None, None, None)
    return get(session, kind, job_id)


def renew(
    session: Session, kind: JobKind[Any], job_id: int, owner: str, *, fraction: float, stage: str
) -> None:
    """Record a job's progress and extend its lease while ``owner`` holds it; commits."""
    leases.renew(session, job_id, owner, fraction=fraction, stage=stage, table=kind.table)


def still_mine(session: Session, kind: JobKind[Any], job_id: int, owner: str) -> bool:
    """Lock the job; False (rolled back, logged) when another worker took it over meanwhile."""
    if leases.still_mine(session, job_id, owner, table=kind.table):
        return True
    log.warning(
        "%s %s was taken over while %s computed it; result dropped", kind.noun, job_id, owner
    )
    session.rollback()
    return False


def done_stats(
    stats: dict[str, Any], grid: Grid, *, computed: dict[str, Any], selection: dict[str, Any]
) -> dict[str, Any]:
    """A finished job's stats: the result's (but the progress stage), its grid, the parameters
    it computed with and the incidents it selected."""
    g = grid
    return {k: v for k, v in stats.items() if k != "stage"} | {
        "grid": {"cell_m": g.cell_size_m, "x0": g.x0, "y0": g.y0, "nx": g.nx, "ny": g.ny},
        "computed": computed,
        "selection": selection,
    }


def finish(session: Session, row: JobRow, *, tif_path: Path, stats: dict[str, Any]) -> None:
    """Record a job done with its output file (relative to the output folder) and stats; commits."""
    session.refresh(row)
    row.tif_path = str(tif_path)
    row.stats = stats
    row.status, row.progress, row.finished_at = RunStatus.DONE, 1.0, datetime.now(UTC)
    row.lease_owner = row.lease_until = None
    session.commit()


def fail(session: Session, kind: JobKind[Any], job_id: int, exc: Exception, *, owner: str) -> None:
    """Record a job failed with a user-safe message (the internal one goes to the log), unless
    another worker took it over meanwhile; commits."""
    if isinstance(exc, AppError):
        message = exc.detail
    elif isinstance(exc, GridTooLarge | OutsideExtent):
        message = str(exc)
    else:
        log.exception("%s %s failed", kind.noun, job_id)
        message = f"internal error ({type(exc).__name__}); see the worker log"
    if not leases.still_mine(session, job_id, owner, table=kind.table):
        session.rollback()
        return
    row = get(session, kind, job_id)
    session.refresh(row)
    row.status, row.error, row.finished_at = RunStatus.FAILED, message, datetime.now(UTC)
    row.lease_owner = row.lease_until = None
    session.commit()
