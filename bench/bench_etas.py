"""Benchmark the grid ETAS fit: simulate 5k / 50k / 200k events, fit, time, compare parameters.

Run: .venv/bin/python bench/bench_etas.py [--backtest]
Timings exclude numba compilation: every kernel is warmed up on a small problem first.
With --backtest also runs a short rolling-origin backtest (plain vs smoothed ETAS vs baselines)
on sparse simulated data, where the plain model is weak.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from services.predictive.compute.backtest import format_table
from services.predictive.compute.etas import expected_counts, fit_grid_etas
from services.predictive.compute.events import Events
from services.predictive.compute.methods import rolling_backtest
from services.predictive.compute.simulate import simulate_grid_etas
from shared.grid import Grid

THETA, OMEGA = 0.5, 0.2
N_CELLS = 5000
# (label, days, target events, goal seconds)
CASES = [("5k", 365.0, 5_000, None), ("50k", 730.0, 50_000, 1.0), ("200k", 1460.0, 200_000, 5.0)]


def warm_up() -> None:
    rng = np.random.default_rng(0)
    c, t = simulate_grid_etas(np.full(10, 0.1), 0.3, 0.5, 100.0, rng)
    fit = fit_grid_etas(c, t, 10, 100.0, t_start=0.0)
    expected_counts(fit, c, t, 100.0, 101.0)


def bench_fit(repeats: int) -> None:
    print(f"grid ETAS fit, {N_CELLS} cells, true theta={THETA}, omega={OMEGA}/day")
    print(f"{os.cpu_count()} cores; numba compile excluded (warmed up first); best of {repeats}")
    head = (
        f"{'case':>5} {'events':>8} {'days':>6} {'fit s':>7} {'iters':>5} {'theta':>7} "
        f"{'omega':>7} {'bg/day':>8} {'true bg':>8} {'goal':>9}"
    )
    print(head)
    rng = np.random.default_rng(2015)
    for label, days, n_target, goal in CASES:
        mu = rng.gamma(0.7, 1.0, N_CELLS)
        mu *= n_target * (1 - THETA) / days / mu.sum()
        cells, t = simulate_grid_etas(mu, THETA, OMEGA, days, rng)
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            fit = fit_grid_etas(cells, t, N_CELLS, days, t_start=0.0)
            best = min(best, time.perf_counter() - t0)
        verdict = "-" if goal is None else ("MET" if best <= goal else "MISSED") + f" {goal:g}s"
        print(
            f"{label:>5} {cells.size:>8} {days:>6.0f} {best:>7.3f} {fit.iterations:>5} "
            f"{fit.theta:>7.4f} {fit.omega_per_day:>7.4f} {fit.background_per_day:>8.2f} "
            f"{mu.sum():>8.2f} {verdict:>9}"
        )


def bench_backtest() -> None:
    rng = np.random.default_rng(7)
    grid = Grid(150.0, 570_000.0, 159_900.0, 80, 60)
    yy, xx = np.mgrid[0 : grid.ny, 0 : grid.nx]
    f = np.full(grid.shape, 0.02)
    for _ in range(15):
        cy, cx = rng.uniform(0, grid.ny), rng.uniform(0, grid.nx)
        s = rng.uniform(2, 6)
        f += rng.uniform(0.5, 2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    mu = (f / f.sum() * 6.0).ravel()  # 6 background events a day over 4,800 cells: sparse
    cells, t = simulate_grid_etas(mu, 0.5, 0.3, 300.0, rng)
    row, col = np.divmod(cells, grid.nx)
    x = grid.x0 + (col + rng.random(cells.size)) * grid.cell_size_m
    y = grid.y1 - (row + rng.random(cells.size)) * grid.cell_size_m
    ev = Events(x, y, 19_000.0 + t)
    print(f"\nbacktest: {cells.size} simulated events, {grid.nx * grid.ny} cells, 300 days,")
    print("theta 0.5, omega 0.3/day; origins days 240..299 (daily), horizon 7 days, K = 25")
    t0 = time.perf_counter()
    res = rolling_backtest(
        ev,
        grid,
        methods=["etas", "etas_smooth", "naive28", "naive90", "kde", "prospective"],
        start_days=19_240.0,
        end_days=19_300.0,
        step_days=1,
        horizon_days=7,
        k_boxes=25,
    )
    print(format_table(res))
    print(f"({time.perf_counter() - t0:.1f} s; plot written to /tmp/bench_etas_backtest.png)")
    res.plot_png("/tmp/bench_etas_backtest.png")
    p = res.fit_params["etas_smooth"]
    print(f"etas_smooth chose sigma={p['smooth_sigma_cells']} cells, weight={p['smooth_weight']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backtest", action="store_true")
    args = ap.parse_args()
    warm_up()
    bench_fit(args.repeats)
    if args.backtest:
        bench_backtest()


if __name__ == "__main__":
    main()
