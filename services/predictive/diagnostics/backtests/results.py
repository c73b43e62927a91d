"""A finished backtest as the job stores it: JSON-safe table, intervals, curves, boxes per ward.

Pure: the backtest's result and the job's parameters in, one dict out (what ``GET
/backtests/{id}`` returns as ``results`` and the page draws). Numbers that cannot be computed
(no origin day with incidents) are null, never NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from services.predictive.compute.areas import NamedArea, ward_selection_counts
from services.predictive.compute.backtest import BacktestResult
from services.predictive.diagnostics.backtests.intervals import LEVEL, bootstrap_interval
from shared.grid import Grid

MAX_WARNINGS = 10
MAX_PARAMS_CHARS = 4000


def num(value: Any) -> float | None:
    """A finite float, or None (NaN, infinity, missing)."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def share_key(fraction: float) -> str:
    """The backtest's name for an area share in its measures: 0.01 -> ``1pct``."""
    return f"{100 * fraction:g}pct"


def measures(k_boxes: int, fractions: Sequence[float]) -> list[dict[str, str]]:
    """The measures of the table, in column order: key, kind (hit_rate | pai) and at what."""
    boxes = "1 box" if k_boxes == 1 else f"{k_boxes} boxes"
    out = [
        {"key": "hit_rate_at_k", "kind": "hit_rate", "at": boxes},
        {"key": "pai_at_k", "kind": "pai", "at": boxes},
    ]
    for f in fractions:
        at = f"{100 * f:g}% of the area"
        out.append({"key": f"hit_rate_at_{share_key(f)}", "kind": "hit_rate", "at": at})
        out.append({"key": f"pai_at_{share_key(f)}", "kind": "pai", "at": at})
    return out


def _json_small(value: Any) -> Any:
    """``value`` if it is JSON of at most MAX_PARAMS_CHARS characters, else None."""
    try:
        text = json.dumps(value, default=float, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return json.loads(text) if len(text) <= MAX_PARAMS_CHARS else None


def method_rows(
    result: BacktestResult, labels: Mapping[str, str], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per requested method: mean of each measure, its bootstrap interval, stability."""
    by_method = {row["method"]: row for row in result.table}
    rows = []
    for label, fitted in labels.items():
        row = by_method[fitted]
        per_day = result.per_origin.get(fitted, [])
        values: dict[str, dict[str, float | None]] = {}
        for key in keys:
            interval = bootstrap_interval([d[key] for d in per_day if key in d])
            values[key] = {
                "mean": num(row.get(key)),
                "low": None if interval is None else interval[0],
                "high": None if interval is None else interval[1],
            }
        rows.append(
            {
                "method": label,
                "fitted": fitted,
                "origins": int(row.get("origins", 0)),
                "values": values,
                "stability": num(row.get("stability")),
            }
        )
    return rows


def ward_counts(
    result: BacktestResult, grid: Grid, wards: Sequence[NamedArea]
) -> dict[str, list[list[Any]]]:
    """Per fitted method: [ward, times a box there was chosen] over all origins, most first."""
    return {
        m: [[name, n] for name, n in ward_selection_counts(counts, grid, wards).items()]
        for m, counts in result.selection_counts.items()
    }


def coverage_notes(
    *,
    origins: Sequence[float],
    scored: int,
    horizon_days: float,
    data_to: date | None,
    data_end_days: float | None,
) -> tuple[list[str], int]:
    """Sentences on the origin days the incident data do not cover, and how many those are."""
    total = len(origins)
    beyond = 0
    if data_end_days is not None:
        beyond = int(np.sum(np.asarray(origins) + horizon_days > data_end_days + 1e-9))
    notes = []
    if beyond and data_to is not None:
        days = "origin day reaches" if beyond == 1 else "origin days reach"
        notes.append(
            f"The forecast windows of {beyond} of {total} {days} past "
            f"{data_to.isoformat()}, the end of the incident data: no incident data for this "
            "window on those days; days left with no incident at all are out of the means."
        )
    quiet = total - scored
    if scored == 0:
        notes.append(
            "No origin day had an incident in its forecast window: no incident data for this "
            "window, so there is nothing to judge the methods by."
        )
    elif quiet:
        days = "origin day" if total == 1 else "origin days"
        verb, it = ("is", "it") if quiet == 1 else ("are", "they")
        notes.append(
            f"{quiet} of {total} {days} had no incident in the forecast window: {it} {verb} left "
            f"out of the means ({it} say{'s' if quiet == 1 else ''} nothing about accuracy)."
        )
    return notes, beyond


def build_results(
    result: BacktestResult,
    *,
    labels: Mapping[str, str],
    grid: Grid,
    wards: Sequence[NamedArea],
    origins: Sequence[float],
    n_events: int,
    notes: Sequence[str],
    step_days: float,
    data_to: date | None,
    data_end_days: float | None,
) -> dict[str, Any]:
    """The stored results of a finished backtest (JSON-safe)."""
    cols = measures(result.k_boxes, result.fractions)
    rows = method_rows(result, labels, [c["key"] for c in cols])
    scored = rows[0]["origins"] if rows else 0
    more, beyond = coverage_notes(
        origins=origins,
        scored=scored,
        horizon_days=result.horizon_days,
        data_to=data_to,
        data_end_days=data_end_days,
    )
    overlap = result.horizon_days > step_days
    return {
        "k_boxes": result.k_boxes,
        "area_shares": list(result.fractions),
        "horizon_days": result.horizon_days,
        "step_days": step_days,
        "n_events": n_events,
        "grid": {"cell_size_m": grid.cell_size_m, "nx": grid.nx, "ny": grid.ny},
        "origins": {"total": len(origins), "scored": scored, "beyond_data": beyond},
        "measures": cols,
        "interval": {
            "level": LEVEL,
            "method": "percentile bootstrap over origin days",
            "overlapping_windows": overlap,
        },
        "table": rows,
        "curve": {
            "area_shares": [float(x) for x in result.curve_fractions],
            "hit_rate": {m: [num(v) or 0.0 for v in c] for m, c in result.curves.items()},
        },
        "wards": ward_counts(result, grid, wards),
        "warnings": {m: list(w)[:MAX_WARNINGS] for m, w in result.warnings.items()},
        "fit_params": {m: _json_small(p) for m, p in result.fit_params.items()},
        "notes": [*notes, *more],
    }
