"""Boundary areas as RFC 7946 GeoJSON for maps: simplified for display, WGS84, labelled (pure).

Areas that tile the district (wards) are simplified together as a coverage, so neighbours keep
one shared line instead of two that drift apart; a set that is not a clean coverage (the LSOA
file has hair-line gaps) is simplified area by area, keeping each one valid.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from shared.geometry import to_wgs84

# Simplification for display (metres, EPSG:27700): ~5 m is below a pixel at district zoom and
# at zoom 15 (4.8 m a pixel at 51.4 N), where LSOAs are drawn.
TOLERANCE_M: dict[str, float] = {"outline": 5.0, "ward": 5.0, "lsoa": 5.0}
DECIMALS = 6  # 0.1 m in latitude: well below the tolerance
LABEL_TOLERANCE_M = 10.0


@dataclass(frozen=True)
class Feature:
    """One area to serve: its code, name and (multi)polygon in EPSG:27700."""

    code: str
    name: str
    geom: BaseGeometry


def simplify_areas(geoms: Sequence[BaseGeometry], tolerance_m: float) -> list[BaseGeometry]:
    """Simplify ``geoms`` (EPSG:27700) for display, as one coverage when they form one."""
    if tolerance_m <= 0 or not geoms:
        return list(geoms)
    arr = np.asarray(geoms, dtype=object)
    try:
        if bool(shapely.coverage_is_valid(arr)):
            out = shapely.coverage_simplify(arr, tolerance_m)
            if all(g.is_valid and not g.is_empty for g in out):
                return list(out)
    except (shapely.errors.GEOSException, AttributeError):  # GEOS < 3.12, or a bad coverage
        pass
    simple = shapely.simplify(arr, tolerance_m, preserve_topology=True)
    return [s if s.is_valid and not s.is_empty else g for s, g in zip(simple, geoms, strict=True)]


def label_point(geom: BaseGeometry) -> tuple[float, float]:
    """Where a name goes (EPSG:27700): the pole of inaccessibility of the largest part."""
    parts = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    largest = max(parts, key=lambda p: p.area)
    if isinstance(largest, Polygon):
        p = polylabel(largest, tolerance=LABEL_TOLERANCE_M)
    else:
        p = largest.representative_point()
    return float(p.x), float(p.y)


def _to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat]).round(DECIMALS).astype(np.float64)

    return shapely.transform(geom, project)


def feature_collection(
    features: Sequence[Feature], *, layer: str, tolerance_m: float | None = None
) -> dict[str, Any]:
    """A WGS84 FeatureCollection: each feature has ``code``, ``name`` and ``label`` (lon, lat)."""
    tol = TOLERANCE_M.get(layer, 5.0) if tolerance_m is None else tolerance_m
    simple = simplify_areas([f.geom for f in features], tol)
    out = []
    for f, g in zip(features, simple, strict=True):
        lx, ly = label_point(f.geom)
        lon, lat = to_wgs84([lx], [ly])
        out.append(
            {
                "type": "Feature",
                "id": f.code,
                "properties": {
                    "code": f.code,
                    "name": f.name,
                    "label": [round(float(lon[0]), DECIMALS), round(float(lat[0]), DECIMALS)],
                },
                "geometry": mapping(_to_wgs84(g)),
            }
        )
    return {"type": "FeatureCollection", "layer": layer, "features": out}


def dumps(collection: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a FeatureCollection."""
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
