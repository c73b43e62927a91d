"""Plain words for the crews' list page: dates, counts, and how the boxes were chosen (pure).

The model's own words (method names, fitted parameters) stay in the page's "About this list";
these sentences are what a crew member reads first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(d: date) -> str:
    """``date(2022, 9, 30)`` -> "30 September 2022" (whatever the server's locale)."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def count(n: int, one: str, many: str | None = None) -> str:
    """ "1 box", "2 boxes", "1,204 incidents": the number and the word that agrees with it."""
    word = one if n == 1 else (many or one + "s")
    return f"{n:,} {word}"


def _days(window_days: Any) -> str:
    """ "the past 90 days'", "the past year's"."""
    try:
        n = float(window_days)
    except (TypeError, ValueError):
        return "the past year's"
    if n in (365.0, 366.0):
        return "the past year's"
    if n == 1:
        return "the past day's"
    return f"the past {n:g} days'"


def how_chosen(method: str, params: Mapping[str, Any]) -> str:
    """How a method ranks boxes, in words ("from the past 90 days' incidents in each box")."""
    name = method.split(":", 1)[1] if method.startswith("best_static:") else method
    radius = params.get("radius_m")
    near = f"within {float(radius):g} m of each box" if radius is not None else "near each box"
    if name.startswith("naive"):
        window = params.get("window_days") or name.removeprefix("naive") or 28
        return f"from {_days(window)} incidents in each box"
    if name == "kde":
        return f"from {_days(params.get('window_days') or 365)} incidents {near}"
    if name == "prospective":
        weeks = int(params.get("weeks") or 8)
        past = "the past week's" if weeks == 1 else f"the past {weeks} weeks'"
        return f"from {past} incidents {near}, the newest and nearest counting most"
    if name.startswith("etas"):
        return (
            "from the past year's incidents near each box and how often one incident is "
            "followed by another nearby soon after"
        )
    return "from the incidents before this day"


def when(shift_start: datetime, shift_end: datetime) -> str:
    """ "in this shift (09:00 to 21:00)", or "on this day" for a whole day from midnight."""
    hours = (shift_end - shift_start).total_seconds() / 3600
    if hours == 24 and shift_start.hour == 0 and shift_start.minute == 0:
        return "on this day"
    return f"in this shift ({shift_start:%H:%M} to {shift_end:%H:%M})"


def headline(
    *,
    n_boxes: int,
    cell_size_m: float,
    shift_start: datetime,
    shift_end: datetime,
    method: str,
    params: Mapping[str, Any],
    day: date,
) -> str:
    """One sentence: how many boxes, what they are, and how they were chosen."""
    if n_boxes == 0:
        return (
            f"There are no boxes on this list: no incidents recent enough to rank boxes by "
            f"were recorded before {long_date(day)}."
        )
    size = f"{cell_size_m:g} m squares" if n_boxes > 1 else f"a {cell_size_m:g} m square"
    lead = "The box" if n_boxes == 1 else f"The {n_boxes:,} boxes"
    return (
        f"{lead} ({size}) where incidents are most likely {when(shift_start, shift_end)}, "
        f"{how_chosen(method, params)}."
    )


def short_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fitted parameters worth showing in "About this list", formatted."""
    keys = ("chosen", "theta", "omega_per_day", "background_per_day", "window_days", "radius_m")
    out = []
    for k in keys:
        v = params.get(k)
        if v is None:
            continue
        out.append((k, f"{v:.3g}" if isinstance(v, float) else str(v)))
    return out
