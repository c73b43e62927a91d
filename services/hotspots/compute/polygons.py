"""Hotspot polygons from a surface: cells above a percentile, a threshold or a mask, dissolved."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio.features
from affine import Affine
from scipy import ndimage
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform, unary_union

from shared.geometry import to_wgs84
from shared.grid import Grid


def _selection(
    surface: npt.NDArray[np.float64],
    percentile: float | None,
    threshold: float | None,
    mask: npt.ArrayLike | None,
) -> npt.NDArray[np.bool_]:
    given = sum(v is not None for v in (percentile, threshold, mask))
    if given != 1:
        raise ValueError("give exactly one of percentile, threshold or mask")
    if mask is not None:
        sel = np.asarray(mask, dtype=bool)
        if sel.shape != surface.shape:
            raise ValueError(f"mask shape {sel.shape} does not match surface {surface.shape}")
        return sel
    finite = np.where(np.isfinite(surface), surface, 0.0)
    if threshold is not None:
        return finite > threshold
    assert percentile is not None
    if not 0.0 <= percentile < 100.0:
        raise ValueError("percentile must be in [0, 100)")
    positive = finite[finite > 0]
    if positive.size == 0:
        return np.zeros(surface.shape, dtype=bool)
    cut = float(np.percentile(positive, percentile))
    return finite > cut


def hotspot_polygons(
    surface: npt.ArrayLike,
    grid: Grid,
    *,
    percentile: float | None = None,
    threshold: float | None = None,
    mask: npt.ArrayLike | None = None,
    points: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> list[dict[str, Any]]:
    """Dissolve selected cells into polygons (EPSG:27700) with their area, peak and mean.

    Args:
        surface: values over ``grid``, shape (ny, nx), row 0 north.
        grid: the surface's grid.
        percentile: select cells above this percentile of the cells with value > 0.
        threshold: select cells with value above this absolute threshold.
        mask: select cells where this boolean array (ny, nx) is True (e.g. Gi* hot bins).
        points: incident eastings and northings (EPSG:27700 metres, shape (n,)) to count in
            each polygon's cells (each point in the cell ``grid.cell_index`` gives it).

    Returns:
        One dict per connected polygon (4-connected cells; touching at a corner gives two):
        ``geometry`` (shapely, EPSG:27700), ``area_m2``, ``peak`` and ``mean`` of the surface
        over its cells, and with ``points`` ``incidents`` (how many lie in it); largest peak
        first.
    """
    arr = np.asarray(surface, dtype=np.float64)
    if arr.shape != grid.shape:
        raise ValueError(f"surface shape {arr.shape} does not match grid {grid.shape}")
    sel = _selection(arr, percentile, threshold, mask)
    if not sel.any():
        return []
    labels, n = ndimage.label(sel)  # 4-connected, as rasterio.features.shapes below
    parts = label_polygons(labels, sel, grid)
    finite = np.where(np.isfinite(arr), arr, np.nan)
    index = np.arange(1, n + 1)
    peaks = ndimage.labeled_comprehension(finite, labels, index, np.nanmax, float, np.nan)
    means = ndimage.labeled_comprehension(finite, labels, index, np.nanmean, float, np.nan)
    counts = None if points is None else count_in_labels(labels, n, grid, *points)
    polys: list[dict[str, Any]] = []
    for lab in range(1, n + 1):
        geom = parts[lab]
        poly = {
            "geometry": geom,
            "area_m2": float(geom.area),
            "peak": float(peaks[lab - 1]),
            "mean": float(means[lab - 1]),
        }
        if counts is not None:
            poly["incidents"] = int(counts[lab])
        polys.append(poly)
    polys.sort(key=lambda p: -p["peak"] if np.isfinite(p["peak"]) else np.inf)
    return polys


def label_polygons(
    labels: npt.NDArray[np.integer[Any]], mask: npt.NDArray[np.bool_], grid: Grid
) -> dict[int, BaseGeometry]:
    """The dissolved polygon (EPSG:27700) of the masked cells of each label of ``labels``."""
    tf = Affine(*grid.transform())
    parts: dict[int, list[BaseGeometry]] = {}
    for geom, value in rasterio.features.shapes(
        labels.astype(np.int32), mask=mask, transform=tf, connectivity=4
    ):
        parts.setdefault(int(value), []).append(shape(geom))
    return {k: unary_union(v) for k, v in parts.items()}


def mask_polygon(mask: npt.ArrayLike, grid: Grid) -> BaseGeometry:
    """The masked cells of ``grid`` dissolved into one (multi)polygon, EPSG:27700."""
    sel = np.asarray(mask, dtype=bool)
    if not sel.any():
        from shapely.geometry import MultiPolygon

        return MultiPolygon()
    return unary_union(list(label_polygons(sel.astype(np.int32), sel, grid).values()))


def count_in_labels(
    labels: npt.NDArray[np.integer[Any]], n: int, grid: Grid, x: npt.ArrayLike, y: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """How many points fall in the cells of each label 0..n (``labels`` over ``grid``).

    Index ``k`` counts the points in cells labelled ``k`` (0: unlabelled or off the grid).
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    row, col, inside = grid.cell_index(xs, ys)
    lab = np.zeros(xs.shape, dtype=np.int64)
    lab[inside] = labels[row[inside], col[inside]]
    return np.bincount(lab, minlength=n + 1).astype(np.int64)


def _to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    def fn(x: Any, y: Any, z: Any = None) -> tuple[Any, Any]:
        return to_wgs84(x, y)

    return transform(fn, geom)


def polygons_to_geojson(polys: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """RFC 7946 FeatureCollection (WGS84) of hotspot polygons, with the parameters attached."""
    features = []
    for i, p in enumerate(polys):
        props = {
            "rank": i + 1,
            "area_m2": p["area_m2"],
            "peak": p["peak"],
            "mean": p["mean"],
            "parameters": dict(params),
        }
        features.append(
            {"type": "Feature", "geometry": mapping(_to_wgs84(p["geometry"])), "properties": props}
        )
    return {"type": "FeatureCollection", "parameters": dict(params), "features": features}
