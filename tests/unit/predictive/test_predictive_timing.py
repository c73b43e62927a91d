"""Coarse timestamps: detection and the fallback of choose_method."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from services.predictive.compute.events import Events
from services.predictive.compute.methods import make_scorer
from services.predictive.compute.selection import choose_method
from services.predictive.compute.timing import timestamp_quality, to_days
from shared.grid import Grid


def _month_days(rng: np.random.Generator, n: int) -> np.ndarray:
    months = rng.integers(0, 9, n)
    return np.array(
        [(datetime(2022, 1 + m, 1) - datetime(1970, 1, 1)).days for m in months], dtype=float
    )


def _events(t: np.ndarray, rng: np.random.Generator) -> Events:
    x = 575_000 + rng.uniform(0, 3000, t.size)
    y = 168_000 + rng.uniform(0, 3000, t.size)
    return Events(x, y, t)


def test_to_days_accepts_datetimes_and_datetime64() -> None:
    d = [datetime(1970, 1, 2, 12, tzinfo=UTC), datetime(2022, 3, 1)]
    got = to_days(d)
    np.testing.assert_allclose(got, [1.5, (datetime(2022, 3, 1) - datetime(1970, 1, 1)).days])
    np.testing.assert_allclose(to_days(np.array(["1970-01-03"], dtype="datetime64[D]")), [2.0])


def test_month_only_detected() -> None:
    rng = np.random.default_rng(1)
    t = _month_days(rng, 3000)
    q = timestamp_quality(t)
    assert q.month_only and q.day_only and not q.usable_for_temporal
    assert "month" in q.reason
    assert q.tie_share > 0.99
    # Same answer from datetimes.
    dts = [datetime(1970, 1, 1) + timedelta(days=float(v)) for v in t[:50]]
    assert timestamp_quality(dts).month_only


def test_fine_times_usable_and_tie_share_counted() -> None:
    rng = np.random.default_rng(2)
    t = 19000 + rng.uniform(0, 365, 5000)
    q = timestamp_quality(t)
    assert q.usable_for_temporal and not q.month_only and q.tie_share == 0.0
    # Half the events duplicated exactly: 2500 of 7499 gaps are ties.
    t2 = np.concatenate([t, t[:2500]])
    q2 = timestamp_quality(t2)
    assert q2.tie_share == pytest.approx(2500 / 7499)
    assert not q2.usable_for_temporal


def test_dates_only_judged_within_cells() -> None:
    rng = np.random.default_rng(3)
    t = np.floor(19000 + rng.uniform(0, 365, 4000))
    cells = rng.integers(0, 2000, 4000)
    assert not timestamp_quality(t).usable_for_temporal  # ~90% of global gaps are ties
    q = timestamp_quality(t, cell_index=cells)
    assert q.day_only and q.usable_for_temporal and q.tie_share < 0.05


def test_choose_method_falls_back_on_month_only() -> None:
    rng = np.random.default_rng(4)
    ev = _events(_month_days(rng, 2000), rng)
    method, warnings = choose_method(ev, "auto")
    assert method == "best_static"
    assert warnings and "month" in warnings[0] and "best_static" in warnings[0]
    method, warnings = choose_method(ev, "etas")
    assert method == "best_static" and warnings
    method, warnings = choose_method(ev, "naive90")
    assert method == "naive90" and warnings == []
    method, warnings = choose_method(ev, "naive28")
    assert method == "naive28" and "month" in warnings[0]


def test_naive28_warns_when_month_data_leaves_window_empty() -> None:
    # Events dated 2022-02-01 and 2022-03-01; 28 days before 2022-04-01 holds none of them.
    t = np.array([19024.0, 19024.0, 19052.0])
    rng = np.random.default_rng(8)
    grid = Grid.covering(575_000, 168_000, 578_000, 171_000, 150.0)
    report = make_scorer("naive28").fit(_events(t, rng), grid, 19083.0)
    assert report.warnings and "coarser" in report.warnings[0]


def test_choose_method_auto_picks_sepp_on_fine_or_daily_times() -> None:
    rng = np.random.default_rng(5)
    ev = _events(19000 + rng.uniform(0, 365, 2000), rng)
    assert choose_method(ev, "auto") == ("sepp", [])
    # Dates only, heavily tied: sepp bins by day, so auto keeps it (etas would fall back).
    daily = _events(np.floor(19000 + rng.uniform(0, 365, 2000)), rng)
    assert choose_method(daily, "auto") == ("sepp", [])
    small = _events(19000 + rng.uniform(0, 365, 50), rng)
    method, warnings = choose_method(small, "auto")
    assert method == "best_static" and "50" in warnings[0]
    with pytest.raises(ValueError):
        choose_method(ev, "magic")


def test_etas_on_month_only_warns_and_stays_finite() -> None:
    rng = np.random.default_rng(6)
    ev = _events(_month_days(rng, 2000), rng)
    grid = Grid.covering(575_000, 168_000, 578_000, 171_000, 150.0)
    scorer = make_scorer("etas")
    as_of = float(ev.t_days.max()) + 1
    report = scorer.fit(ev, grid, as_of)
    assert any("month" in w for w in report.warnings)
    s = scorer.score(1.0)
    assert s.shape == grid.shape and np.all(np.isfinite(s)) and np.all(s >= 0)


def test_best_static_picks_the_candidate_that_did_best_on_the_past() -> None:
    """The choice is the inner backtest's best; a large margin keeps the first candidate."""
    import numpy as np

    from services.predictive.compute.events import Events
    from services.predictive.compute.methods import make_scorer
    from shared.grid import Grid

    rng = np.random.default_rng(3)
    grid = Grid.covering(0, 0, 2999, 2999, 150)
    xs, ys, ts = [], [], []
    # A hot cell that moves every 30 days, plus uniform noise: recent counts win.
    for month in range(12):
        cx, cy = rng.uniform(200, 2800, 2)
        for _ in range(40):
            xs.append(cx + rng.uniform(-20, 20))
            ys.append(cy + rng.uniform(-20, 20))
            ts.append(month * 30 + rng.uniform(0, 30))
        for _ in range(20):
            xs.append(rng.uniform(0, 3000))
            ys.append(rng.uniform(0, 3000))
            ts.append(month * 30 + rng.uniform(0, 30))
    ev = Events(np.array(xs), np.array(ys), np.array(ts))
    scorer = make_scorer(
        "best_static", candidates=("kde", "naive90", "prospective"), k_boxes=5, margin=0.0
    )
    report = scorer.fit(ev, grid, as_of_days=330.0)
    inner = report.params["inner_hit_rate_at_k"]
    assert set(inner) == {"kde", "naive90", "prospective"}
    order = ["kde", "naive90", "prospective"]
    assert report.params["chosen"] == max(inner, key=lambda k: (inner[k], -order.index(k)))
    # With a large margin the first (simplest) candidate is kept.
    sticky = make_scorer("best_static", candidates=("kde", "naive90"), k_boxes=5, margin=100.0)
    assert sticky.fit(ev, grid, as_of_days=330.0).params["chosen"] == "kde"
    assert report.method == f"best_static:{report.params['chosen']}"
    assert scorer.score(1.0).shape == grid.shape
