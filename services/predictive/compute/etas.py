"""Grid self-exciting point process (Mohler et al., JASA 2015) fitted by expectation-maximisation.

Each grid box ``n`` has intensity ``lambda_n(t) = mu_n + sum_{t_j < t} theta * omega *
exp(-omega * (t - t_j))`` over the earlier events ``t_j`` of the same box. The exponential kernel
lets the E-step run in one pass per box: the sums ``A_i = sum_j exp(-omega (t_i - t_j))`` and
``B_i = sum_j (t_i - t_j) exp(-omega (t_i - t_j))`` follow a recursion, so the work is linear in
the number of events. Events with equal timestamps (ties) never trigger each other: only strictly
earlier events count, which avoids dividing by zero gaps and the huge ``omega`` a tie would imply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EtasFit:
    """Fitted grid ETAS model.

    Attributes:
        mu_per_day: background rate per cell, events per day, shape (n_cells,).
        theta: expected number of direct offspring per event (branching ratio).
        omega_per_day: decay rate of the triggering kernel, 1/day (mean delay 1/omega days).
        loglik: point-process log-likelihood on [t_start, t_end].
        iterations: EM iterations run.
        converged: whether the relative log-likelihood change fell below ``tol``.
        n_events: events used in the fit.
        t_start: start of the observation window, days.
        t_end: end of the observation window, days.
    """

    mu_per_day: FloatArray
    theta: float
    omega_per_day: float
    loglik: float
    iterations: int
    converged: bool
    n_events: int
    t_start: float
    t_end: float

    @property
    def background_per_day(self) -> float:
        """Total background rate over all cells, events per day."""
        return float(self.mu_per_day.sum())

    def params(self) -> dict[str, float | int | bool]:
        """JSON-serialisable summary of the fitted parameters."""
        return {
            "theta": float(self.theta),
            "omega_per_day": float(self.omega_per_day),
            "background_per_day": self.background_per_day,
            "n_events": int(self.n_events),
            "iterations": int(self.iterations),
            "converged": bool(self.converged),
            "loglik": float(self.loglik),
            "window_days": float(self.t_end - self.t_start),
        }


@numba.njit(cache=True)
def _estep(
    t: FloatArray, ptr: IntArray, mu: FloatArray, theta: float, omega: float, bg_out: FloatArray
) -> tuple[float, float, float]:
    """One O(n) E-step pass; events sorted by cell then time, ``ptr`` the cell offsets.

    Fills ``bg_out`` with the summed background responsibilities per cell and returns
    (P, D, sum log lambda): P = sum of triggering responsibilities, D = the same weighted by the
    parent-child delay.
    """
    p_sum = 0.0
    d_sum = 0.0
    log_sum = 0.0
    to = theta * omega
    for c in range(ptr.size - 1):
        a = ptr[c]
        b = ptr[c + 1]
        bg = 0.0
        if b > a:
            s_a = 0.0  # sum over strictly earlier events of exp(-omega dt)
            s_b = 0.0  # sum over strictly earlier events of dt exp(-omega dt)
            pending = 0.0  # events at prev_t not yet folded into the sums
            prev_t = t[a]
            m = mu[c]
            for i in range(a, b):
                dt = t[i] - prev_t
                if dt > 0.0:
                    decay = math.exp(-omega * dt)
                    s_b = decay * (s_b + dt * (s_a + pending))
                    s_a = decay * (s_a + pending)
                    pending = 0.0
                    prev_t = t[i]
                trig = to * s_a
                lam = m + trig
                if lam > 0.0:
                    log_sum += math.log(lam)
                    bg += m / lam
                    p_sum += trig / lam
                    d_sum += to * s_b / lam
                else:
                    log_sum += -math.inf
                pending += 1.0
        bg_out[c] = bg
    return p_sum, d_sum, log_sum


@numba.njit(cache=True)
def _trigger_sums(t: FloatArray, ptr: IntArray, omega: float) -> tuple[FloatArray, FloatArray]:
    """Per-event sums A_i and B_i over strictly earlier events of the same cell (sorted input)."""
    n = t.size
    out_a = np.zeros(n)
    out_b = np.zeros(n)
    for c in range(ptr.size - 1):
        a = ptr[c]
        b = ptr[c + 1]
        if b > a:
            s_a = 0.0
            s_b = 0.0
            pending = 0.0
            prev_t = t[a]
            for i in range(a, b):
                dt = t[i] - prev_t
                if dt > 0.0:
                    decay = math.exp(-omega * dt)
                    s_b = decay * (s_b + dt * (s_a + pending))
                    s_a = decay * (s_a + pending)
                    pending = 0.0
                    prev_t = t[i]
                out_a[i] = s_a
                out_b[i] = s_b
                pending += 1.0
    return out_a, out_b


def sort_by_cell(
    cell_index: npt.ArrayLike, t_days: npt.ArrayLike, n_cells: int
) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
    """Sort events by cell then time.

    Returns:
        (cells, times, ptr, order): sorted cells and times, cell offsets of shape (n_cells + 1,)
        so cell ``c`` holds positions ``ptr[c]:ptr[c+1]``, and the permutation applied.
    """
    cells = np.asarray(cell_index, dtype=np.int64).ravel()
    times = np.asarray(t_days, dtype=np.float64).ravel()
    if cells.shape != times.shape:
        raise ValueError("cell_index and t_days must have the same length")
    if cells.size and (cells.min() < 0 or cells.max() >= n_cells):
        raise ValueError("cell_index out of range [0, n_cells)")
    if not np.all(np.isfinite(times)):
        raise ValueError("t_days must be finite")
    order = np.lexsort((times, cells))
    cells = cells[order]
    ptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=n_cells), out=ptr[1:])
    return cells, np.ascontiguousarray(times[order]), ptr, order.astype(np.int64)


def trigger_sums(
    cell_index: npt.ArrayLike, t_days: npt.ArrayLike, n_cells: int, omega_per_day: float
) -> tuple[FloatArray, FloatArray]:
    """Per-event sums over strictly earlier same-cell events, in the caller's event order.

    Returns:
        (A, B) with A_i = sum_j exp(-omega (t_i - t_j)) and B_i = sum_j (t_i - t_j) exp(...),
        each shape (n_events,).
    """
    _, times, ptr, order = sort_by_cell(cell_index, t_days, n_cells)
    s_a, s_b = _trigger_sums(times, ptr, float(omega_per_day))
    out_a = np.empty_like(s_a)
    out_b = np.empty_like(s_b)
    out_a[order] = s_a
    out_b[order] = s_b
    return out_a, out_b


def _boundary_terms(t: FloatArray, t_end: float, omega: float) -> tuple[float, float]:
    """G = sum (1 - exp(-omega r)), H = sum r exp(-omega r) with r = t_end - t_j."""
    r = t_end - t
    e = np.exp(-omega * r)
    return float(np.sum(1.0 - e)), float(np.sum(r * e))


def fit_grid_etas(
    cell_index: npt.ArrayLike,
    t_days: npt.ArrayLike,
    n_cells: int,
    t_end: float,
    *,
    t_start: float | None = None,
    theta0: float = 0.5,
    omega0: float = 0.1,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> EtasFit:
    """Fit the grid self-exciting model by EM.

    Args:
        cell_index: flat cell index per event, ints in [0, n_cells), shape (n,).
        t_days: event times in days (any epoch), shape (n,); all must be <= ``t_end``.
        n_cells: number of cells (``grid.nx * grid.ny``).
        t_end: end of the observation window, days.
        t_start: start of the window, days; defaults to the earliest event.
        theta0: starting branching ratio; 0 pins theta at 0 (the pure Poisson background).
        omega0: starting decay rate per day.
        max_iter: iteration cap.
        tol: stop when the relative change of the log-likelihood is below this.

    Returns:
        EtasFit with mu per cell per day, theta, omega_per_day, log-likelihood and EM status.
    """
    cells, t, ptr, _ = sort_by_cell(cell_index, t_days, n_cells)
    n = t.size
    if n and t.max() > t_end:
        raise ValueError("events after t_end")
    t0 = float(t.min()) if (t_start is None and n) else float(t_start or 0.0)
    if n and t.min() < t0:
        raise ValueError("events before t_start")
    span = float(t_end) - t0
    if n == 0 or span <= 0:
        return EtasFit(np.zeros(n_cells), 0.0, float(omega0), 0.0, 0, True, n, t0, float(t_end))
    counts = np.diff(ptr).astype(np.float64)
    theta = float(theta0)
    omega = float(omega0)
    if not (theta >= 0 and omega > 0):
        raise ValueError("theta0 must be >= 0 and omega0 > 0")
    mu = counts * max(1.0 - theta, 0.1) / span
    bg = np.zeros(n_cells)
    prev = -math.inf
    loglik = -math.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        p_sum, d_sum, log_sum = _estep(t, ptr, mu, theta, omega, bg)
        g, h = _boundary_terms(t, t_end, omega)
        loglik = log_sum - float(mu.sum()) * span - theta * g
        # M-step: background per cell; theta and omega with the end-of-window correction.
        mu = bg / span
        if p_sum > 0.0 and theta > 0.0:
            theta = p_sum / g
            omega = p_sum / (d_sum + theta * h)
        else:
            theta = 0.0
        if abs(loglik - prev) <= tol * (abs(loglik) + 1.0):
            converged = True
            break
        prev = loglik
    p_sum, d_sum, log_sum = _estep(t, ptr, mu, theta, omega, bg)
    g, _ = _boundary_terms(t, t_end, omega)
    loglik = log_sum - float(mu.sum()) * span - theta * g
    return EtasFit(mu, theta, omega, float(loglik), it, converged, n, t0, float(t_end))


def excitation_at(
    fit: EtasFit, cell_index: npt.ArrayLike, t_days: npt.ArrayLike, t_at: float, n_cells: int
) -> FloatArray:
    """Triggering part of the intensity at ``t_at`` per cell, events per day, shape (n_cells,)."""
    cells = np.asarray(cell_index, dtype=np.int64).ravel()
    t = np.asarray(t_days, dtype=np.float64).ravel()
    past = t < t_at
    w = np.exp(-fit.omega_per_day * (t_at - t[past]))
    s = np.bincount(cells[past], weights=w, minlength=n_cells).astype(np.float64)
    out: FloatArray = fit.theta * fit.omega_per_day * s
    return out


def expected_counts(
    fit: EtasFit,
    cell_index: npt.ArrayLike,
    t_days: npt.ArrayLike,
    t_from: float,
    t_to: float,
    *,
    cascade: bool = True,
    mu_per_day: npt.ArrayLike | None = None,
) -> FloatArray:
    """Expected number of events per cell in [t_from, t_to) given the events before ``t_from``.

    With ``cascade`` (default) this is the exact expectation of the integrated intensity,
    including offspring of events that fall inside the horizon (needs theta < 1); without it,
    the intensity is integrated with the history frozen at ``t_from``. ``mu_per_day`` overrides
    the fitted background (e.g. a smoothed one).

    Returns:
        expected counts per cell, shape (n_cells,).
    """
    mu = np.asarray(fit.mu_per_day if mu_per_day is None else mu_per_day, dtype=np.float64)
    n_cells = mu.size
    h = float(t_to) - float(t_from)
    if h <= 0:
        return np.zeros(n_cells)
    e0 = excitation_at(fit, cell_index, t_days, float(t_from), n_cells)
    theta, omega = fit.theta, fit.omega_per_day
    if not cascade or theta <= 0 or theta >= 1:
        return mu * h + e0 * (-math.expm1(-omega * h)) / omega
    a = omega * (1.0 - theta)
    e_inf = theta * mu / (1.0 - theta)
    out: FloatArray = mu * h + e_inf * h + (e0 - e_inf) * (-math.expm1(-a * h)) / a
    return out


def window_loglik(
    fit: EtasFit,
    cell_index: npt.ArrayLike,
    t_days: npt.ArrayLike,
    t_lo: float,
    t_hi: float,
    mu_candidates: Iterable[FloatArray],
) -> list[float]:
    """Log-likelihood of the events in [t_lo, t_hi) under each background in ``mu_candidates``.

    Triggering uses ``fit.theta`` and ``fit.omega_per_day`` and every earlier event (also those
    before ``t_lo``), so the scores compare backgrounds on held-out data. The candidates are
    read one at a time, so a generator keeps one background over a large grid in memory.
    """
    cells = np.asarray(cell_index, dtype=np.int64).ravel()
    t = np.asarray(t_days, dtype=np.float64).ravel()
    keep = t < t_hi
    cells, t = cells[keep], t[keep]
    n_cells = np.asarray(fit.mu_per_day).size
    s_a, _ = trigger_sums(cells, t, n_cells, fit.omega_per_day)
    inside = t >= t_lo
    trig = fit.theta * fit.omega_per_day * s_a[inside]
    c_in = cells[inside]
    # Integral of the triggering part over [t_lo, t_hi] from every event before t_hi.
    start = np.maximum(t_lo, t)
    trig_int = fit.theta * float(
        np.sum(np.exp(-fit.omega_per_day * (start - t)) - np.exp(-fit.omega_per_day * (t_hi - t)))
    )
    out = []
    for mu in mu_candidates:
        lam = mu[c_in] + trig
        if np.any(lam <= 0):
            out.append(-math.inf)
            continue
        out.append(float(np.sum(np.log(lam)) - mu.sum() * (t_hi - t_lo) - trig_int))
    return out
