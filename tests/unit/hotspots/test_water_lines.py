"""A5: density along a bank is bounded work: positions and incidents are placed on the line in
logarithmic time per point (GEOS walks every vertex for each), checked against GEOS itself."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString

from services.hotspots.compute.water import (
    kde_along_line,
    locate_along,
    nearest_site,
    points_along,
    vertex_count,
)


def _bent_line(n: int, seed: int = 0) -> LineString:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 1, (n - 1, 2)) * [3.0, 3.0] + [2.0, 0.5]
    c = np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)])
    c[5] = c[4]  # a zero-length segment, as real digitising leaves
    return LineString(c)


def test_points_along_match_geos_interpolate() -> None:
    line = _bent_line(500)
    d = np.concatenate([np.linspace(0, line.length, 301), [0.0, line.length, 1e-9]])
    got = points_along(line, d)
    want = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_locate_along_matches_geos_distance_and_project() -> None:
    line = _bent_line(500, seed=1)
    rng = np.random.default_rng(2)
    b = line.bounds
    x, y = rng.uniform(b[0], b[2], 2000), rng.uniform(b[1], b[3], 2000)
    pts = shapely.points(x, y)
    near, s = locate_along(line, x, y, snap_m=5.0)
    want_near = shapely.distance(line, pts) <= 5.0
    assert near.sum() > 50
    np.testing.assert_array_equal(near, want_near)
    # Where two parts of the line are equally near, either position is right: compare the
    # points the positions give, which must be exactly as far away as GEOS's nearest
    at = points_along(line, s)
    d_at = np.hypot(at[:, 0] - x[near], at[:, 1] - y[near])
    np.testing.assert_allclose(d_at, shapely.distance(line, pts[near]), atol=1e-6)
    geos = shapely.line_locate_point(line, pts[near])
    assert np.mean(np.isclose(s, geos, atol=1e-6)) > 0.95


def test_nearest_site_by_segment_matches_brute_force() -> None:
    sites = [_bent_line(200, seed=3), shapely.Point(150, 40), _bent_line(50, seed=4)]
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-20, 420, 1500), rng.uniform(-60, 160, 1500)
    site, dist = nearest_site(sites, x, y, snap_m=30.0)
    d = np.stack([shapely.distance(g, shapely.points(x, y)) for g in sites], axis=1)
    best = d.min(axis=1)
    inside = best <= 30.0
    np.testing.assert_array_equal(site >= 0, inside)
    np.testing.assert_allclose(dist[inside], best[inside], atol=1e-9)
    np.testing.assert_allclose(d[inside, site[inside]], best[inside], atol=1e-9)


def test_density_on_a_200000_vertex_bank_is_fast_and_right() -> None:
    """The bank that took 43 s: 200,000 vertices, 20,000 positions along it."""
    n = 200_000
    t = np.linspace(0.0, 1.0, n)
    line = LineString(np.column_stack([570_000 + 20_000 * t, 168_000 + 30 * np.sin(t * 2000)]))
    assert vertex_count(line) == n
    rng = np.random.default_rng(1)
    ix = rng.uniform(570_000, 590_000, 150)
    iy = 168_000 + rng.normal(0, 40, 150)
    step = line.length / 20_000
    t0 = time.perf_counter()
    d, dens = kde_along_line(line, ix, iy, bandwidth_m=200.0, step_m=step, snap_m=100.0)
    xy = points_along(line, d)
    seconds = time.perf_counter() - t0
    assert d.size == 20_001 and xy.shape == (20_001, 2)
    assert seconds < 5.0, seconds  # was 43 s
    # Independent check at a few positions: GEOS's own projection and a direct quartic sum
    pts = shapely.points(ix, iy)
    near = shapely.distance(line, pts) <= 100.0
    s = shapely.line_locate_point(line, pts[near])
    for k in (0, 5_000, 12_345, 20_000):
        u = (d[k] - s) / 200.0
        want = float(np.sum(np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0))) * 15 / 16 / 200 * 1000
        assert dens[k] == pytest.approx(want, rel=1e-6, abs=1e-9)
