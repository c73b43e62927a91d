"""Boundaries for lists, without a database: read WGS84 GeoJSON, project, mask cells, name wards."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import shapely.errors
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from shared.extent import cells_for_bounds, check_cells
from shared.geometry import to_bng, to_wgs84
from shared.grid import Grid

WARD_CODE_KEYS = ("WD13CD", "WD22CD", "WD23CD", "code")
WARD_NAME_KEYS = ("WD13NM", "WD22NM", "WD23NM", "name")


@dataclass(frozen=True)
class NamedArea:
    """A named polygon in EPSG:27700 metres."""

    code: str
    name: str
    geom: BaseGeometry


def project_to_bng(geom: BaseGeometry) -> BaseGeometry:
    """A WGS84 (lon/lat) geometry projected to EPSG:27700 metres."""

    def _xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = to_bng(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _xy)


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """A Polygon or MultiPolygon as a MultiPolygon (other types are refused)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    raise ValueError(f"expected a polygon, got {geom.geom_type}")


AREA_TYPES = ("Polygon", "MultiPolygon")
# A drawn or exported agency area has hundreds of vertices; this bounds the work of checking and
# masking one (a bank of 200,000 vertices took 43 s elsewhere in the suite).
MAX_AREA_VERTICES = 50_000
_REASON = re.compile(r"^(?P<what>.*?)\[(?P<x>\S+) (?P<y>\S+)\]$")


class BadArea(ValueError):
    """An agency area that cannot be used; the message says what is wrong, for the client."""


def _explain_invalid(geom: BaseGeometry) -> str:
    """GEOS's reason a polygon is invalid, in words, with the place as lon/lat."""
    reason = str(shapely.is_valid_reason(geom))
    m = _REASON.match(reason)
    if m is None:
        return reason
    what = m["what"].strip().lower() or "invalid"
    if what in ("self-intersection", "ring self-intersection"):
        parts = getattr(geom, "geoms", [geom])
        overlap = len(parts) > 1 and all(g.is_valid for g in parts)
        what = "two of its polygons overlap" if overlap else "its outline crosses itself"
    return f"{what} at lon {float(m['x']):.6f}, lat {float(m['y']):.6f}"


def area_from_geojson(obj: Any) -> MultiPolygon:
    """A WGS84 GeoJSON Polygon or MultiPolygon as an EPSG:27700 MultiPolygon, checked.

    Refused with ``BadArea`` (saying why): another type, malformed or non-finite coordinates,
    longitudes or latitudes out of range, too many vertices, an empty area, and an invalid
    polygon (a self-intersection is explained, never silently repaired). Whether it lies inside
    the partnership's extent is the caller's check (``shared.extent``).
    """
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind not in AREA_TYPES:
        raise BadArea(f"must be a GeoJSON Polygon or MultiPolygon, got {str(kind)[:40]!r}")
    try:
        with warnings.catch_warnings():  # NaN coordinates: refused below, in words
            warnings.simplefilter("ignore", RuntimeWarning)
            geom = shape(obj)
        xy = shapely.get_coordinates(geom)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError,
            shapely.errors.ShapelyError) as exc:  # fmt: skip
        raise BadArea(f"the coordinates are not {kind} rings: {str(exc)[:200]}") from exc
    if len(xy) > MAX_AREA_VERTICES:
        raise BadArea(f"has {len(xy):,} vertices; at most {MAX_AREA_VERTICES:,} are accepted")
    if not np.isfinite(xy).all():
        raise BadArea("every coordinate must be a finite number (found NaN or infinity)")
    if len(xy) and not ((np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()):
        raise BadArea("coordinates must be WGS84 longitude (-180..180), latitude (-90..90)")
    if geom.is_empty:
        raise BadArea("the area is empty: it needs at least one ring enclosing some area")
    if not geom.is_valid:
        raise BadArea(
            f"is not a valid polygon: {_explain_invalid(geom)}; redraw it (it is not repaired "
            "automatically, which could change what it covers)"
        )
    if not geom.area > 0:
        raise BadArea("the area is empty: its rings enclose no area")
    bng = project_to_bng(geom)
    if not bng.is_valid:  # valid in degrees but not once projected (a ring touching itself)
        raise BadArea(f"is not a valid polygon once projected: {shapely.is_valid_reason(bng)}")
    return as_multipolygon(bng)


def _prop(props: dict[str, Any], keys: Sequence[str], default: str) -> str:
    for k in keys:
        if props.get(k):
            return str(props[k])
    return default


def read_areas(
    path: str | Path,
    *,
    code_keys: Sequence[str] = WARD_CODE_KEYS,
    name_keys: Sequence[str] = WARD_NAME_KEYS,
) -> list[NamedArea]:
    """Polygons of a WGS84 GeoJSON file as named EPSG:27700 areas (invalid rings repaired)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, feat in enumerate(data.get("features", [])):
        props = feat.get("properties") or {}
        geom = shapely.make_valid(project_to_bng(shape(feat["geometry"])))
        polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
        geom = shapely.union_all(polys)
        out.append(
            NamedArea(
                _prop(props, code_keys, str(i)),
                _prop(props, name_keys, str(i)),
                as_multipolygon(geom),
            )
        )
    return out


def read_outline(path: str | Path) -> MultiPolygon:
    """The union of every polygon of a WGS84 GeoJSON file in EPSG:27700 (LSOAs -> district)."""
    parts = [a.geom for a in read_areas(path)]
    # A tiny buffer closes the slivers between neighbouring LSOAs that do not quite touch.
    merged = shapely.union_all(parts).buffer(0.5).buffer(-0.5)
    return as_multipolygon(merged)


# Cells tested against the area per step: the boxes of one step cost about 100 MB, so the mask of
# the largest grid the cell limit allows is built in bounded memory (all at once, 4M boxes took
# 1.9 GB).
MASK_CHUNK_CELLS = 250_000


def _mask_key(wkb: bytes, cell_size_m: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    geom = shapely.from_wkb(wkb)
    minx, miny, maxx, maxy = geom.bounds
    grid = Grid.covering(minx, miny, maxx, maxy, cell_size_m)
    c = grid.cell_size_m
    xs = grid.x0 + np.arange(grid.nx) * c
    shapely.prepare(geom)
    mask = np.zeros(grid.shape, dtype=bool)
    rows_per_step = max(1, MASK_CHUNK_CELLS // grid.nx)
    for r0 in range(0, grid.ny, rows_per_step):
        rows = np.arange(r0, min(r0 + rows_per_step, grid.ny))
        ys = grid.y1 - (rows + 1) * c  # southern edge of each row, north to south
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + c, gy.ravel() + c)
        mask[rows] = np.asarray(shapely.intersects(geom, boxes), dtype=bool).reshape(
            rows.size, grid.nx
        )
    return grid, mask


@lru_cache(maxsize=16)
def _cached_mask(wkb: bytes, cell_size_m: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    return _mask_key(wkb, cell_size_m)


def check_area_cells(
    area: BaseGeometry, cell_size_m: float, max_cells: int, *, what: str = "area's grid"
) -> tuple[int, int]:
    """(nx, ny) of the grid over ``area``; ``GridTooLarge`` past ``max_cells`` (no allocation)."""
    if area.is_empty:
        raise ValueError("the area is empty")
    minx, miny, maxx, maxy = area.bounds
    nx, ny = cells_for_bounds(minx, miny, maxx, maxy, cell_size_m)
    check_cells(nx, ny, max_cells, what=what)
    return nx, ny


def area_grid(
    area: BaseGeometry, cell_size_m: float, *, max_cells: int, what: str = "area's grid"
) -> tuple[Grid, npt.NDArray[np.bool_]]:
    """The aligned grid over ``area`` and its (ny, nx) mask of cells that intersect the area.

    The grid's size is checked against ``max_cells`` before anything is allocated
    (``GridTooLarge``).
    """
    check_area_cells(area, cell_size_m, max_cells, what=what)
    grid, mask = _cached_mask(shapely.to_wkb(area), float(cell_size_m))
    return grid, mask.copy()


def ward_of_points(
    x: npt.ArrayLike, y: npt.ArrayLike, wards: Sequence[NamedArea]
) -> list[str | None]:
    """Name of the ward containing each EPSG:27700 point, or None when it is in none."""
    pts = shapely.points(np.asarray(x, float), np.asarray(y, float))
    out: list[str | None] = [None] * len(pts)
    if not wards:
        return out
    tree = shapely.STRtree([w.geom for w in wards])
    idx_pt, idx_ward = tree.query(pts, predicate="within")
    for p, w in zip(idx_pt.tolist(), idx_ward.tolist(), strict=True):
        if out[p] is None:
            out[p] = wards[w].name
    return out


def ward_selection_counts(
    counts: npt.ArrayLike, grid: Grid, wards: Sequence[NamedArea]
) -> dict[str, int]:
    """Sum per-cell selection counts (flat, row-major over ``grid``) by the ward of each centre."""
    c = np.asarray(counts, dtype=np.int64).reshape(grid.shape)
    rows, cols = np.nonzero(c)
    if rows.size == 0:
        return {}
    names = ward_of_points(grid.centres_x()[cols], grid.centres_y()[rows], wards)
    out: dict[str, int] = {}
    for r, col, name in zip(rows.tolist(), cols.tolist(), names, strict=True):
        key = name or "(outside the wards)"
        out[key] = out.get(key, 0) + int(c[r, col])
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def cell_polygon_lonlat(grid: Grid, row: int, col: int) -> list[list[float]]:
    """The closed ring of one cell in WGS84 [lon, lat] pairs, counter-clockwise (RFC 7946)."""
    minx, miny, maxx, maxy = grid.cell_bounds(row, col)
    xs = np.array([minx, maxx, maxx, minx, minx])
    ys = np.array([miny, miny, maxy, maxy, miny])
    lon, lat = to_wgs84(xs, ys)
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
