"""sepp's blend weights: EM gives back the weights of a known mixture of surfaces."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from services.predictive.compute import sepp


def test_em_recovers_the_weights_of_a_known_mixture_of_surfaces() -> None:
    """Counts drawn from 0.5 uniform + 3 A + 1.5 B a day: EM gives back those weights."""
    rng = np.random.default_rng(21)
    shape, n_days = (20, 20), 6000
    n = shape[0] * shape[1]
    a = rng.gamma(0.3, 1.0, n)
    a /= a.sum()
    b = ndimage.gaussian_filter(rng.gamma(0.3, 1.0, shape), 1.0, mode="constant").ravel()
    b /= b.sum()
    comps = np.stack([np.full(n, 1.0 / n), a, b])  # each sums to 1 over the boxes
    true = np.array([0.5, 3.0, 1.5])
    counts = rng.poisson(np.tile(true @ comps, (n_days, 1)))
    day, cell = np.nonzero(counts)
    table = sepp.DayTable(
        0.0, 1.0, n_days, day.astype(np.int64), cell.astype(np.int64),
        counts[day, cell].astype(np.float64), np.ascontiguousarray(comps[:, cell].T),
        np.ones((n_days, 3)), ["uniform", "a", "b"], np.array([math.nan, 1.0, 2.0]),
        np.array([math.nan, 0.0, 1.0]),
    )  # fmt: skip
    fit = sepp.fit_weights(table, 0, n_days, max_iter=5000, tol=1e-12)
    # Independent scale: the weights sum to the mean daily count.
    assert math.isclose(fit.weights.sum(), counts.sum() / n_days, rel_tol=1e-6)
    # Each component's share of the daily count, within 3 percentage points (5 a day, 6,000 days).
    np.testing.assert_allclose(fit.weights / fit.weights.sum(), true / true.sum(), atol=0.03)
    assert not np.allclose(fit.weights / fit.weights.sum(), [0.1, 0.7, 0.2], atol=0.03)
