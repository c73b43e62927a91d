"""The non-temporal forecast methods behind ``Scorer``: naive counts, KDE, prospective (pure)."""

from __future__ import annotations

import math

import numpy as np

from services.predictive.compute import baselines
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import FitReport, FloatArray, training_cells
from shared.grid import Grid


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
        ev, _, warnings = training_cells(events, grid, as_of_days, self.window_days)
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


def months_back_start(as_of_days: float, months: int) -> float:
    """Start (days since the epoch) of the calendar month ``months - 1`` before the month of the
    last moment before ``as_of_days``: from 1 June 00:00 and 3 months, 1 March.

    Half a day early, so that a month dated at local midnight (23:00 UTC the day before in
    summer) is inside it whole.
    """
    last = np.datetime64(int(math.floor(as_of_days - 1e-6)), "D")
    month = last.astype("datetime64[M]") - np.timedelta64(max(months, 1) - 1, "M")
    return float(month.astype("datetime64[D]").astype(np.int64)) - 0.5


class MonthsCountScorer(NaiveScorer):
    """Counts of the last ``months`` whole calendar months, scaled to the horizon.

    What an analyst means by "the last three months" on month-only police data: a fixed window
    of 90 days before the 1st of a month can leave out a whole month (1 June - 90 days is
    3 March), this window never does.
    """

    def __init__(self, months: int = 3) -> None:
        if months < 1:
            raise ValueError("months must be at least 1")
        super().__init__(window_days=91.0)
        self.months = months

    @property
    def method(self) -> str:
        """Method name."""
        return f"naive{self.months}m"

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Count the events from the 1st of the month ``months - 1`` before to ``as_of``."""
        start = months_back_start(as_of_days, self.months)
        self.window_days = max(as_of_days - start - 0.5, 1.0)  # the rate's denominator
        ev, _, warnings = training_cells(events, grid, as_of_days, as_of_days - start)
        self._counts = baselines.grid_counts(ev.x, ev.y, grid, weights=ev.weights)
        params = {"window_months": self.months, "window_days": round(self.window_days, 3),
                  "n_events": len(ev)}  # fmt: skip
        return FitReport(self.method, params, warnings)
