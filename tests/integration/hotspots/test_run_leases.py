"""U4: a run whose worker was killed is redone, not left "running" for an hour and failed.

The real Celery task function is called directly, as a worker would run a redelivered task,
against committed rows in this test process's own database (the task opens its own session).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from services.hotspots.runs.leases import LEASE, MAX_ATTEMPTS, Heartbeat
from shared.settings import common_settings
from tests.conftest import TEST_DB

PARAMS = {
    "method": "exact",
    "kernel": "quartic",
    "radius_m": 400.0,
    "cell_m": 200.0,
    "categories": None,
    "sources": ["fire"],
    "from": None,
    "to": None,
    "bbox": None,
    "percentile": 95.0,
    "gistar": False,
    "neighbourhood_cells": 1.0,
    "use_weights": True,
}
SOURCE_PREFIX = "lease-test-"


@pytest.fixture()
def committed(engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """Fire incidents committed for real, the task's settings pointed here; all removed after."""
    monkeypatch.setenv("DATABASE_URL", TEST_DB)
    monkeypatch.setenv("CSP_OUTPUT_DIR", str(tmp_path))
    # The task opens its session on the process's (cached) settings: read them again here.
    common_settings.cache_clear()
    rng = np.random.default_rng(9)
    xs, ys = 576_000 + rng.normal(0, 500, 120), 168_000 + rng.normal(0, 500, 120)
    with engine.begin() as conn:
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            conn.execute(
                text(
                    "INSERT INTO incidents.incidents (source, source_id, category, occurred_at, "
                    "time_precision, geom, weight, attributes) VALUES ('fire', :id, 'dwelling', "
                    "'2023-03-01T00:00Z', 'exact', ST_SetSRID(ST_MakePoint(:x, :y), 27700), 1, "
                    "'{}')"
                ),
                {"id": f"{SOURCE_PREFIX}{i}", "x": float(x), "y": float(y)},
            )
    made: list[int] = []
    try:
        yield lambda **kw: made.append(_insert_run(engine, **kw)) or made[-1]
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM hotspots.surface_runs WHERE id = ANY(:ids)"), {"ids": made}
            )
            conn.execute(
                text("DELETE FROM incidents.incidents WHERE source_id LIKE :p"),
                {"p": SOURCE_PREFIX + "%"},
            )
        common_settings.cache_clear()


def _insert_run(
    engine: Any, *, status: str, owner: str | None, lease_until: datetime | None, attempts: int
) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO hotspots.surface_runs (status, progress, params, stats, "
                    "started_at, "
                    "lease_owner, lease_until, attempts) VALUES (:s, 0.4, CAST(:p AS jsonb), "
                    "CAST(:st AS jsonb), now() - interval '20 minutes', :o, :lu, :a) RETURNING id"
                ),
                {
                    "s": status,
                    "p": json.dumps(PARAMS),
                    "st": json.dumps({"stage": "KDE"}),
                    "o": owner,
                    "lu": lease_until,
                    "a": attempts,
                },
            ).scalar_one()
        )


def _row(engine: Any, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT status, error, attempts, lease_owner, lease_until, tif_path, stats, "
                    "(SELECT count(*) FROM hotspots.hotspot_polygons p WHERE p.run_id = "
                    "r.id) AS polys "
                    "FROM hotspots.surface_runs r WHERE id = :i"
                ),
                {"i": run_id},
            )
            .mappings()
            .one()
        )


def test_a_redelivered_task_takes_over_a_run_whose_worker_died(
    committed: Any, engine: Any, tmp_path: Path
) -> None:
    from services.hotspots.tasks import compute_surface

    dead = datetime.now(UTC) - timedelta(minutes=1)
    run_id = committed(status="running", owner="killed-task@host:123", lease_until=dead, attempts=1)
    assert compute_surface(run_id) == run_id
    row = _row(engine, run_id)
    assert row["status"] == "done" and row["error"] is None, row
    assert row["attempts"] == 2 and row["lease_owner"] is None
    assert (tmp_path / row["tif_path"]).is_file() and row["polys"] >= 1
    assert row["stats"]["incidents"] == 120


def test_a_task_leaves_a_run_a_live_worker_holds(committed: Any, engine: Any) -> None:
    """The old task computed any "running" run again: a duplicate delivery ran it twice."""
    from services.hotspots.tasks import compute_surface

    alive = datetime.now(UTC) + LEASE
    run_id = committed(status="running", owner="live-task@host:456", lease_until=alive, attempts=1)
    compute_surface(run_id)
    row = _row(engine, run_id)
    assert (row["status"], row["lease_owner"], row["attempts"]) == (
        "running",
        "live-task@host:456",
        1,
    )
    assert row["tif_path"] is None and row["polys"] == 0


def test_a_run_interrupted_too_often_is_failed_not_looped(committed: Any, engine: Any) -> None:
    from services.hotspots.tasks import compute_surface

    dead = datetime.now(UTC) - timedelta(minutes=1)
    run_id = committed(
        status="running", owner="killed@host:1", lease_until=dead, attempts=MAX_ATTEMPTS
    )
    compute_surface(run_id)
    row = _row(engine, run_id)
    assert row["status"] == "failed" and f"interrupted {MAX_ATTEMPTS} times" in row["error"]


def test_the_sweep_task_sends_a_lapsed_run_again_and_the_worker_redoes_it(
    committed: Any, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.hotspots import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.compute_surface, "delay", lambda run_id: sent.append(run_id))
    dead = datetime.now(UTC) - timedelta(seconds=5)
    lapsed = committed(status="running", owner="killed@host:2", lease_until=dead, attempts=1)
    live = committed(
        status="running", owner="alive@host:3", lease_until=datetime.now(UTC) + LEASE, attempts=1
    )
    assert tasks.fail_stale_runs() == []
    assert sent == [lapsed]
    row = _row(engine, lapsed)
    assert (row["status"], row["lease_owner"]) == ("running", None)
    assert row["stats"]["stage"] == "interrupted, retrying"
    assert _row(engine, live)["lease_owner"] == "alive@host:3"
    tasks.compute_surface(lapsed)  # the retry the sweep sent
    assert _row(engine, lapsed)["status"] == "done"


def test_the_heartbeat_renews_only_its_own_lease(committed: Any, engine: Any) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=10)
    run_id = committed(status="running", owner="me", lease_until=soon, attempts=1)
    assert Heartbeat(engine, run_id, "me").beat()
    assert _row(engine, run_id)["lease_until"] > datetime.now(UTC) + LEASE - timedelta(seconds=5)
    assert not Heartbeat(engine, run_id, "someone else").beat()
    with Heartbeat(engine, run_id, "me", every_s=0.05):
        pass  # starts and stops cleanly


def test_the_same_task_in_another_process_takes_over_a_live_lease(
    committed: Any, engine: Any
) -> None:
    """Celery redelivers a task (same id) to another process only when its holder died (a
    killed pool process): waiting for the lease to lapse left the run stranded for minutes."""
    from services.hotspots.tasks import compute_surface

    alive = datetime.now(UTC) + LEASE
    run_id = committed(status="running", owner="task-7@host:111", lease_until=alive, attempts=1)
    compute_surface.apply(args=(run_id,), task_id="task-7")
    row = _row(engine, run_id)
    assert row["status"] == "done" and row["attempts"] == 2, row
