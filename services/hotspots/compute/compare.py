"""Two periods compared: where hotspots appeared, grew, shrank or went, and by ward.

Pure numerics. Both periods' KDE surfaces are computed on one aligned grid with one radius and
scaled to a rate (incidents per km2 per 30 days), so windows of different lengths compare
fairly; one cut-off (the percentile of the non-zero cells of both) marks the hotspot cells of
each. Every 4-connected group of cells that is a hotspot in either period is one area: it
*appeared* (no hotspot cell before), *went* (none after), *grew* (its hotspot area after is at
least ``GROWTH`` times the area before), *shrank* (at most 1/``GROWTH`` of it) or *stayed*.
The difference surface is after minus before. Coordinates are EPSG:27700 metres.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import FloatArray, Points
from services.hotspots.compute.surfaces import (
    Progress,
    check_common,
    choose_grid,
    kde_radius,
    read_of,
)
from shared.grid import Grid

# An area grew when its hotspot area after is at least this many times the area before.
GROWTH = 1.25
RATE_DAYS = 30.0
RATE_UNITS = "incidents per km2 per 30 days"
NO_HOTSPOT = "none"


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class Ward:
    """A ward (or any area) to tabulate by: code, name, EPSG:27700 (multi)polygon."""

    code: str
    name: str
    geom: Any


@dataclass(frozen=True)
class ChangedArea:
    """An area that is a hotspot in either period (MultiPolygon, EPSG:27700) and its change."""

    rank: int
    change: str
    area_before_m2: float
    area_after_m2: float
    incidents_before: int
    incidents_after: int
    peak_before: float
    peak_after: float
    geom: Any
    ward: str | None = None


@dataclass(frozen=True)
class WardChange:
    """One ward in both periods: incidents in it and its hotspot area (m2), and the change."""

    code: str
    name: str
    incidents_before: int
    incidents_after: int
    hotspot_before_m2: float
    hotspot_after_m2: float
    change: str


@dataclass
class ComparisonResult:
    """Both periods' rate surfaces (ny, nx) on ``grid``, their difference and what changed."""

    grid: Grid
    before: FloatArray
    after: FloatArray
    difference: FloatArray
    threshold: float | None
    areas: list[ChangedArea]
    wards: list[WardChange]
    params: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)


def classify(area_before: float, area_after: float, growth: float = GROWTH) -> str:
    """What became of a hotspot whose area went from ``area_before`` to ``area_after``."""
    if area_before <= 0 and area_after <= 0:
        return NO_HOTSPOT
    if area_before <= 0:
        return "appeared"
    if area_after <= 0:
        return "gone"
    if area_after >= area_before * growth:
        return "grew"
    if area_after * growth <= area_before:
        return "shrank"
    return "stayed"


def rate_surface(
    pts: Points, grid: Grid, *, days: int, radius_m: float, kernel: str, method: str, weights: bool
) -> FloatArray:
    """KDE of ``pts`` on ``grid`` as incidents per km2 per 30 days over a window of ``days``."""
    from shared.kde import kde_surface

    if days < 1:
        raise field_error("days", "a period must be at least one day")
    if len(pts) == 0:
        return np.zeros(grid.shape)
    w = pts.weight if weights else np.ones(len(pts))
    density = kde_surface(pts.x, pts.y, grid, radius_m, weights=w, kernel=kernel, method=method)
    return np.asarray(density, dtype=np.float64) * (RATE_DAYS / days)


def compare_periods(
    before: Points,
    after: Points,
    *,
    days_before: int,
    days_after: int,
    method: str = "exact",
    kernel: str = "quartic",
    radius_m: float | None = None,
    cell_m: float | None = None,
    percentile: float = 95.0,
    bbox_m: tuple[float, float, float, float] | None = None,
    use_weights: bool = True,
    wards: Sequence[Ward] = (),
    progress: Progress = _noop,
    max_cells: int,
) -> ComparisonResult:
    """Compare the incidents of two periods (``days_*`` long) on one grid of ``max_cells`` at most.

    The radius and cell default as a run's would over both periods' incidents together.
    """
    from shared.kde import KERNELS, METHODS

    if method not in METHODS:
        raise field_error("method", f"must be one of {', '.join(METHODS)}")
    if kernel not in KERNELS:
        raise field_error("kernel", f"must be one of {', '.join(KERNELS)}")
    check_common(radius_m=radius_m, cell_m=cell_m, percentile=percentile)
    if len(before) + len(after) == 0:
        raise field_error("input", "no incidents match the filters in either period")
    x = np.concatenate([before.x, after.x])
    y = np.concatenate([before.y, after.y])
    w = np.concatenate([before.weight, after.weight]) if use_weights else np.ones(x.size)
    radius = kde_radius(x, y, w, radius_m)
    grid = choose_grid(x, y, cell_m=cell_m, pad_m=radius, bbox_m=bbox_m, max_cells=max_cells)
    t0 = time.perf_counter()
    progress(0.1, f"the period before on {grid.nx}x{grid.ny} cells")
    rate_a = rate_surface(
        before,
        grid,
        days=days_before,
        radius_m=radius,
        kernel=kernel,
        method=method,
        weights=use_weights,
    )
    progress(0.45, f"the period after on {grid.nx}x{grid.ny} cells")
    rate_b = rate_surface(
        after,
        grid,
        days=days_after,
        radius_m=radius,
        kernel=kernel,
        method=method,
        weights=use_weights,
    )
    seconds = time.perf_counter() - t0
    progress(0.8, "what changed")
    positive = np.concatenate([rate_a[rate_a > 0], rate_b[rate_b > 0]])
    threshold = float(np.percentile(positive, percentile)) if positive.size else math.inf
    mask_a, mask_b = rate_a >= threshold, rate_b >= threshold
    areas = changed_areas(
        rate_a, rate_b, mask_a, mask_b, grid, before, after, days_before, days_after, wards
    )
    by_ward = ward_changes(wards, mask_a, mask_b, grid, before, after)
    diff = rate_b - rate_a
    params = {
        "kind": "difference",
        "method": method,
        "kernel": kernel,
        "radius_m": radius,
        "cell_m": grid.cell_size_m,
        "percentile": percentile,
        "use_weights": use_weights,
        "rate_days": RATE_DAYS,
        "growth": GROWTH,
    }
    counts = {c: sum(a.change == c for a in areas) for c in ("appeared", "grew", "shrank")}
    counts |= {c: sum(a.change == c for a in areas) for c in ("gone", "stayed")}
    cut = threshold if math.isfinite(threshold) else None
    stats: dict[str, Any] = {
        "units": RATE_UNITS,
        "threshold": cut,
        "incidents": len(before) + len(after),
        "incidents_before": len(before),
        "incidents_after": len(after),
        "days_before": days_before,
        "days_after": days_after,
        "nx": grid.nx,
        "ny": grid.ny,
        "bounds_27700": list(grid.bounds),
        "min": float(diff.min()),
        "max": float(diff.max()),
        "areas": len(areas),
        "changes": counts,
        "compute_seconds": round(seconds, 4),
    }
    selection = {"before_read": read_of(before), "after_read": read_of(after)}
    return ComparisonResult(
        grid, rate_a, rate_b, diff, cut, areas, by_ward, params, stats, selection
    )


def _label_max(values: FloatArray, labels: npt.NDArray[np.int32], n: int) -> FloatArray:
    from scipy import ndimage

    return np.asarray(
        ndimage.labeled_comprehension(values, labels, np.arange(1, n + 1), np.max, float, 0.0)
    )


def changed_areas(
    rate_a: FloatArray,
    rate_b: FloatArray,
    mask_a: npt.NDArray[np.bool_],
    mask_b: npt.NDArray[np.bool_],
    grid: Grid,
    before: Points,
    after: Points,
    days_before: int,
    days_after: int,
    wards: Sequence[Ward] = (),
) -> list[ChangedArea]:
    """Each group of cells that is a hotspot in either period, the biggest change first.

    Ranked by the change in incidents inside (per 30 days), then by the change in area.
    """
    from scipy import ndimage
    from shapely.geometry import MultiPolygon

    from services.hotspots.compute.polygons import count_in_labels, label_polygons

    union = mask_a | mask_b
    if not union.any():
        return []
    labels, n = ndimage.label(union)
    labels = labels.astype(np.int32)
    polys = label_polygons(labels, union, grid)
    cell_area = grid.cell_size_m**2
    area_a = np.bincount(labels[mask_a], minlength=n + 1) * cell_area
    area_b = np.bincount(labels[mask_b], minlength=n + 1) * cell_area
    inc_a = count_in_labels(labels, n, grid, before.x, before.y)
    inc_b = count_in_labels(labels, n, grid, after.x, after.y)
    peak_a, peak_b = _label_max(rate_a, labels, n), _label_max(rate_b, labels, n)
    rows = []
    for k in range(1, n + 1):
        g = polys[k]
        geom = g if g.geom_type == "MultiPolygon" else MultiPolygon([g])
        delta = inc_b[k] * RATE_DAYS / days_after - inc_a[k] * RATE_DAYS / days_before
        rows.append((-abs(delta), -abs(area_b[k] - area_a[k]), k, geom))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    out = []
    for rank, (_, _, k, geom) in enumerate(rows, start=1):
        out.append(
            ChangedArea(
                rank=rank,
                change=classify(float(area_a[k]), float(area_b[k])),
                area_before_m2=float(area_a[k]),
                area_after_m2=float(area_b[k]),
                incidents_before=int(inc_a[k]),
                incidents_after=int(inc_b[k]),
                peak_before=float(peak_a[k - 1]),
                peak_after=float(peak_b[k - 1]),
                geom=geom,
                ward=main_ward(geom, wards),
            )
        )
    return out


def main_ward(geom: Any, wards: Sequence[Ward]) -> str | None:
    """The name of the ward holding the largest part of ``geom`` (None: in no ward)."""
    best, best_area = None, 0.0
    for w in wards:
        if not w.geom.intersects(geom):
            continue
        a = float(w.geom.intersection(geom).area)
        if a > best_area:
            best, best_area = w.name, a
    return best


def ward_changes(
    wards: Sequence[Ward],
    mask_a: npt.NDArray[np.bool_],
    mask_b: npt.NDArray[np.bool_],
    grid: Grid,
    before: Points,
    after: Points,
) -> list[WardChange]:
    """Per ward, by name: incidents in it and hotspot area in it in each period, and the change.

    A point on the line between two wards counts in the first by code. Hotspot area under half
    a cell in a ward (a corner clipped by its boundary) is not a hotspot of that ward.
    """
    import shapely

    from services.hotspots.compute.polygons import mask_polygon

    hot_a, hot_b = mask_polygon(mask_a, grid), mask_polygon(mask_b, grid)
    least = grid.cell_size_m**2 / 2
    taken_a = np.zeros(len(before), dtype=bool)
    taken_b = np.zeros(len(after), dtype=bool)
    out = []
    for w in sorted(wards, key=lambda w: w.code):
        shapely.prepare(w.geom)
        in_a = shapely.intersects_xy(w.geom, before.x, before.y) & ~taken_a
        in_b = shapely.intersects_xy(w.geom, after.x, after.y) & ~taken_b
        taken_a |= in_a
        taken_b |= in_b
        area_a = float(w.geom.intersection(hot_a).area) if not hot_a.is_empty else 0.0
        area_b = float(w.geom.intersection(hot_b).area) if not hot_b.is_empty else 0.0
        out.append(
            WardChange(
                code=w.code,
                name=w.name,
                incidents_before=int(in_a.sum()),
                incidents_after=int(in_b.sum()),
                hotspot_before_m2=area_a,
                hotspot_after_m2=area_b,
                change=classify(
                    area_a if area_a >= least else 0.0, area_b if area_b >= least else 0.0
                ),
            )
        )
    return sorted(out, key=lambda r: r.name)
