"""Check whether event timestamps are fine enough for a temporal (self-exciting) model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


@dataclass(frozen=True)
class TimingReport:
    """How usable the timestamps are for a model that needs event times.

    Attributes:
        month_only: every timestamp is 00:00 on the 1st of a month (data.police.uk style).
        day_only: every timestamp is at 00:00 (dates without times).
        tie_share: share of zero gaps between consecutive events (within the same cell when cell
            indices are given, else over all events).
        distinct_times: number of distinct timestamps.
        usable_for_temporal: whether a self-exciting fit makes sense.
        reason: one sentence for people, saying why.
    """

    month_only: bool
    day_only: bool
    tie_share: float
    distinct_times: int
    usable_for_temporal: bool
    reason: str


def to_days(values: npt.ArrayLike | Sequence[datetime]) -> FloatArray:
    """Days since 1970-01-01 UTC as float64 from floats, numpy datetime64 or datetimes."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64).ravel()
    if arr.dtype.kind == "M":
        us = arr.astype("datetime64[us]")
    else:
        items = [(v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v) for v in arr.ravel()]
        us = np.array(items, dtype="datetime64[us]")
    return ((us - _EPOCH) / np.timedelta64(1, "D")).astype(np.float64).ravel()


def _gap_tie_share(t: FloatArray, cells: npt.NDArray[np.int64] | None) -> float:
    """Share of zero gaps between consecutive events, optionally within each cell only."""
    if cells is None:
        s = np.sort(t)
        gaps = np.diff(s)
    else:
        order = np.lexsort((t, cells))
        same = np.diff(cells[order]) == 0
        gaps = np.diff(t[order])[same]
    if gaps.size == 0:
        return 0.0
    return float(np.mean(gaps <= 1e-9))


def timestamp_quality(
    values: npt.ArrayLike | Sequence[datetime],
    *,
    cell_index: npt.ArrayLike | None = None,
    max_tie_share: float = 0.25,
    min_distinct: int = 30,
) -> TimingReport:
    """Detect month-only or heavily tied timestamps.

    Args:
        values: event times as days since 1970-01-01 UTC (float), datetime64 or datetimes.
        cell_index: optional flat cell per event; ties are then counted within cells, which is
            what matters for same-box triggering.
        max_tie_share: above this share of zero gaps the times are judged too coarse.
        min_distinct: fewer distinct timestamps than this is too little temporal information.

    Returns:
        TimingReport with the flags, the tie share and a reason.
    """
    t = to_days(values)
    if t.size == 0:
        return TimingReport(False, False, 0.0, 0, False, "no events")
    if not np.all(np.isfinite(t)):
        return TimingReport(False, False, 0.0, 0, False, "some timestamps are missing")
    frac = t - np.floor(t)
    day_only = bool(np.all(np.minimum(frac, 1 - frac) < 1e-6))
    days = np.round(t).astype("int64").astype("datetime64[D]")
    first_of_month = days == days.astype("datetime64[M]").astype("datetime64[D]")
    month_only = day_only and bool(np.all(first_of_month))
    cells = None if cell_index is None else np.asarray(cell_index, dtype=np.int64).ravel()
    ties = _gap_tie_share(t, cells)
    distinct = int(np.unique(t).size)
    where = "within cells" if cells is not None else "between consecutive events"
    if month_only:
        reason = "timestamps give only the month (all on the 1st at 00:00)"
        usable = False
    elif distinct < min_distinct:
        word = "timestamp" if distinct == 1 else "timestamps"
        reason = f"only {distinct} distinct {word} (need {min_distinct})"
        usable = False
    elif ties > max_tie_share:
        reason = f"{ties:.0%} of gaps {where} are ties (limit {max_tie_share:.0%})"
        usable = False
    else:
        usable = True
        reason = f"timestamps usable: {ties:.1%} tied gaps {where}"
        if day_only:
            reason += "; dates only, so same-day triggering is not seen"
    return TimingReport(month_only, day_only, ties, distinct, usable, reason)
