"""Runs no worker will finish (killed worker, lost queue) are marked failed, saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.hotspots.service import STALE_QUEUED, STALE_RUNNING, fail_stale_runs

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _run(s: Any, status: str, created: datetime, started: datetime | None = None) -> int:
    return int(
        s.execute(
            text(
                "INSERT INTO hotspots.surface_runs (status, progress, params, stats, created_at, "
                "started_at, finished_at) VALUES (:st, 0.1, '{}', '{}', :c, :s, "
                "CASE WHEN :st IN ('done', 'failed') THEN :c END) RETURNING id"
            ),
            {"st": status, "c": created, "s": started},
        ).scalar_one()
    )


def _state(s: Any, run_id: int) -> tuple[str, str | None]:
    row = s.execute(
        text("SELECT status, error FROM hotspots.surface_runs WHERE id = :i"), {"i": run_id}
    ).one()
    return row[0], row[1]


def test_only_runs_past_their_limits_are_failed(db_session: Any) -> None:
    just = timedelta(minutes=1)
    long_ago = NOW - timedelta(days=2)
    runs = {
        "running, killed": _run(db_session, "running", long_ago, NOW - STALE_RUNNING - just),
        "running, alive": _run(db_session, "running", long_ago, NOW - STALE_RUNNING + just),
        "queued, lost": _run(db_session, "queued", NOW - STALE_QUEUED - just),
        "queued, waiting": _run(db_session, "queued", NOW - STALE_QUEUED + just),
        "done": _run(db_session, "done", long_ago, long_ago),
        "failed": _run(db_session, "failed", long_ago, long_ago),
    }
    before = {k: _state(db_session, v) for k, v in runs.items()}
    failed = fail_stale_runs(db_session, now=NOW)
    assert failed == sorted([runs["running, killed"], runs["queued, lost"]])
    after = {k: _state(db_session, v) for k, v in runs.items()}
    for k in ("running, alive", "queued, waiting", "done", "failed"):
        assert after[k] == before[k], k
    killed, lost = after["running, killed"], after["queued, lost"]
    assert killed[0] == "failed" and "did not finish" in str(killed[1])
    assert lost[0] == "failed" and "no worker" in str(lost[1])
    assert fail_stale_runs(db_session, now=NOW) == []  # a second sweep changes nothing


def test_a_failed_stale_run_reads_as_failed_over_the_api(
    db_session: Any, make_client: Any, tokens: Any
) -> None:
    run_id = _run(db_session, "running", NOW - timedelta(days=1), NOW - timedelta(days=1))
    fail_stale_runs(db_session)
    got = make_client("hotspots").get(f"/surfaces/{run_id}", headers=tokens["analyst"]).json()
    assert got["status"] == "failed" and "submit it again" in got["error"]
