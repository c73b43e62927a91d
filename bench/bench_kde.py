"""Benchmark shared.kde against KDEpy FFTKDE, scikit-learn KernelDensity and QGIS's heatmap.

One run on the same synthetic data: a mixture of Gaussians over a Medway-sized extent
(about 20 km x 15 km around E 575000, N 168000, EPSG:27700). Prints a table and the ratios
against the goals (fast >= 5x KDEpy FFTKDE; exact >= 10x QGIS heatmap).

    .venv/bin/python bench/bench_kde.py                 # 1M points, 500 x 500 grid
    .venv/bin/python bench/bench_kde.py --points 100000 --grid 200
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.grid import Grid
from shared.kde import default_radius_m, fast_oversampling, kde_surface

CENTRE = (575_000.0, 168_000.0)
HALF_W, HALF_H = 10_000.0, 7_500.0


def make_points(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Mixture of 12 Gaussian clusters plus 20% uniform background, clipped to the extent."""
    rng = np.random.default_rng(seed)
    k = 12
    cx = rng.uniform(CENTRE[0] - 0.8 * HALF_W, CENTRE[0] + 0.8 * HALF_W, k)
    cy = rng.uniform(CENTRE[1] - 0.8 * HALF_H, CENTRE[1] + 0.8 * HALF_H, k)
    sd = rng.uniform(200.0, 1500.0, k)
    share = rng.dirichlet(np.ones(k))
    n_bg = n // 5
    comp = rng.choice(k, size=n - n_bg, p=share)
    x = np.concatenate(
        [rng.normal(cx[comp], sd[comp]), rng.uniform(-1, 1, n_bg) * HALF_W + CENTRE[0]]
    )
    y = np.concatenate(
        [rng.normal(cy[comp], sd[comp]), rng.uniform(-1, 1, n_bg) * HALF_H + CENTRE[1]]
    )
    x = np.clip(x, CENTRE[0] - HALF_W, CENTRE[0] + HALF_W)
    y = np.clip(y, CENTRE[1] - HALF_H, CENTRE[1] + HALF_H)
    return x, y


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs (after one warm-up run for JIT compilation)."""
    out = fn()
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench_kdepy(x: np.ndarray, y: np.ndarray, grid: Grid, r: float) -> float | None:
    """KDEpy FFTKDE (biweight = quartic, Euclidean norm) on the same grid; None if missing."""
    try:
        from KDEpy import FFTKDE
        from KDEpy.BaseKDE import BaseKDE
    except ImportError:
        print("KDEpy not installed: skipped")
        return None
    # KDEpy's bw is the kernel's standard deviation; scale so the support equals r.
    bw = r / BaseKDE._available_kernels["biweight"].support
    # KDEpy evaluates on a sorted list of grid points (x slowest) that must contain every point;
    # its grid has nodes at our cell centres, so the result has the same sampling as ours.
    xs, ys = grid.centres_x(), grid.centres_y()[::-1]
    pts = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    inside = (x > xs[0]) & (x < xs[-1]) & (y > ys[0]) & (y < ys[-1])
    data = np.column_stack([x[inside], y[inside]])

    def run() -> object:
        return FFTKDE(kernel="biweight", bw=bw, norm=2).fit(data).evaluate(pts)

    t, _ = timed(run, repeat=2)
    return t


def bench_sklearn(x: np.ndarray, y: np.ndarray, grid: Grid, r: float) -> tuple[float, str] | None:
    """sklearn KernelDensity (epanechnikov, tree), on a subsample; time scaled to all points."""
    try:
        from sklearn.neighbors import KernelDensity
    except ImportError:
        print("scikit-learn not installed: skipped")
        return None
    n_sub = min(x.size, 20_000)
    idx = np.random.default_rng(1).choice(x.size, n_sub, replace=False)
    cx, cy = np.meshgrid(grid.centres_x(), grid.centres_y())
    cells = np.column_stack([cx.ravel(), cy.ravel()])
    kd = KernelDensity(kernel="epanechnikov", bandwidth=r).fit(np.column_stack([x[idx], y[idx]]))
    t0 = time.perf_counter()
    kd.score_samples(cells)
    t = time.perf_counter() - t0
    # Work per grid cell grows with the number of points within r: scale linearly.
    scale = x.size / n_sub
    return t * scale, f"{n_sub:,} pts, x{scale:.0f}"


def bench_qgis(x: np.ndarray, y: np.ndarray, r: float, cells: int) -> tuple[float, float] | None:
    """QGIS heatmap via qgis_process: (algorithm time s, pixel size m); None if not installed."""
    exe = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if exe is None:
        print("qgis_process not found: QGIS comparison skipped")
        return None
    import geopandas as gpd

    tmp = Path(tempfile.mkdtemp())
    gpkg = tmp / "points.gpkg"
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:27700")
    gdf.to_file(gpkg, layer="points", driver="GPKG")
    # QGIS grows the layer extent by r and adds one row and column: aim at `cells` per side.
    side = max(x.max() - x.min(), y.max() - y.min()) + 2 * r
    pixel = side / (cells - 1)
    cmd = [
        exe,
        "run",
        "qgis:heatmapkerneldensityestimation",
        "--",
        f"INPUT={gpkg}|layername=points",
        f"RADIUS={r}",
        f"PIXEL_SIZE={pixel}",
        "KERNEL=0",
        "OUTPUT_VALUE=0",
        f"OUTPUT={tmp / 'out.tif'}",
    ]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    m = re.search(r"Execution completed in ([0-9.]+) seconds", res.stdout + res.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    return (float(m.group(1)) if m else wall), pixel


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--grid", type=int, default=500, help="cells per side")
    ap.add_argument("--radius", type=float, default=None, help="metres; default: ArcGIS rule")
    ap.add_argument("--no-qgis", action="store_true")
    args = ap.parse_args()

    x, y = make_points(args.points)
    r = args.radius or default_radius_m(x, y)
    side = 2 * HALF_W + 2 * r
    cell = math.ceil(side / args.grid)
    grid = Grid(
        cell_size_m=cell,
        x0=math.floor((CENTRE[0] - side / 2) / cell) * cell,
        y0=math.floor((CENTRE[1] - side / 2) / cell) * cell,
        nx=args.grid,
        ny=args.grid,
    )
    print(
        f"{args.points:,} points, grid {grid.ny} x {grid.nx} of {cell:g} m, quartic r = {r:.0f} m"
        f" ({r / cell:.1f} cells); fast lattice x{fast_oversampling(r, cell, 'quartic')} per cell"
    )

    t_exact, exact = timed(lambda: kde_surface(x, y, grid, r, method="exact"))
    t_fast, fast = timed(lambda: kde_surface(x, y, grid, r, method="fast"))
    err = float(np.abs(np.asarray(fast) - np.asarray(exact)).max() / np.asarray(exact).max())
    rows: list[tuple[str, float, str]] = [
        ("ours exact (numba)", t_exact, ""),
        ("ours fast (bin + FFT)", t_fast, f"max |fast-exact| = {100 * err:.3f}% of peak"),
    ]
    t_kdepy = bench_kdepy(x, y, grid, r)
    if t_kdepy is not None:
        rows.append(("KDEpy FFTKDE biweight", t_kdepy, "points inside the grid's centres"))
    sk = bench_sklearn(x, y, grid, r)
    if sk is not None:
        rows.append(("sklearn KernelDensity", sk[0], f"estimated: {sk[1]}"))
    qg = None if args.no_qgis else bench_qgis(x, y, r, args.grid)
    if qg is not None:
        rows.append(("QGIS heatmap (qgis_process)", qg[0], f"its own grid, pixel {qg[1]:.1f} m"))

    print(f"\n{'method':30} {'time s':>9}  note")
    for name, t, note in rows:
        print(f"{name:30} {t:9.3f}  {note}")
    print()
    if t_kdepy is not None:
        ratio = t_kdepy / t_fast
        print(
            f"fast vs KDEpy FFTKDE: {ratio:.1f}x (goal >= 5x: {'met' if ratio >= 5 else 'MISSED'})"
        )
    if qg is not None:
        ratio = qg[0] / t_exact
        print(
            f"exact vs QGIS heatmap: {ratio:.1f}x (goal >= 10x: {'met' if ratio >= 10 else 'MISSED'})"  # noqa: E501
        )
    else:
        print("exact vs QGIS heatmap: not measured (--no-qgis or QGIS not installed)")
    print(f"fast error: {100 * err:.3f}% of the exact peak (limit 0.5%)")


if __name__ == "__main__":
    main()
