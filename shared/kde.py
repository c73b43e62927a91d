"""Kernel density surfaces over an aligned EPSG:27700 grid (ArcGIS kernel conventions).

Shared by the hotspots service (KDE surfaces) and the predictive service (KDE baseline).
Values are incidents per square kilometre at each cell centre.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt
from numba import njit, prange
from scipy import fft as sfft

from shared.grid import Grid

FloatArray = npt.NDArray[np.float64]

KERNELS = ("quartic", "triweight", "epanechnikov", "uniform", "triangular")
METHODS = ("exact", "fast")

# Normalising constants times pi*r^2: each kernel integrates to 1 over the disc of radius r.
_NORM = {"quartic": 3.0, "triweight": 4.0, "epanechnikov": 2.0, "uniform": 1.0, "triangular": 3.0}
_KID = {name: i for i, name in enumerate(KERNELS)}
_PER_KM2 = 1e6

# Finest fine-lattice spacing the fast method needs, as radius / spacing, so that one isolated
# point's binning error stays under 0.5% of its own peak, the tolerance (measured over a 12 x 12
# grid of sub-cell offsets: worst 0.444% for quartic at 15, 0.462% for triweight at 18; the
# error falls as (spacing/radius)^2 for these two, only linearly for the kinked kernels).
# Kernels with a kink (triangular at the centre, epanechnikov at the edge) or a jump (uniform)
# need far finer lattices; where the lattice would be too large the fast method falls back to
# the exact sum, which is then cheap because the radius is only a few cells.
_FAST_RATIO = {
    "quartic": 15.0,
    "triweight": 18.0,
    "epanechnikov": 120.0,
    "uniform": 1e9,
    "triangular": 72.0,
}
_FAST_MAX_NODES = 12_000_000


@njit(cache=True)
def _bucket_rows(
    ys: FloatArray, y_top: float, h: float, ny: int, pad: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counting sort of points by grid row (rows -pad .. ny+pad-1); others are dropped."""
    nb = ny + 2 * pad
    counts = np.zeros(nb + 1, dtype=np.int64)
    rows = np.empty(ys.size, dtype=np.int64)
    for k in range(ys.size):
        r = math.floor((y_top - ys[k]) / h) + pad
        if r < 0 or r >= nb:
            r = -1
        else:
            counts[r + 1] += 1
        rows[k] = r
    for b in range(nb):
        counts[b + 1] += counts[b]
    order = np.empty(counts[nb], dtype=np.int64)
    fill = counts[:nb].copy()
    for k in range(ys.size):
        r = rows[k]
        if r >= 0:
            order[fill[r]] = k
            fill[r] += 1
    return counts, order


@njit(cache=True, parallel=True)
def _exact_rows(
    px: FloatArray,
    py: FloatArray,
    pw: FloatArray,
    starts: npt.NDArray[np.int64],
    row_order: npt.NDArray[np.int64],
    h: float,
    nx: int,
    ny: int,
    pad: int,
    r: float,
    kid: int,
) -> FloatArray:
    """Gather sum per output row; px/py are metres from the grid's NW corner (y down)."""
    out = np.zeros((ny, nx), dtype=np.float64)
    r2 = r * r
    inv_r2 = 1.0 / r2
    inv_h = 1.0 / h
    for k in prange(ny):
        i = row_order[k]
        cy = (i + 0.5) * h
        acc = out[i]
        for p in range(starts[i], starts[i + 2 * pad + 1]):
            dy = py[p] - cy
            rem = r2 - dy * dy
            if rem < 0.0:
                continue
            half = math.sqrt(rem)
            x = px[p]
            w = pw[p]
            jlo = max(0, int(math.ceil((x - half) * inv_h - 0.5)))
            jhi = min(nx - 1, int(math.floor((x + half) * inv_h - 0.5)))
            b = dy * dy * inv_r2
            # One loop per kernel so each vectorises; t is clamped at 1 because the column
            # range already holds only centres within r (rounding can push t just past 1).
            if kid == 0:
                for j in range(jlo, jhi + 1):
                    dx = (j + 0.5) * h - x
                    s = 1.0 - min(b + dx * dx * inv_r2, 1.0)
                    acc[j] += w * s * s
            elif kid == 1:
                for j in range(jlo, jhi + 1):
                    dx = (j + 0.5) * h - x
                    s = 1.0 - min(b + dx * dx * inv_r2, 1.0)
                    acc[j] += w * s * s * s
            elif kid == 2:
                for j in range(jlo, jhi + 1):
                    dx = (j + 0.5) * h - x
                    acc[j] += w * (1.0 - min(b + dx * dx * inv_r2, 1.0))
            elif kid == 3:
                for j in range(jlo, jhi + 1):
                    acc[j] += w
            else:
                for j in range(jlo, jhi + 1):
                    dx = (j + 0.5) * h - x
                    acc[j] += w * (1.0 - math.sqrt(min(b + dx * dx * inv_r2, 1.0)))
    return out


@njit(cache=True, parallel=True)
def _linear_bin(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray,
    ox: float,
    oy: float,
    step: float,
    mx: int,
    my: int,
    chunks: int,
) -> npt.NDArray[np.float32]:
    """Linear binning onto (my, mx) lattice nodes ``step`` metres apart.

    Node (0, 0) sits at easting ``ox``, northing ``oy``; columns run east, rows south. Lattice
    coordinates are computed inline (no temporary arrays): binning is the fast method's hot loop.
    """
    parts = np.zeros((chunks, my, mx), dtype=np.float32)
    n = x.size
    inv = 1.0 / step
    for c in prange(chunks):
        g = parts[c]
        for k in range(c * n // chunks, (c + 1) * n // chunks):
            u = (x[k] - ox) * inv
            v = (oy - y[k]) * inv
            fu = int(math.floor(u))
            fv = int(math.floor(v))
            if fu < 0 or fv < 0 or fu + 1 >= mx or fv + 1 >= my:
                continue
            a = u - fu
            b = v - fv
            wk = w[k]
            g[fv, fu] += wk * (1.0 - a) * (1.0 - b)
            g[fv, fu + 1] += wk * a * (1.0 - b)
            g[fv + 1, fu] += wk * (1.0 - a) * b
            g[fv + 1, fu + 1] += wk * a * b
    out: npt.NDArray[np.float32] = parts[0]
    for c in range(1, chunks):
        out += parts[c]
    return out


def _prepare(
    x: npt.ArrayLike, y: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    xa = np.ascontiguousarray(x, dtype=np.float64).ravel()
    ya = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError("x and y must have the same length")
    if weights is None:
        wa = np.ones_like(xa)
    else:
        wa = np.ascontiguousarray(weights, dtype=np.float64).ravel()
        if wa.shape != xa.shape:
            raise ValueError("weights must have the same length as x")
    # One cheap pass each: a sum is finite exactly when every term is (NaN and inf propagate;
    # metre coordinates and weights are nowhere near float64 overflow).
    if not math.isfinite(float(xa.sum()) + float(ya.sum()) + float(wa.sum())):
        raise ValueError("x, y and weights must be finite")
    return xa, ya, wa


def kernel_values(d: npt.ArrayLike, radius_m: float, kernel: str = "quartic") -> FloatArray:
    """Kernel value per square metre at distances ``d`` (metres): zero beyond ``radius_m``."""
    if kernel not in _NORM:
        raise ValueError(f"kernel must be one of {KERNELS}")
    u = np.asarray(d, dtype=np.float64) / radius_m
    shape = {
        "quartic": lambda u: (1 - u**2) ** 2,
        "triweight": lambda u: (1 - u**2) ** 3,
        "epanechnikov": lambda u: 1 - u**2,
        "uniform": lambda u: np.ones_like(u),
        "triangular": lambda u: 1 - u,
    }[kernel](np.minimum(u, 1.0))
    return np.where(u <= 1.0, _NORM[kernel] / (math.pi * radius_m**2) * shape, 0.0)


def _exact(
    xa: FloatArray, ya: FloatArray, wa: FloatArray, grid: Grid, r: float, kid: int
) -> FloatArray:
    h = grid.cell_size_m
    pad = math.ceil(r / h) + 1
    starts, order = _bucket_rows(ya, grid.y1, h, grid.ny, pad)
    px = xa[order] - grid.x0
    py = grid.y1 - ya[order]
    threads = numba.get_num_threads()
    # Interleave rows so each thread's static chunk covers the whole grid (clustered data).
    row_order = np.concatenate([np.arange(t, grid.ny, threads) for t in range(threads)])
    # starts[b] is where bucket b (row b - pad) begins, so row i's band is buckets i..i+2*pad.
    return _exact_rows(px, py, wa[order], starts, row_order, h, grid.nx, grid.ny, pad, r, kid)


def fast_oversampling(radius_m: float, cell_size_m: float, kernel: str) -> int:
    """Lattice subdivisions per cell that the fast method uses (0 means it falls back to exact)."""
    f = max(1, math.ceil(_FAST_RATIO[kernel] * cell_size_m / radius_m))
    return f


_BIN_BUDGET_BYTES = 256 * 1024 * 1024


def _fast(
    xa: FloatArray, ya: FloatArray, wa: FloatArray, grid: Grid, r: float, kernel: str
) -> FloatArray:
    h = grid.cell_size_m
    f = fast_oversampling(r, h, kernel)
    hf = h / f
    rf = math.ceil(r / hf)
    # Lattice nodes: node (pad + f*i) sits on the centre of cell row/col i.
    pad = rf + 1
    mx = (grid.nx - 1) * f + 1 + 2 * pad
    my = (grid.ny - 1) * f + 1 + 2 * pad
    if mx * my > _FAST_MAX_NODES:
        return _exact(xa, ya, wa, grid, r, _KID[kernel])
    # Lattice node (0, 0) lies ``pad`` steps west and north of the first cell centre.
    ox = grid.x0 + 0.5 * h - pad * hf
    oy = grid.y1 - 0.5 * h + pad * hf
    # One float32 lattice per chunk: as many chunks as threads, but never more than the
    # memory budget holds (on a 64-core box 64 lattices of 12M nodes would be 3 GB).
    chunks = max(1, min(numba.get_num_threads(), _BIN_BUDGET_BYTES // (4 * mx * my)))
    g = _linear_bin(xa, ya, wa, ox, oy, hf, mx, my, chunks)
    off = np.arange(-rf, rf + 1, dtype=np.float64) * hf
    d = np.hypot(off[None, :], off[:, None])
    ker = (kernel_values(d, r, kernel) * (math.pi * r * r / _NORM[kernel])).astype(np.float32)
    shape = (my + 2 * rf, mx + 2 * rf)
    fshape = tuple(sfft.next_fast_len(s, real=True) for s in shape)
    spec = sfft.rfft2(g, fshape, workers=-1)
    spec *= sfft.rfft2(ker, fshape, workers=-1)
    full = sfft.irfft2(spec, fshape, workers=-1)
    # Full convolution index of lattice node n is n + rf.
    s0 = pad + rf
    out = full[s0 : s0 + (grid.ny - 1) * f + 1 : f, s0 : s0 + (grid.nx - 1) * f + 1 : f]
    out = np.ascontiguousarray(out, dtype=np.float64)
    # Single-precision FFT (twice as fast; its round-off, ~1e-6 of the peak, is far inside the
    # 0.5% budget) leaves tiny values where no incident reaches: those cells are exactly 0.
    out[out < 1e-5 * max(float(out.max()), 0.0)] = 0.0
    return out


def kde_surface(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    grid: Grid,
    radius_m: float,
    *,
    weights: npt.ArrayLike | None = None,
    kernel: str = "quartic",
    method: str = "exact",
) -> FloatArray:
    """Kernel density at every cell centre, in incidents per km^2.

    Args:
        x, y: incident eastings/northings in EPSG:27700 metres, shape (n,).
        grid: the output grid; the result has shape ``grid.shape`` (ny, nx), row 0 north.
        radius_m: search radius (bandwidth) in metres.
        weights: optional incident weights, shape (n,); default 1 each.
        kernel: one of ``KERNELS``; ArcGIS scaling, each integrates to 1 over the disc.
        method: ``"exact"`` (direct sum over incidents within the radius) or ``"fast"``
            (linear binning on a lattice fine enough for 0.5% of the peak, then FFT convolution).

    Returns:
        float64 array (ny, nx): sum of w * K(d) over incidents within ``radius_m`` of each cell
        centre, times 1e6 (per m^2 to per km^2).
    """
    if kernel not in _KID:
        raise ValueError(f"kernel must be one of {KERNELS}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    r = float(radius_m)
    if not (r > 0 and math.isfinite(r)):
        raise ValueError("radius_m must be a positive number")
    xa, ya, wa = _prepare(x, y, weights)
    if xa.size == 0:
        return np.zeros(grid.shape, dtype=np.float64)
    if method == "exact":
        raw = _exact(xa, ya, wa, grid, r, _KID[kernel])
    else:
        raw = _fast(xa, ya, wa, grid, r, kernel)
    raw *= _NORM[kernel] / (math.pi * r * r) * _PER_KM2
    return raw


def _weighted_median(values: FloatArray, weights: FloatArray) -> float:
    order = np.argsort(values, kind="stable")
    v = values[order]
    cw = np.cumsum(weights[order])
    half = 0.5 * cw[-1]
    k = int(np.searchsorted(cw, half, side="left"))
    # On an exact tie at half the weight, average with the next value (np.median for w = 1).
    if k + 1 < v.size and math.isclose(cw[k], half, rel_tol=1e-12, abs_tol=0.0):
        return 0.5 * float(v[k] + v[k + 1])
    return float(v[k])


def default_radius_m(
    x: npt.ArrayLike, y: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> float:
    """ArcGIS default search radius 0.9*min(SD, sqrt(1/ln 2)*Dm)*n^-0.2, in metres."""
    xa, ya, wa = _prepare(x, y, weights)
    if xa.size < 2:
        raise ValueError("need at least two incidents for a default radius")
    total = float(wa.sum())
    if not total > 0:
        raise ValueError("weights must sum to a positive number")
    mx = float(np.dot(wa, xa)) / total
    my = float(np.dot(wa, ya)) / total
    d2 = (xa - mx) ** 2 + (ya - my) ** 2
    sd = math.sqrt(float(np.dot(wa, d2)) / total)
    dm = _weighted_median(np.sqrt(d2), wa)
    spread = min(sd, math.sqrt(1.0 / math.log(2.0)) * dm)
    if spread <= 0:
        spread = sd
    if spread <= 0:
        raise ValueError("all incidents are at one place: no default radius")
    n = total if weights is not None else float(xa.size)
    return float(0.9 * spread * n**-0.2)


def default_cell_m(minx: float, miny: float, maxx: float, maxy: float) -> float:
    """ArcGIS default cell size: the shorter side of the extent divided by 250, in metres."""
    side = min(maxx - minx, maxy - miny)
    if not side > 0:
        raise ValueError("the extent must have a positive width and height")
    return side / 250.0
