"""The beat sweep of surface runs uses their leases: a run whose worker died is sent again, a run
that cannot be finished (interrupted too often, retry never picked up, queue lost) is failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.hotspots.runs.leases import (
    LEASE,
    MAX_ATTEMPTS,
    RETRY_WAIT,
    STALE_QUEUED,
    STALE_RUNNING,
    sweep_stale_runs,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
JUST = timedelta(minutes=1)
LONG_AGO = NOW - timedelta(days=2)


def _run(
    s: Any,
    status: str,
    created: datetime,
    started: datetime | None = None,
    *,
    owner: str | None = None,
    lease_until: datetime | None = None,
    attempts: int = 0,
) -> int:
    return int(
        s.execute(
            text(
                "INSERT INTO hotspots.surface_runs (status, progress, params, stats, created_at, "
                "started_at, finished_at, lease_owner, lease_until, attempts) VALUES "
                "(:st, 0.1, '{}', '{}', :c, :s, CASE WHEN :st IN ('done', 'failed') THEN :c END, "
                ":o, :lu, :a) RETURNING id"
            ),
            {
                "st": status,
                "c": created,
                "s": started,
                "o": owner,
                "lu": lease_until,
                "a": attempts,
            },
        ).scalar_one()
    )


def _state(s: Any, run_id: int) -> tuple[str, str | None, str | None]:
    row = s.execute(
        text("SELECT status, error, lease_owner FROM hotspots.surface_runs WHERE id = :i"),
        {"i": run_id},
    ).one()
    return row[0], row[1], row[2]


def test_the_sweep_requeues_runs_whose_lease_lapsed_and_fails_the_hopeless(
    db_session: Any,
) -> None:
    started = NOW - timedelta(minutes=5)
    runs = {
        # a worker died 3 minutes ago (its lease ran out a minute ago): sent again
        "lease lapsed": _run(
            db_session, "running", LONG_AGO, started, owner="w1", lease_until=NOW - JUST, attempts=1
        ),
        "lease live": _run(
            db_session, "running", LONG_AGO, started, owner="w2", lease_until=NOW + JUST, attempts=1
        ),
        "interrupted too often": _run(
            db_session,
            "running",
            LONG_AGO,
            started,
            owner="w3",
            lease_until=NOW - JUST,
            attempts=MAX_ATTEMPTS,
        ),
        "retry never picked up": _run(
            db_session, "running", LONG_AGO, started, owner=None, lease_until=NOW - JUST, attempts=1
        ),
        "retry waiting": _run(
            db_session, "running", LONG_AGO, started, owner=None, lease_until=NOW + JUST, attempts=1
        ),
        # rows from before leases: judged by how long they have been running
        "old, no lease, killed": _run(db_session, "running", LONG_AGO, NOW - STALE_RUNNING - JUST),
        "old, no lease, alive": _run(db_session, "running", LONG_AGO, NOW - STALE_RUNNING + JUST),
        "queued, lost": _run(db_session, "queued", NOW - STALE_QUEUED - JUST),
        "queued, waiting": _run(db_session, "queued", NOW - STALE_QUEUED + JUST),
        "done": _run(db_session, "done", LONG_AGO, LONG_AGO),
        "failed": _run(db_session, "failed", LONG_AGO, LONG_AGO),
    }
    before = {k: _state(db_session, v) for k, v in runs.items()}
    done = sweep_stale_runs(db_session, now=NOW)
    assert done.requeued == sorted([runs["lease lapsed"], runs["old, no lease, killed"]])
    assert done.failed == sorted(
        [runs["interrupted too often"], runs["retry never picked up"], runs["queued, lost"]]
    )
    after = {k: _state(db_session, v) for k, v in runs.items()}
    for k in (
        "lease live",
        "retry waiting",
        "old, no lease, alive",
        "queued, waiting",
        "done",
        "failed",
    ):
        assert after[k] == before[k], k
    # A re-queued run stays "running" with no owner, so the retry task (or the redelivered
    # one) takes it over; it waits RETRY_WAIT for one
    assert after["lease lapsed"] == ("running", None, None)
    lease_until = db_session.scalar(
        text("SELECT lease_until FROM hotspots.surface_runs WHERE id = :i"),
        {"i": runs["lease lapsed"]},
    )
    assert lease_until == NOW + RETRY_WAIT
    assert f"interrupted {MAX_ATTEMPTS} times" in str(after["interrupted too often"][1])
    assert "no worker took up the retry" in str(after["retry never picked up"][1])
    assert "no worker" in str(after["queued, lost"][1])
    again = sweep_stale_runs(db_session, now=NOW)  # a second sweep changes nothing
    assert (again.requeued, again.failed) == ([], [])
    # Once the retry waited too long, the next sweep fails it
    late = sweep_stale_runs(db_session, now=NOW + RETRY_WAIT + JUST)
    assert runs["lease lapsed"] in late.failed


def test_an_interrupted_run_reads_interrupted_retrying_over_the_api(
    db_session: Any, make_client: Any, tokens: Any
) -> None:
    now = datetime.now(UTC)
    lapsed = _run(
        db_session,
        "running",
        now - timedelta(minutes=10),
        now - timedelta(minutes=9),
        owner="dead",
        lease_until=now - LEASE / 2,
        attempts=1,
    )
    live = _run(
        db_session,
        "running",
        now - JUST,
        now - JUST,
        owner="alive",
        lease_until=now + LEASE,
        attempts=1,
    )
    client = make_client("hotspots")
    got = client.get(f"/surfaces/{lapsed}", headers=tokens["analyst"]).json()
    assert got["status"] == "running" and got["message"] == "interrupted, retrying", got
    assert client.get(f"/surfaces/{live}", headers=tokens["analyst"]).json()["message"] is None
    sweep_stale_runs(db_session)
    got = client.get(f"/surfaces/{lapsed}", headers=tokens["analyst"]).json()
    assert got["status"] == "running" and got["message"] == "interrupted, retrying", got
    assert got["stats"]["stage"] == "interrupted, retrying"


def test_a_failed_stale_run_reads_as_failed_over_the_api(
    db_session: Any, make_client: Any, tokens: Any
) -> None:
    run_id = _run(db_session, "queued", NOW - timedelta(days=1))
    sweep_stale_runs(db_session)
    got = make_client("hotspots").get(f"/surfaces/{run_id}", headers=tokens["analyst"]).json()
    assert got["status"] == "failed" and "submit it again" in got["error"]
    assert got["message"] is None
