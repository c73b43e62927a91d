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

from shared.extent import check_cells

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


def vertex_count(geom: BaseGeometry) -> int:
    """Number of vertices of a geometry (what the work on a bank stretch grows with)."""
    return int(shapely.get_num_coordinates(geom))


def _pieces(site_geoms: Sequence[BaseGeometry]) -> tuple[npt.NDArray[Any], IntArray]:
    """Each site as its points and two-vertex segments, with the site each piece belongs to.

    A distance to a long line costs GEOS a pass over all its vertices; indexed by segment, the
    nearest piece is found in logarithmic time, whatever the number of vertices.
    """
    parts: list[npt.NDArray[Any]] = []
    owners: list[IntArray] = []
    for i, g in enumerate(site_geoms):
        coords = shapely.get_coordinates(g)
        if g.geom_type == "LineString" and coords.shape[0] >= 2:
            piece = shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1))
        else:
            piece = np.array([g], dtype=object)
        parts.append(np.asarray(piece, dtype=object))
        owners.append(np.full(len(piece), i, dtype=np.int64))
    return np.concatenate(parts), np.concatenate(owners)


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
    pieces, owner = _pieces(site_geoms)
    tree = shapely.STRtree(pieces)
    (inc, geo), d = tree.query_nearest(
        pts, max_distance=snap_m, return_distance=True, all_matches=False
    )
    site[inc] = owner[geo]
    dist[inc] = d
    return site, dist


def _vertices(line: LineString) -> tuple[FloatArray, FloatArray]:
    """The line's vertices (v, 2) and the distance along the line of each, from its start (v,)."""
    c = shapely.get_coordinates(line)
    seg = np.hypot(*np.diff(c, axis=0).T)
    return c, np.concatenate([[0.0], np.cumsum(seg)])


def points_along(line: LineString, distances: npt.ArrayLike) -> FloatArray:
    """Points at ``distances`` (metres) along the line, shape (m, 2); like ``line.interpolate``.

    One pass over the vertices and a binary search per point (GEOS walks the whole line for
    each point: seconds for thousands of points on a bank of 200,000 vertices).
    """
    c, cum = _vertices(line)
    d = np.clip(np.asarray(distances, dtype=np.float64), 0.0, cum[-1])
    i = np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(c) - 2)
    span = cum[i + 1] - cum[i]
    t = np.divide(d - cum[i], span, out=np.zeros_like(d), where=span > 0)
    return np.asarray(c[i] + t[:, None] * (c[i + 1] - c[i]), dtype=np.float64)


def locate_along(
    line: LineString, x: npt.ArrayLike, y: npt.ArrayLike, snap_m: float
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Which points lie within ``snap_m`` of the line, and how far along it each of those lies.

    Like ``line.line_locate_point`` on the points with ``line.distance <= snap_m``, found through
    an index of the line's segments, so the cost grows with log(vertices), not vertices.
    Returns (near mask, shape (n,); distance along the line of the near points, shape (k,)).
    """
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
    near = np.zeros(xa.size, dtype=bool)
    c, cum = _vertices(line)
    if xa.size == 0 or len(c) < 2:
        return near, np.empty(0)
    segs = shapely.linestrings(np.stack([c[:-1], c[1:]], axis=1))
    (inc, seg), _ = shapely.STRtree(segs).query_nearest(
        shapely.points(xa, ya), max_distance=snap_m, return_distance=True, all_matches=False
    )
    order = np.argsort(inc)
    inc, seg = inc[order], seg[order]
    near[inc] = True
    a, b = c[seg], c[seg + 1]
    ab = b - a
    len2 = np.einsum("ij,ij->i", ab, ab)
    p = np.column_stack([xa[inc], ya[inc]])
    dot = np.einsum("ij,ij->i", p - a, ab)
    t = np.clip(np.divide(dot, len2, out=np.zeros_like(dot), where=len2 > 0), 0.0, 1.0)
    return near, cum[seg] + t * np.sqrt(len2)


def site_counts(
    site_geoms: Sequence[BaseGeometry],
    incident_x: npt.ArrayLike,
    incident_y: npt.ArrayLike,
    severity: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    snap_m: float = 100.0,
    period: Period = "year",
    only: Sequence[int] | None = None,
    max_cells: int | None = None,
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
        only: indices of the sites whose rows to build (default all); the others' rows are
            empty dicts (``{"site": i}``), though every incident is still assigned among all.
        max_cells: most cells (rows built x periods x severities) the count table may have,
            checked before it is allocated (``GridTooLarge``). None: no limit.

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
    built = list(range(len(site_geoms))) if only is None else sorted(set(only))
    shape = (len(built), max(len(periods), 1), max(len(levels), 1))
    if max_cells is not None:
        check_cells(shape[0] * shape[1], shape[2], max_cells, what="site count table")
    slot = np.full(len(site_geoms), -1, dtype=np.int64)
    slot[built] = np.arange(len(built))
    table = np.zeros(shape, np.int64)
    take = assigned & (slot[np.maximum(site, 0)] >= 0)
    if periods:
        np.add.at(table, (slot[site[take]], pidx[take] - periods[0], sev_code[take]), 1)
    rows: list[dict[str, Any]] = [{"site": i} for i in range(len(site_geoms))]
    for k, i in enumerate(built):
        rows[i] = _site_row(i, table[k], levels, periods, period)
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
    n = np.atleast_1d(np.asarray(incident_x, np.float64)).size
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64).ravel()
    near, s = locate_along(line, incident_x, incident_y, snap_m)
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
