"""Knox near-repeat table against a brute-force count over every pair."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from services.predictive.compute.nearrepeat import TooMuchWork, knox


def _brute(x: np.ndarray, y: np.ndarray, t: np.ndarray, d_e: tuple, t_e: tuple) -> np.ndarray:
    out = np.zeros((len(d_e) - 1, len(t_e) - 1), dtype=int)
    for i, j in itertools.combinations(range(x.size), 2):
        d = math.hypot(x[i] - x[j], y[i] - y[j])
        g = abs(t[i] - t[j])
        for a in range(len(d_e) - 1):
            for b in range(len(t_e) - 1):
                if d_e[a] <= d < d_e[a + 1] and t_e[b] <= g < t_e[b + 1]:
                    out[a, b] += 1
    return out


def test_knox_table_equals_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = 120
    x = rng.uniform(0, 1500, n).round(0)  # rounding makes exact band edges happen
    y = rng.uniform(0, 1500, n).round(0)
    t = rng.integers(0, 90, n).astype(float)
    d_e, t_e = (0.0, 100.0, 250.0, 500.0), (0.0, 3.0, 7.0, 14.0, 30.0)
    got = knox(x, y, t, distance_edges_m=d_e, time_edges_days=t_e, permutations=19, seed=4)
    assert np.array_equal(got.observed, _brute(x, y, t, d_e, t_e))
    perm_rng = np.random.default_rng(4)
    perms = [_brute(x, y, perm_rng.permutation(t), d_e, t_e) for _ in range(19)]
    assert np.allclose(got.expected, np.mean(perms, axis=0))
    ge = np.sum([p >= got.observed for p in perms], axis=0)
    assert np.allclose(got.p_value, (1 + ge) / 20)


def test_near_repeats_show_up_where_they_were_planted() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 5000, 400)
    y = rng.uniform(0, 5000, 400)
    t = rng.uniform(0, 365, 400)
    # 100 follow-ups within 50 m and 3 days of a random earlier incident.
    src = rng.integers(0, 400, 100)
    x2 = np.concatenate([x, x[src] + rng.uniform(-35, 35, 100)])
    y2 = np.concatenate([y, y[src] + rng.uniform(-35, 35, 100)])
    t2 = np.concatenate([t, t[src] + rng.uniform(0, 3, 100)])
    tab = knox(x2, y2, t2, distance_edges_m=(0, 100, 400), time_edges_days=(0, 7, 60),
               permutations=49)  # fmt: skip
    assert tab.ratio[0, 0] > 5 and tab.p_value[0, 0] == pytest.approx(1 / 50)
    assert tab.p_value[1, 1] > 0.05  # far and late: nothing planted there
    body = tab.as_dict()
    assert body["cells"][0]["observed"] == int(tab.observed[0, 0])


def test_bounds_are_checked_before_work() -> None:
    x = np.zeros(10)
    with pytest.raises(TooMuchWork, match="takes 5"):
        knox(x, x, x, max_events=5)
    with pytest.raises(TooMuchWork, match="pairs"):
        knox(x, x, np.arange(10.0), max_pairs=10)
    with pytest.raises(ValueError, match="increasing"):
        knox(x, x, x, distance_edges_m=(0.0, 100.0, 50.0))
    with pytest.raises(ValueError, match="permutations"):
        knox(x, x, x, permutations=5000)
