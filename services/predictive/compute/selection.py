"""Resolve a requested method against the data, fit it, and rank the boxes of a grid (pure).

"auto" is ``sepp`` (the day-bin self-exciting model, chosen against its own background on the
latest weeks) when the times give at least the day, else ``best_static`` (the non-temporal
method that did best on the training data's own recent past). What a method is
(temporal, a rate or a relative score, whether it takes the list length) comes from the
registry ``compute.methods.default_methods``; the CLI alias "naive" is the 28-day count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from services.predictive.compute.etas_scorer import MIN_EVENTS_ETAS
from services.predictive.compute.events import Events
from services.predictive.compute.methods import AUTO, MethodRegistry, default_methods
from services.predictive.compute.timing import timestamp_quality
from shared.grid import Grid
from shared.metrics import top_cells

IntArray = npt.NDArray[np.int64]
# What "auto" fits when the times give the day, and what a temporal method falls back to.
AUTO_TEMPORAL = "sepp"
FALLBACK = "best_static"


def choose_method(
    events: Events,
    requested: str = AUTO,
    *,
    cell_size_m: float = 150.0,
    registry: MethodRegistry = default_methods,
) -> tuple[str, list[str]]:
    """Resolve ``requested`` (a method or "auto") against the quality of the timestamps.

    "auto" gives sepp when times give at least the day (it bins by day, so ties on a date
    do no harm), else best_static (the best non-temporal
    method on the training data's own recent past). A temporal method requested on month-only
    or heavily tied timestamps, or on too few events, falls back likewise with a warning;
    prospective hotspotting is kept but warned about.

    Returns:
        (method, warnings).
    """
    if requested != AUTO and requested not in registry:
        raise ValueError(f"unknown method {requested!r}; choose 'auto' or one of {registry.names}")
    key = _location_cells(events, cell_size_m)
    quality = timestamp_quality(events.t_days, cell_index=key)
    warnings: list[str] = []
    wants_time = requested == AUTO or registry.get(requested).temporal
    if requested == "prospective" and not quality.usable_for_temporal:
        warnings.append(f"prospective hotspotting on coarse timestamps: {quality.reason}")
    if requested == "naive28" and quality.month_only:
        warnings.append(
            "naive28 on month-only timestamps: a 28-day window can miss a whole month;"
            " naive90 or kde is safer"
        )
    if not wants_time:
        return requested, warnings
    target = AUTO_TEMPORAL if requested == AUTO else requested
    daily = not quality.month_only and quality.distinct_times >= 30
    if target == AUTO_TEMPORAL and daily and len(events) >= MIN_EVENTS_ETAS:
        return target, warnings
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


def resolve_method(events: Events, grid: Grid, *, requested: str) -> tuple[str, list[str]]:
    """The method to fit on ``events`` (already cut at the forecast origin) and why."""
    canonical = default_methods.canonical(requested)
    return choose_method(events, canonical, cell_size_m=grid.cell_size_m)


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
    entry = default_methods.get(method)
    scorer = default_methods.make(method, **({"k_boxes": k_boxes} if entry.takes_k_boxes else {}))
    report = scorer.fit(train, grid, as_of_days)
    if entry.temporal:
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
    if not entry.temporal:
        # No triggering in a coarse-time method: say so plainly, and give its total daily rate.
        params.setdefault("theta", None)
        params.setdefault("omega_per_day", None)
        static = default_methods.get(str(params.get("chosen", method)))
        rate = float(scorer.score(1.0).sum()) if static.gives_rate else None
        params.setdefault("background_per_day", rate)
    warnings = list(dict.fromkeys([*warnings, *report.warnings]))
    return Forecast(
        report.method,
        default_methods.canonical(requested),
        _json_safe(params),
        warnings,
        scores,
        len(train),
    )


def ranked_cells(scores: npt.NDArray[np.float64], k: int | None = None) -> npt.NDArray[np.int64]:
    """Flat indices of the best ``k`` (default all) finite scores, best first; ties by index."""
    flat = scores.ravel()
    finite = np.isfinite(flat)
    n = int(finite.sum()) if k is None else min(int(k), int(finite.sum()))
    return top_cells(np.where(finite, flat, -np.inf), n)
