"""Resolve a requested method against the data, fit it, and rank the boxes of a grid.

"auto" is ``compute.methods.choose_method``: ETAS with a smoothed background when the times
allow, else ``best_static`` (the non-temporal method that did best on the training data's own
recent past). The CLI alias "naive" is the 28-day count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.predictive.compute.methods import TEMPORAL, Events, choose_method, make_scorer
from shared.grid import Grid

ALIASES = {"naive": "naive28"}
NO_RATE = ("prospective",)


def canonical(method: str) -> str:
    """Method name with CLI aliases resolved ("naive" is the 28-day count)."""
    return ALIASES.get(method, method)


def resolve_method(events: Events, grid: Grid, *, requested: str) -> tuple[str, list[str]]:
    """The method to fit on ``events`` (already cut at the forecast origin) and why."""
    return choose_method(events, canonical(requested), cell_size_m=grid.cell_size_m)


@dataclass
class Forecast:
    """Scores of one fitted method over a grid, for a window after ``as_of``."""

    method: str
    requested: str
    params: dict[str, Any]
    warnings: list[str]
    scores: npt.NDArray[np.float64]  # (ny, nx); cells outside the mask are -inf
    n_events: int


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def forecast(
    events: Events,
    grid: Grid,
    *,
    requested: str,
    as_of_days: float,
    start_days: float = 0.0,
    end_days: float = 1.0,
    k_boxes: int = 20,
    mask: npt.NDArray[np.bool_] | None = None,
) -> Forecast:
    """Fit on events strictly before ``as_of_days`` and score [as_of + start, as_of + end) days.

    Temporal methods score the window exactly (expected counts to the end minus to the start);
    the others give a rate or a relative score, scaled by the window length.
    """
    if not 0 <= start_days < end_days:
        raise ValueError("the window must satisfy 0 <= start < end")
    train = events.select(events.t_days < as_of_days)
    method, warnings = resolve_method(train, grid, requested=requested)
    scorer = make_scorer(method, **({"k_boxes": k_boxes} if method == "best_static" else {}))
    report = scorer.fit(train, grid, as_of_days)
    if method in TEMPORAL:
        scores = scorer.score(end_days)
        if start_days > 0:
            scores = scores - scorer.score(start_days)
        scores = np.maximum(scores, 0.0)
    else:
        scores = scorer.score(end_days - start_days)
    scores = np.asarray(scores, dtype=np.float64).reshape(grid.shape).copy()
    if mask is not None:
        scores[~mask] = -np.inf
    params = dict(report.params)
    if method not in TEMPORAL:
        # No triggering in a coarse-time method: say so plainly, and give its total daily rate.
        params.setdefault("theta", None)
        params.setdefault("omega_per_day", None)
        static = str(params.get("chosen", method))
        rate = None if static in NO_RATE else float(scorer.score(1.0).sum())
        params.setdefault("background_per_day", rate)
    warnings = list(dict.fromkeys([*warnings, *report.warnings]))
    return Forecast(
        report.method, canonical(requested), _json_safe(params), warnings, scores, len(train)
    )


def ranked_cells(scores: npt.NDArray[np.float64], k: int | None = None) -> npt.NDArray[np.int64]:
    """Flat indices of the best ``k`` (default all) finite scores, best first; ties by index."""
    from shared.metrics import top_cells

    flat = scores.ravel()
    finite = np.isfinite(flat)
    n = int(finite.sum()) if k is None else min(int(k), int(finite.sum()))
    return top_cells(np.where(finite, flat, -np.inf), n)
