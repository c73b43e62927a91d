"""The grid ETAS forecast method (plain or with a smoothed background) behind ``Scorer`` (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from services.predictive.compute import baselines, etas
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import FitReport, FloatArray, IntArray, training_cells
from services.predictive.compute.timing import timestamp_quality
from shared.grid import Grid

# Fewer training events than this and ETAS parameters are unreliable (and "auto" avoids ETAS).
MIN_EVENTS_ETAS = 200


class EtasScorer:
    """Grid ETAS (Mohler et al. 2015); with ``smooth`` the background is mixed with a spatially
    smoothed copy, the bandwidth and mixing weight chosen by likelihood on a validation slice."""

    def __init__(
        self,
        *,
        smooth: bool = False,
        window_days: float | None = None,
        theta0: float = 0.5,
        omega0: float = 0.1,
        max_iter: int = 200,
        tol: float = 1e-6,
        validation_days: float = 28.0,
        sigmas_cells: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
        mix_weights: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0),
        warm_start: bool = True,
    ) -> None:
        self.smooth = smooth
        self.window_days = window_days
        self.theta0, self.omega0 = theta0, omega0
        self.max_iter, self.tol = max_iter, tol
        self.validation_days = validation_days
        self.sigmas_cells, self.mix_weights = sigmas_cells, mix_weights
        self.warm_start = warm_start
        self.fit_: etas.EtasFit | None = None
        self.mu_: FloatArray | None = None
        self._cells: IntArray = np.zeros(0, dtype=np.int64)
        self._t: FloatArray = np.zeros(0)
        self._grid: Grid | None = None
        self._as_of = 0.0

    @property
    def method(self) -> str:
        """Method name."""
        return "etas_smooth" if self.smooth else "etas"

    def _fit(self, cells: IntArray, t: FloatArray, n_cells: int, t_end: float) -> etas.EtasFit:
        theta0, omega0 = self.theta0, self.omega0
        last = self.fit_
        if self.warm_start and last is not None and 0 < last.theta < 1 and last.omega_per_day > 0:
            theta0, omega0 = last.theta, last.omega_per_day
        return etas.fit_grid_etas(
            cells,
            t,
            n_cells,
            t_end,
            theta0=theta0,
            omega0=omega0,
            max_iter=self.max_iter,
            tol=self.tol,
        )

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Fit on the events strictly before ``as_of_days``."""
        ev, cells, warnings = training_cells(events, grid, as_of_days, self.window_days)
        n_cells = grid.nx * grid.ny
        quality = timestamp_quality(ev.t_days, cell_index=cells)
        if not quality.usable_for_temporal:
            warnings.append(f"ETAS fitted on unsuitable timestamps: {quality.reason}")
        if len(ev) < MIN_EVENTS_ETAS:
            word = "event" if len(ev) == 1 else "events"
            warnings.append(f"only {len(ev)} {word}: ETAS parameters are unreliable")
        if ev.weights is not None and not np.allclose(ev.weights, 1.0):
            warnings.append("ETAS counts events; weights were ignored")
        self._cells, self._t, self._grid, self._as_of = cells, ev.t_days, grid, as_of_days
        extra: dict[str, Any] = {}
        mu_smooth = None
        if self.smooth:
            mu_smooth, extra = self._choose_smoothing(cells, ev.t_days, grid, as_of_days)
        fit = self._fit(cells, ev.t_days, n_cells, as_of_days)
        self.fit_ = fit
        self.mu_ = fit.mu_per_day
        if mu_smooth is not None:
            self.mu_ = self._mix(
                fit.mu_per_day, grid, extra["smooth_sigma_cells"], extra["smooth_weight"]
            )
        if not fit.converged:
            warnings.append(f"EM did not converge in {fit.iterations} iterations")
        if fit.theta >= 1:
            warnings.append(f"theta = {fit.theta:.3f} >= 1: the fitted process is explosive")
        params: dict[str, Any] = {**fit.params(), **extra}
        params["background_per_day"] = float(self.mu_.sum())
        return FitReport(self.method, params, warnings)

    @staticmethod
    def _mix(mu: FloatArray, grid: Grid, sigma: float, weight: float) -> FloatArray:
        sm = baselines.smooth_cells(mu.reshape(grid.shape), sigma).ravel()
        return np.asarray((1.0 - weight) * mu + weight * sm, dtype=np.float64)

    def _choose_smoothing(
        self, cells: IntArray, t: FloatArray, grid: Grid, as_of: float
    ) -> tuple[FloatArray | None, dict[str, Any]]:
        """Pick bandwidth and mixing weight by held-out log-likelihood on the last slice."""
        t_val = as_of - self.validation_days
        early = t < t_val
        if early.sum() < MIN_EVENTS_ETAS or (~early).sum() == 0:
            return None, {
                "smooth_sigma_cells": 1.0,
                "smooth_weight": 0.5,
                "smooth_choice": "default (too few events to validate)",
            }
        n_cells = grid.nx * grid.ny
        first = self._fit(cells[early], t[early], n_cells, t_val)
        combos = [(0.0, 0.0)] + [
            (s, w) for s in self.sigmas_cells for w in self.mix_weights if w > 0
        ]
        mu = first.mu_per_day

        def candidates() -> Iterator[FloatArray]:
            # One background at a time, each smoothing once per bandwidth: 31 backgrounds held
            # together were 1 GB on the largest grid the cell limit allows.
            yield self._mix(mu, grid, 0.0, 0.0)
            for sigma in self.sigmas_cells:
                sm = baselines.smooth_cells(mu.reshape(grid.shape), sigma).ravel()
                for weight in (w for w in self.mix_weights if w > 0):
                    yield np.asarray((1.0 - weight) * mu + weight * sm, dtype=np.float64)

        ll = etas.window_loglik(first, cells, t, t_val, as_of, candidates())
        best = int(np.argmax(ll))
        base = ll[0]
        gain = ll[best] - base if math.isfinite(base) else math.inf
        s, w = combos[best]
        return self._mix(mu, grid, s, w), {
            "smooth_sigma_cells": float(s),
            "smooth_weight": float(w),
            "validation_loglik": float(ll[best]),
            "validation_gain": float(gain) if math.isfinite(gain) else None,
            "smooth_choice": f"likelihood on the last {self.validation_days:g} days",
        }

    def score(self, horizon_days: float) -> FloatArray:
        """Expected events per cell in [as_of, as_of + horizon), shape (ny, nx)."""
        if self.fit_ is None or self._grid is None or self.mu_ is None:
            raise RuntimeError("fit first")
        out = etas.expected_counts(
            self.fit_,
            self._cells,
            self._t,
            self._as_of,
            self._as_of + horizon_days,
            mu_per_day=self.mu_,
        )
        return out.reshape(self._grid.shape)
