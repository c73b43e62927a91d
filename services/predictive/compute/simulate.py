"""Simulate the grid self-exciting process by branching (for tests, benchmarks and backtests)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def simulate_grid_etas(
    mu: npt.ArrayLike,
    theta: float,
    omega_per_day: float,
    t_end_days: float,
    rng: np.random.Generator,
    *,
    t_start_days: float = 0.0,
) -> tuple[IntArray, FloatArray]:
    """Simulate events on [t_start_days, t_end_days) by the branching (cluster) construction.

    Background events are Poisson with rate ``mu[n]`` per day in each cell, uniform in time; each
    event has Poisson(``theta``) children in the same cell after Exp(``omega_per_day``) delays;
    children after ``t_end_days`` are dropped.

    Args:
        mu: background rate per cell, events per day, shape (n_cells,).
        theta: branching ratio, must be < 1 so the process stays finite.
        omega_per_day: decay rate of the triggering kernel, 1/day.
        t_end_days: end of the window, days.
        rng: numpy random generator.
        t_start_days: start of the window, days.

    Returns:
        (cell_index, t_days) sorted by time, shapes (n,).
    """
    mu_a = np.asarray(mu, dtype=np.float64).ravel()
    if np.any(mu_a < 0) or not 0 <= theta < 1 or omega_per_day <= 0:
        raise ValueError("need mu >= 0, 0 <= theta < 1 and omega_per_day > 0")
    span = float(t_end_days) - float(t_start_days)
    counts = rng.poisson(mu_a * span)
    cells = np.repeat(np.arange(mu_a.size, dtype=np.int64), counts)
    times = t_start_days + rng.random(cells.size) * span
    all_c = [cells]
    all_t = [times]
    gen_c, gen_t = cells, times
    while gen_c.size:
        k = rng.poisson(theta, gen_c.size)
        child_c = np.repeat(gen_c, k)
        child_t = np.repeat(gen_t, k) + rng.exponential(1.0 / omega_per_day, child_c.size)
        keep = child_t < t_end_days
        gen_c, gen_t = child_c[keep], child_t[keep]
        all_c.append(gen_c)
        all_t.append(gen_t)
    c = np.concatenate(all_c)
    t = np.concatenate(all_t)
    order = np.argsort(t, kind="stable")
    return c[order], t[order]
