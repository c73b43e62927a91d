"""CRS helpers: WGS84 (EPSG:4326, lon/lat) <-> British National Grid (EPSG:27700, metres)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

WGS84 = 4326
BNG = 27700

# Rough bounds of Great Britain in EPSG:27700, used to reject swapped or foreign coordinates.
GB_BOUNDS_M = (-10_000.0, -10_000.0, 700_000.0, 1_250_000.0)
# And in WGS84 (lon/lat).
GB_BOUNDS_LONLAT = (-9.0, 49.0, 2.5, 61.5)


@lru_cache(maxsize=4)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_bng(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Project WGS84 lon/lat (degrees) to EPSG:27700 easting/northing (metres)."""
    x, y = _transformer(WGS84, BNG).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def to_wgs84(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Project EPSG:27700 easting/northing (metres) to WGS84 lon/lat (degrees)."""
    lon, lat = _transformer(BNG, WGS84).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def point_to_bng(lon: float, lat: float) -> tuple[float, float]:
    """Project one WGS84 point to EPSG:27700 metres."""
    x, y = _transformer(WGS84, BNG).transform(float(lon), float(lat))
    return float(x), float(y)


def point_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """Project one EPSG:27700 point to WGS84 (lon, lat)."""
    lon, lat = _transformer(BNG, WGS84).transform(float(x), float(y))
    return float(lon), float(lat)


def lonlat_in_gb(lon: float, lat: float) -> bool:
    """True when (lon, lat) falls in the rough WGS84 box around Great Britain."""
    x0, y0, x1, y1 = GB_BOUNDS_LONLAT
    return x0 <= lon <= x1 and y0 <= lat <= y1
