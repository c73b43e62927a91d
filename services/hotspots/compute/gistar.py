"""Getis-Ord Gi* hot and cold spots over a grid of counts, with Benjamini-Hochberg FDR bins.

The window sums are taken with row prefix sums (one pass per window row), so a run costs
O(N * (2r + 1)) for N cells and a radius of r cells, with no neighbour lists at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Int8Array = npt.NDArray[np.int8]

Window = Literal["square", "circle"]


@dataclass(frozen=True)
class GiStarResult:
    """Gi* z-scores, two-sided p-values and confidence bins over a grid.

    Attributes:
        z: Gi* z-score per cell, shape (ny, nx); NaN outside the mask.
        p: two-sided normal p-value per cell, shape (ny, nx); NaN outside the mask.
        bins: int8 per cell, shape (ny, nx): +3/+2/+1 hot spot at 99/95/90 % confidence,
            -1/-2/-3 cold spot, 0 not significant or outside the mask.
        neighbours: number of cells in each cell's window that are in the study area
            (the cell itself included), shape (ny, nx).
        n: number of cells in the study area.
        fdr: whether the bins were corrected for the false discovery rate.
    """

    z: FloatArray
    p: FloatArray
    bins: Int8Array
    neighbours: FloatArray
    n: int
    fdr: bool


def window_offsets(neighbourhood_cells: float, window: Window = "square") -> list[tuple[int, int]]:
    """Half-widths of the window per row offset: [(dy, half_width_in_cells), ...].

    Args:
        neighbourhood_cells: radius in cells. For ``"square"`` the window is the
            (2r+1) x (2r+1) block with r = floor(radius); for ``"circle"`` it is every cell whose
            centre lies within the radius of the cell's centre (a fixed distance band).
        window: ``"square"`` or ``"circle"``.
    """
    if not neighbourhood_cells >= 0:
        raise ValueError("neighbourhood_cells must be >= 0")
    r = int(math.floor(neighbourhood_cells + 1e-9))
    if window == "square":
        return [(dy, r) for dy in range(-r, r + 1)]
    if window == "circle":
        d2 = float(neighbourhood_cells) ** 2 + 1e-9
        return [(dy, int(math.floor(math.sqrt(max(d2 - dy * dy, 0.0))))) for dy in range(-r, r + 1)]
    raise ValueError(f"unknown window {window!r}")


def window_sum(values: npt.ArrayLike, offsets: Sequence[tuple[int, int]]) -> FloatArray:
    """Sum of ``values`` (ny, nx) over each cell's window; cells beyond the edge count as 0.

    Args:
        values: array of shape (ny, nx).
        offsets: ``[(dy, half_width), ...]`` as returned by :func:`window_offsets`.

    Returns:
        float64 array of shape (ny, nx).
    """
    v = np.asarray(values, dtype=np.float64)
    ny, nx = v.shape
    # Row prefix sums padded with zeros so that any [col - h, col + h] run is one subtraction.
    widest = max(h for _, h in offsets)
    padded = np.zeros((ny, nx + 2 * widest + 1), dtype=np.float64)
    np.cumsum(v, axis=1, out=padded[:, widest + 1 : widest + 1 + nx])
    padded[:, widest + 1 + nx :] = padded[:, widest + nx : widest + 1 + nx]
    cols = np.arange(nx)
    out = np.zeros((ny, nx), dtype=np.float64)
    runs: dict[int, FloatArray] = {}
    for dy, h in offsets:
        if h not in runs:
            hi = cols + widest + 1 + h
            lo = cols + widest - h
            runs[h] = padded[:, hi] - padded[:, lo]
        run = runs[h]
        if dy >= 0:
            if dy < ny:
                out[: ny - dy] += run[dy:]
        elif -dy < ny:
            out[-dy:] += run[: ny + dy]
    return out


def bh_adjust(p: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a 1-D array of p-values."""
    pa = np.asarray(p, dtype=np.float64).ravel()
    m = pa.size
    if m == 0:
        return pa.copy()
    order = np.argsort(pa, kind="stable")
    ranked = pa[order] * m / np.arange(1, m + 1)
    # Step-up: q_(k) = min over j >= k of p_(j) m / j.
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def confidence_bins(
    z: npt.ArrayLike,
    p: npt.ArrayLike,
    *,
    fdr: bool = True,
    alpha_levels: Sequence[float] = (0.10, 0.05, 0.01),
) -> Int8Array:
    """Signed confidence bins from z-scores and p-values (NaN cells get 0).

    A cell gets bin ``±k`` when it is significant at the k-th level of ``alpha_levels`` sorted
    from loosest to strictest (so ±3 at 99 %, ±2 at 95 %, ±1 at 90 % with the defaults). With
    ``fdr`` the critical p-value of each level is the Benjamini-Hochberg one over the cells that
    have a p-value, as ArcGIS Hot Spot Analysis does.

    Args:
        z: z-scores, any shape.
        p: two-sided p-values, same shape as ``z``.
        fdr: apply the false discovery rate correction per confidence level.
        alpha_levels: significance levels.

    Returns:
        int8 array of the shape of ``z``.
    """
    za = np.asarray(z, dtype=np.float64)
    pa = np.asarray(p, dtype=np.float64)
    valid = np.isfinite(pa) & np.isfinite(za)
    m = int(valid.sum())
    pv = np.where(valid, pa, np.inf)
    level = np.zeros(za.shape, dtype=np.int8)
    for k, alpha in enumerate(sorted(alpha_levels, reverse=True), start=1):
        crit = bh_critical_p(pv[pv <= alpha], m, alpha) if fdr else alpha
        level[pv <= crit] = k
    return (level * np.sign(np.where(valid, za, 0.0))).astype(np.int8)


def bh_critical_p(small_p: npt.ArrayLike, m: int, alpha: float) -> float:
    """Benjamini-Hochberg critical p-value at level ``alpha`` for ``m`` tests.

    Args:
        small_p: the p-values that are <= ``alpha`` (the others can never be rejected, so
            leaving them out only saves sorting time); ``m`` counts all tests.
        m: total number of tests.
        alpha: false discovery rate.

    Returns:
        the largest p_(k) with p_(k) <= k alpha / m, or -1.0 when nothing is rejected.
    """
    ps = np.sort(np.asarray(small_p, dtype=np.float64).ravel())
    ok = np.nonzero(ps <= np.arange(1, ps.size + 1) * (alpha / m))[0]
    return float(ps[ok[-1]]) if ok.size else -1.0


def gistar(
    counts: npt.ArrayLike,
    *,
    neighbourhood_cells: float = 1,
    window: Window = "square",
    mask: npt.ArrayLike | None = None,
    fdr: bool = True,
    alpha_levels: Sequence[float] = (0.10, 0.05, 0.01),
) -> GiStarResult:
    """Getis-Ord Gi* (Getis & Ord 1995) with binary weights over a grid of counts.

    z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n W_i - W_i^2) / (n - 1))), where the window
    of cell i includes i itself, W_i is the number of study-area cells in it, n is the number
    of study-area cells and xbar, S are the mean and population standard deviation of x over
    the study area. These z-scores equal esda ``G_Local(star=True, transform="B")``'s ``Zs``.

    Args:
        counts: incident count (or weight) per cell, shape (ny, nx), row 0 north.
        neighbourhood_cells: window radius in cells (a distance band of radius * cell size m).
        window: ``"square"`` (r = 1 is queen contiguity plus the cell) or ``"circle"``.
        mask: bool (ny, nx), True for cells in the study area; cells outside are left out of n,
            xbar, S and every window. None means every cell.
        fdr: Benjamini-Hochberg correction of the bins per confidence level.
        alpha_levels: significance levels for bins 1, 2, 3 (loosest first).

    Returns:
        :class:`GiStarResult`; cells whose z is undefined (S = 0 or W_i = n) get z = 0, p = 1.
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("counts must be a 2-D (ny, nx) array")
    if mask is None:
        m = np.isfinite(x)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != x.shape:
            raise ValueError("mask must have the shape of counts")
        m = m & np.isfinite(x)
    xm = np.where(m, x, 0.0)
    n = int(m.sum())
    offsets = window_offsets(neighbourhood_cells, window)
    wsum = window_sum(xm, offsets)
    wcount = window_sum(m, offsets)
    z, p = _z_and_p(xm, m, n, wsum, wcount)
    bins = confidence_bins(z, p, fdr=fdr, alpha_levels=alpha_levels)
    return GiStarResult(z=z, p=p, bins=bins, neighbours=np.where(m, wcount, 0.0), n=n, fdr=fdr)


def _z_and_p(
    xm: FloatArray, m: BoolArray, n: int, wsum: FloatArray, wcount: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Gi* z and two-sided p from window sums; NaN outside the mask."""
    z = np.full(xm.shape, np.nan)
    if n < 2:
        p = np.full(xm.shape, np.nan)
        z[m] = 0.0
        p[m] = 1.0
        return z, p
    xbar = float(xm.sum()) / n
    s = math.sqrt(float(np.sum(np.where(m, xm - xbar, 0.0) ** 2)) / n)
    den = np.sqrt(np.maximum(wcount * (n - wcount), 0.0) * (s * s / (n - 1)))
    num = wsum - xbar * wcount
    ok = m & (den > 1e-12 * max(s, 1.0))
    np.divide(num, den, out=z, where=ok)
    z[m & ~ok] = 0.0
    p = special.erfc(np.abs(z) * (1.0 / math.sqrt(2.0)))
    return z, p
