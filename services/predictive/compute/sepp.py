"""A space-time self-exciting model on day bins, fitted by EM over a kernel dictionary (pure).

In the spirit of Mohler et al. (2011): the expected count of box ``n`` on day ``d`` is

    lambda[d, n] = w_u / N + sum_{a, b} w_ab * (G_b * S_a[d])[n]

where ``S_a[d]`` is the history of counts before day ``d`` weighted by a time kernel ``a`` and
``G_b`` a Gaussian spatial kernel over box distance with scale ``sigma_b`` (0 = the same box).
Time kernels with a finite scale ``tau`` are geometric (each event's weight over the later days
sums to 1, so ``w_ab`` is the number of offspring per event through that kernel); the infinite
scale is the long-run mean daily count (the background from the long history), so ``w_inf,b``
is its share with spatial smoothing ``sigma_b``. ``w_u`` is a uniform floor. The weights are the
maximum-likelihood ones of the Poisson day counts, found by EM (multiplicative updates, exact for
a mixture of known non-negative components); the fitted spatial and temporal scales are the
weighted means over the dictionary. Day bins make ties harmless: counts on the same day are
simply counts. Work is one pass over days and events: linear in the events (each event reads a
window of boxes around it) plus the days times the kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TAUS_DAYS = (1.0, 7.0, 30.0, 120.0, math.inf)
SIGMAS_CELLS = (0.0, 1.0, 2.0)


def spatial_kernel(sigma_cells: float, radius: int) -> FloatArray:
    """Discrete Gaussian over box offsets within ``radius`` boxes, summing to 1; 0 = one box."""
    off = np.arange(-radius, radius + 1, dtype=np.float64)
    d2 = off[:, None] ** 2 + off[None, :] ** 2
    if sigma_cells <= 0:
        k = (d2 == 0).astype(np.float64)
    else:
        k = np.exp(-d2 / (2.0 * sigma_cells**2))
        k[d2 > (3.0 * sigma_cells) ** 2 + 1e-9] = 0.0
    return np.asarray(k / k.sum(), dtype=np.float64)


def kernel_stack(sigmas: tuple[float, ...]) -> tuple[FloatArray, int]:
    """The spatial kernels on one common window, shape (B, 2R+1, 2R+1), and R."""
    radius = max([int(math.ceil(3.0 * s)) for s in sigmas] + [0])
    return np.stack([spatial_kernel(s, radius) for s in sigmas]), radius


@dataclass
class DayTable:
    """Features of a history on day bins: what the EM fit and the forecasts read.

    Attributes:
        day0: time of the start of bin 0, days since the epoch (bins are ``bin_days`` long).
        n_days: bins from ``day0`` to the end of the history.
        row_day, row_cell, row_count: the (day, box) pairs with events and their counts.
        feats: feature value per row and component, shape (n_rows, K); component 0 is uniform.
        mass: the sum over boxes of each component per day, shape (n_days, K).
        names: component names, ``uniform`` then ``tau{a}_sigma{b}``.
        taus, sigmas: the time scale (days, inf = long run) and spatial scale per component.
    """

    day0: float
    bin_days: float
    n_days: int
    row_day: IntArray
    row_cell: IntArray
    row_count: FloatArray
    feats: FloatArray
    mass: FloatArray
    names: list[str]
    taus: FloatArray
    sigmas: FloatArray
    final: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))


@numba.njit(cache=True)
def _pass(
    day_ptr: IntArray,
    cells: IntArray,
    counts: FloatArray,
    nx: int,
    ny: int,
    rs: FloatArray,
    kernels: FloatArray,
    radius: int,
    retention: FloatArray,
    first_feature_day: int,
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, FloatArray]:
    """One pass over the days: features of each (day, box) row from the earlier days only.

    States are kept lazily per box (value at the day it was last touched), so a day costs only
    its own events: each row reads the window of boxes around it. ``rs`` holds exp(-1/tau) for
    the finite time scales; the last state is the running total (the long-run mean's numerator).
    Returns the features per row, the mass per day and component, the final states at the end
    (shape (A, n_cells)), and the last-touched day per box.
    """
    n_days = day_ptr.size - 1
    n_cells = nx * ny
    n_fin = rs.size
    n_a = n_fin + 1
    n_b = kernels.shape[0]
    k_all = 1 + n_a * n_b
    n_rows = day_ptr[-1]
    val = np.zeros((n_a, n_cells))
    last = np.zeros(n_cells, dtype=np.int64)
    feats = np.zeros((n_rows, k_all))
    mass = np.zeros((n_days, k_all))
    # Mass of each state weighted by each kernel's retention (what stays inside the grid).
    ret_sum = np.zeros((n_a, n_b))
    first_day = -1
    w = 2 * radius + 1
    powers = np.empty((n_fin, n_days + 2))
    for a in range(n_fin):
        for lag in range(n_days + 2):
            powers[a, lag] = rs[a] ** lag
    for d in range(n_days):
        if first_day < 0 and day_ptr[d + 1] > day_ptr[d]:
            first_day = d
        elapsed = max(d - first_day, 1) if first_day >= 0 else 1
        if d >= first_feature_day:
            mass[d, 0] = 1.0
            for a in range(n_a):
                for b in range(n_b):
                    m = ret_sum[a, b]
                    mass[d, 1 + a * n_b + b] = m / elapsed if a == n_fin else m
            for i in range(day_ptr[d], day_ptr[d + 1]):
                c = cells[i]
                r0 = c // nx
                c0 = c % nx
                feats[i, 0] = 1.0 / n_cells
                for dr in range(w):
                    rr = r0 + dr - radius
                    if rr < 0 or rr >= ny:
                        continue
                    for dc in range(w):
                        cc = c0 + dc - radius
                        if cc < 0 or cc >= nx:
                            continue
                        m = rr * nx + cc
                        if val[n_fin, m] == 0.0:
                            continue  # nothing has happened in this box yet
                        lag = d - last[m]
                        for a in range(n_a):
                            if a < n_fin:
                                v = val[a, m] * powers[a, lag]
                            else:
                                v = val[a, m] / elapsed
                            if v == 0.0:
                                continue
                            for b in range(n_b):
                                feats[i, 1 + a * n_b + b] += kernels[b, dr, dc] * v
        # Fold this day's counts into the states (they affect later days only).
        for a in range(n_fin):
            for b in range(n_b):
                ret_sum[a, b] *= rs[a]
        for i in range(day_ptr[d], day_ptr[d + 1]):
            m = cells[i]
            lag = d + 1 - last[m]
            for a in range(n_fin):
                add = (1.0 - rs[a]) * counts[i]
                val[a, m] = val[a, m] * powers[a, lag] + add
                for b in range(n_b):
                    ret_sum[a, b] += add * retention[b, m]
            val[n_fin, m] += counts[i]
            for b in range(n_b):
                ret_sum[n_fin, b] += counts[i] * retention[b, m]
            last[m] = d + 1
    # States brought to the end of the history (day n_days).
    for m in range(n_cells):
        lag = n_days - last[m]
        for a in range(n_fin):
            val[a, m] *= rs[a] ** lag
    elapsed = max(n_days - first_day, 1) if first_day >= 0 else 1
    for m in range(n_cells):
        val[n_fin, m] /= elapsed
    return feats, mass, val, last, ret_sum


def build_table(
    cells: npt.ArrayLike,
    t_days: npt.ArrayLike,
    shape: tuple[int, int],
    day0: float,
    n_days: int,
    *,
    bin_days: float = 1.0,
    taus: tuple[float, ...] = TAUS_DAYS,
    sigmas: tuple[float, ...] = SIGMAS_CELLS,
    first_feature_day: int = 0,
) -> DayTable:
    """Bin events into days from ``day0`` and compute the features of every (day, box) row.

    Events before ``day0`` or from bin ``n_days`` on are left out; rows before
    ``first_feature_day`` only build up the history (their features stay 0).
    """
    ny, nx = shape
    n_cells = nx * ny
    c = np.asarray(cells, dtype=np.int64).ravel()
    t = np.asarray(t_days, dtype=np.float64).ravel()
    day = np.floor((t - day0) / bin_days + 1e-9).astype(np.int64)
    keep = (day >= 0) & (day < n_days)
    key = day[keep] * n_cells + c[keep]
    uniq, cnt = np.unique(key, return_counts=True)
    row_day, row_cell = uniq // n_cells, uniq % n_cells
    day_ptr = np.zeros(n_days + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_day, minlength=n_days), out=day_ptr[1:])
    fin = [tau for tau in taus if math.isfinite(tau)]
    if len(fin) != len(taus) - 1 or math.isfinite(taus[-1]):
        raise ValueError("taus: finite scales then one infinite (the long-run mean) last")
    rs = np.exp(-bin_days / np.asarray(fin, dtype=np.float64))
    kernels, radius = kernel_stack(sigmas)
    retention = np.stack(
        [ndimage.correlate(np.ones(shape), k, mode="constant").ravel() for k in kernels]
    )
    feats, mass, final, _, _ = _pass(
        day_ptr,
        row_cell,
        cnt.astype(np.float64),
        nx,
        ny,
        rs,
        kernels,
        radius,
        retention,
        first_feature_day,
    )
    names = ["uniform"] + [f"tau{tau:g}_sigma{s:g}" for tau in taus for s in sigmas]
    tau_k = np.array([math.nan] + [tau for tau in taus for _ in sigmas])
    sig_k = np.array([math.nan] + [s for _ in taus for s in sigmas])
    return DayTable(
        day0, bin_days, n_days, row_day, row_cell, cnt.astype(np.float64), feats, mass,
        names, tau_k, sig_k, final,
    )  # fmt: skip


def surfaces(table: DayTable, shape: tuple[int, int], sigmas: tuple[float, ...]) -> FloatArray:
    """Every component's expected count per box on the day after the history, (K, n_cells)."""
    kernels, _ = kernel_stack(sigmas)
    n_cells = shape[0] * shape[1]
    out = [np.full(n_cells, 1.0 / n_cells)]
    for state in table.final:
        grid = state.reshape(shape)
        out += [ndimage.correlate(grid, k, mode="constant").ravel() for k in kernels]
    return np.asarray(np.stack(out), dtype=np.float64)


@dataclass(frozen=True)
class WeightsFit:
    """EM weights of the components, with the fit's log-likelihood and status."""

    weights: FloatArray
    loglik: float
    iterations: int
    converged: bool
    n_events: float
    n_days: int


def fit_weights(
    table: DayTable,
    day_lo: int,
    day_hi: int,
    *,
    active: npt.NDArray[np.bool_] | None = None,
    start: FloatArray | None = None,
    max_iter: int = 300,
    tol: float = 1e-6,
) -> WeightsFit:
    """Maximum-likelihood weights on the days [day_lo, day_hi) by EM; ``active`` limits them.

    ``start`` (weights of an earlier fit) starts the iterations there; zeros are kept small but
    positive so that no component is shut out by the start.
    """
    k_all = table.feats.shape[1]
    on = np.ones(k_all, bool) if active is None else np.asarray(active, bool)
    rows = (table.row_day >= day_lo) & (table.row_day < day_hi)
    f = table.feats[rows][:, on]
    y = table.row_count[rows]
    m = table.mass[day_lo:day_hi][:, on].sum(axis=0)
    n = float(y.sum())
    w = np.zeros(k_all)
    usable = m > 0
    if n == 0 or not usable.any():
        return WeightsFit(w, 0.0, 0, True, n, day_hi - day_lo)
    wk = np.where(usable, n / (usable.sum() * np.where(usable, m, 1.0)), 0.0)
    if start is not None:
        ws = np.asarray(start, dtype=np.float64)[on]
        wk = np.where(usable, np.maximum(ws, 1e-3 * wk), 0.0)
    f = np.ascontiguousarray(f)
    ft = np.ascontiguousarray(f.T)
    prev = -math.inf
    ll = -math.inf
    it = 0
    converged = False
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        lam = f @ wk
        ll = float(np.sum(y * np.log(np.maximum(lam, 1e-300))) - m @ wk)
        ratio = y / np.maximum(lam, 1e-300)
        wk = np.where(usable, wk * (ft @ ratio) / np.where(usable, m, 1.0), 0.0)
        if abs(ll - prev) <= tol * (abs(ll) + 1.0):
            converged = True
            break
        prev = ll
    w[on] = wk
    return WeightsFit(w, ll, it, converged, n, day_hi - day_lo)


def heldout_loglik(table: DayTable, weights: FloatArray, day_lo: int, day_hi: int) -> float:
    """Poisson log-likelihood of the days [day_lo, day_hi) under fixed weights (no fitting)."""
    rows = (table.row_day >= day_lo) & (table.row_day < day_hi)
    lam = table.feats[rows] @ weights
    y = table.row_count[rows]
    return float(
        np.sum(y * np.log(np.maximum(lam, 1e-300))) - table.mass[day_lo:day_hi].sum(0) @ weights
    )


def describe(table: DayTable, weights: FloatArray) -> dict[str, Any]:
    """Fitted parameters for people: branching ratio, background share, kernel scales."""
    w = np.asarray(weights, dtype=np.float64)
    trig = np.isfinite(table.taus) & (w > 0)
    long_run = np.isinf(table.taus)
    theta = float(w[trig].sum())
    out: dict[str, Any] = {
        "theta": theta,
        "background_weight": float(w[long_run].sum()),
        "uniform_per_day": float(w[0]),
        "weights": {n: float(v) for n, v in zip(table.names, w, strict=True) if v > 1e-6},
    }
    if theta > 0:
        out["trigger_sigma_m_cells"] = float(np.sum(w[trig] * table.sigmas[trig]) / theta)
        out["trigger_tau_days"] = float(np.sum(w[trig] * table.taus[trig]) / theta)
        out["omega_per_day"] = 1.0 / out["trigger_tau_days"]
    else:
        out["omega_per_day"] = None
    bg = w[long_run & (w > 0)]
    if bg.size:
        out["background_sigma_cells"] = float(
            np.sum(bg * table.sigmas[long_run & (w > 0)]) / bg.sum()
        )
    return out
