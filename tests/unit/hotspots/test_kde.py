"""shared.kde against brute force, its own fast method, mass conservation and QGIS's heatmap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio

from shared.grid import Grid
from shared.kde import KERNELS, default_cell_m, default_radius_m, kde_surface

QGIS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "qgis"

# Written out independently of shared.kde: ArcGIS scaling, integral 1 over the disc.
BRUTE = {
    "quartic": lambda u: 3 / math.pi * (1 - u**2) ** 2,
    "triweight": lambda u: 4 / math.pi * (1 - u**2) ** 3,
    "epanechnikov": lambda u: 2 / math.pi * (1 - u**2),
    "uniform": lambda u: 1 / math.pi * np.ones_like(u),
    "triangular": lambda u: 3 / math.pi * (1 - u),
}


def brute_force(x, y, w, grid: Grid, r: float, kernel: str) -> np.ndarray:
    cx, cy = np.meshgrid(grid.centres_x(), grid.centres_y())
    d = np.hypot(cx[..., None] - x, cy[..., None] - y)
    u = d / r
    k = np.where(u <= 1, BRUTE[kernel](np.minimum(u, 1)), 0.0) / r**2
    return (k * w).sum(axis=-1) * 1e6


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    cell = float(rng.choice([10.0, 25.0, 50.0]))
    grid = Grid(
        cell_size_m=cell,
        x0=cell * int(rng.integers(57_000, 57_500)),
        y0=cell * int(rng.integers(16_000, 16_500)),
        nx=int(rng.integers(20, 60)),
        ny=int(rng.integers(20, 60)),
    )
    r = float(rng.uniform(1.5, 9.0) * cell)
    n = 400
    # Points spill over the edges: incidents outside the grid still count within r.
    x = rng.uniform(grid.x0 - 1.5 * r, grid.x1 + 1.5 * r, n)
    y = rng.uniform(grid.y0 - 1.5 * r, grid.y1 + 1.5 * r, n)
    w = rng.uniform(0.2, 3.0, n)
    return x, y, w, grid, r


def clustered(n: int, seed: int, grid: Grid):
    rng = np.random.default_rng(seed)
    cx = rng.uniform(grid.x0, grid.x1, 5)
    cy = rng.uniform(grid.y0, grid.y1, 5)
    k = rng.integers(0, 5, n)
    sd = (grid.x1 - grid.x0) / 15
    return rng.normal(cx[k], sd), rng.normal(cy[k], sd)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_matches_brute_force(kernel: str, seed: int) -> None:
    x, y, w, grid, r = random_case(seed)
    got = kde_surface(x, y, grid, r, weights=w, kernel=kernel)
    want = brute_force(x, y, w, grid, r, kernel)
    assert got.shape == grid.shape and got.dtype == np.float64
    assert want.max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * want.max())


def test_exact_row_zero_is_north() -> None:
    grid = Grid(cell_size_m=10.0, x0=0.0, y0=0.0, nx=20, ny=20)
    s = kde_surface([55.0], [185.0], grid, 15.0)
    row, col = np.unravel_index(np.argmax(s), s.shape)
    assert (row, col) == (1, 5)


def test_unweighted_equals_unit_weights_and_scales() -> None:
    x, y, w, grid, r = random_case(4)
    a = kde_surface(x, y, grid, r)
    np.testing.assert_allclose(a, kde_surface(x, y, grid, r, weights=np.ones_like(x)))
    np.testing.assert_allclose(kde_surface(x, y, grid, r, weights=2.5 * np.ones_like(x)), 2.5 * a)


@pytest.mark.parametrize("kernel", KERNELS)
def test_fast_within_half_percent_of_peak_clustered(kernel: str) -> None:
    grid = Grid(cell_size_m=20.0, x0=575_000.0, y0=168_000.0, nx=120, ny=90)
    x, y = clustered(3000, 5, grid)
    for r in (70.0, 130.0, 400.0):
        exact = kde_surface(x, y, grid, r, kernel=kernel)
        fast = kde_surface(x, y, grid, r, kernel=kernel, method="fast")
        assert np.abs(fast - exact).max() <= 0.005 * exact.max()


@pytest.mark.parametrize("kernel", ["quartic", "triweight", "epanechnikov", "triangular"])
@pytest.mark.parametrize("ratio", [2.5, 6.3, 11.0, 19.7, 33.0])
def test_fast_single_points_worst_case(kernel: str, ratio: float) -> None:
    # A lone point is the hardest case for binning: its own peak is the surface's peak.
    rng = np.random.default_rng(int(ratio * 10))
    grid = Grid(cell_size_m=10.0, x0=0.0, y0=0.0, nx=80, ny=80)
    r = ratio * 10.0
    for _ in range(4):
        x = rng.uniform(300, 500, 1)
        y = rng.uniform(300, 500, 1)
        exact = kde_surface(x, y, grid, r, kernel=kernel)
        fast = kde_surface(x, y, grid, r, kernel=kernel, method="fast")
        assert np.abs(fast - exact).max() <= 0.005 * exact.max()


@pytest.mark.parametrize("method", ["exact", "fast"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_surface_integrates_to_total_weight(kernel: str, method: str) -> None:
    rng = np.random.default_rng(11)
    grid = Grid(cell_size_m=10.0, x0=575_000.0, y0=168_000.0, nx=150, ny=120)
    x = rng.uniform(grid.x0 + 400, grid.x1 - 400, 200)
    y = rng.uniform(grid.y0 + 400, grid.y1 - 400, 200)
    w = rng.uniform(0.5, 2.0, 200)
    s = kde_surface(x, y, grid, 300.0, weights=w, kernel=kernel, method=method)
    # Midpoint rule on a 10 m grid under a 300 m kernel: within 0.2% (the uniform disc edge
    # is the roughest).
    assert s.sum() * grid.cell_area_km2 == pytest.approx(w.sum(), rel=2e-3)


def test_no_points_and_bad_arguments() -> None:
    grid = Grid(cell_size_m=10.0, x0=0.0, y0=0.0, nx=5, ny=4)
    assert not kde_surface([], [], grid, 50.0).any()
    with pytest.raises(ValueError):
        kde_surface([1.0], [1.0], grid, 50.0, kernel="gaussian")
    with pytest.raises(ValueError):
        kde_surface([1.0], [1.0], grid, 50.0, method="slow")
    with pytest.raises(ValueError):
        kde_surface([1.0], [1.0], grid, 0.0)
    with pytest.raises(ValueError):
        kde_surface([1.0, np.nan], [1.0, 2.0], grid, 5.0)


def test_default_radius_by_hand() -> None:
    # Rectangle 6 x 8: mean centre (3, 4), every distance 5, SD = 5, Dm = 5;
    # min(5, 1.2011 * 5) = 5, so 0.9 * 5 * 4^-0.2 = 3.41036 m.
    x = [0.0, 6.0, 0.0, 6.0]
    y = [0.0, 0.0, 8.0, 8.0]
    assert default_radius_m(x, y) == pytest.approx(3.410362, rel=1e-6)


def test_default_radius_median_term_by_hand() -> None:
    # On a line: mean 0, distances 10, 1, 1, 10, 0 -> Dm = 1, SD = sqrt(202/5) = 6.356;
    # min(6.356, sqrt(1/ln 2) * 1 = 1.201122) = 1.201122; 0.9 * 1.201122 * 5^-0.2 = 0.783500.
    x = [-10.0, -1.0, 1.0, 10.0, 0.0]
    assert default_radius_m(x, [0.0] * 5) == pytest.approx(0.9 * 1.2011224 * 5**-0.2, rel=1e-6)
    assert default_radius_m(x, [0.0] * 5) == pytest.approx(0.783500, rel=1e-5)


def test_default_radius_weighted_by_hand() -> None:
    # Weights 1, 1, 1, 3 on the 6 x 8 rectangle: mean centre (4, 16/3).
    # Squared distances 400/9, 292/9, 208/9, 100/9 -> SD^2 = (400+292+208+300)/54 = 200/9.
    # Weighted median: the weight-3 point (d = 10/3) holds exactly half, so average with the
    # next distance sqrt(208)/3: Dm = (10 + 14.4222) / 6 = 4.07037; 1.2011 * Dm = 4.8890.
    # min(SD = 4.71405, 4.8890) = SD; n = sum of weights = 6: 0.9 * 4.71405 * 6^-0.2.
    x = [0.0, 6.0, 0.0, 6.0]
    y = [0.0, 0.0, 8.0, 8.0]
    got = default_radius_m(x, y, weights=[1.0, 1.0, 1.0, 3.0])
    assert got == pytest.approx(0.9 * math.sqrt(200 / 9) * 6**-0.2, rel=1e-9)
    assert got == pytest.approx(2.96488, rel=1e-5)


def test_default_radius_rejects_degenerate() -> None:
    with pytest.raises(ValueError):
        default_radius_m([1.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError):
        default_radius_m([1.0], [2.0])


def test_default_cell() -> None:
    assert default_cell_m(570_000, 160_000, 590_000, 175_000) == pytest.approx(60.0)
    assert default_cell_m(0, 0, 500, 2500) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        default_cell_m(0, 0, 0, 100)


# --- QGIS 3.22 heatmap golden files (see tests/fixtures/qgis/README.md) ---------------------

QGIS_RADIUS = 250.0


def qgis_points():
    d = np.loadtxt(QGIS_DIR / "points.csv", delimiter=",", skiprows=1)
    return d[:, 0], d[:, 1], d[:, 2]


def read_qgis(name: str):
    with rasterio.open(QGIS_DIR / name) as ds:
        a = ds.read(1).astype(np.float64)
        t = ds.transform
        grid = Grid(cell_size_m=t.a, x0=t.c, y0=t.f - ds.height * t.a, nx=ds.width, ny=ds.height)
        assert ds.crs.to_epsg() == 27700 and t.a == -t.e
        return np.where(a == ds.nodata, np.nan, a), grid


def qgis_mirrored_y(y: np.ndarray, grid: Grid, radius: float) -> np.ndarray:
    # QGIS 3.22 takes the row from the top (ymax) but the sub-pixel offset from the bottom of the
    # layer extent (ymin - radius): the point lands mirrored inside its pixel row.
    ymax, ymin = grid.y1, grid.y1 - (grid.ny - 1) * grid.cell_size_m
    h = grid.cell_size_m
    rows = np.floor((ymax - y) / h)
    frac_from_bottom = (y - ymin) / h - np.floor((y - ymin) / h)
    return ymax - (rows + frac_from_bottom) * h


CASES = [
    ("heatmap_quartic_raw.tif", "quartic", False, 3.0),
    ("heatmap_quartic_raw_weighted.tif", "quartic", True, 3.0),
    ("heatmap_epanechnikov_raw.tif", "epanechnikov", False, 2.0),
    # Scaled quartic in QGIS < 3.42: 116/(5 pi r^2) * 15/16 = 21.75/(pi r^2) per m^2, 7.25x
    # ArcGIS's 3/(pi r^2): so QGIS = 7.25 * ours / 1e6, i.e. "raw" divisor pi r^2 / 7.25.
    ("heatmap_quartic_scaled.tif", "quartic", False, math.pi * QGIS_RADIUS**2 / 7.25),
]


@pytest.mark.parametrize(("name", "kernel", "weighted", "per_raw"), CASES)
def test_matches_qgis_heatmap(name: str, kernel: str, weighted: bool, per_raw: float) -> None:
    # per_raw: ours (per km^2) * pi r^2 / (per_raw * 1e6) is what QGIS writes.
    x, y, w = qgis_points()
    q, grid = read_qgis(name)
    ym = qgis_mirrored_y(y, grid, QGIS_RADIUS)
    ours = kde_surface(x, ym, grid, QGIS_RADIUS, weights=w if weighted else None, kernel=kernel)
    raw = ours * math.pi * QGIS_RADIUS**2 / (per_raw * 1e6)
    # QGIS leaves nodata exactly where no point is within the radius (we give 0 there).
    np.testing.assert_array_equal(np.isnan(q), raw == 0)
    np.testing.assert_allclose(raw[~np.isnan(q)], q[~np.isnan(q)], rtol=2e-6, atol=2e-6 * raw.max())


def test_qgis_y_offset_quirk_is_real() -> None:
    # Without the mirroring the two disagree by far more than float32 (about 6% of the peak),
    # but only by sub-pixel shifts: nearly every QGIS value lies between ours at the same cell
    # and one row up or down, and the totals agree.
    x, y, _ = qgis_points()
    q, grid = read_qgis("heatmap_quartic_raw.tif")
    raw = kde_surface(x, y, grid, QGIS_RADIUS) * math.pi * QGIS_RADIUS**2 / 3e6
    qq = np.nan_to_num(q)
    assert 0.01 * qq.max() < np.abs(raw - qq).max() < 0.1 * qq.max()
    assert raw.sum() == pytest.approx(qq.sum(), rel=2e-3)
    lo = np.minimum.reduce([raw, np.roll(raw, 1, 0), np.roll(raw, -1, 0)])
    hi = np.maximum.reduce([raw, np.roll(raw, 1, 0), np.roll(raw, -1, 0)])
    tol = 1e-5 * qq.max()
    assert ((qq >= lo - tol) & (qq <= hi + tol)).mean() > 0.9


@pytest.mark.parametrize("kernel", ["quartic", "triweight"])
def test_fast_lattice_rule_holds_at_its_boundary(kernel: str) -> None:
    """At the coarsest lattice the rule allows (radius/spacing exactly the ratio), a lone point
    anywhere in its cell stays within 0.5% of its own peak."""
    from shared.kde import _FAST_RATIO, fast_oversampling

    grid = Grid(cell_size_m=10.0, x0=0.0, y0=0.0, nx=80, ny=80)
    r = _FAST_RATIO[kernel] * 10.0
    assert fast_oversampling(r, 10.0, kernel) == 1
    worst = 0.0
    for a in np.linspace(0.0, 0.9, 6):
        for b in np.linspace(0.0, 0.9, 6):
            x, y = np.array([400.0 + 10 * a + 1e-3]), np.array([400.0 + 10 * b + 1e-3])
            exact = kde_surface(x, y, grid, r, kernel=kernel)
            fast = kde_surface(x, y, grid, r, kernel=kernel, method="fast")
            worst = max(worst, float(np.abs(fast - exact).max() / exact.max()))
    assert worst <= 0.005
    assert worst > 0.002  # the rule is not needlessly fine either
