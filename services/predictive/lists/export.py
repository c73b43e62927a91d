"""A stored list as RFC 7946 GeoJSON (WGS84) or as CSV with spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
from typing import Any

from services.predictive.dates import LONDON
from shared.geometry import point_to_wgs84, to_wgs84
from shared.grid import parse_cell_id
from shared.osgrid import grid_ref

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "rank",
    "cell_id",
    "score",
    "ward",
    "centre_lon",
    "centre_lat",
    "visits",
    "minx",
    "miny",
    "maxx",
    "maxy",
    "grid_ref",  # added after the others, so readers by position keep working
)


def _ring(minx: float, miny: float, maxx: float, maxy: float) -> list[list[float]]:
    lon, lat = to_wgs84([minx, maxx, maxx, minx, minx], [miny, miny, maxy, maxy, miny])
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]


def box_rows(view: Any) -> list[dict[str, Any]]:
    """One dict per box, by rank: ids, score, ward, EPSG:27700 bounds, WGS84 centre, visits.

    ``grid_ref`` is the Ordnance Survey grid reference of the box's centre ("TQ 7581 6823").
    """
    rows = []
    for b in view.boxes:
        size, minx, miny = parse_cell_id(b.cell_id)
        cx, cy = minx + size / 2, miny + size / 2
        lon, lat = point_to_wgs84(cx, cy)
        rows.append(
            {
                "rank": b.rank,
                "cell_id": b.cell_id,
                "score": b.score,
                "ward": b.ward,
                "centre_lon": round(lon, 6),
                "centre_lat": round(lat, 6),
                "visits": view.visits.get(b.cell_id, 0),
                "minx": minx,
                "miny": miny,
                "maxx": minx + size,
                "maxy": miny + size,
                "grid_ref": grid_ref(cx, cy),
            }
        )
    return rows


def list_meta(view: Any) -> dict[str, Any]:
    """Top-level facts about a list: agency, date, method, fit parameters and warnings."""
    lst = view.target_list
    return {
        "list_id": lst.id,
        "agency": view.agency.code,
        "agency_name": view.agency.name,
        "date": lst.list_date.isoformat(),
        "method": lst.method,
        "requested_method": lst.requested_method,
        "params": lst.params,
        "warnings": lst.warnings,
        "categories": lst.categories,
        "cell_size_m": lst.cell_size_m,
        "shift_start": lst.shift_start.astimezone(LONDON).isoformat(),
        "shift_end": lst.shift_end.astimezone(LONDON).isoformat(),
        "trained_before": lst.trained_before.astimezone(LONDON).isoformat(),
        "n_events": lst.n_events,
        "n_candidate_cells": lst.n_candidate_cells,
        "generated_by": lst.generated_by,
    }


def to_geojson(view: Any) -> dict[str, Any]:
    """The list as WGS84 box polygons with rank, score, ward, centre and grid reference."""
    features = []
    for r in box_rows(view):
        features.append(
            {
                "type": "Feature",
                "id": r["cell_id"],
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [_ring(r["minx"], r["miny"], r["maxx"], r["maxy"])],
                },
                "properties": {
                    "rank": r["rank"],
                    "score": r["score"],
                    "ward": r["ward"],
                    "cell_id": r["cell_id"],
                    "centre": [r["centre_lon"], r["centre_lat"]],
                    "grid_ref": r["grid_ref"],
                    "visits": r["visits"],
                },
            }
        )
    return {"type": "FeatureCollection", **list_meta(view), "features": features}


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(view: Any) -> str:
    """The list as CSV, one row per box by rank; text cells are formula-neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; CR in a cell is quoted
    writer.writerow(CSV_COLUMNS)
    for r in box_rows(view):
        writer.writerow([neutralise("" if r[c] is None else r[c]) for c in CSV_COLUMNS])
    return buf.getvalue()
