"""The ``best_static`` forecast method: the non-temporal candidate that did best lately (pure).

It judges the candidates by a small backtest on the training data, so it takes the scorer
factory (the registry's ``make``) rather than naming the methods itself.
"""

from __future__ import annotations

import numpy as np

from services.predictive.compute.backtest import backtest_scorers
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import FitReport, FloatArray, Scorer, ScorerFactory
from services.predictive.compute.timing import timestamp_quality
from shared.grid import Grid


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
        make: ScorerFactory,
        candidates: tuple[str, ...],
        *,
        n_origins: int = 3,
        step_days: float = 30.0,
        k_boxes: int = 20,
        margin: float = 0.15,
    ) -> None:
        self.make = make
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
        past = events.select(events.t_days < as_of_days)
        start = as_of_days - self.n_origins * self.step_days
        scores: dict[str, float] = {}
        by_month = len(past) > 0 and timestamp_quality(past.t_days).month_only
        if by_month:
            scores = self._inner_months(past, grid, as_of_days)
        elif len(past) and float(past.t_days.min()) < start:
            inner = backtest_scorers(
                past,
                grid,
                scorers={name: self.make(name) for name in self.candidates},
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
        self._chosen = self.make(best)
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
        judged = (
            f"the last {self.n_origins} whole months"
            if by_month
            else f"the last {self.n_origins} x {self.step_days:g} days"
        )
        if by_month:
            params["inner_step_days"] = None
            params["inner_by_month"] = True
        note = (
            f"best_static chose {best} by hit rate at K={self.k_boxes} over {judged} of "
            "training data"
        )
        return FitReport(f"best_static:{best}", params, [*report.warnings, note])

    def _inner_months(self, past: Events, grid: Grid, as_of_days: float) -> dict[str, float]:
        """Mean hit rate at K per candidate, each of the last months forecast from the months
        before it (month-only data: origins on the months' own dates, never across a month)."""
        months = np.unique(np.round(past.t_days, 6))
        ends = [*months[1:], as_of_days]
        hits: dict[str, list[float]] = {name: [] for name in self.candidates}
        for i in range(max(1, months.size - self.n_origins), months.size):
            origin, end = float(months[i]), float(ends[i])
            inner = backtest_scorers(
                past,
                grid,
                scorers={name: self.make(name) for name in self.candidates},
                start_days=origin,
                end_days=origin + 0.5,
                horizon_days=max(end - origin, 1.0),
                k_boxes=self.k_boxes,
            )
            for row in inner.table:
                if row["origins"]:
                    hits[row["method"]].append(float(row["hit_rate_at_k"]))
        return {name: float(np.mean(v)) for name, v in hits.items() if v}

    def score(self, horizon_days: float) -> FloatArray:
        """Scores of the chosen method, shape (ny, nx)."""
        if self._chosen is None:
            raise RuntimeError("fit first")
        return self._chosen.score(horizon_days)
