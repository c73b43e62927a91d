"""Hotspot outputs for people: shapely geometries between EPSG:27700 and WGS84, and hotspot
polygons and cluster sites as RFC 7946 FeatureCollections (WGS84) carrying their parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.hotspots.compute.clusters import Site
from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import FloatArray
from services.hotspots.compute.surfaces import HotspotShape


def to_wgs84_geom(geom: Any) -> Any:
    """A shapely geometry from EPSG:27700 to WGS84 lon/lat, 7 decimals (about 1 cm)."""
    import shapely

    from shared.geometry import to_wgs84

    def tr(coords: FloatArray) -> FloatArray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1])
        out = np.asarray(np.round(np.column_stack([lon, lat]), 7), dtype=np.float64)
        return out

    return shapely.transform(geom, tr)


def to_bng_geom(geom: Any) -> Any:
    """A shapely geometry from WGS84 lon/lat to EPSG:27700 metres."""
    import shapely

    from shared.geometry import to_bng

    def tr(coords: FloatArray) -> FloatArray:
        x, y = to_bng(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, tr)


def bbox_to_bng(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """The EPSG:27700 envelope of a WGS84 (minlon, minlat, maxlon, maxlat) box."""
    from shapely.geometry import box

    minlon, minlat, maxlon, maxlat = bbox
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise field_error("bbox", "must be minlon, minlat, maxlon, maxlat with min < max")
    b = to_bng_geom(box(minlon, minlat, maxlon, maxlat).segmentize(0.01)).bounds
    if not all(math.isfinite(v) for v in b):
        raise field_error("bbox", "is outside the British National Grid")
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def feature_wgs84(geom: Any, props: dict[str, Any], *, fid: int | str) -> dict[str, Any]:
    """One GeoJSON Feature of an EPSG:27700 geometry, projected to WGS84."""
    from shapely.geometry import mapping

    return {
        "type": "Feature",
        "id": fid,
        "geometry": mapping(to_wgs84_geom(geom)),
        "properties": props,
    }


def shapes_geojson(
    shapes: Sequence[HotspotShape], params: dict[str, Any], *, run_id: int | None = None
) -> dict[str, Any]:
    """Hotspot polygons as an RFC 7946 FeatureCollection (WGS84) carrying the run's parameters."""
    feats = [
        feature_wgs84(
            s.geom,
            {
                "rank": s.rank,
                "peak": s.peak,
                "mean": s.mean,
                "area_m2": s.area_m2,
                "area_km2": round(s.area_m2 / 1e6, 6),
                "incidents": s.incidents,
                **({"run": run_id} if run_id else {}),
            },
            fid=s.rank,
        )
        for s in shapes
    ]
    return {"type": "FeatureCollection", "features": feats, "parameters": params}


def sites_geojson(sites: Sequence[Site], params: dict[str, Any]) -> dict[str, Any]:
    """Cluster sites as a WGS84 FeatureCollection: circle-union polygons with counts and KSI."""
    feats = []
    for s in sites:
        cx, cy = float(s.centroid_x), float(s.centroid_y)
        props = {
            "rank": s.rank,
            "n_collisions": int(s.n_collisions),
            "ksi_sum": round(s.ksi_sum, 4),
            "first": str(s.first),
            "last": str(s.last),
            "centroid_x_27700": round(cx, 1),
            "centroid_y_27700": round(cy, 1),
        }
        feats.append(feature_wgs84(s.polygon, props, fid=s.rank))
    return {"type": "FeatureCollection", "features": feats, "parameters": params}
