"""The pure parts of backtest jobs: bootstrap intervals, coverage notes, the progress counter.

No database: arrays in, numbers out, compared with independent computations.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from services.predictive.compute.scorer import FitReport
from services.predictive.diagnostics.backtests.intervals import bootstrap_interval
from services.predictive.diagnostics.backtests.jobs import CountingScorer
from services.predictive.diagnostics.backtests.results import coverage_notes, measures, num


def test_the_interval_of_a_mean_is_about_two_standard_errors_wide() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0.4, 0.1, 400)
    interval = bootstrap_interval(values)
    assert interval is not None
    low, high = interval
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)  # the textbook normal interval
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.15)
    assert (low + high) / 2 == pytest.approx(values.mean(), abs=half * 0.2)


def test_the_interval_matches_the_exact_bootstrap_of_three_values() -> None:
    """Three values have 27 equally likely resamples: the quantiles of their means."""
    values = [0.0, 0.3, 0.9]
    means = np.array([np.mean([a, b, c]) for a in values for b in values for c in values])
    exact = np.quantile(np.repeat(means, 1000), [0.1, 0.9])
    interval = bootstrap_interval(values, level=0.8, n_resamples=20_000)
    assert interval is not None
    low, high = interval
    spacing = 0.1  # the exact means lie 0.1 apart: the percentile may fall between two
    assert low == pytest.approx(exact[0], abs=spacing) and high == pytest.approx(
        exact[1], abs=spacing
    )


def test_no_interval_without_spread_to_resample() -> None:
    assert bootstrap_interval([]) is None
    assert bootstrap_interval([0.5]) is None
    assert bootstrap_interval([0.5, float("nan")]) is None
    assert bootstrap_interval([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2))
    assert bootstrap_interval([0.1, 0.5]) == bootstrap_interval([0.1, 0.5])  # fixed seed


def test_measures_name_each_column() -> None:
    cols = measures(20, [0.005, 0.05])
    assert [c["key"] for c in cols] == [
        "hit_rate_at_k",
        "pai_at_k",
        "hit_rate_at_0.5pct",
        "pai_at_0.5pct",
        "hit_rate_at_5pct",
        "pai_at_5pct",
    ]
    assert cols[0]["at"] == "20 boxes" and cols[2]["at"] == "0.5% of the area"
    assert measures(1, [])[0]["at"] == "1 box"
    assert num(float("nan")) is None and num(None) is None and num(np.float64(0.25)) == 0.25


def test_coverage_notes_tell_missing_data_from_quiet_days() -> None:
    origins = [100.0, 101.0, 102.0, 103.0]
    # Data end at the start of day 102: the windows of days 102 and 103 lie past them.
    notes, beyond = coverage_notes(
        origins=origins, scored=1, horizon_days=1.0, data_to=date(2021, 6, 30), data_end_days=102.0
    )
    assert beyond == 2
    assert "2 of 4 origin days reach past 2021-06-30" in notes[0]
    assert "no incident data for this window on those days" in notes[0]
    assert notes[1] == (
        "3 of 4 origin days had no incident in the forecast window: they are left out of the "
        "means (they say nothing about accuracy)."
    )
    one, _ = coverage_notes(
        origins=origins, scored=3, horizon_days=1.0, data_to=None, data_end_days=None
    )
    assert one == [
        "1 of 4 origin days had no incident in the forecast window: it is left out of the "
        "means (it says nothing about accuracy)."
    ]
    nothing, _ = coverage_notes(
        origins=origins, scored=0, horizon_days=1.0, data_to=None, data_end_days=None
    )
    assert nothing == [
        "No origin day had an incident in its forecast window: no incident data for this "
        "window, so there is nothing to judge the methods by."
    ]
    assert all("evidence" not in n for n in [*notes, *nothing])


class _Scorer:
    """A stand-in scorer: counts its calls and has an attribute of its own."""

    label = "stand-in"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def fit(self, events: Any, grid: Any, as_of_days: float) -> FitReport:
        self.calls.append(("fit", as_of_days))
        return FitReport("stand-in")

    def score(self, horizon_days: float) -> Any:
        self.calls.append(("score", horizon_days))
        return np.zeros((1, 1))


def test_the_counter_tells_each_origin_day_once() -> None:
    told: list[int] = []
    inner = _Scorer()
    counting = CountingScorer(inner, told.append)
    nothing: Any = None  # the stand-in reads neither events nor grid
    for day in (10.0, 11.0):
        counting.fit(nothing, nothing, day)
        counting.score(1.0)
        counting.score(7.0)  # a second scoring of the same day is not another day
    assert told == [1, 2]
    assert inner.calls == [
        ("fit", 10.0),
        ("score", 1.0),
        ("score", 7.0),
        ("fit", 11.0),
        ("score", 1.0),
        ("score", 7.0),
    ]
    assert counting.label == "stand-in"  # anything else is the wrapped scorer's


def test_the_task_is_named_time_limited_acknowledged_late_and_retried_on_a_database_blip() -> None:
    from psycopg2 import OperationalError as PgOperationalError
    from sqlalchemy.exc import OperationalError

    from csp.worker import celery_app
    from services.predictive.diagnostics.backtests.service import JOB_TIME_LIMIT_S

    task = celery_app.tasks["predictive.run_backtest"]
    db_down = OperationalError("SELECT 1", {}, PgOperationalError("server closed the connection"))
    assert isinstance(db_down, tuple(task.autoretry_for))
    assert not isinstance(ValueError("a bug"), tuple(task.autoretry_for))
    assert task.acks_late is True and task.time_limit == JOB_TIME_LIMIT_S
    assert task.soft_time_limit < task.time_limit
