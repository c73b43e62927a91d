"""Grid ETAS: EM recovery, Poisson limit, O(n) recursion against O(n^2), expected counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.predictive.compute.etas import (
    EtasFit,
    expected_counts,
    fit_grid_etas,
    trigger_sums,
    window_loglik,
)
from services.predictive.compute.simulate import simulate_grid_etas


def naive_sums(cells: np.ndarray, t: np.ndarray, omega: float) -> tuple[np.ndarray, np.ndarray]:
    """O(n^2) sums over strictly earlier events of the same cell."""
    dt = t[:, None] - t[None, :]
    same = cells[:, None] == cells[None, :]
    ok = same & (dt > 0)
    e = np.where(ok, np.exp(-omega * np.where(ok, dt, 0.0)), 0.0)
    return e.sum(axis=1), (e * np.where(ok, dt, 0.0)).sum(axis=1)


def naive_loglik(
    cells: np.ndarray,
    t: np.ndarray,
    mu: np.ndarray,
    theta: float,
    omega: float,
    t0: float,
    t1: float,
) -> float:
    a, _ = naive_sums(cells, t, omega)
    lam = mu[cells] + theta * omega * a
    return float(
        np.log(lam).sum() - mu.sum() * (t1 - t0) - theta * np.sum(1 - np.exp(-omega * (t1 - t)))
    )


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20150601)
    mu = rng.gamma(4.0, 0.05 / 4, 400)
    cells, t = simulate_grid_etas(mu, 0.5, 0.2, 1500.0, rng)
    return mu, cells, t


def test_fit_recovers_theta_and_omega(simulated: tuple[np.ndarray, ...]) -> None:
    mu, cells, t = simulated
    assert cells.size > 50_000
    fit = fit_grid_etas(cells, t, 400, 1500.0, t_start=0.0)
    assert fit.converged
    assert fit.theta == pytest.approx(0.5, rel=0.05)
    assert fit.omega_per_day == pytest.approx(0.2, rel=0.10)
    assert fit.background_per_day == pytest.approx(mu.sum(), rel=0.05)
    p = fit.params()
    assert set(p) >= {"theta", "omega_per_day", "background_per_day", "iterations", "loglik"}
    assert all(isinstance(v, int | float | bool) for v in p.values())


def test_fit_is_a_likelihood_maximum(simulated: tuple[np.ndarray, ...]) -> None:
    _, cells, t = simulated
    # A slice keeps the O(n^2) likelihood cheap.
    keep = cells < 10
    c, tt = cells[keep], t[keep]
    fit = fit_grid_etas(c, tt, 10, 1500.0, t_start=0.0, tol=1e-12, max_iter=2000)
    ll = naive_loglik(c, tt, fit.mu_per_day, fit.theta, fit.omega_per_day, 0.0, 1500.0)
    assert fit.loglik == pytest.approx(ll, rel=1e-9)
    for dth, dom, dmu in [(1.03, 1, 1), (0.97, 1, 1), (1, 1.05, 1), (1, 0.95, 1), (1, 1, 1.03)]:
        other = naive_loglik(
            c, tt, fit.mu_per_day * dmu, fit.theta * dth, fit.omega_per_day * dom, 0.0, 1500.0
        )
        assert other < ll
    # Stationary point: d loglik / d log(param) vanishes (central differences).
    h = 1e-5
    for dth, dom, dmu in [(1, 0, 0), (0, 1, 0), (0, 0, 1)]:
        up, down = (
            naive_loglik(
                c,
                tt,
                fit.mu_per_day * (1 + s * h * dmu),
                fit.theta * (1 + s * h * dth),
                fit.omega_per_day * (1 + s * h * dom),
                0.0,
                1500.0,
            )
            for s in (1, -1)
        )
        assert abs(up - down) / (2 * h) < 0.01


def test_recursion_matches_quadratic_sums_with_ties() -> None:
    rng = np.random.default_rng(7)
    n = 600
    cells = rng.integers(0, 5, n)
    t = np.round(rng.uniform(0, 50, n), 0)  # whole days: many exact ties
    t[:20] = 10.0
    cells[:20] = 2
    a, b = trigger_sums(cells, t, 5, 0.3)
    na, nb = naive_sums(cells, t, 0.3)
    np.testing.assert_allclose(a, na, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b, nb, rtol=1e-12, atol=1e-12)


def test_tied_events_fit_without_nan() -> None:
    cells = np.zeros(50, dtype=np.int64)
    t = np.repeat(np.arange(5.0), 10)  # five instants, ten events each
    fit = fit_grid_etas(cells, t, 1, 5.0)
    assert np.isfinite(fit.loglik) and np.isfinite(fit.theta) and np.isfinite(fit.omega_per_day)


def test_zero_theta_data_gives_background() -> None:
    rng = np.random.default_rng(11)
    mu = rng.uniform(0.01, 0.1, 300)
    cells, t = simulate_grid_etas(mu, 0.0, 0.2, 1000.0, rng)
    fit = fit_grid_etas(cells, t, 300, 1000.0, t_start=0.0)
    assert fit.theta < 0.02
    counts = np.bincount(cells, minlength=300)
    exp = expected_counts(fit, cells, t, 1000.0, 1001.0)
    np.testing.assert_allclose(exp.sum(), counts.sum() / 1000.0, rtol=0.03)
    assert np.corrcoef(exp, counts)[0, 1] > 0.99


def test_theta_fixed_at_zero_is_exactly_poisson() -> None:
    rng = np.random.default_rng(12)
    mu = rng.uniform(0.01, 0.1, 50)
    cells, t = simulate_grid_etas(mu, 0.4, 0.5, 400.0, rng)
    fit = fit_grid_etas(cells, t, 50, 400.0, t_start=0.0, theta0=0.0)
    counts = np.bincount(cells, minlength=50)
    assert fit.theta == 0.0
    np.testing.assert_allclose(fit.mu_per_day, counts / 400.0, rtol=1e-12)
    pois = float(np.sum(counts * np.log(np.where(counts > 0, counts / 400.0, 1.0))) - counts.sum())
    assert fit.loglik == pytest.approx(pois, rel=1e-10)
    exp = expected_counts(fit, cells, t, 400.0, 402.0)
    np.testing.assert_allclose(exp, 2 * counts / 400.0, rtol=1e-12)


def _mc_counts(
    fit: EtasFit, hist: np.ndarray, t_from: float, t_to: float, reps: int, rng: np.random.Generator
) -> float:
    """Mean number of events in [t_from, t_to) for one cell, by simulating the future."""
    th, om, mu = fit.theta, fit.omega_per_day, float(fit.mu_per_day[0])
    total = 0
    for _ in range(reps):
        nb = rng.poisson(mu * (t_to - t_from))
        gen = list(t_from + rng.random(nb) * (t_to - t_from))
        # Memorylessness: children of past events still to come are Poisson(theta * decay).
        for tj in hist:
            k = rng.poisson(th * math.exp(-om * (t_from - tj)))
            gen += list(t_from + rng.exponential(1 / om, k))
        gen = [g for g in gen if g < t_to]
        while gen:
            total += len(gen)
            kids = []
            for g in gen:
                kids += list(g + rng.exponential(1 / om, rng.poisson(th)))
            gen = [g for g in kids if g < t_to]
    return total / reps


def test_expected_counts_match_simulated_future() -> None:
    fit = EtasFit(np.array([0.3]), 0.6, 0.5, 0.0, 1, True, 3, 0.0, 10.0)
    hist = np.array([7.0, 9.0, 9.5])
    cells = np.zeros(3, dtype=np.int64)
    rng = np.random.default_rng(5)
    exact = expected_counts(fit, cells, hist, 10.0, 13.0)[0]
    mc = _mc_counts(fit, hist, 10.0, 13.0, 20_000, rng)
    assert exact == pytest.approx(mc, rel=0.02)
    # Without the cascade: the intensity integral with the history frozen, by quadrature.
    s = np.linspace(10.0, 13.0, 30_001)
    lam = 0.3 + 0.6 * 0.5 * np.exp(-0.5 * (s[:, None] - hist[None, :])).sum(axis=1)
    quad = float(np.sum((lam[1:] + lam[:-1]) / 2 * np.diff(s)))
    first = expected_counts(fit, cells, hist, 10.0, 13.0, cascade=False)[0]
    assert first == pytest.approx(quad, rel=1e-8)
    assert exact > first


def test_window_loglik_matches_direct_formula() -> None:
    rng = np.random.default_rng(3)
    cells = rng.integers(0, 4, 300)
    t = rng.uniform(0, 100, 300)
    fit = EtasFit(np.full(4, 0.5), 0.4, 0.3, 0.0, 1, True, 300, 0.0, 80.0)
    mu2 = np.array([0.2, 0.5, 0.8, 0.4])
    got = window_loglik(fit, cells, t, 80.0, 100.0, [fit.mu_per_day, mu2])
    for mu, val in zip([fit.mu_per_day, mu2], got, strict=True):
        a, _ = naive_sums(cells, t, 0.3)
        inside = t >= 80.0
        lam = mu[cells[inside]] + 0.4 * 0.3 * a[inside]
        s = np.linspace(80.0, 100.0, 20_001)
        trig = sum(np.trapezoid(0.4 * 0.3 * np.exp(-0.3 * (s - tj)) * (s > tj), s) for tj in t)
        direct = np.log(lam).sum() - mu.sum() * 20.0 - trig
        assert val == pytest.approx(direct, rel=1e-5)


def test_simulation_total_matches_branching_mean() -> None:
    rng = np.random.default_rng(9)
    mu = np.full(200, 0.05)
    cells, t = simulate_grid_etas(mu, 0.5, 1.0, 2000.0, rng)
    # Long window, fast decay: edge losses are negligible, mean total = sum(mu) T / (1 - theta).
    assert cells.size == pytest.approx(200 * 0.05 * 2000 / 0.5, rel=0.03)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 2000.0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        fit_grid_etas(np.array([0, 5]), np.array([1.0, 2.0]), 3, 10.0)
    with pytest.raises(ValueError):
        fit_grid_etas(np.array([0, 1]), np.array([1.0, 20.0]), 3, 10.0)
    empty = fit_grid_etas(np.zeros(0, dtype=np.int64), np.zeros(0), 3, 10.0)
    assert empty.mu_per_day.shape == (3,) and empty.theta == 0.0


def test_window_loglik_reads_candidates_one_at_a_time() -> None:
    """A generator of backgrounds scores as the same list does (large grids pass one at once)."""
    rng = np.random.default_rng(5)
    cells = rng.integers(0, 6, 200)
    t = np.sort(rng.uniform(0, 60, 200))
    fit = EtasFit(np.full(6, 0.4), 0.3, 0.5, 0.0, 1, True, 200, 0.0, 50.0)
    cands = [fit.mu_per_day, np.linspace(0.1, 0.9, 6), np.full(6, 0.7)]
    assert window_loglik(fit, cells, t, 50.0, 60.0, iter(cands)) == window_loglik(
        fit, cells, t, 50.0, 60.0, cands
    )


def test_smoothing_choice_is_the_best_of_all_candidates() -> None:
    """etas_smooth picks the (bandwidth, weight) a full search over every background picks."""
    from services.predictive.compute import baselines
    from services.predictive.compute.etas import fit_grid_etas
    from services.predictive.compute.etas_scorer import EtasScorer
    from shared.grid import Grid

    rng = np.random.default_rng(9)
    grid = Grid(cell_size_m=100.0, x0=0.0, y0=0.0, nx=12, ny=9)
    mu = rng.gamma(0.5, 0.05, grid.nx * grid.ny)
    cells, t = simulate_grid_etas(mu, 0.3, 0.4, 200.0, rng)
    scorer = EtasScorer(smooth=True)
    got, extra = scorer._choose_smoothing(cells, t, grid, 200.0)
    early = t < 200.0 - scorer.validation_days
    first = fit_grid_etas(cells[early], t[early], grid.nx * grid.ny, 172.0)
    combos = [(0.0, 0.0)] + [(s, w) for s in scorer.sigmas_cells for w in scorer.mix_weights if w]
    backgrounds = []
    for s, w in combos:
        sm = baselines.smooth_cells(first.mu_per_day.reshape(grid.shape), s).ravel()
        backgrounds.append((1 - w) * first.mu_per_day + w * sm)
    ll = window_loglik(first, cells, t, 172.0, 200.0, backgrounds)
    best = int(np.argmax(ll))
    assert (extra["smooth_sigma_cells"], extra["smooth_weight"]) == combos[best]
    assert got is not None
    np.testing.assert_allclose(got, backgrounds[best], rtol=1e-12)
    assert extra["validation_loglik"] == pytest.approx(ll[best], rel=1e-12)
