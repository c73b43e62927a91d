"""Road-casualty cluster sites: places with at least N injury collisions within r metres.

Coordinates are EPSG:27700 eastings/northings in metres. Candidate circles are centred on
collisions; a collision is a candidate centre when at least ``min_collisions`` collisions in the
time window (itself included) lie within ``radius_m`` of it. Candidate circles that intersect
(centres within 2r, which also covers circles sharing collisions) are merged into one site.
``road_sites`` is the entry of the service and the CLI: incident ``Points`` and checked
parameters in, ranked ``Site`` records out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import Points, naive_utc
from shared.extent import GridTooLarge

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Site:
    """One cluster site, in EPSG:27700.

    Attributes:
        rank: 1 for the site with the highest KSI sum (ties: more collisions first).
        members: indices into the input arrays of the collisions in the site, ascending.
        n_collisions: number of member collisions.
        ksi_sum: sum of the members' KSI weights (expected killed-or-seriously-injured count).
        centroid_x: mean easting of the members, metres.
        centroid_y: mean northing of the members, metres.
        polygon: union of the radius-r circles around the site's candidate centres.
        centres: indices of the collisions whose circles qualified and make up ``polygon``.
        first: time of the earliest member (days as given, or numpy datetime64).
        last: time of the latest member.
    """

    rank: int
    members: IntArray
    n_collisions: int
    ksi_sum: float
    centroid_x: float
    centroid_y: float
    polygon: BaseGeometry
    centres: IntArray
    first: float | np.datetime64
    last: float | np.datetime64


def to_days(times: npt.ArrayLike) -> tuple[FloatArray, bool]:
    """Times as float days since 1970-01-01 and whether they were datetimes.

    Numbers are taken to be days already; datetimes, ``datetime64`` and ISO strings are
    converted (to the second).
    """
    arr = np.asarray(times)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64), False
    secs = arr.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    return secs / 86400.0, True


def _from_days(day: float, was_datetime: bool) -> float | np.datetime64:
    """Back to the caller's time type."""
    if not was_datetime:
        return float(day)
    return np.datetime64(int(round(day * 86400.0)), "s")


def cluster_sites(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    times: npt.ArrayLike,
    ksi_weight: npt.ArrayLike,
    *,
    min_collisions: int = 4,
    radius_m: float = 50.0,
    years: float = 3.0,
    end: float | np.datetime64 | str | None = None,
    resolution: int = 16,
    max_pairs: int | None = None,
) -> list[Site]:
    """Find sites with at least ``min_collisions`` collisions within ``radius_m`` in ``years``.

    Args:
        x: eastings of the collisions, metres (EPSG:27700), shape (n,).
        y: northings, metres, shape (n,).
        times: collision times, shape (n,): float days, or datetimes / datetime64.
        ksi_weight: KSI weight per collision, shape (n,) (e.g. fatal 1, otherwise the STATS19
            ``collision_adjusted_severity_serious`` probability); taken as given.
        min_collisions: the threshold N, counting the centre collision itself.
        radius_m: r, metres.
        years: T; the window is (end - T * 365.25 days, end].
        end: end of the window in the same type as ``times``; default the latest collision.
        resolution: quarter-circle segments of the circle polygons.
        max_pairs: most (collision, neighbour) pairs the search may list, counted before any
            list is made; more raise ``GridTooLarge``. None: no limit.

    Returns:
        sites ranked by KSI sum descending, then collision count descending.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    days, was_dt = to_days(times)
    w = np.asarray(ksi_weight, dtype=np.float64).ravel()
    if not (xa.size == ya.size == days.size == w.size):
        raise ValueError("x, y, times and ksi_weight must have the same length")
    if min_collisions < 1 or radius_m <= 0 or years <= 0:
        raise ValueError("min_collisions, radius_m and years must be positive")
    if xa.size == 0:
        return []
    end_day = float(days.max()) if end is None else float(to_days(np.asarray([end]))[0][0])
    keep = np.flatnonzero((days <= end_day) & (days > end_day - years * DAYS_PER_YEAR))
    if keep.size < min_collisions:
        return []
    pts = np.column_stack([xa[keep], ya[keep]])
    tree = cKDTree(pts)
    counts = tree.query_ball_point(pts, r=radius_m, return_length=True)
    cand = np.flatnonzero(counts >= min_collisions)
    if cand.size == 0:
        return []
    if max_pairs is not None:
        # Memory goes with the neighbour lists: each candidate's collisions within r, and the
        # candidate pairs within 2r that merge sites. Both are counted without listing them.
        ctree = cKDTree(pts[cand])
        pairs = max(int(counts[cand].sum()), int(ctree.count_neighbors(ctree, 2.0 * radius_m)))
        _check_pairs(pairs, max_pairs)
    labels = _merge_labels(pts[cand], radius_m)
    sites = [
        _make_site(tree, pts, keep, cand[labels == lab], xa, ya, days, w, radius_m, resolution)
        for lab in range(int(labels.max()) + 1)
    ]
    sites.sort(key=lambda s: (-s.ksi_sum, -s.n_collisions, int(s.members[0])))
    return [
        replace(
            s,
            rank=i + 1,
            first=_from_days(float(s.first), was_dt),
            last=_from_days(float(s.last), was_dt),
        )
        for i, s in enumerate(sites)
    ]


def _check_pairs(pairs: int, max_pairs: int) -> None:
    if pairs > max_pairs:
        raise GridTooLarge(
            f"the road-site search would list {pairs:,} pairs of collisions; the limit is "
            f"{max_pairs:,} (setting CSP_MAX_GRID_CELLS): choose a smaller radius or fewer years"
        )


def _merge_labels(centres: FloatArray, radius_m: float) -> IntArray:
    """Connected-component label of each candidate centre (edges: centres within 2r)."""
    pairs = cKDTree(centres).query_pairs(2.0 * radius_m, output_type="ndarray")
    n = centres.shape[0]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _make_site(
    tree: cKDTree,
    pts: FloatArray,
    keep: IntArray,
    cand: IntArray,
    xa: FloatArray,
    ya: FloatArray,
    days: FloatArray,
    w: FloatArray,
    radius_m: float,
    resolution: int,
) -> Site:
    """Members, totals and polygon of one merged site (``cand`` index ``pts``; times in days)."""
    near = tree.query_ball_point(pts[cand], r=radius_m)
    local = np.unique(np.concatenate([np.asarray(a, dtype=np.int64) for a in near]))
    members = keep[local]
    circles = shapely.buffer(shapely.points(pts[cand]), radius_m, quad_segs=resolution)
    return Site(
        rank=0,
        members=members,
        n_collisions=int(members.size),
        ksi_sum=float(w[members].sum()),
        centroid_x=float(xa[members].mean()),
        centroid_y=float(ya[members].mean()),
        polygon=shapely.union_all(circles),
        centres=keep[cand],
        first=float(days[members].min()),
        last=float(days[members].max()),
    )


def road_sites(
    pts: Points,
    *,
    min_collisions: int = 4,
    radius_m: float = 50.0,
    years: float = 3.0,
    end: datetime | None = None,
    max_pairs: int,
) -> list[Site]:
    """Road-casualty cluster sites of collisions (KSI weights are the points' weights), ranked.

    Parameters out of range raise ``InvalidInput`` naming them; ``max_pairs`` bounds the
    neighbour lists the search makes (``GridTooLarge`` beyond it).
    """
    if min_collisions < 1:
        raise field_error("min_collisions", "must be at least 1")
    if not (math.isfinite(radius_m) and 0 < radius_m <= 5000):
        raise field_error("radius_m", "must be between 0 and 5000 m")
    if not (math.isfinite(years) and 0 < years <= 50):
        raise field_error("years", "must be between 0 and 50")
    end64 = None if end is None else np.datetime64(naive_utc(end), "s")
    return cluster_sites(
        pts.x,
        pts.y,
        pts.t,
        pts.weight,
        min_collisions=min_collisions,
        radius_m=radius_m,
        years=years,
        end=end64,
        max_pairs=max_pairs,
    )
