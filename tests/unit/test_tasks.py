"""Every project task is named, time-limited, acknowledged late and retried on a PostGIS blip."""

from __future__ import annotations

import pytest
from psycopg2 import OperationalError as PgOperationalError
from sqlalchemy.exc import OperationalError

from csp.worker import celery_app


def _project_tasks() -> dict[str, object]:
    return {n: t for n, t in celery_app.tasks.items() if not n.startswith("celery.")}


def test_there_are_project_tasks() -> None:
    assert {"hotspots.compute_surface", "predictive.nightly_refit"} <= set(_project_tasks())


@pytest.mark.parametrize(
    "name", ["hotspots.compute_surface", "hotspots.fail_stale_runs", "predictive.nightly_refit"]
)
def test_task_retries_when_the_database_is_down(name: str) -> None:
    task = _project_tasks()[name]
    retry_on = tuple(getattr(task, "autoretry_for", ()))
    db_down = OperationalError("SELECT 1", {}, PgOperationalError("server closed the connection"))
    assert isinstance(db_down, retry_on), retry_on
    assert isinstance(ConnectionError("redis"), retry_on)
    assert not isinstance(ValueError("bad parameters"), retry_on)  # a real bug is not retried
    assert getattr(task, "max_retries", 0) >= 3
    assert getattr(task, "acks_late", False) is True
    assert getattr(task, "time_limit", None)


def test_beat_schedule_names_real_tasks_in_london_time() -> None:
    tasks = _project_tasks()
    schedule = celery_app.conf.beat_schedule
    assert schedule, "beat has nothing to run"
    assert {entry["task"] for entry in schedule.values()} <= set(tasks)
    nightly = schedule["predictive-nightly"]["schedule"]
    assert (nightly.hour, nightly.minute) == ({0}, {5})  # lists ready as the day's shifts start
    assert celery_app.conf.timezone == "Europe/London"  # 00:05 local in summer and winter
