import math
import warnings

import numpy as np
import pytest
from scipy import ndimage, stats

from services.hotspots.compute.gistar import (
    bh_adjust,
    bh_critical_p,
    confidence_bins,
    gistar,
    window_offsets,
    window_sum,
)


def direct_gistar(x, mask, radius, window):
    """Textbook Gi* (Getis & Ord 1995) with an explicit n x n binary weights matrix."""
    ny, nx = x.shape
    rows, cols = np.nonzero(mask)
    vals = x[rows, cols].astype(float)
    n = vals.size
    dy = rows[:, None] - rows[None, :]
    dx = cols[:, None] - cols[None, :]
    if window == "square":
        w = (np.maximum(np.abs(dy), np.abs(dx)) <= math.floor(radius)).astype(float)
    else:
        w = (np.hypot(dy, dx) <= radius + 1e-9).astype(float)
    xbar = vals.sum() / n
    s = math.sqrt((vals**2).sum() / n - xbar**2)
    wi = w.sum(1)
    num = w @ vals - xbar * wi
    den = s * np.sqrt((n * (w**2).sum(1) - wi**2) / (n - 1))
    z = np.full(x.shape, np.nan)
    z[rows, cols] = num / den
    return z


@pytest.mark.parametrize(
    ("radius", "window"), [(1, "square"), (2, "square"), (1.5, "circle"), (3, "circle")]
)
def test_z_matches_direct_formula(radius, window):
    rng = np.random.default_rng(1)
    x = rng.poisson(3.0, size=(13, 17)).astype(float)
    res = gistar(x, neighbourhood_cells=radius, window=window)
    expected = direct_gistar(x, np.ones(x.shape, bool), radius, window)
    np.testing.assert_allclose(res.z, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.p, 2 * stats.norm.sf(np.abs(expected)), rtol=1e-9)


def test_mask_excludes_cells_everywhere():
    rng = np.random.default_rng(2)
    x = rng.poisson(2.0, size=(14, 11)).astype(float)
    mask = np.ones(x.shape, bool)
    mask[:4, :5] = False
    mask[9, 3:8] = False
    x[~mask] = 1000.0  # would dominate xbar, S and window sums if it leaked in
    res = gistar(x, neighbourhood_cells=2, window="circle", mask=mask)
    expected = direct_gistar(x, mask, 2, "circle")
    np.testing.assert_allclose(res.z[mask], expected[mask], rtol=1e-10, atol=1e-10)
    assert np.isnan(res.z[~mask]).all()
    assert (res.bins[~mask] == 0).all()
    assert res.n == mask.sum()


def test_window_sum_matches_convolution():
    rng = np.random.default_rng(3)
    v = rng.random((9, 23))
    for radius, window in [(1, "square"), (4, "circle"), (2.5, "circle"), (0, "square")]:
        r = math.floor(radius)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        kern = np.ones_like(yy, float) if window == "square" else (np.hypot(yy, xx) <= radius)
        expected = ndimage.convolve(v, kern.astype(float), mode="constant", cval=0.0)
        got = window_sum(v, window_offsets(radius, window))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_matches_esda_g_local_star_binary():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(4)
    ny, nx = 10, 12
    x = rng.poisson(4.0, size=(ny, nx)).astype(float)
    w = libpysal.weights.lat2W(ny, nx, rook=False)  # queen, ids row-major
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lg = esda.getisord.G_Local(x.ravel(), w, transform="B", star=True, permutations=0)
    res = gistar(x, neighbourhood_cells=1, window="square")
    np.testing.assert_allclose(res.z.ravel(), lg.Zs, rtol=1e-9, atol=1e-9)


def test_matches_esda_with_mask_and_distance_band():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(5)
    ny, nx = 11, 9
    x = rng.poisson(4.0, size=(ny, nx)).astype(float)
    mask = rng.random((ny, nx)) > 0.2
    rows, cols = np.nonzero(mask)
    pts = np.column_stack([cols, -rows]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.DistanceBand(
            pts, threshold=2.0 + 1e-6, binary=True, silence_warnings=True
        )
        lg = esda.getisord.G_Local(x[mask], w, transform="B", star=True, permutations=0)
    res = gistar(x, neighbourhood_cells=2.0, window="circle", mask=mask)
    np.testing.assert_allclose(res.z[mask], lg.Zs, rtol=1e-9, atol=1e-9)


def test_bh_adjust_matches_scipy():
    rng = np.random.default_rng(6)
    p = np.concatenate([rng.random(500), rng.random(50) * 1e-3, [0.2, 0.2, 0.2]])
    np.testing.assert_allclose(bh_adjust(p), stats.false_discovery_control(p), rtol=1e-12)


def test_bh_critical_value_definition():
    # Benjamini-Hochberg: reject p_(1..k) for the largest k with p_(k) <= k alpha / m.
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.random(200), rng.random(30) * 0.01])
    m = p.size
    for alpha in (0.1, 0.05, 0.01):
        ps = np.sort(p)
        ks = [k for k in range(1, m + 1) if ps[k - 1] <= k * alpha / m]
        crit = ps[max(ks) - 1] if ks else -1.0
        np.testing.assert_array_equal(bh_adjust(p) <= alpha, p <= crit)
        assert bh_critical_p(p[p <= alpha], m, alpha) == crit


def test_confidence_bins_match_scipy_fdr():
    rng = np.random.default_rng(11)
    z = rng.normal(0, 2.0, size=(40, 30))
    z[3:8, 3:8] += 4.0
    p = 2 * stats.norm.sf(np.abs(z))
    z[0, :5] = np.nan  # cells outside the study area are not tests
    p[0, :5] = np.nan
    valid = np.isfinite(p)
    q = np.full(p.shape, np.inf)
    q[valid] = stats.false_discovery_control(p[valid])
    level = (q <= 0.10).astype(int) + (q <= 0.05) + (q <= 0.01)
    expected = np.where(valid, level * np.sign(np.nan_to_num(z)), 0)
    got = confidence_bins(z, p, fdr=True)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)
    assert (np.abs(got) == 3).sum() > 10


def test_confidence_bins_hand_example():
    z = np.array([3.0, 2.0, 2.1, -2.8])
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # BH at 0.05: thresholds 0.0125, 0.025, 0.0375, 0.05 for the sorted p -> all four pass.
    # BH at 0.01: thresholds 0.0025, 0.005, 0.0075, 0.01 -> sorted p 0.005 > 0.0025 ... none.
    np.testing.assert_array_equal(confidence_bins(z, p, fdr=True), [2, 2, 2, -2])
    np.testing.assert_array_equal(confidence_bins(z, p, fdr=False), [3, 2, 2, -3])


def test_planted_hotspot_gets_top_bin():
    rng = np.random.default_rng(8)
    x = rng.poisson(2.0, size=(60, 60)).astype(float)
    x[28:33, 40:45] += rng.poisson(18.0, size=(5, 5))
    res = gistar(x, neighbourhood_cells=1)
    assert (res.bins[29:32, 41:44] == 3).all()
    far = np.ones(x.shape, bool)
    far[24:37, 36:49] = False
    assert (res.bins[far] > 0).mean() < 0.01


def test_planted_coldspot_gets_bottom_bin():
    rng = np.random.default_rng(9)
    x = rng.poisson(10.0, size=(50, 50)).astype(float)
    x[10:16, 10:16] = 0.0
    res = gistar(x, neighbourhood_cells=1)
    assert (res.bins[11:15, 11:15] == -3).all()


def test_uniform_noise_few_false_positives_with_fdr():
    rng = np.random.default_rng(10)
    x = rng.poisson(5.0, size=(100, 100)).astype(float)
    with_fdr = gistar(x, neighbourhood_cells=1, fdr=True)
    without = gistar(x, neighbourhood_cells=1, fdr=False)
    assert (with_fdr.bins != 0).mean() < 0.005
    # Without correction about 10 % of cells are "significant" at 90 % by chance.
    assert 0.05 < (without.bins != 0).mean() < 0.15


def test_constant_grid_has_no_significant_cells():
    res = gistar(np.full((8, 8), 3.0), neighbourhood_cells=1)
    assert (res.z == 0).all()
    assert (res.bins == 0).all()
