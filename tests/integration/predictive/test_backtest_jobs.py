"""Backtest jobs over the real PostGIS: start (202 + Location), progress, results, plot, limits.

Each request gets its own savepoint session on the test's connection, as each request gets its
own session in production; a job run in this process (eager mode, after the response) gets one
too, through the API's ``job_sessions`` dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from tests.factories import LIST_DAY
from tests.support import problem, savepoint_per_request

# The fire incidents of the ``incidents`` fixture are exact-timed, 150 days up to LIST_DAY; the
# police ones are dated by month, 270 days up to it.
FROM, TO = LIST_DAY - timedelta(days=21), LIST_DAY - timedelta(days=8)  # 14 origin days
BODY: dict[str, Any] = {"agency": "kfrs", "from": FROM.isoformat(), "to": TO.isoformat()}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def job_sessions(db_session: Any) -> Callable[[], Session]:
    """A new savepoint session on the test's connection for each job run in this process."""
    conn = db_session.connection()
    return lambda: Session(bind=conn, join_transaction_mode="create_savepoint")


@pytest.fixture()
def api(make_client: Any, db_session: Any, incidents: Any, job_sessions: Any) -> Any:
    """The predictive app in eager mode: a job runs after its POST's response is sent."""
    from services.predictive.diagnostics.backtests.api import job_sessions as dependency

    client = make_client("predictive")
    savepoint_per_request(client.app, db_session.connection())
    client.app.dependency_overrides[dependency] = lambda: job_sessions
    return client


def _start(api: Any, headers: dict[str, str], key: str | None = None, **changes: Any) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return api.post("/backtests", json={**BODY, **changes}, headers={**headers, **extra})


def _count_jobs(db_session: Any) -> int:
    from services.predictive.models import BacktestJob

    return int(db_session.scalar(select(func.count()).select_from(BacktestJob)) or 0)


def _independent(db_session: Any, methods: list[str], k: int = 20) -> dict[str, dict[str, Any]]:
    """The same backtest through the registry's public entry point, on incidents read here."""
    from services.predictive.agencies.defaults import KFRS
    from services.predictive.agencies.service import district_outline
    from services.predictive.compute.areas import area_grid
    from services.predictive.compute.events import Events
    from services.predictive.compute.methods import rolling_backtest
    from services.predictive.dates import epoch_days, local_midnight
    from shared.incidents.store import load_points

    outline = district_outline(db_session)
    assert outline is not None
    grid, mask = area_grid(outline, 150.0, max_cells=4_000_000)
    end = local_midnight(TO + timedelta(days=1))
    pts = load_points(
        db_session,
        categories=KFRS.categories,
        start=local_midnight(FROM - timedelta(days=365)),
        end=end + timedelta(days=1),
        bbox_m=grid.bounds,
    )
    result = rolling_backtest(
        Events(pts.x, pts.y, pts.t_days(), pts.weight),
        grid,
        methods=methods,
        start_days=epoch_days(local_midnight(FROM)),
        end_days=epoch_days(end),
        k_boxes=k,
        fractions=(0.01, 0.05),
        mask=mask,
    )
    return {row["method"]: row for row in result.table}


def test_a_backtest_runs_in_the_background_and_reads_like_the_backtest(
    api: Any, tokens: Any, db_session: Any
) -> None:
    r = _start(api, tokens["analyst"], methods=["naive28", "kde", "auto"])
    assert r.status_code == 202, r.text
    started = r.json()
    assert r.headers["location"] == f"/backtests/{started['id']}" == started["links"]["self"]
    # The answer was made before the job ran: queued, nothing done of the 14 origin days.
    assert started["status"] == "queued"
    assert started["progress"] == {"origins_done": 0, "origins_total": 14, "fraction": 0.0}
    assert (started["from"], started["to"]) == (FROM.isoformat(), TO.isoformat())
    assert started["results"] is None and "plot" not in started["links"]
    assert started["params"]["horizon_days"] == 1 and started["params"]["step_days"] == 1
    assert started["params"]["month_only"] is False

    done = api.get(r.headers["location"], headers=tokens["analyst"]).json()
    assert done["status"] == "done", done
    assert done["progress"]["origins_done"] == 14 and done["progress"]["fraction"] == 1.0
    res = done["results"]
    labels = [row["method"] for row in res["table"]]
    assert labels[:2] == ["naive28", "kde"] and labels[2].startswith("auto (")
    fitted = {row["method"]: row["fitted"] for row in res["table"]}
    keys = [m["key"] for m in res["measures"]]
    assert keys == [
        "hit_rate_at_k",
        "pai_at_k",
        "hit_rate_at_1pct",
        "pai_at_1pct",
        "hit_rate_at_5pct",
        "pai_at_5pct",
    ]
    # The same numbers as the registry's backtest on the agency's incidents, grid and days.
    same = _independent(db_session, list(dict.fromkeys(fitted.values())))
    for row in res["table"]:
        want = same[row["fitted"]]
        assert row["origins"] == want["origins"] > 0
        for key in keys:
            assert row["values"][key]["mean"] == pytest.approx(want[key]), (row["method"], key)
            value = row["values"][key]
            assert value["low"] <= value["mean"] <= value["high"], (row["method"], key, value)
        assert row["stability"] == pytest.approx(want["stability"])
    assert res["origins"] == {"total": 14, "scored": same["naive28"]["origins"], "beyond_data": 0}
    assert set(res["curve"]["hit_rate"]) == set(fitted.values())
    assert len(res["curve"]["area_shares"]) == len(res["curve"]["hit_rate"]["naive28"])
    # Boxes chosen per ward: every origin day chose 20 boxes, each in a ward or outside them.
    assert sum(n for _, n in res["wards"]["naive28"]) == 14 * 20
    assert all("no evidence" not in note for note in res["notes"])

    plot = api.get(done["links"]["plot"], headers=tokens["analyst"])
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(PNG_MAGIC) and len(plot.content) > 5000

    listed = api.get("/backtests", params={"agency": "kfrs"}, headers=tokens["analyst"]).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == started["id"]
    assert listed["items"][0]["results"] is None  # the list is light: read one for its results


def test_progress_is_told_while_the_job_runs(
    api: Any, tokens: Any, db_session: Any, job_sessions: Any
) -> None:
    """GET /backtests/{id} between origin days: running, one more day done each time."""
    from services.predictive.diagnostics.backtests.jobs import run_job
    from services.predictive.limits import Limits
    from services.predictive.models import BacktestJob

    api.app.state.settings.celery_eager = False
    sent: list[int] = []
    from services.predictive import tasks

    original = tasks.run_backtest.delay
    tasks.run_backtest.delay = lambda job_id: sent.append(job_id)  # type: ignore[method-assign]
    try:
        r = _start(
            api,
            tokens["analyst"],
            methods=["naive28", "naive90"],
            to=(FROM + timedelta(days=4)).isoformat(),
        )
    finally:
        tasks.run_backtest.delay = original  # type: ignore[method-assign]
    assert r.status_code == 202 and sent == [r.json()["id"]]
    url = r.headers["location"]
    assert api.get(url, headers=tokens["analyst"]).json()["status"] == "queued"

    seen: list[tuple[str, int]] = []
    worker = job_sessions()

    def look(_: Any) -> None:
        body = api.get(url, headers=tokens["analyst"]).json()
        seen.append((body["status"], body["progress"]["origins_done"]))

    event.listen(worker, "after_commit", look)
    job = run_job(worker, job_id=sent[0], limits=Limits(max_cells=4_000_000, margin_m=15_000))
    assert isinstance(job, BacktestJob) and job.status == "done"
    # Marked running, then each of the 5 origin days told in turn, then done.
    assert seen == [("running", 0), *(("running", n) for n in range(1, 6)), ("done", 5)]


def test_a_retry_with_the_same_key_is_the_same_job(api: Any, tokens: Any, db_session: Any) -> None:
    first = _start(api, tokens["analyst"], key="bt-1", methods=["naive28"])
    again = _start(api, tokens["analyst"], key="bt-1", methods=["naive28"])
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.headers["location"]
    assert _count_jobs(db_session) == 1
    other = _start(api, tokens["analyst"], key="bt-1", methods=["naive90"])
    assert "different backtest" in problem(other, 409)["detail"]
    # Keys are per caller: another analyst's same key is a job of their own.
    assert _start(api, tokens["admin"], key="bt-1", methods=["naive28"]).status_code == 202
    assert _start(api, tokens["analyst"], methods=["naive28"]).status_code == 202
    assert _count_jobs(db_session) == 3


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"to": (FROM + timedelta(days=400)).isoformat()}, "to", "at most 366 origin days"),
        ({"to": (FROM - timedelta(days=1)).isoformat()}, "to", "before 'from'"),
        (
            {
                "methods": [
                    "naive28",
                    "naive90",
                    "kde",
                    "etas",
                    "prospective",
                    "best_static",
                    "etas_smooth",
                ]
            },
            "methods",
            "at most 6",
        ),
        ({"methods": ["naive28", "naive28"]}, "methods", "once"),
        ({"methods": ["<script>"]}, "methods.0", "unknown method"),
        ({"methods": []}, "methods", "at least 1"),
        ({"area_shares": [0.7]}, "area_shares.0", "0.5"),
        ({"area_shares": [0.01, 0.02, 0.05, 0.1, 0.2]}, "area_shares", "at most 4"),
        ({"k_boxes": 0}, "k_boxes", "greater than or equal to 1"),
        ({"cell_size_m": 5}, "cell_size_m", "25"),
        ({"horizon_days": 90}, "horizon_days", "31"),
        ({"colour": "red"}, "colour", "not permitted"),
    ],
)
def test_bad_requests_name_the_field(
    api: Any, tokens: Any, db_session: Any, changes: dict[str, Any], field: str, words: str
) -> None:
    body = problem(_start(api, tokens["analyst"], **changes), 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert field in fields, body
    assert words in fields[field], fields
    assert _count_jobs(db_session) == 0


def test_work_is_bounded_before_the_job_is_queued(
    make_client: Any, db_session: Any, incidents: Any, tokens: Any
) -> None:
    """Origin days x methods, and x cells, and the grid against the service's cell limit."""
    client = make_client("predictive", max_grid_cells=5_000)
    savepoint_per_request(client.app, db_session.connection())
    small = {**BODY, "methods": ["naive28"]}
    grid = problem(client.post("/backtests", json=small, headers=tokens["analyst"]), 422)
    assert grid["errors"][0]["field"] == "cell_size_m" and "5,000" in grid["detail"]
    ok = client.post("/backtests", json={**small, "cell_size_m": 500}, headers=tokens["analyst"])
    assert ok.status_code == 202, ok.text

    big = make_client("predictive")
    savepoint_per_request(big.app, db_session.connection())
    year = {
        "agency": "kfrs",
        "from": (LIST_DAY - timedelta(days=300)).isoformat(),
        "to": LIST_DAY.isoformat(),
        "methods": ["naive28", "naive90", "kde", "etas", "prospective", "best_static"],
    }
    fits = problem(big.post("/backtests", json=year, headers=tokens["analyst"]), 422)
    assert fits["errors"][0]["field"] == "methods" and "1,806 fits" in fits["detail"]
    cells = {**year, "methods": ["naive28", "kde"], "cell_size_m": 25}
    scores = problem(big.post("/backtests", json=cells, headers=tokens["analyst"]), 422)
    assert scores["errors"][0]["field"] == "cell_size_m" and "box scores" in scores["detail"]
    assert _count_jobs(db_session) == 1


def test_a_window_without_incident_data_is_refused_in_those_words(
    api: Any, tokens: Any, db_session: Any
) -> None:
    later = {
        "from": (LIST_DAY + timedelta(days=30)).isoformat(),
        "to": (LIST_DAY + timedelta(days=40)).isoformat(),
    }
    body = problem(_start(api, tokens["analyst"], **later), 422)
    assert body["errors"][0]["field"] == "from"
    assert "no incident data for this window" in body["detail"]
    assert "Kent Fire and Rescue Service's incident data run from" in body["detail"]
    assert body["data_to"] == (LIST_DAY - timedelta(days=1)).isoformat()
    # The window offered is the newest the data cover, and it is accepted.
    offered = {"from": body["suggested_from"], "to": body["suggested_to"], "methods": ["naive28"]}
    assert _start(api, tokens["analyst"], **offered).status_code == 202
    from services.predictive.agencies.defaults import KFRS
    from services.predictive.lists.period import incident_period

    first = incident_period(db_session, categories=KFRS.categories).first
    assert first is not None
    before = problem(_start(api, tokens["analyst"], **{"from": first.isoformat()}), 422)
    assert "no incident data before" in before["detail"]


def test_a_window_reaching_past_the_data_says_so(api: Any, tokens: Any) -> None:
    """Origin days whose forecast windows lie beyond the data: out of the means, and said."""
    past = {
        "from": (LIST_DAY - timedelta(days=5)).isoformat(),
        "to": (LIST_DAY + timedelta(days=4)).isoformat(),
    }
    r = _start(api, tokens["analyst"], methods=["naive28"], **past)
    assert r.status_code == 202, r.text
    res = api.get(r.headers["location"], headers=tokens["analyst"]).json()["results"]
    assert res["origins"]["total"] == 10 and res["origins"]["beyond_data"] == 5
    assert res["origins"]["scored"] <= 5
    text = " ".join(res["notes"])
    assert "no incident data for this window on those days" in text
    assert "no evidence" not in text


def test_month_only_police_data_take_four_week_windows_a_week_apart(api: Any, tokens: Any) -> None:
    police = {
        "agency": "police",
        "methods": ["naive90"],
        "from": (LIST_DAY - timedelta(days=120)).isoformat(),
        "to": (LIST_DAY - timedelta(days=60)).isoformat(),
    }
    r = api.post("/backtests", json=police, headers=tokens["analyst"])
    assert r.status_code == 202, r.text
    p = r.json()["params"]
    assert (p["month_only"], p["horizon_days"], p["step_days"]) == (True, 28, 7)
    assert r.json()["progress"]["origins_total"] == 9  # 61 days, a week apart
    done = api.get(r.headers["location"], headers=tokens["analyst"]).json()
    assert done["status"] == "done" and done["results"]["horizon_days"] == 28


def test_only_analysts_and_admins_start_or_read_backtests(api: Any, tokens: Any) -> None:
    r = _start(api, tokens["analyst"], methods=["naive28"])
    url = r.headers["location"]
    for role in ("crew", "seg", "operator"):
        assert problem(_start(api, tokens[role], methods=["naive28"]), 403)
        assert problem(api.get(url, headers=tokens[role]), 403)
        assert problem(api.get(url + "/plot.png", headers=tokens[role]), 403)
        assert problem(api.get("/backtests", headers=tokens[role]), 403)
    assert api.get(url, headers=tokens["admin"]).status_code == 200
    assert problem(api.get(url), 401)


def test_a_plot_before_the_job_is_done_is_a_conflict(api: Any, tokens: Any) -> None:
    api.app.state.settings.celery_eager = False
    from services.predictive import tasks

    original = tasks.run_backtest.delay
    tasks.run_backtest.delay = lambda job_id: None  # type: ignore[method-assign]
    try:
        r = _start(api, tokens["analyst"], methods=["naive28"])
    finally:
        tasks.run_backtest.delay = original  # type: ignore[method-assign]
    body = problem(api.get(r.headers["location"] + "/plot.png", headers=tokens["analyst"]), 409)
    assert "no plot yet" in body["detail"] and "Waiting for a worker" in body["detail"]
    assert problem(api.get("/backtests/999999", headers=tokens["analyst"]), 404)
    assert problem(api.get(f"/backtests/{2**31}", headers=tokens["analyst"]), 422)


def test_a_failure_is_kept_on_the_job_in_words(
    api: Any, tokens: Any, db_session: Any, job_sessions: Any
) -> None:
    from services.predictive.diagnostics.backtests.jobs import run_job
    from services.predictive.limits import Limits
    from services.predictive.models import Agency, Area

    api.app.state.settings.celery_eager = False
    from services.predictive import tasks

    original = tasks.run_backtest.delay
    tasks.run_backtest.delay = lambda job_id: None  # type: ignore[method-assign]
    try:
        r = _start(api, tokens["analyst"], methods=["naive28"])
    finally:
        tasks.run_backtest.delay = original  # type: ignore[method-assign]
    # The boundaries go before a worker picks it up.
    db_session.execute(delete(Area))
    db_session.execute(update(Agency).values(area=None))
    db_session.flush()
    limits = Limits(max_cells=4_000_000, margin_m=15_000)
    job = run_job(job_sessions(), job_id=r.json()["id"], limits=limits)
    assert job is not None and job.status == "failed"
    body = api.get(r.headers["location"], headers=tokens["analyst"]).json()
    assert body["status"] == "failed"
    assert "no partnership area is loaded" in body["error"] and body["message"].startswith("Failed")
    # A finished job is never run again.
    assert run_job(job_sessions(), job_id=job.id, limits=limits).finished_at == job.finished_at  # type: ignore[union-attr]


def test_the_queue_gets_the_job_id_through_real_redis(api: Any, tokens: Any) -> None:
    """Not eager: the job goes to the broker as ``predictive.run_backtest`` with its id."""
    import base64
    import json

    import redis

    from shared.celery_app import celery_app

    api.app.state.settings.celery_eager = False
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    before = broker.llen("celery")
    r = _start(api, tokens["analyst"], methods=["naive28"])
    assert r.status_code == 202, r.text
    try:
        messages = [json.loads(m) for m in broker.lrange("celery", 0, -1)]
        mine = [m for m in messages if m["headers"]["task"] == "predictive.run_backtest"]
        assert broker.llen("celery") == before + 1
        bodies = [json.loads(base64.b64decode(m["body"])) for m in mine]
        assert [r.json()["id"]] in [b[0] for b in bodies]
    finally:
        for m in broker.lrange("celery", 0, -1):
            if b"predictive.run_backtest" in m:
                broker.lrem("celery", 1, m)


def test_a_job_running_past_its_time_limit_is_said_to_have_stalled(
    api: Any, tokens: Any, db_session: Any
) -> None:
    from datetime import UTC, datetime

    from services.predictive.diagnostics.backtests.service import JOB_TIME_LIMIT_S
    from services.predictive.models import BacktestJob

    api.app.state.settings.celery_eager = False
    from services.predictive import tasks

    original = tasks.run_backtest.delay
    tasks.run_backtest.delay = lambda job_id: None  # type: ignore[method-assign]
    try:
        r = _start(api, tokens["analyst"], methods=["naive28"])
    finally:
        tasks.run_backtest.delay = original  # type: ignore[method-assign]
    job_id = r.json()["id"]
    now = datetime.now(UTC)
    for minutes, stalled in ((JOB_TIME_LIMIT_S / 60 - 1, False), (JOB_TIME_LIMIT_S / 60 + 2, True)):
        db_session.execute(
            update(BacktestJob)
            .where(BacktestJob.id == job_id)
            .values(status="running", origins_done=3, started_at=now - timedelta(minutes=minutes))
        )
        db_session.flush()
        body = api.get(r.headers["location"], headers=tokens["analyst"]).json()
        assert body["stalled"] is stalled
        if stalled:
            assert body["message"].startswith("Stalled: its worker stopped after 3 of 14")
        else:
            assert body["message"] == "Running: 3 of 14 origin days done."
