import numpy as np
import pytest

from services.hotspots.compute.evaluate import evaluate_surface
from shared.grid import Grid

GRID = Grid(cell_size_m=50.0, x0=570000.0, y0=160000.0, nx=100, ny=100)  # 10,000 cells


def points_in_cells(rng, rows, cols, per_cell):
    """Uniform random points inside the given cells (EPSG:27700 metres)."""
    r = np.repeat(rows, per_cell)
    c = np.repeat(cols, per_cell)
    x = GRID.x0 + (c + rng.uniform(0.01, 0.99, r.size)) * GRID.cell_size_m
    y = GRID.y1 - (r + rng.uniform(0.01, 0.99, r.size)) * GRID.cell_size_m
    return x, y


def test_perfect_surface_top_one_percent():
    rng = np.random.default_rng(1)
    flat = rng.choice(GRID.nx * GRID.ny, 100, replace=False)
    rows, cols = np.divmod(flat, GRID.nx)
    surface = rng.random(GRID.shape) * 0.5
    surface[rows, cols] = 1.0 + rng.random(100)
    x, y = points_in_cells(rng, rows, cols, 3)
    out = evaluate_surface(surface, GRID, x, y)
    assert [r["area_fraction"] for r in out] == [0.01, 0.05, 0.10]
    top = out[0]
    assert top["cells"] == 100 and top["hits"] == 300 and top["total"] == 300
    assert top["hit_rate"] == 1.0
    assert top["pai"] == pytest.approx(100.0)
    assert out[1]["pai"] == pytest.approx(20.0) and out[2]["pai"] == pytest.approx(10.0)


def test_half_of_incidents_elsewhere_halves_hit_rate():
    rng = np.random.default_rng(2)
    surface = np.zeros(GRID.shape)
    surface[:10, :10] = 1.0  # the hottest 1 %
    x_in, y_in = points_in_cells(rng, np.arange(10), np.arange(10), 4)
    x_out, y_out = points_in_cells(rng, np.arange(50, 60), np.arange(50, 60), 4)
    out = evaluate_surface(surface, GRID, np.r_[x_in, x_out], np.r_[y_in, y_out], fractions=(0.01,))
    assert out[0]["hit_rate"] == 0.5 and out[0]["pai"] == pytest.approx(50.0)


def test_random_surface_has_pai_near_one_on_uniform_incidents():
    rng = np.random.default_rng(3)
    surface = rng.random(GRID.shape)
    x0, y0, x1, y1 = GRID.bounds
    n = 50_000
    x = rng.uniform(x0, x1, n)
    y = rng.uniform(y0, y1, n)
    out = evaluate_surface(surface, GRID, x, y)
    # Hits ~ Binomial(n, f): sd of PAI = sqrt((1 - f) / (n f)) = 0.045 at 1 %, 0.013 at 10 %.
    for row, tol in zip(out, (0.2, 0.08, 0.06), strict=True):
        assert abs(row["pai"] - 1.0) < tol
        assert row["total"] == n


def test_mask_restricts_area_and_incidents():
    rng = np.random.default_rng(4)
    mask = np.zeros(GRID.shape, bool)
    mask[:, :50] = True  # western half is the study area: 5,000 cells
    surface = rng.random(GRID.shape)
    surface[:, 50:] = 10.0  # hot but outside: must never be chosen
    x, y = points_in_cells(rng, rng.integers(0, 100, 400), rng.integers(0, 100, 400), 1)
    col = np.floor((x - GRID.x0) / GRID.cell_size_m).astype(int)
    row = np.floor((GRID.y1 - y) / GRID.cell_size_m).astype(int)
    out = evaluate_surface(surface, GRID, x, y, fractions=(0.1,), mask=mask)[0]
    # Independent: choose the 500 best of the 5,000 masked cells by sorting.
    sc = np.where(mask, surface, -np.inf)
    best = np.argsort(-sc.ravel(), kind="stable")[:500]
    chosen = np.zeros(GRID.nx * GRID.ny, bool)
    chosen[best] = True
    in_mask = mask[row, col]
    hits = chosen[row * GRID.nx + col].sum()
    assert out["cells"] == 500
    assert out["total"] == in_mask.sum()
    assert out["hits"] == hits
    assert out["pai"] == pytest.approx(hits / in_mask.sum() / 0.1)


def test_points_outside_grid_and_nan_cells():
    surface = np.zeros(GRID.shape)
    surface[0, 0] = np.nan
    x = np.array([GRID.x0 + 10, GRID.x0 - 10, GRID.x1 + 5])
    y = np.array([GRID.y1 - 10, GRID.y1 - 10, GRID.y0 + 5])
    out = evaluate_surface(surface, GRID, x, y, fractions=(1.0,))[0]
    assert out["total"] == 1 and out["hits"] == 1 and out["cells"] == 10_000
    out = evaluate_surface(surface, GRID, x, y, fractions=(0.0001,))[0]
    assert out["hits"] == 0  # the NaN cell holding the incident is ranked last


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        evaluate_surface(np.zeros((3, 3)), GRID, [], [])
