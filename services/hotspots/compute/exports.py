"""Files people download: polygons as a GeoPackage (EPSG:27700) and tables as CSV.

The GeoPackage holds one layer whose metadata says what it is (the run's tags), written as
GeoPackage 1.2 so older desktop GIS (QGIS 3.22's GDAL) read it without a warning. CSV text
cells that a spreadsheet would run as a formula (= + - @) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from shared.textfiles import FORMULA_PREFIXES

GPKG = "application/geopackage+sqlite3"
GPKG_VERSION = "1.2"


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with a single quote; else as given."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def table_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV (CRLF) of ``rows`` under ``columns``; None is empty, text neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([neutralise("" if r.get(c) is None else r.get(c)) for c in columns])
    return buf.getvalue()


def polygons_gpkg(
    rows: Sequence[Mapping[str, Any]],
    geoms: Sequence[Any],
    *,
    layer: str,
    description: str,
    metadata: Mapping[str, str],
) -> bytes:
    """A GeoPackage of one MultiPolygon layer in EPSG:27700: ``rows`` are its attributes.

    ``metadata`` goes to the layer's metadata (GDAL's, read by ``ogrinfo`` and QGIS) and
    ``description`` to its description in ``gpkg_contents``.
    """
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import MultiPolygon

    if len(rows) != len(geoms):
        raise ValueError(f"{len(rows)} rows for {len(geoms)} geometries")
    shapes = [g if g.geom_type == "MultiPolygon" else MultiPolygon([g]) for g in geoms]
    frame = gpd.GeoDataFrame([dict(r) for r in rows], geometry=shapes, crs="EPSG:27700")
    if not rows:
        frame = gpd.GeoDataFrame({"rank": []}, geometry=[], crs="EPSG:27700")
    buf = io.BytesIO()
    pyogrio.write_dataframe(
        frame,
        buf,
        driver="GPKG",
        layer=layer,
        geometry_type="MultiPolygon",
        dataset_options={"VERSION": GPKG_VERSION},
        layer_options={"DESCRIPTION": description, "IDENTIFIER": layer},
        metadata=dict(metadata),
    )
    return buf.getvalue()
