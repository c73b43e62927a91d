"""One interface over the grid ETAS model and its baselines: fit at an origin, then score."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from services.predictive.compute import baselines, etas
from services.predictive.compute.timing import timestamp_quality
from shared.grid import Grid

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

METHODS = ("etas", "etas_smooth", "naive28", "naive90", "kde", "prospective", "best_static")
TEMPORAL = ("etas", "etas_smooth")
# Coarse times: pick the best non-temporal method by a backtest on the training data itself.
FALLBACK = "best_static"
STATIC_CANDIDATES = ("naive90", "kde", "prospective")
MIN_EVENTS_ETAS = 200


@dataclass(frozen=True)
class Events:
    """Events in EPSG:27700 metres with times in days since 1970-01-01 UTC.

    Attributes:
        x, y: eastings and northings in metres, float64, shape (n,).
        t_days: float64 days since the epoch, shape (n,).
        weights: optional weight per event (used by the baselines; ETAS counts events).
    """

    x: FloatArray
    y: FloatArray
    t_days: FloatArray
    weights: FloatArray | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y", "t_days"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if self.weights is not None:
            object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.float64))
        n = self.x.size
        if self.y.size != n or self.t_days.size != n:
            raise ValueError("x, y and t_days must have the same length")
        if self.weights is not None and self.weights.size != n:
            raise ValueError("weights must have one value per event")

    def __len__(self) -> int:
        return int(self.x.size)

    def select(self, mask: npt.NDArray[np.bool_]) -> Events:
        """The events where ``mask`` is true."""
        w = None if self.weights is None else self.weights[mask]
        return Events(self.x[mask], self.y[mask], self.t_days[mask], w)


@dataclass
class FitReport:
    """What a scorer fitted: JSON-serialisable parameters and warnings for people."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Scorer(Protocol):
    """A forecast method: fit on events before ``as_of_days``, then score the cells."""

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Fit on the events strictly before ``as_of_days``."""
        ...

    def score(self, horizon_days: float) -> FloatArray:
        """Scores per cell for [as_of, as_of + horizon_days), shape (ny, nx); higher is hotter."""
        ...


def _training(
    events: Events, grid: Grid, as_of_days: float, window_days: float | None
) -> tuple[Events, IntArray, list[str]]:
    """Events before ``as_of`` (within the window) inside the grid, their flat cells, warnings."""
    keep = events.t_days < as_of_days
    if window_days is not None:
        keep &= events.t_days >= as_of_days - window_days
    ev = events.select(keep)
    row, col, inside = grid.cell_index(ev.x, ev.y)
    warnings = []
    if not inside.all():
        warnings.append(f"{int((~inside).sum())} events outside the grid were left out")
    ev = ev.select(inside)
    return ev, grid.flat_index(row[inside], col[inside]), warnings


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
        ev, cells, warnings = _training(events, grid, as_of_days, self.window_days)
        n_cells = grid.nx * grid.ny
        quality = timestamp_quality(ev.t_days, cell_index=cells)
        if not quality.usable_for_temporal:
            warnings.append(f"ETAS fitted on unsuitable timestamps: {quality.reason}")
        if len(ev) < MIN_EVENTS_ETAS:
            warnings.append(f"only {len(ev)} events: ETAS parameters are unreliable")
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


class NaiveScorer:
    """Counts in the last ``window_days``, scaled to the horizon as an average rate."""

    def __init__(self, window_days: float = 28.0) -> None:
        self.window_days = window_days
        self._counts: FloatArray | None = None

    @property
    def method(self) -> str:
        """Method name."""
        return f"naive{self.window_days:g}"

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Count the events in [as_of - window_days, as_of) per cell."""
        ev, _, warnings = _training(events, grid, as_of_days, self.window_days)
        self._counts = baselines.grid_counts(ev.x, ev.y, grid, weights=ev.weights)
        if len(ev) == 0 and bool(np.any(events.t_days < as_of_days)):
            warnings.append(
                f"no events in the last {self.window_days:g} days but older ones exist:"
                " timestamps may be coarser than the window (month-only data)"
            )
        params = {"window_days": self.window_days, "n_events": len(ev)}
        return FitReport(self.method, params, warnings)

    def score(self, horizon_days: float) -> FloatArray:
        """Counts * horizon / window: expected events if the recent rate holds, (ny, nx)."""
        if self._counts is None:
            raise RuntimeError("fit first")
        return self._counts * (horizon_days / self.window_days)


class KdeScorer:
    """Retrospective quartic KDE of all (or the last ``window_days`` of) events before as_of."""

    def __init__(self, radius_m: float = 300.0, window_days: float | None = 365.0) -> None:
        self.radius_m = radius_m
        self.window_days = window_days
        self._rate: FloatArray | None = None

    @property
    def method(self) -> str:
        """Method name."""
        return "kde"

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Density of the training events, kept as events per cell per day."""
        keep = events.t_days < as_of_days
        if self.window_days is not None:
            keep &= events.t_days >= as_of_days - self.window_days
        ev = events.select(keep)  # events just outside the grid still spread into it
        dens = baselines.kde_baseline(
            ev.x, ev.y, ev.t_days, grid, as_of_days, self.radius_m, weights=ev.weights
        )
        span = as_of_days - float(ev.t_days.min()) if len(ev) else 1.0
        if self.window_days is not None:
            span = min(span, self.window_days) if len(ev) else self.window_days
        self._rate = dens * grid.cell_area_km2 / max(span, 1.0)
        params = {
            "radius_m": self.radius_m,
            "window_days": self.window_days,
            "n_events": len(ev),
            "span_days": span,
        }
        return FitReport(self.method, params, [])

    def score(self, horizon_days: float) -> FloatArray:
        """Smoothed expected events per cell over the horizon, shape (ny, nx)."""
        if self._rate is None:
            raise RuntimeError("fit first")
        return self._rate * horizon_days


class ProspectiveScorer:
    """Prospective hotspotting (Bowers, Johnson and Pease 2004); scores are relative."""

    def __init__(self, radius_m: float = 400.0, weeks: int = 8) -> None:
        self.radius_m = radius_m
        self.weeks = weeks
        self._score: FloatArray | None = None

    @property
    def method(self) -> str:
        """Method name."""
        return "prospective"

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Weight the events of the last ``weeks`` weeks by distance band and weeks elapsed."""
        self._score = baselines.prospective_surface(
            events.x,
            events.y,
            events.t_days,
            grid,
            as_of_days,
            radius_m=self.radius_m,
            weeks=self.weeks,
            weights=events.weights,
        )
        n = int(
            ((events.t_days < as_of_days) & (events.t_days >= as_of_days - 7 * self.weeks)).sum()
        )
        params = {"radius_m": self.radius_m, "weeks": self.weeks, "n_events": n}
        return FitReport(self.method, params, [])

    def score(self, horizon_days: float) -> FloatArray:
        """Relative risk score per cell (horizon does not change the ranking), (ny, nx)."""
        if self._score is None:
            raise RuntimeError("fit first")
        return self._score.copy()


class BestStaticScorer:
    """The non-temporal method that did best on the training data's own recent past.

    At fit time it runs a small rolling backtest on the events before ``as_of`` (origins
    ``step_days`` apart over the last ``n_origins`` steps, horizon ``step_days``, top ``k_boxes``)
    for each candidate, and fits the choice on everything before ``as_of``. The first candidate
    (the simplest, naive counts) is kept unless another beats its inner hit rate at K by more
    than ``margin`` (relative): a few origins are a noisy judge, and a list that changes method
    from day to day is less stable for crews. The choice and the inner scores are reported.
    """

    def __init__(
        self,
        candidates: tuple[str, ...] = STATIC_CANDIDATES,
        *,
        n_origins: int = 3,
        step_days: float = 30.0,
        k_boxes: int = 20,
        margin: float = 0.15,
    ) -> None:
        self.margin = margin
        self.candidates = candidates
        self.n_origins = n_origins
        self.step_days = step_days
        self.k_boxes = k_boxes
        self._chosen: Scorer | None = None

    @property
    def method(self) -> str:
        """Method name."""
        return "best_static"

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Choose among the candidates by an inner backtest, then fit the winner."""
        from services.predictive.compute.backtest import rolling_backtest

        past = events.select(events.t_days < as_of_days)
        start = as_of_days - self.n_origins * self.step_days
        scores: dict[str, float] = {}
        if len(past) and float(past.t_days.min()) < start:
            inner = rolling_backtest(
                past,
                grid,
                methods=list(self.candidates),
                start_days=start,
                end_days=as_of_days,
                step_days=self.step_days,
                horizon_days=self.step_days,
                k_boxes=self.k_boxes,
            )
            scores = {row["method"]: float(row["hit_rate_at_k"]) for row in inner.table}
        best = self.candidates[0]
        bar = scores.get(best, -1.0) * (1.0 + self.margin)
        for name in self.candidates[1:]:
            if scores.get(name, -1.0) > max(bar, scores.get(best, -1.0)):
                best = name
        self._chosen = make_scorer(best)
        report = self._chosen.fit(events, grid, as_of_days)
        params = dict(report.params)
        params.update(
            {
                "chosen": best,
                "inner_hit_rate_at_k": scores,
                "inner_origins": self.n_origins,
                "inner_step_days": self.step_days,
            }
        )
        note = (
            f"best_static chose {best} by hit rate at K={self.k_boxes} over the last "
            f"{self.n_origins} x {self.step_days:g} days of training data"
        )
        return FitReport(f"best_static:{best}", params, [*report.warnings, note])

    def score(self, horizon_days: float) -> FloatArray:
        """Scores of the chosen method, shape (ny, nx)."""
        if self._chosen is None:
            raise RuntimeError("fit first")
        return self._chosen.score(horizon_days)


def make_scorer(method: str, **params: Any) -> Scorer:
    """A scorer by name: one of ``METHODS``; ``params`` go to its constructor."""
    if method == "etas":
        return EtasScorer(smooth=False, **params)
    if method == "etas_smooth":
        return EtasScorer(smooth=True, **params)
    if method == "naive28":
        return NaiveScorer(window_days=params.pop("window_days", 28.0), **params)
    if method == "naive90":
        return NaiveScorer(window_days=params.pop("window_days", 90.0), **params)
    if method == "kde":
        return KdeScorer(**params)
    if method == "prospective":
        return ProspectiveScorer(**params)
    if method == "best_static":
        return BestStaticScorer(**params)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


def choose_method(
    events: Events, requested: str = "auto", *, cell_size_m: float = 150.0
) -> tuple[str, list[str]]:
    """Resolve ``requested`` (a method or "auto") against the quality of the timestamps.

    "auto" gives etas_smooth when times are fine, else best_static (the best non-temporal
    method on the training data's own recent past). A temporal method requested on month-only
    or heavily tied timestamps, or on too few events, falls back likewise with a warning;
    prospective hotspotting is kept but warned about.

    Returns:
        (method, warnings).
    """
    if requested != "auto" and requested not in METHODS:
        raise ValueError(f"unknown method {requested!r}; choose 'auto' or one of {METHODS}")
    key = _location_cells(events, cell_size_m)
    quality = timestamp_quality(events.t_days, cell_index=key)
    warnings: list[str] = []
    wants_time = requested in ("auto", *TEMPORAL)
    if requested == "prospective" and not quality.usable_for_temporal:
        warnings.append(f"prospective hotspotting on coarse timestamps: {quality.reason}")
    if requested == "naive28" and quality.month_only:
        warnings.append(
            "naive28 on month-only timestamps: a 28-day window can miss a whole month;"
            " naive90 or kde is safer"
        )
    if not wants_time:
        return requested, warnings
    target = "etas_smooth" if requested == "auto" else requested
    if not quality.usable_for_temporal:
        warnings.append(
            f"{target} needs event times, but {quality.reason}; using {FALLBACK} instead"
        )
        return FALLBACK, warnings
    if len(events) < MIN_EVENTS_ETAS:
        warnings.append(
            f"{target} needs at least {MIN_EVENTS_ETAS} events, got {len(events)};"
            f" using {FALLBACK} instead"
        )
        return FALLBACK, warnings
    return target, warnings


def _location_cells(events: Events, cell_size_m: float) -> IntArray:
    """A cell key per event on an aligned grid of ``cell_size_m`` (for the tie check)."""
    if len(events) == 0:
        return np.zeros(0, dtype=np.int64)
    col = np.floor(events.x / cell_size_m).astype(np.int64)
    row = np.floor(events.y / cell_size_m).astype(np.int64)
    col -= col.min()
    row -= row.min()
    return row * (int(col.max()) + 1) + col
