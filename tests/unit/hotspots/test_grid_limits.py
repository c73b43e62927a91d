"""A1: every hotspots grid, surface and neighbour list is bounded by the cell limit before it is
allocated; the worst request a client can send stays under 2 GB."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from services.hotspots.compute.clusters import cluster_sites
from services.hotspots.compute.points import Points
from services.hotspots.compute.raster import read_surface_tif, write_surface_tif
from services.hotspots.compute.surfaces import choose_grid, compute_gistar, compute_kde
from services.hotspots.compute.water import site_counts
from shared.extent import GridTooLarge, cells_for_bounds

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 4_000_000  # the settings' default (CSP_MAX_GRID_CELLS)
# Medway and 15 km around it: the largest area incidents can come from
ALLOWED = (552_000.0, 146_000.0, 604_000.0, 194_000.0)
GB = (-10_000.0, -10_000.0, 700_000.0, 1_250_000.0)


def _points(n: int, seed: int = 0) -> Points:
    rng = np.random.default_rng(seed)
    x = rng.uniform(567_000, 589_000, n)
    y = rng.uniform(162_000, 179_000, n)
    return Points(x, y, np.ones(n), np.zeros(n, "datetime64[s]"), np.array(["a"] * n))


def test_over_the_limit_is_refused_before_anything_is_allocated() -> None:
    choose_grid(
        np.empty(0), np.empty(0), cell_m=100.0, pad_m=0.0, bbox_m=ALLOWED, max_cells=LIMIT
    )  # imports done before memory is traced
    tracemalloc.start()
    try:
        with pytest.raises(GridTooLarge, match=r"limit is 4,000,000 cells.*CSP_MAX_GRID_CELLS"):
            choose_grid(np.empty(0), np.empty(0), cell_m=1.0, pad_m=0.0, bbox_m=GB, max_cells=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # the 8.9e11-cell grid was never made
    # The old per-side rule (4000 a side) let 16M cells through; the limit counts cells
    nx, ny = cells_for_bounds(*ALLOWED, 14.0)
    assert nx <= 4000 and ny <= 4000 and nx * ny > LIMIT
    pts = _points(50)
    with pytest.raises(GridTooLarge):
        compute_gistar(pts, cell_m=14.0, bbox_m=ALLOWED, max_cells=LIMIT)
    with pytest.raises(GridTooLarge):
        compute_kde(pts, radius_m=300.0, cell_m=14.0, bbox_m=ALLOWED, max_cells=LIMIT)


def test_the_grid_at_the_limit_is_the_one_computed() -> None:
    pts = _points(200)
    res = compute_kde(pts, radius_m=500.0, cell_m=100.0, max_cells=LIMIT)
    nx, ny = cells_for_bounds(
        pts.x.min() - 500, pts.y.min() - 500, pts.x.max() + 500, pts.y.max() + 500, 100.0
    )
    assert (res.grid.nx, res.grid.ny) == (nx, ny)
    with pytest.raises(GridTooLarge):
        compute_kde(pts, radius_m=500.0, cell_m=100.0, max_cells=nx * ny - 1)


def test_a_stored_surface_over_the_limit_is_not_read(tmp_path: Path) -> None:
    res = compute_gistar(_points(300), cell_m=200.0, max_cells=LIMIT)
    path = write_surface_tif(tmp_path / "s.tif", res)
    arr, grid, _ = read_surface_tif(path, max_cells=res.grid.nx * res.grid.ny)
    assert arr.shape == (grid.ny, grid.nx)
    with pytest.raises(GridTooLarge, match="the surface would have"):
        read_surface_tif(path, max_cells=res.grid.nx * res.grid.ny - 1)


def test_road_site_pairs_are_counted_before_they_are_listed() -> None:
    rng = np.random.default_rng(4)
    n = 400
    x, y = 576_000 + rng.normal(0, 300, n), 168_000 + rng.normal(0, 300, n)
    t = np.full(n, 19_000.0)
    w = np.ones(n)
    # Independent count of the pairs (each collision with every one within r, itself included)
    within = int((cdist(np.column_stack([x, y]), np.column_stack([x, y])) <= 5000).sum())
    assert within == n * n
    with pytest.raises(GridTooLarge, match=r"160,000 pairs.*limit is 10,000"):
        cluster_sites(x, y, t, w, radius_m=5000, max_pairs=10_000)
    free = cluster_sites(x, y, t, w, radius_m=50)
    bounded = cluster_sites(x, y, t, w, radius_m=50, max_pairs=n * n)
    assert [s.members.tolist() for s in bounded] == [s.members.tolist() for s in free]


def test_water_count_table_is_bounded_and_built_for_the_site_asked() -> None:
    from shapely.geometry import Point

    sites = [Point(0, 0), Point(1000, 0)]
    times = np.array(["1900-01-01", "2200-12-01", "2000-06-01"], dtype="datetime64[s]")
    sev = ["a", "b", "c"]
    res = site_counts(sites, [1, 2, 1001], [0, 0, 0], sev, times, period="month", only=[1])
    assert res.sites[0] == {"site": 0} and res.sites[1]["total"] == 1
    months = (2200 - 1900) * 12 + 12  # every month from the first to the last incident
    assert len(res.sites[1]["by_period"]) == months
    with pytest.raises(GridTooLarge, match="site count table"):
        site_counts(
            sites, [1, 2, 1001], [0, 0, 0], sev, times, period="month", max_cells=months * 3 - 1
        )


WORST = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    import numpy as np
    from services.hotspots.compute.points import Points
    from services.hotspots.compute.surfaces import compute_gistar, compute_kde
    from shared.extent import GridTooLarge
    rng = np.random.default_rng(0)
    n = 20_000
    x, y = rng.uniform(567_000, 589_000, n), rng.uniform(162_000, 179_000, n)
    pts = Points(x, y, np.ones(n), np.zeros(n, "datetime64[s]"), np.array(["a"] * n))
    box = (552_000.0, 146_000.0, 604_000.0, 194_000.0)
    limit = 4_000_000
    out = {}
    def run(name, f):
        t = time.perf_counter()
        try:
            r = f()
            out[name] = ["ok", r.grid.nx * r.grid.ny]
        except GridTooLarge as e:
            out[name] = ["limit", str(e)]
        except MemoryError:
            out[name] = ["MemoryError", ""]
        out[name].append(round(time.perf_counter() - t, 2))
    # At the limit (25 m cells over the whole allowed area: 3,997,601 cells): the heaviest
    # settings each method takes (widest Gi* window; fast KDE with its finest lattice)
    run("gistar at limit", lambda: compute_gistar(
        pts, cell_m=25, bbox_m=box, neighbourhood_cells=50, max_cells=limit))
    run("fast at limit", lambda: compute_kde(
        pts, method="fast", radius_m=400, cell_m=25, bbox_m=box, max_cells=limit))
    run("exact at limit", lambda: compute_kde(
        pts, method="exact", radius_m=200, cell_m=25, bbox_m=box, max_cells=limit))
    # Beyond it: what the old per-side rule allowed (4000 a side), and 1 m cells over GB
    run("gistar 14 m", lambda: compute_gistar(
        pts, cell_m=14, bbox_m=box, neighbourhood_cells=50, max_cells=limit))
    run("kde 1 m over GB", lambda: compute_kde(
        pts, radius_m=400, cell_m=1, bbox_m=(-1e4, -1e4, 7e5, 1.25e6), max_cells=limit))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))
    """
)


def test_the_worst_request_stays_under_two_gigabytes() -> None:
    """Under RLIMIT_AS = 2 GB: the largest grids the limit allows are computed, larger ones are
    refused with the limit error (never a MemoryError or a kill)."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": "/tmp/numba"}
    proc = subprocess.run(
        [sys.executable, "-c", WORST],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("gistar at limit", "fast at limit", "exact at limit"):
        assert out[name][:2] == ["ok", 3_997_601], out
    for name in ("gistar 14 m", "kde 1 m over GB"):
        assert out[name][0] == "limit" and "CSP_MAX_GRID_CELLS" in out[name][1], out
        assert out[name][2] < 1.0, out  # refused before any work
    assert out["peak_mb"] < 2048, out
