"""The ``sepp`` forecast method: the day-bin self-exciting model, chosen on the latest weeks (pure).

At each fit the model is fitted twice on the training window less its last ``validation_days``:
the whole dictionary (background, triggering into the same and neighbouring boxes, uniform
floor) and the background alone (long-run counts with fitted spatial smoothing, uniform floor).
Both are judged on the held-out latest weeks by Poisson log-likelihood and by hit rate at
``k_boxes`` from weekly rolling origins. The one better on both is refitted on the whole window;
when neither is better on both, their blend (the mean of the two intensities) is used. The
fitted parameters, the held-out figures and the reason go into the ``FitReport``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from services.predictive.compute import sepp
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import FitReport, FloatArray, training_cells
from shared.grid import Grid
from shared.metrics import accuracy_at_k

MIN_EVENTS_SEPP = 200


def _background_only(names: list[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.array([n == "uniform" or n.startswith("tauinf") for n in names])


class SeppScorer:
    """Space-time self-exciting model on day (or ``bin_days``) bins, with held-out choice."""

    def __init__(
        self,
        *,
        window_days: float = 730.0,
        burn_in_days: float = 90.0,
        bin_days: float = 1.0,
        taus_days: tuple[float, ...] = sepp.TAUS_DAYS,
        sigmas_cells: tuple[float, ...] = sepp.SIGMAS_CELLS,
        validation_days: float = 28.0,
        validation_step_days: float = 7.0,
        k_boxes: int = 20,
        choose: bool = True,
    ) -> None:
        self.window_days = window_days
        self.burn_in_days = burn_in_days
        self.bin_days = bin_days
        self.taus, self.sigmas = taus_days, sigmas_cells
        self.validation_days = validation_days
        self.validation_step_days = validation_step_days
        self.k_boxes = k_boxes
        self.choose = choose
        self._rate: FloatArray | None = None
        self._shape: tuple[int, int] = (0, 0)

    @property
    def method(self) -> str:
        """Method name."""
        return "sepp"

    def _table(self, cells: Any, t: Any, grid: Grid, day0: float, n_bins: int) -> sepp.DayTable:
        burn = self._burn(n_bins)
        return sepp.build_table(
            cells, t, grid.shape, day0, n_bins, bin_days=self.bin_days, taus=self.taus,
            sigmas=self.sigmas, first_feature_day=burn,
        )  # fmt: skip

    def _burn(self, n_bins: int) -> int:
        return min(int(round(self.burn_in_days / self.bin_days)), max(n_bins // 4, 1))

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Fit on the events strictly before ``as_of_days`` within the training window."""
        ev, cells, warnings = training_cells(events, grid, as_of_days, self.window_days)
        if ev.weights is not None and not np.allclose(ev.weights, 1.0):
            warnings.append("sepp counts events; weights were ignored")
        span = self.window_days
        if len(ev):
            span = min(span, as_of_days - math.floor(float(ev.t_days.min())))
        n_bins = max(int(math.ceil(span / self.bin_days - 1e-9)), 2)
        day0 = as_of_days - n_bins * self.bin_days
        if len(ev) < MIN_EVENTS_SEPP:
            word = "event" if len(ev) == 1 else "events"
            warnings.append(f"only {len(ev)} {word}: sepp parameters are unreliable")
        table = self._table(cells, ev.t_days, grid, day0, n_bins)
        burn = self._burn(n_bins)
        bg = _background_only(table.names)
        choice, extra = "full", {"choice_reason": "no held-out weeks (too little history)"}
        n_val = int(round(self.validation_days / self.bin_days))
        starts: tuple[FloatArray | None, FloatArray | None] = (None, None)
        if self.choose and n_bins - n_val > burn + 7:
            choice, extra, starts = self._choose(table, cells, ev.t_days, grid, day0, n_bins, n_val)
        full = sepp.fit_weights(table, burn, n_bins, start=starts[0])
        back = sepp.fit_weights(table, burn, n_bins, active=bg, start=starts[1])
        weights = {"full": full.weights, "background": back.weights}.get(
            choice, 0.5 * (full.weights + back.weights)
        )
        surf = sepp.surfaces(table, grid.shape, self.sigmas)
        self._rate = np.asarray(weights @ surf, dtype=np.float64) / self.bin_days
        self._shape = grid.shape
        params: dict[str, Any] = {
            "choice": choice,
            **sepp.describe(table, weights),
            "background_per_day": float(self._rate.sum()),
            "loglik": full.loglik if choice == "full" else back.loglik,
            "em_iterations": full.iterations,
            "converged": bool(full.converged and back.converged),
            "n_events": len(ev),
            "window_days": float(n_bins * self.bin_days),
            "bin_days": self.bin_days,
            **extra,
        }
        if not full.converged:
            warnings.append(f"EM did not converge in {full.iterations} iterations")
        return FitReport("sepp", params, warnings)

    def _choose(
        self,
        table: sepp.DayTable,
        cells: Any,
        t: Any,
        grid: Grid,
        day0: float,
        n_bins: int,
        n_val: int,
    ) -> tuple[str, dict[str, Any], tuple[FloatArray, FloatArray]]:
        """Judge full model and background on the latest weeks: log-likelihood and hit rate.

        Both are fitted once, before the held-out weeks; each weekly origin forecasts its week
        from the history up to it with those weights (no look-ahead).
        """
        burn = self._burn(n_bins)
        bg = _background_only(table.names)
        cut = n_bins - n_val
        full = sepp.fit_weights(table, burn, cut)
        back = sepp.fit_weights(table, burn, cut, active=bg)
        ll_full = sepp.heldout_loglik(table, full.weights, cut, n_bins)
        ll_back = sepp.heldout_loglik(table, back.weights, cut, n_bins)
        step = max(int(round(self.validation_step_days / self.bin_days)), 1)
        hits: dict[str, list[float]] = {"full": [], "background": []}
        n_cells = grid.nx * grid.ny
        for origin in range(cut, n_bins, step):
            sub = sepp.build_table(
                cells,
                t,
                grid.shape,
                day0,
                origin,
                bin_days=self.bin_days,
                taus=self.taus,
                sigmas=self.sigmas,
                first_feature_day=origin,
            )  # fmt: skip (the states at the origin only)
            surf = sepp.surfaces(sub, grid.shape, self.sigmas)
            rows = (table.row_day >= origin) & (table.row_day < min(origin + step, n_bins))
            outcome = np.bincount(
                table.row_cell[rows], weights=table.row_count[rows], minlength=n_cells
            )
            if outcome.sum() <= 0:
                continue
            for name, w in (("full", full.weights), ("background", back.weights)):
                hits[name].append(accuracy_at_k(w @ surf, outcome, self.k_boxes).hit_rate)
        hit_full = float(np.mean(hits["full"])) if hits["full"] else math.nan
        hit_back = float(np.mean(hits["background"])) if hits["background"] else math.nan
        better_ll = ll_full >= ll_back
        better_hit = not (hit_full < hit_back)
        if better_ll and better_hit:
            choice = "full"
            reason = "the full model was better on held-out likelihood and hit rate"
        elif not better_ll and not better_hit:
            choice = "background"
            reason = "triggering did not help on the held-out weeks: background alone"
        else:
            choice = "blend"
            reason = "neither dominated on the held-out weeks (likelihood vs hit rate): a blend"
        return (
            choice,
            {
                "choice_reason": reason,
                "heldout_days": float(n_val * self.bin_days),
                "heldout_loglik": {"full": ll_full, "background": ll_back},
                "heldout_hit_rate_at_k": {"full": hit_full, "background": hit_back},
                "heldout_origins": len(hits["full"]),
                "k_boxes": self.k_boxes,
            },
            (full.weights, back.weights),
        )

    def score(self, horizon_days: float) -> FloatArray:
        """Expected events per box over the horizon (rate of the next bin), shape (ny, nx)."""
        if self._rate is None:
            raise RuntimeError("fit first")
        return np.asarray(self._rate.reshape(self._shape) * horizon_days, dtype=np.float64)
