"""Hotspot surfaces from incident points: the aligned grid, a KDE or Gi* surface, its polygons.

Pure numerics: ``Points`` and limits in, a ``SurfaceResult`` (surface array, grid, ranked
hotspot shapes, parameters, statistics) out. Coordinates are EPSG:27700 metres. A parameter
that makes no sense raises ``InvalidInput`` naming its field; a grid over the cell limit raises
``GridTooLarge`` before anything is allocated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import FloatArray, Points
from shared.grid import Grid

Progress = Callable[[float, str], None]

MIN_CELL_M = 1.0
DENSITY_UNITS = "incidents per km2"


@dataclass(frozen=True)
class HotspotShape:
    """One hotspot polygon (shapely MultiPolygon, EPSG:27700): peak, mean, area, incidents in it."""

    rank: int
    peak: float
    mean: float
    area_m2: float
    geom: Any
    incidents: int | None = None


@dataclass
class SurfaceResult:
    """A computed surface over ``grid`` (ny, nx), its hotspots and what produced it.

    ``selection`` says which incidents it was computed from (categories, sources, period), as
    the caller read them; the COG's tags carry it with ``params`` and the threshold.
    """

    kind: str
    grid: Grid
    surface: FloatArray
    shapes: list[HotspotShape]
    params: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)


def _noop(fraction: float, message: str) -> None:
    return None


def check_common(
    *, radius_m: float | None, cell_m: float | None, percentile: float | None = None
) -> None:
    """Refuse a non-positive radius or cell, or a percentile off 0..100 (``InvalidInput``)."""
    if radius_m is not None and not (math.isfinite(radius_m) and radius_m > 0):
        raise field_error("radius_m", "must be a positive number of metres")
    if cell_m is not None and not (math.isfinite(cell_m) and cell_m >= MIN_CELL_M):
        raise field_error("cell_m", f"must be at least {MIN_CELL_M:g} m")
    if percentile is not None and not (0 < percentile < 100):
        raise field_error("percentile", "must be between 0 and 100 (exclusive)")


def choose_grid(
    x: FloatArray,
    y: FloatArray,
    *,
    cell_m: float | None,
    pad_m: float,
    bbox_m: tuple[float, float, float, float] | None = None,
    max_cells: int,
) -> Grid:
    """An aligned grid over ``bbox_m`` or the points padded by ``pad_m``, of ``max_cells`` at most.

    Without ``cell_m`` the ArcGIS default (shorter side / 250) is used, rounded to whole metres.
    The cell count is checked before anything is allocated: ``GridTooLarge`` names the limit.
    """
    from shared.extent import cells_for_bounds, check_cells
    from shared.kde import default_cell_m

    if bbox_m is not None:
        minx, miny, maxx, maxy = bbox_m
        if not (maxx > minx and maxy > miny):
            raise field_error("bbox", "must be (minx, miny, maxx, maxy) with min < max")
    else:
        if x.size == 0:
            raise field_error("input", "no incidents match the filters")
        minx, miny = float(x.min()) - pad_m, float(y.min()) - pad_m
        maxx, maxy = float(x.max()) + pad_m, float(y.max()) + pad_m
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise field_error("bbox", "must be finite numbers")
    if cell_m is None:
        short = min(maxx - minx, maxy - miny)
        if not short > 0:
            raise field_error("cell_m", "the incidents lie on a line: give a cell size")
        cell_m = max(MIN_CELL_M, float(round(default_cell_m(minx, miny, maxx, maxy))))
    nx, ny = cells_for_bounds(minx, miny, maxx, maxy, cell_m)
    check_cells(nx, ny, max_cells, what=f"surface grid of {cell_m:g} m cells")
    return Grid.covering(minx, miny, maxx, maxy, cell_m)


def compute_kde(
    pts: Points,
    *,
    method: str = "exact",
    kernel: str = "quartic",
    radius_m: float | None = None,
    cell_m: float | None = None,
    percentile: float = 95.0,
    bbox_m: tuple[float, float, float, float] | None = None,
    use_weights: bool = True,
    progress: Progress = _noop,
    max_cells: int,
) -> SurfaceResult:
    """KDE surface (incidents per km2) and polygons of cells at or above the percentile.

    ``max_cells`` bounds the grid (``GridTooLarge`` before anything is allocated).
    """
    from shared.kde import KERNELS, METHODS, kde_surface

    if method not in METHODS:
        raise field_error("method", f"must be one of {', '.join(METHODS)}")
    if kernel not in KERNELS:
        raise field_error("kernel", f"must be one of {', '.join(KERNELS)}")
    check_common(radius_m=radius_m, cell_m=cell_m, percentile=percentile)
    if len(pts) == 0:
        raise field_error("input", "no incidents match the filters")
    w = pts.weight if use_weights else np.ones(len(pts))
    radius_m = kde_radius(pts.x, pts.y, w, radius_m)
    grid = choose_grid(
        pts.x, pts.y, cell_m=cell_m, pad_m=radius_m, bbox_m=bbox_m, max_cells=max_cells
    )
    progress(0.2, f"KDE on {grid.nx}x{grid.ny} cells")
    t0 = time.perf_counter()
    surface = kde_surface(pts.x, pts.y, grid, radius_m, weights=w, kernel=kernel, method=method)
    seconds = time.perf_counter() - t0
    progress(0.7, "hotspot polygons")
    positive = surface[surface > 0]
    threshold = float(np.percentile(positive, percentile)) if positive.size else math.inf
    mask = surface >= threshold
    shapes = hotspot_shapes(surface, grid, mask, points=(pts.x, pts.y)) if positive.size else []
    params = {
        "kind": "kde",
        "method": method,
        "kernel": kernel,
        "radius_m": radius_m,
        "cell_m": grid.cell_size_m,
        "percentile": percentile,
        "use_weights": use_weights,
    }
    stats = _stats(surface, grid, pts, w, seconds)
    stats.update(
        threshold=threshold if math.isfinite(threshold) else None,
        units=DENSITY_UNITS,
        hotspots=len(shapes),
    )
    return SurfaceResult("kde", grid, surface, shapes, params, stats, read_of(pts))


def kde_radius(x: FloatArray, y: FloatArray, w: FloatArray, radius_m: float | None) -> float:
    """``radius_m``, or the ArcGIS default radius of the points rounded to whole metres (>= 1)."""
    from shared.kde import default_radius_m

    if radius_m is not None:
        return float(radius_m)
    try:
        return max(float(round(default_radius_m(x, y, w))), 1.0)
    except ValueError as exc:
        raise field_error("radius_m", f"no default radius: {exc}; give one") from exc


def compute_gistar(
    pts: Points,
    *,
    cell_m: float | None = None,
    neighbourhood_cells: float = 1.0,
    min_bin: int = 2,
    bbox_m: tuple[float, float, float, float] | None = None,
    use_weights: bool = True,
    progress: Progress = _noop,
    max_cells: int,
) -> SurfaceResult:
    """Gi* z-score surface of cell counts (FDR bins) and polygons of hot cells at ``min_bin``+.

    ``max_cells`` bounds the grid (``GridTooLarge`` before anything is allocated).
    """
    from services.hotspots.compute.gistar import gistar

    check_common(radius_m=None, cell_m=cell_m)
    if not (math.isfinite(neighbourhood_cells) and 1 <= neighbourhood_cells <= 50):
        raise field_error("neighbourhood", "must be between 1 and 50 cells")
    if min_bin not in (1, 2, 3):
        raise field_error("min_bin", "must be 1 (90%), 2 (95%) or 3 (99%)")
    if len(pts) == 0:
        raise field_error("input", "no incidents match the filters")
    grid = choose_grid(pts.x, pts.y, cell_m=cell_m, pad_m=0.0, bbox_m=bbox_m, max_cells=max_cells)
    w = pts.weight if use_weights else np.ones(len(pts))
    counts = np.zeros(grid.shape)
    row, col, inside = grid.cell_index(pts.x, pts.y)
    np.add.at(counts, (row[inside], col[inside]), w[inside])
    progress(0.3, f"Gi* on {grid.nx}x{grid.ny} cells")
    t0 = time.perf_counter()
    res = gistar(counts, neighbourhood_cells=neighbourhood_cells, fdr=True)
    seconds = time.perf_counter() - t0
    progress(0.7, "hot-spot polygons")
    z = np.asarray(res.z, dtype=np.float64)
    shapes = hotspot_shapes(
        np.nan_to_num(z, nan=0.0), grid, res.bins >= min_bin, points=(pts.x, pts.y)
    )
    params = {
        "kind": "gistar",
        "cell_m": grid.cell_size_m,
        "neighbourhood_cells": neighbourhood_cells,
        "min_bin": min_bin,
        "fdr": True,
        "use_weights": use_weights,
    }
    stats = _stats(z, grid, pts, w, seconds)
    stats.update(
        units="Gi* z-score",
        hotspots=len(shapes),
        hot_cells={str(b): int((res.bins == b).sum()) for b in (1, 2, 3)},
        cold_cells={str(b): int((res.bins == -b).sum()) for b in (1, 2, 3)},
    )
    return SurfaceResult("gistar", grid, z, shapes, params, stats, read_of(pts))


def read_of(pts: Points) -> dict[str, Any]:
    """What a surface was computed from: the categories and the first and last day read."""
    out: dict[str, Any] = {"categories_read": sorted({str(c) for c in pts.category})}
    if len(pts):
        out["first_day_read"] = str(pts.t.min().astype("datetime64[D]"))
        out["last_day_read"] = str(pts.t.max().astype("datetime64[D]"))
    return out


def _stats(
    surface: FloatArray, grid: Grid, pts: Points, w: FloatArray, seconds: float
) -> dict[str, Any]:
    finite = surface[np.isfinite(surface)]
    return {
        "incidents": len(pts),
        "total_weight": float(w.sum()),
        "nx": grid.nx,
        "ny": grid.ny,
        "bounds_27700": list(grid.bounds),
        "max": float(finite.max()) if finite.size else None,
        "mean": float(finite.mean()) if finite.size else None,
        "compute_seconds": round(seconds, 4),
    }


def hotspot_shapes(
    surface: FloatArray,
    grid: Grid,
    mask: npt.ArrayLike,
    *,
    points: tuple[FloatArray, FloatArray] | None = None,
) -> list[HotspotShape]:
    """One MultiPolygon per edge-connected group of masked cells, ranked by peak value.

    With ``points`` (eastings, northings) each shape counts the points in its cells.
    """
    from shapely.geometry import MultiPolygon

    from services.hotspots.compute.polygons import hotspot_polygons

    polys = hotspot_polygons(surface, grid, mask=np.asarray(mask, dtype=bool), points=points)
    out = []
    for rank, p in enumerate(polys, start=1):
        g = p["geometry"]
        mp = g if g.geom_type == "MultiPolygon" else MultiPolygon([g])
        out.append(HotspotShape(rank, p["peak"], p["mean"], p["area_m2"], mp, p.get("incidents")))
    return out
