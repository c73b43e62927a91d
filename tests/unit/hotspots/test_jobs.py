"""The job kit's front door: a surface run and a comparison set going by the same steps.

``jobs.start`` decides, from whether the job was created now and its status, to compute it
in-process (eager), send it to the queue, or leave it; a broker that cannot be reached is a 503
naming the kind of job. ``tasks.start_job`` picks each kind's own task. No database: the rows
are in-memory ORM objects that are never added to a session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.hotspots import jobs, tasks
from services.hotspots.enums import RunStatus
from services.hotspots.limits import Limits
from services.hotspots.models import SurfaceComparison, SurfaceRun
from services.hotspots.runs.leases import JOB_TABLES
from shared.errors import ServiceUnavailable

KINDS: list[tuple[jobs.JobKind[Any], Any]] = [
    (jobs.SURFACE_RUNS, SurfaceRun),
    (jobs.COMPARISONS, SurfaceComparison),
]


class Calls:
    """Records what ``start`` asked for: in-process computations and queue sends."""

    def __init__(self, row: Any, *, send_fails: bool = False) -> None:
        self.row, self.send_fails = row, send_fails
        self.computed = 0
        self.sent = 0

    def compute(self) -> Any:
        self.computed += 1
        return self.row

    def send(self) -> None:
        self.sent += 1
        if self.send_fails:
            raise ConnectionError("redis: connection refused")


def _row(model: Any, status: RunStatus, job_id: int = 7) -> Any:
    return model(id=job_id, status=status.value, params={}, stats={})


@pytest.mark.parametrize(("kind", "model"), KINDS)
@pytest.mark.parametrize(
    ("created", "status", "eager", "computed", "sent"),
    [
        (True, RunStatus.QUEUED, True, 1, 0),  # demo/test mode: computed in the request
        (True, RunStatus.QUEUED, False, 0, 1),  # a worker computes it
        (False, RunStatus.QUEUED, False, 0, 1),  # a retry of a POST the broker refused
        (False, RunStatus.RUNNING, False, 0, 0),  # a retry while a worker has it
        (False, RunStatus.DONE, False, 0, 0),
        (False, RunStatus.DONE, True, 0, 0),
        (False, RunStatus.FAILED, True, 0, 0),
    ],
)
def test_start_computes_sends_or_leaves_the_job(
    kind: Any, model: Any, created: bool, status: RunStatus, eager: bool, computed: int, sent: int
) -> None:
    row = _row(model, status)
    calls = Calls(row)
    out = jobs.start(
        kind, row, created=created, eager=eager, compute=calls.compute, send=calls.send
    )
    assert out is row
    assert (calls.computed, calls.sent) == (computed, sent)


@pytest.mark.parametrize(
    ("kind", "model", "first_word"),
    [(jobs.SURFACE_RUNS, SurfaceRun, "Run"), (jobs.COMPARISONS, SurfaceComparison, "Comparison")],
)
def test_broker_down_is_a_503_naming_the_job(kind: Any, model: Any, first_word: str) -> None:
    row = _row(model, RunStatus.QUEUED, job_id=41)
    calls = Calls(row, send_fails=True)
    with pytest.raises(ServiceUnavailable) as info:
        jobs.start(kind, row, created=True, eager=False, compute=calls.compute, send=calls.send)
    err = info.value
    assert err.status == 503
    assert err.detail == (
        f"{first_word} 41 is queued but the job queue cannot be reached; retry the POST with "
        "the same Idempotency-Key"
    )
    assert "connection refused" in (err.internal or "")  # the cause goes to the log only
    assert "connection refused" not in err.detail


def test_start_job_sends_each_kind_to_its_own_task(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, int]] = []
    for task in (tasks.compute_surface, tasks.compare_periods):
        monkeypatch.setattr(task, "delay", lambda i, _n=task.name: sent.append((_n, i)))
    args = (False, Path("/nonexistent"), Limits.defaults())
    run = _row(SurfaceRun, RunStatus.QUEUED, job_id=3)
    comparison = _row(SurfaceComparison, RunStatus.QUEUED, job_id=5)
    assert tasks.start_job(None, jobs.SURFACE_RUNS, run, True, *args) is run  # type: ignore[arg-type]
    assert tasks.start_job(None, jobs.COMPARISONS, comparison, True, *args) is comparison  # type: ignore[arg-type]
    assert sent == [("hotspots.compute_surface", 3), ("hotspots.compare_periods", 5)]


def test_the_kinds_name_their_own_tables() -> None:
    assert {k.table for k, _ in KINDS} == set(JOB_TABLES)
    for kind, model in KINDS:
        assert kind.model is model and model.__tablename__ == kind.table
