"""Who computes a surface run: a lease the worker renews while alive, taken over once it lapses.

A worker killed mid-run (OOM, a redeploy, a lost host) leaves its run "running". Its lease then
expires within ``LEASE``; the redelivered task, or the retry the beat sweep sends, takes the run
over and computes it again, and the analyst reads "interrupted, retrying" meanwhile. A run that
was taken ``MAX_ATTEMPTS`` times is failed instead, so a run that kills its worker every time
cannot loop forever.

Comparisons of two periods are jobs of the same kind in their own table: every function takes
``table`` (one of ``JOB_TABLES``, never user text), surface runs by default.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.hotspots.enums import FINISHED, RunStatus

log = logging.getLogger("csp.hotspots")

LEASE = timedelta(minutes=2)
HEARTBEAT_S = 30.0
MAX_ATTEMPTS = 3
# A retry the sweep sent must be picked up within this long, or the run is failed.
RETRY_WAIT = timedelta(minutes=30)
# Runs from before leases existed (no lease at all): running this long means nobody holds them.
STALE_RUNNING = timedelta(minutes=40)
STALE_QUEUED = timedelta(hours=6)
RETRYING = "interrupted, retrying"

Taken = Literal["mine", "held", "finished"]

SURFACES = "surface_runs"
COMPARISONS = "surface_comparisons"
JOB_TABLES = (SURFACES, COMPARISONS)


class Job(Protocol):
    """A surface run or a comparison: the columns a lease reads and writes."""

    id: int
    status: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    attempts: int


def _table(table: str) -> str:
    """``hotspots.<table>`` for a job table (a fixed name: never from a request)."""
    if table not in JOB_TABLES:
        raise ValueError(f"not a job table: {table!r}")
    return f"hotspots.{table}"


def new_owner(task_id: str | None = None) -> str:
    """A lease owner: the Celery task id (kept across its retries and redeliveries), or unique."""
    who = f"{socket.gethostname()}:{os.getpid()}"
    return f"{task_id or uuid.uuid4().hex}@{who}"[:120]


def _task_of(owner: str) -> str:
    """The task part of a lease owner ("<task id>@<host>:<pid>")."""
    return owner.split("@", 1)[0]


def _expired(run: Job, now: datetime) -> bool:
    """True when the lease lapsed (or, for a run from before leases, it ran too long)."""
    if run.lease_until is None:
        return (run.started_at or run.created_at or now) < now - STALE_RUNNING
    return run.lease_until <= now


def take(session: Session, run: Job, *, owner: str, now: datetime | None = None) -> Taken:
    """Take the lease of ``run`` (locked FOR UPDATE by the caller) and commit.

    "mine": the caller computes it (a queued run, or a running one whose lease lapsed or that
    the sweep sent again); "held": a live worker holds it; "finished": done, or failed now
    because it was interrupted ``MAX_ATTEMPTS`` times.
    """
    at = now or datetime.now(UTC)
    if run.status in FINISHED:
        return "finished"
    # Celery hands the same task (same id) to another process only when the one that held it
    # is gone (its pool process or worker died): that holder is dead, take over at once.
    same_task = run.lease_owner is not None and _task_of(run.lease_owner) == _task_of(owner)
    held_by_other = run.lease_owner is not None and not same_task
    if run.status == RunStatus.RUNNING and held_by_other and not _expired(run, at):
        return "held"
    if run.lease_owner == owner and run.status == RunStatus.RUNNING:
        # Our own attempt again (the task's retry after a database outage): not a new attempt,
        # but the computation starts over.
        run.lease_until, run.started_at = at + LEASE, at
        session.commit()
        return "mine"
    if run.attempts >= MAX_ATTEMPTS:
        run.status, run.finished_at = RunStatus.FAILED, at
        run.error = (
            f"interrupted {run.attempts} times (the worker stopped each time); "
            "submit it again with a new Idempotency-Key"
        )
        run.lease_owner = run.lease_until = None
        session.commit()
        log.warning("surface run %s failed after %s interrupted attempts", run.id, run.attempts)
        return "finished"
    if run.status == RunStatus.RUNNING:
        log.warning("surface run %s taken over by %s (attempt %s)", run.id, owner, run.attempts + 1)
    run.status, run.started_at, run.error = RunStatus.RUNNING, at, None
    run.lease_owner, run.lease_until = owner, at + LEASE
    run.attempts += 1
    session.commit()
    return "mine"


def still_mine(session: Session, run_id: int, owner: str, *, table: str = SURFACES) -> bool:
    """Lock the run and tell whether ``owner`` still holds it (nobody took it over)."""
    row = session.execute(
        text(f"SELECT status, lease_owner FROM {_table(table)} WHERE id = :i FOR UPDATE"),
        {"i": run_id},
    ).first()
    return row is not None and row[0] == RunStatus.RUNNING and row[1] == owner


def renew(
    session: Session,
    run_id: int,
    owner: str,
    *,
    fraction: float,
    stage: str,
    table: str = SURFACES,
) -> None:
    """Record progress and extend the lease, only while ``owner`` holds it; commits."""
    session.execute(
        text(
            f"UPDATE {_table(table)} SET progress = :p, lease_until = now() + :lease, "
            "stats = coalesce(stats, '{}'::jsonb) "
            "|| jsonb_build_object('stage', CAST(:s AS text)) "
            "WHERE id = :i AND lease_owner = :o AND status = 'running'"
        ),
        {
            "p": round(min(max(fraction, 0.0), 1.0), 3),
            "lease": LEASE,
            "s": stage,
            "i": run_id,
            "o": owner,
        },
    )
    session.commit()


class Heartbeat:
    """Renew a run's lease every ``every_s`` seconds from a thread, on its own connection."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        owner: str,
        every_s: float = HEARTBEAT_S,
        *,
        table: str = SURFACES,
    ):
        self.engine, self.run_id, self.owner, self.every_s = engine, run_id, owner, every_s
        self.table = _table(table)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def beat(self) -> bool:
        """Extend the lease once; False when the run is no longer ours (or the database is down)."""
        try:
            with self.engine.begin() as conn:
                n = conn.execute(
                    text(
                        f"UPDATE {self.table} SET lease_until = now() + :lease "
                        "WHERE id = :i AND lease_owner = :o AND status = 'running'"
                    ),
                    {"lease": LEASE, "i": self.run_id, "o": self.owner},
                ).rowcount
        except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
            log.warning("lease of surface run %s not renewed", self.run_id, exc_info=True)
            return False
        return bool(n)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.beat()


@dataclass(frozen=True)
class Sweep:
    """What a sweep did: runs sent to a worker again, and runs failed (with the reason)."""

    requeued: list[int]
    failed: list[int]


def sweep_stale_runs(
    session: Session,
    *,
    now: datetime | None = None,
    queued_for: timedelta = STALE_QUEUED,
    table: str = SURFACES,
) -> Sweep:
    """Re-queue running runs whose lease lapsed (the worker died); fail the hopeless ones.

    A lapsed run interrupted fewer than ``MAX_ATTEMPTS`` times is released (no owner) for
    ``RETRY_WAIT`` and returned in ``requeued``, for the caller to send to a worker; one that
    was released and never picked up, or interrupted too often, or queued longer than
    ``queued_for`` (the queue was lost), is failed with the reason. Commits.
    """
    at = now or datetime.now(UTC)
    requeued = session.execute(
        text(
            f"UPDATE {_table(table)} SET lease_owner = NULL, lease_until = :wait_until, "
            "stats = coalesce(stats, '{}'::jsonb) "
            "|| jsonb_build_object('stage', CAST(:msg AS text)) "
            "WHERE status = 'running' AND attempts < :max AND lease_owner IS NOT NULL "
            "AND lease_until <= :at "
            "OR status = 'running' AND attempts < :max AND lease_until IS NULL "
            "AND coalesce(started_at, created_at) < :legacy_before RETURNING id"
        ),
        {
            "wait_until": at + RETRY_WAIT,
            "msg": RETRYING,
            "max": MAX_ATTEMPTS,
            "at": at,
            "legacy_before": at - STALE_RUNNING,
        },
    )
    again = sorted(int(r[0]) for r in requeued)
    failed = session.execute(
        text(
            f"UPDATE {_table(table)} SET status = 'failed', finished_at = :at, "
            "lease_owner = NULL, lease_until = NULL, error = CASE "
            "WHEN status = 'queued' THEN :queued_msg "
            "WHEN attempts >= :max THEN :attempts_msg ELSE :lost_msg END "
            "WHERE status = 'queued' AND created_at < :queued_before "
            "OR status = 'running' AND lease_until <= :at "
            "AND (lease_owner IS NULL OR attempts >= :max) RETURNING id"
        ),
        {
            "at": at,
            "max": MAX_ATTEMPTS,
            "queued_before": at - queued_for,
            "queued_msg": "stopped: no worker picked this run up (the queue was lost); submit "
            "it again with a new Idempotency-Key",
            "attempts_msg": f"stopped: interrupted {MAX_ATTEMPTS} times (the worker stopped "
            "each time); submit it again with a new Idempotency-Key",
            "lost_msg": "stopped: the worker did not finish this run and no worker took up the "
            "retry; submit it again with a new Idempotency-Key",
        },
    )
    gone = sorted(int(r[0]) for r in failed)
    session.commit()
    if again:
        log.warning("%s interrupted, sent again: %s", table, again)
    if gone:
        log.warning("%s marked failed as stale: %s", table, gone)
    return Sweep(again, gone)


def run_message(run: Job, now: datetime | None = None) -> str | None:
    """What the analyst reads about a run beyond its status: "interrupted, retrying" or None."""
    if run.status != RunStatus.RUNNING:
        return None
    at = now or datetime.now(UTC)
    if run.lease_owner is None and run.lease_until is not None or _expired(run, at):
        return RETRYING
    if run.attempts > 1:
        return f"{RETRYING} (attempt {run.attempts} of {MAX_ATTEMPTS})"
    return None
