"""Baseline hotspot forecasts: naive counts, retrospective KDE and prospective hotspotting."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from shared.grid import Grid
from shared.kde import kde_surface

FloatArray = npt.NDArray[np.float64]


def _window(
    t_days: npt.ArrayLike, as_of_days: float, window_days: float | None
) -> npt.NDArray[np.bool_]:
    """Events strictly before ``as_of_days`` and at most ``window_days`` before it."""
    t = np.asarray(t_days, dtype=np.float64).ravel()
    keep = t < as_of_days
    if window_days is not None:
        keep &= t >= as_of_days - window_days
    return keep


def _weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise ValueError("weights must have one value per event")
    return w


def grid_counts(
    x: npt.ArrayLike, y: npt.ArrayLike, grid: Grid, *, weights: npt.ArrayLike | None = None
) -> FloatArray:
    """Events (or their weights) per cell, shape (ny, nx); points outside the grid are ignored."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    row, col, inside = grid.cell_index(xa, y)
    w = _weights(weights, xa.size)
    flat = grid.flat_index(row[inside], col[inside])
    out = np.bincount(flat, weights=w[inside], minlength=grid.nx * grid.ny)
    return np.asarray(out, dtype=np.float64).reshape(grid.shape)


def naive_counts(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t_days: npt.ArrayLike,
    grid: Grid,
    as_of_days: float,
    window_days: float,
    *,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Events per cell in [as_of - window_days, as_of), shape (ny, nx)."""
    keep = _window(t_days, as_of_days, window_days)
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    w = _weights(weights, xa.size)[keep]
    return grid_counts(xa[keep], ya[keep], grid, weights=w)


def kde_baseline(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t_days: npt.ArrayLike,
    grid: Grid,
    as_of_days: float,
    radius_m: float,
    *,
    window_days: float | None = None,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Retrospective quartic KDE of the events before ``as_of``, events per km^2, (ny, nx)."""
    keep = _window(t_days, as_of_days, window_days)
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    w = _weights(weights, xa.size)[keep]
    return kde_surface(xa[keep], ya[keep], grid, radius_m, weights=w, kernel="quartic")


def prospective_kernel(cell_size_m: float, radius_m: float) -> FloatArray:
    """Spatial weights 1 / (1 + distance bands) for cell offsets within ``radius_m``.

    The distance band of an offset (dr, dc) is round(hypot(dr, dc)): whole cells between the
    centres. Shape (2p+1, 2p+1) with p = floor(radius_m / cell_size_m).
    """
    p = int(math.floor(radius_m / cell_size_m + 1e-9))
    off = np.arange(-p, p + 1, dtype=np.float64)
    d_cells = np.hypot(off[:, None], off[None, :])
    bands = np.floor(d_cells + 0.5)
    inside = d_cells * cell_size_m <= radius_m + 1e-9
    return np.where(inside, 1.0 / (1.0 + bands), 0.0)


def prospective_surface(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t_days: npt.ArrayLike,
    grid: Grid,
    as_of_days: float,
    *,
    radius_m: float = 400.0,
    weeks: int = 8,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Prospective hotspotting score (Bowers, Johnson and Pease 2004), shape (ny, nx).

    Every event before ``as_of`` in the last ``weeks`` whole weeks adds
    ``w / ((1 + distance bands) * (1 + weeks elapsed))`` to each cell whose centre is within
    ``radius_m`` of the centre of the event's cell; weeks elapsed = floor((as_of - t) / 7),
    distance bands as in :func:`prospective_kernel`. Events just outside the grid still count.
    """
    keep = _window(t_days, as_of_days, 7.0 * weeks)
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    ta = np.asarray(t_days, dtype=np.float64).ravel()
    w = _weights(weights, xa.size)[keep]
    xa, ya, ta = xa[keep], ya[keep], ta[keep]
    ker = prospective_kernel(grid.cell_size_m, radius_m)
    p = ker.shape[0] // 2
    c = grid.cell_size_m
    # Count on a grid padded by the kernel radius so that events near the edge are kept.
    col = np.floor((xa - grid.x0) / c).astype(np.int64) + p
    row = np.floor((grid.y1 - ya) / c).astype(np.int64) + p
    ny, nx = grid.ny + 2 * p, grid.nx + 2 * p
    inside = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
    wk = np.floor((as_of_days - ta) / 7.0).astype(np.int64)
    time_w = 1.0 / (1.0 + wk)
    flat = row[inside] * nx + col[inside]
    counts = np.bincount(flat, weights=(w * time_w)[inside], minlength=nx * ny).reshape(ny, nx)
    out = ndimage.correlate(counts, ker, mode="constant", cval=0.0)
    return np.ascontiguousarray(out[p : p + grid.ny, p : p + grid.nx])


def smooth_cells(values: FloatArray, sigma_cells: float) -> FloatArray:
    """Gaussian smoothing of a (ny, nx) array over cells that keeps the array's total."""
    if sigma_cells <= 0:
        return values.copy()
    out: FloatArray = ndimage.gaussian_filter(
        values, sigma_cells, mode="constant", cval=0.0, truncate=3.0
    )
    total, kept = float(values.sum()), float(out.sum())
    return out * (total / kept) if kept > 0 else out
