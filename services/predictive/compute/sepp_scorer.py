"""The ``sepp`` forecast method: the day-bin self-exciting model, chosen on the latest weeks (pure).

At each fit the model is fitted twice on the training window less its last ``validation_days``:
the whole dictionary (background, triggering into the same and neighbouring boxes, uniform
floor) and the background alone (long-run counts with fitted spatial smoothing, uniform floor).
From the two come the variants: each fit, their blend (the mean of the two intensities), and
each of those with half or all of its smoothed long-run share given to the same box's own
long-run count (at the top of a list a box's own history ranks best; the smoothing helps
further down). They are judged on the held-out latest weeks from weekly rolling origins by hit
rate at ``k_boxes`` and at ``area_share`` of the area (their sum, each relative to the best
variant's; ties to the held-out likelihood), and the chosen one's weights are refitted on the
whole window. The fitted parameters, the held-out figures and the reason go into the
``FitReport``. Tuned on the earlier part of each real set (the bench's ``--skip-last``), never on
the reported days.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from services.predictive.compute import sepp
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import FitReport, FloatArray, training_cells
from shared.grid import Grid
from shared.metrics import accuracy_at_area, accuracy_at_k

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
        area_share: float = 0.01,
        same_box_shares: tuple[float, ...] = (0.5, 1.0),
        choose: bool = True,
    ) -> None:
        self.window_days = window_days
        self.burn_in_days = burn_in_days
        self.bin_days = bin_days
        self.taus, self.sigmas = taus_days, sigmas_cells
        self.validation_days = validation_days
        self.validation_step_days = validation_step_days
        self.k_boxes = k_boxes
        self.area_share = area_share
        self.same_box_shares = same_box_shares
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
        weights = self._variants(table, full.weights, back.weights)[choice]
        surf = sepp.surfaces(table, grid.shape, self.sigmas)
        self._rate = np.asarray(weights @ surf, dtype=np.float64) / self.bin_days
        self._shape = grid.shape
        params: dict[str, Any] = {
            "choice": choice,
            **sepp.describe(table, weights),
            "background_per_day": float(self._rate.sum()),
            "loglik": full.loglik if choice.startswith("full") else back.loglik,
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
        """Judge the variants on the latest weeks: hit rate at K and at ``area_share``.

        Full model and background are fitted once, before the held-out weeks; each weekly
        origin forecasts its week from the history up to it with those weights (no
        look-ahead). The variants are the two fits, their blend, and each with part or all of
        its smoothed long-run share given to the same box's long-run count (the top of a list
        is best ranked by a box's own history, the smoothing helps further down). The variant
        best on the sum of both hit rates, each relative to the best variant's, is chosen;
        ties go to the higher held-out likelihood.
        """
        burn = self._burn(n_bins)
        bg = _background_only(table.names)
        cut = n_bins - n_val
        full = sepp.fit_weights(table, burn, cut)
        back = sepp.fit_weights(table, burn, cut, active=bg)
        variants = self._variants(table, full.weights, back.weights)
        lls = {n: sepp.heldout_loglik(table, w, cut, n_bins) for n, w in variants.items()}
        step = max(int(round(self.validation_step_days / self.bin_days)), 1)
        hits: dict[str, list[float]] = {n: [] for n in variants}
        area: dict[str, list[float]] = {n: [] for n in variants}
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
            for name, w in variants.items():
                rate = w @ surf
                hits[name].append(accuracy_at_k(rate, outcome, self.k_boxes).hit_rate)
                area[name].append(accuracy_at_area(rate, outcome, self.area_share).hit_rate)
        mean_hit = {n: float(np.mean(v)) if v else math.nan for n, v in hits.items()}
        mean_area = {n: float(np.mean(v)) if v else math.nan for n, v in area.items()}
        top_hit = max([v for v in mean_hit.values() if v > 0] or [1.0])
        top_area = max([v for v in mean_area.values() if v > 0] or [1.0])
        merit = {
            n: (0.0 if math.isnan(mean_hit[n]) else mean_hit[n] / top_hit)
            + (0.0 if math.isnan(mean_area[n]) else mean_area[n] / top_area)
            for n in variants
        }
        choice = max(variants, key=lambda n: (round(merit[n], 9), lls[n]))
        reason = (
            f"{choice} was best on the held-out weeks (hit rate at {self.k_boxes} boxes and at "
            f"{100 * self.area_share:g}% of the area, each against the best variant's)"
        )
        if not any(hits.values()):
            choice, reason = "full", "no held-out week had incidents: the full model"
        return (
            choice,
            {
                "choice_reason": reason,
                "heldout_days": float(n_val * self.bin_days),
                "heldout_loglik": lls,
                "heldout_hit_rate_at_k": mean_hit,
                "heldout_hit_rate_at_area": mean_area,
                "heldout_area_share": self.area_share,
                "heldout_origins": len(hits["full"]),
                "k_boxes": self.k_boxes,
            },
            (full.weights, back.weights),
        )

    def _variants(
        self, table: sepp.DayTable, full: FloatArray, back: FloatArray
    ) -> dict[str, FloatArray]:
        """The weight vectors judged on the held-out weeks, by name."""
        out = {"full": full, "background": back, "blend": 0.5 * (full + back)}
        long_run = np.isinf(table.taus)
        smoothed = long_run & (np.nan_to_num(table.sigmas, nan=-1.0) > 0)
        same_box = int(np.flatnonzero(long_run & (np.nan_to_num(table.sigmas, nan=-1.0) == 0))[0])
        for base in ("full", "background", "blend"):
            for share in self.same_box_shares:
                w = out[base].copy()
                moved = share * w[smoothed]
                w[smoothed] -= moved
                w[same_box] += moved.sum()
                out[f"{base}_same_box{share:g}"] = w
        return out

    def score(self, horizon_days: float) -> FloatArray:
        """Expected events per box over the horizon (rate of the next bin), shape (ny, nx)."""
        if self._rate is None:
            raise RuntimeError("fit first")
        return np.asarray(self._rate.reshape(self._shape) * horizon_days, dtype=np.float64)
