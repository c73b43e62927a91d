"""Water-safety sites: incidents snapped to access points or banks, and density along a bank.

All geometry and coordinates are EPSG:27700 (British National Grid, metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Period = Literal["year", "quarter", "month"]


@dataclass(frozen=True)
class SiteCounts:
    """Incident counts per water-safety site.

    Attributes:
        sites: one dict per site, in the order of the input geometries:
            ``{"site": i, "total": n, "by_severity": {severity: n},
            "by_period": {label: {severity: n}}}``. Every site has the same severity keys (all
            severities seen) and the same period labels (every period from the first to the
            last assigned incident, gaps included), so rows line up in a table.
        site_of_incident: site index per incident, -1 when none lies within ``snap_m``,
            shape (n,).
        distance_m: distance to that site in metres, NaN when unassigned, shape (n,).
        unassigned: indices of incidents with no site within ``snap_m`` (or no location).
    """

    sites: list[dict[str, Any]]
    site_of_incident: IntArray
    distance_m: FloatArray
    unassigned: IntArray


def period_index(times: npt.ArrayLike, period: Period) -> IntArray:
    """Integer period number per time: years AD, quarters or months since year 0."""
    months = np.asarray(times).astype("datetime64[M]").astype(np.int64) + 1970 * 12
    if period == "month":
        return months
    if period == "quarter":
        return months // 3
    if period == "year":
        return months // 12
    raise ValueError(f"unknown period {period!r}")


def period_label(index: int, period: Period) -> str:
    """Label of a period number from :func:`period_index`: ``2023``, ``2023-Q2``, ``2023-05``."""
    if period == "year":
        return f"{index:04d}"
    if period == "quarter":
        return f"{index // 4:04d}-Q{index % 4 + 1}"
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def nearest_site(
    site_geoms: Sequence[BaseGeometry], x: npt.ArrayLike, y: npt.ArrayLike, snap_m: float
) -> tuple[IntArray, FloatArray]:
    """Index of and distance to the nearest site within ``snap_m`` metres (-1/NaN if none).

    Ties between equally near sites go to one of them (STRtree order).
    """
    pts = shapely.points(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    pts = np.atleast_1d(pts)
    site = np.full(pts.shape[0], -1, dtype=np.int64)
    dist = np.full(pts.shape[0], np.nan)
    if len(site_geoms) == 0 or pts.size == 0:
        return site, dist
    tree = shapely.STRtree(list(site_geoms))
    (inc, geo), d = tree.query_nearest(
        pts, max_distance=snap_m, return_distance=True, all_matches=False
    )
    site[inc] = geo
    dist[inc] = d
    return site, dist


def site_counts(
    site_geoms: Sequence[BaseGeometry],
    incident_x: npt.ArrayLike,
    incident_y: npt.ArrayLike,
    severity: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    snap_m: float = 100.0,
    period: Period = "year",
) -> SiteCounts:
    """Count incidents per site by severity and period, each at its nearest site within snap_m.

    Args:
        site_geoms: shapely geometries in EPSG:27700: points for access points, lines for
            stretches of bank; shape (k,).
        incident_x: incident eastings, metres, shape (n,).
        incident_y: incident northings, metres, shape (n,).
        severity: severity label per incident (e.g. "fatal", "serious", "minor"), shape (n,).
        times: datetimes or ``datetime64`` per incident, shape (n,).
        snap_m: largest distance, metres, at which an incident is assigned to a site.
        period: ``"year"``, ``"quarter"`` or ``"month"``.

    Returns:
        :class:`SiteCounts` with one dict per site and the unassigned incidents.
    """
    sev = np.asarray(severity).astype(str)
    pidx = period_index(times, period)
    site, dist = nearest_site(site_geoms, incident_x, incident_y, snap_m)
    if not (sev.size == pidx.size == site.size):
        raise ValueError("incident_x, incident_y, severity and times must have the same length")
    levels = sorted(set(sev.tolist()))
    assigned = site >= 0
    periods = (
        list(range(int(pidx[assigned].min()), int(pidx[assigned].max()) + 1))
        if assigned.any()
        else []
    )
    sev_code = np.searchsorted(levels, sev)
    table = np.zeros((len(site_geoms), max(len(periods), 1), max(len(levels), 1)), np.int64)
    if periods:
        np.add.at(table, (site[assigned], pidx[assigned] - periods[0], sev_code[assigned]), 1)
    rows = [_site_row(i, table[i], levels, periods, period) for i in range(len(site_geoms))]
    return SiteCounts(rows, site, dist, np.flatnonzero(~assigned).astype(np.int64))


def _site_row(
    i: int, tab: IntArray, levels: list[str], periods: list[int], period: Period
) -> dict[str, Any]:
    """One site's dict from its (period, severity) count table."""
    by_sev = tab.sum(axis=0)
    return {
        "site": i,
        "total": int(tab.sum()),
        "by_severity": {lv: int(by_sev[j]) for j, lv in enumerate(levels)},
        "by_period": {
            period_label(p, period): {lv: int(tab[k, j]) for j, lv in enumerate(levels)}
            for k, p in enumerate(periods)
        },
    }


def kde_along_line(
    line: LineString,
    incident_x: npt.ArrayLike,
    incident_y: npt.ArrayLike,
    *,
    bandwidth_m: float,
    step_m: float,
    snap_m: float,
    weights: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """1-D quartic kernel density of incidents along a water's edge, per km of bank.

    Incidents within ``snap_m`` of the line are projected onto it (``line.project``); the
    density at distance d along the line is sum_i w_i K((d - s_i) / h) / h with the quartic
    (biweight) kernel K(u) = 15/16 (1 - u^2)^2 on |u| < 1, times 1000 to give per km. No edge
    correction: near the ends of the line part of each kernel falls off the line.

    Args:
        line: the bank as a LineString in EPSG:27700.
        incident_x: incident eastings, metres, shape (n,).
        incident_y: incident northings, metres, shape (n,).
        bandwidth_m: kernel half-width h, metres.
        step_m: spacing of the output positions, metres.
        snap_m: largest distance, metres, from the line for an incident to count.
        weights: weight per incident, shape (n,); default 1.

    Returns:
        (distances along the line in metres from its start, shape (m,), ending at the line's
        length; density in incidents (or weight) per km of bank, shape (m,)).
    """
    if bandwidth_m <= 0 or step_m <= 0:
        raise ValueError("bandwidth_m and step_m must be positive")
    length = float(line.length)
    k = int(np.floor(length / step_m + 1e-9))
    d = np.arange(k + 1, dtype=np.float64) * step_m
    if d[-1] < length - 1e-9:
        d = np.append(d, length)
    pts = np.atleast_1d(
        shapely.points(np.asarray(incident_x, np.float64), np.asarray(incident_y, np.float64))
    )
    w = np.ones(pts.size) if weights is None else np.asarray(weights, np.float64).ravel()
    near = np.asarray(shapely.distance(line, pts) <= snap_m)
    s = np.asarray(shapely.line_locate_point(line, pts[near]), dtype=np.float64)
    order = np.argsort(s)
    return d, _quartic_sum(d, s[order], w[near][order], bandwidth_m) * 1000.0


def _quartic_sum(d: FloatArray, s: FloatArray, w: FloatArray, h: float) -> FloatArray:
    """sum_i w_i K((d - s_i)/h)/h at each d, for sorted s; chunked to bound memory."""
    out = np.zeros(d.shape)
    chunk = 256
    for a in range(0, d.size, chunk):
        dd = d[a : a + chunk]
        lo, hi = np.searchsorted(s, [dd[0] - h, dd[-1] + h])
        if hi <= lo:
            continue
        u = (dd[:, None] - s[None, lo:hi]) / h
        k = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        out[a : a + chunk] = k @ w[lo:hi] * (15.0 / 16.0 / h)
    return out
