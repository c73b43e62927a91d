"""Rolling-origin backtest on simulated self-exciting data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.predictive.compute.backtest import format_table
from services.predictive.compute.etas import window_loglik
from services.predictive.compute.etas_scorer import EtasScorer
from services.predictive.compute.events import Events
from services.predictive.compute.methods import make_scorer, rolling_backtest
from services.predictive.compute.simulate import simulate_grid_etas
from shared.grid import Grid
from shared.metrics import top_cells

GRID = Grid(150.0, 570_000.0, 159_900.0, 40, 40)
T0 = 19_000.0  # days since 1970: 2022


def _smooth_field(rng: np.random.Generator, total_per_day: float) -> np.ndarray:
    yy, xx = np.mgrid[0 : GRID.ny, 0 : GRID.nx]
    f = np.full(GRID.shape, 0.02)
    for _ in range(8):
        cy, cx = rng.uniform(0, GRID.ny, 2)
        s = rng.uniform(2, 5)
        f += rng.uniform(0.5, 2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return (f / f.sum() * total_per_day).ravel()


def _events(mu: np.ndarray, theta: float, omega: float, days: float, seed: int) -> Events:
    rng = np.random.default_rng(seed)
    cells, t = simulate_grid_etas(mu, theta, omega, days, rng)
    row, col = np.divmod(cells, GRID.nx)
    x = GRID.x0 + (col + rng.random(cells.size)) * GRID.cell_size_m
    y = GRID.y1 - (row + rng.random(cells.size)) * GRID.cell_size_m
    return Events(x, y, T0 + t)


@pytest.fixture(scope="module")
def self_exciting() -> Events:
    mu = _smooth_field(np.random.default_rng(1), 8.0)
    return _events(mu, 0.6, 0.3, 400.0, seed=2)


def test_etas_ranks_at_least_as_well_as_naive28(self_exciting: Events, tmp_path) -> None:
    res = rolling_backtest(
        self_exciting,
        GRID,
        methods=["etas", "naive28", "prospective"],
        start_days=T0 + 360,
        end_days=T0 + 400,
        step_days=1,
        horizon_days=1,
        k_boxes=16,
    )
    rows = {r["method"]: r for r in res.table}
    assert rows["etas"]["origins"] == 40
    assert rows["etas"]["hit_rate_at_k"] >= rows["naive28"]["hit_rate_at_k"]
    assert rows["etas"]["pai_at_k"] == pytest.approx(
        rows["etas"]["hit_rate_at_k"] / (16 / GRID.nx / GRID.ny)
    )
    for key in ("hit_rate_at_1pct", "pai_at_1pct", "hit_rate_at_5pct", "pai_at_5pct"):
        assert math.isfinite(rows["etas"][key])
    for m in res.methods:
        assert res.selection_counts[m].shape == (GRID.nx * GRID.ny,)
        assert res.selection_counts[m].sum() == 16 * 40
        assert 0.0 <= res.stability[m] <= 1.0
        assert res.curves[m].shape == res.curve_fractions.shape
        assert np.all(np.diff(res.curves[m]) >= -1e-12)
    assert res.fit_params["etas"]["theta"] == pytest.approx(0.6, abs=0.1)
    text = format_table(res)
    assert "etas" in text and "naive28" in text and "hit@16" in text
    png = res.plot_png(tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hit_rate_and_stability_by_hand(self_exciting: Events) -> None:
    origins = [T0 + 300, T0 + 307, T0 + 314]
    res = rolling_backtest(
        self_exciting,
        GRID,
        methods=["naive28"],
        start_days=origins[0],
        end_days=T0 + 320,
        step_days=7,
        horizon_days=7,
        k_boxes=10,
    )
    tops, hits = [], []
    ev = self_exciting
    for o in origins:
        s = make_scorer("naive28")
        s.fit(ev, GRID, o)
        top = top_cells(s.score(7.0), 10)
        tops.append(set(top.tolist()))
        later = (ev.t_days >= o) & (ev.t_days < o + 7)
        row, col, _ = GRID.cell_index(ev.x[later], ev.y[later])
        flat = GRID.flat_index(row, col)
        hits.append(np.isin(flat, top).sum() / later.sum())
    jac = [len(a & b) / len(a | b) for a, b in zip(tops[:-1], tops[1:], strict=True)]
    assert res.table[0]["hit_rate_at_k"] == pytest.approx(np.mean(hits))
    assert res.stability["naive28"] == pytest.approx(np.mean(jac))
    counts = np.zeros(GRID.nx * GRID.ny, dtype=np.int64)
    for top in tops:
        counts[list(top)] += 1
    np.testing.assert_array_equal(res.selection_counts["naive28"], counts)


def test_mask_limits_candidates(self_exciting: Events) -> None:
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[:, :20] = True
    res = rolling_backtest(
        self_exciting,
        GRID,
        methods=["naive90"],
        start_days=T0 + 380,
        end_days=T0 + 383,
        k_boxes=5,
        mask=mask,
    )
    sel = res.selection_counts["naive90"].reshape(GRID.shape)
    assert sel[:, 20:].sum() == 0 and sel.sum() == 15


def test_smoothed_background_helps_on_sparse_data() -> None:
    mu = _smooth_field(np.random.default_rng(3), 3.0)
    ev = _events(mu, 0.4, 0.5, 200.0, seed=4)  # ~1000 events over 1600 cells: sparse
    as_of, future = T0 + 170, T0 + 200
    plain, smooth = EtasScorer(smooth=False), EtasScorer(smooth=True)
    plain.fit(ev, GRID, as_of)
    report = smooth.fit(ev, GRID, as_of)
    assert report.params["smooth_weight"] > 0
    assert report.params["background_per_day"] == pytest.approx(
        plain.fit_.background_per_day, rel=1e-6
    )
    row, col, _ = GRID.cell_index(ev.x, ev.y)
    cells = GRID.flat_index(row, col)
    ll_plain, ll_smooth = window_loglik(
        plain.fit_, cells, ev.t_days, as_of, future, [plain.mu_, smooth.mu_]
    )
    assert math.isfinite(ll_smooth) and ll_smooth > ll_plain
    # And it predicts where the next month's events fall at least as well.
    later = (ev.t_days >= as_of) & (ev.t_days < future)
    out = np.bincount(cells[later], minlength=GRID.nx * GRID.ny)
    k = 80
    hit_plain = out[top_cells(plain.score(30.0), k)].sum()
    hit_smooth = out[top_cells(smooth.score(30.0), k)].sum()
    assert hit_smooth >= hit_plain
