"""sepp's blend weights and its own-count variant: a known mixture, ties by neighbours."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from services.predictive.compute import sepp
from services.predictive.compute.sepp_scorer import SeppScorer


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


def test_own_count_variant_breaks_equal_counts_by_the_neighbourhood() -> None:
    """``background_same_box1`` ranks boxes by their own count first; two boxes with the same
    count are ordered by the incidents around them (never by their index)."""
    rng = np.random.default_rng(22)
    ny = nx = 30
    n_days = 200
    # Scattered incidents in rows 0-12 only; box B (20, 20) has nothing within 7 boxes.
    a, b = 5 * nx + 5, 20 * nx + 20
    far = rng.integers(0, 13 * nx, 500)
    far = far[far != a]
    cells = np.concatenate([far, [a] * 6, [b] * 6, [a + 1] * 2, [a + nx] * 2])
    t = rng.uniform(0, n_days, cells.size)
    own = np.bincount(cells, minlength=nx * ny)
    assert own[a] == own[b] == 6  # the tie this test is about (scatter adds none to a, b)
    tab = sepp.build_table(cells, t, (ny, nx), 0.0, n_days, first_feature_day=50)
    bg = np.array([n == "uniform" or n.startswith("tauinf") for n in tab.names])
    back = sepp.fit_weights(tab, 50, n_days, active=bg).weights
    scorer = SeppScorer(window_days=float(n_days))
    variants = scorer._variants(tab, back, back)
    rate = variants["background_same_box1"] @ sepp.surfaces(tab, (ny, nx), sepp.SIGMAS_CELLS)
    assert rate[a] > rate[b]
    # Otherwise the order is the own counts': more incidents always rank higher.
    order = np.argsort(-rate, kind="stable")
    ranked_counts = own[order]
    assert np.all(np.diff(ranked_counts[ranked_counts > 0]) <= 0)
    # Without the tie share (all on the box itself) the two would be equal.
    flat = SeppScorer(window_days=float(n_days), tie_share=0.0)._variants(tab, back, back)
    rate0 = flat["background_same_box1"] @ sepp.surfaces(tab, (ny, nx), sepp.SIGMAS_CELLS)
    assert math.isclose(rate0[a], rate0[b], rel_tol=1e-12)
