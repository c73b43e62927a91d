"""Boundaries for lists, without a database: read WGS84 GeoJSON, project, mask cells, name wards."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

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


def _mask_key(wkb: bytes, cell_size_m: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    geom = shapely.from_wkb(wkb)
    minx, miny, maxx, maxy = geom.bounds
    grid = Grid.covering(minx, miny, maxx, maxy, cell_size_m)
    c = grid.cell_size_m
    xs = grid.x0 + np.arange(grid.nx) * c
    ys = grid.y1 - (np.arange(grid.ny) + 1) * c  # southern edge of each row, north to south
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + c, gy.ravel() + c)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    return grid, np.asarray(hit, dtype=bool).reshape(grid.shape)


@lru_cache(maxsize=16)
def _cached_mask(wkb: bytes, cell_size_m: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    return _mask_key(wkb, cell_size_m)


def area_grid(area: BaseGeometry, cell_size_m: float) -> tuple[Grid, npt.NDArray[np.bool_]]:
    """The aligned grid over ``area`` and its (ny, nx) mask of cells that intersect the area."""
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
