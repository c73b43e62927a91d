"""Incidents as arrays (EPSG:27700 metres, weights, UTC times, categories), their filters, and
the day arithmetic of whole-day windows (``to`` inclusive)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class PointArrays(Protocol):
    """Anything holding incident arrays (such as the incident store's ``IncidentPoints``)."""

    @property
    def x(self) -> FloatArray:
        """Eastings, metres (EPSG:27700), shape (n,)."""

    @property
    def y(self) -> FloatArray:
        """Northings, metres, shape (n,)."""

    @property
    def weight(self) -> FloatArray:
        """Weights, shape (n,)."""

    @property
    def t(self) -> npt.NDArray[np.datetime64]:
        """Times (UTC), shape (n,)."""

    @property
    def category(self) -> npt.NDArray[np.str_]:
        """Categories, shape (n,)."""


@dataclass(frozen=True)
class Points:
    """Incidents as arrays: EPSG:27700 metres, weights, UTC times, categories."""

    x: FloatArray
    y: FloatArray
    weight: FloatArray
    t: npt.NDArray[np.datetime64]
    category: npt.NDArray[np.str_]
    rejected: int = 0

    def __len__(self) -> int:
        return int(self.x.size)

    @classmethod
    def of(cls, arrays: PointArrays) -> Points:
        """The incidents of ``arrays`` (coordinates, weights, times, categories)."""
        return cls(arrays.x, arrays.y, arrays.weight, arrays.t, arrays.category)


def naive_utc(d: datetime) -> datetime:
    """``d`` as a naive UTC datetime (numpy's datetime64 has no time zone)."""
    if d.tzinfo is None:
        return d
    return d.astimezone(UTC).replace(tzinfo=None)


def day_start(d: date | None) -> datetime | None:
    """Midnight UTC at the start of ``d``."""
    return None if d is None else datetime.combine(d, time(0), tzinfo=UTC)


def day_after(d: date | None) -> datetime | None:
    """Midnight UTC after ``d``: the exclusive end of an inclusive last day."""
    return None if d is None else datetime.combine(d + timedelta(days=1), time(0), tzinfo=UTC)


def filter_points(
    pts: Points,
    *,
    categories: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox_m: tuple[float, float, float, float] | None = None,
) -> Points:
    """Keep incidents in ``categories`` (any case), in [start, end) and inside ``bbox_m``."""
    keep = np.ones(len(pts), dtype=bool)
    if categories:
        wanted = [c.lower() for c in categories]
        keep &= np.isin(np.char.lower(pts.category.astype(str)), wanted)
    if start is not None:
        keep &= pts.t >= np.datetime64(naive_utc(start), "s")
    if end is not None:
        keep &= pts.t < np.datetime64(naive_utc(end), "s")
    if bbox_m is not None:
        minx, miny, maxx, maxy = bbox_m
        keep &= (pts.x >= minx) & (pts.x <= maxx) & (pts.y >= miny) & (pts.y <= maxy)
    return Points(
        pts.x[keep], pts.y[keep], pts.weight[keep], pts.t[keep], pts.category[keep], pts.rejected
    )
