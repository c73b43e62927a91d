"""D1: rows are placed against the partnership's outline plus margin, not a Great Britain box.

Rows beyond the margin (Calais, Dublin, the North Sea, the Channel, Manchester) are rejected with
their line and reason; rows in the margin are kept with a warning naming their lines. The
distances are checked independently with shapely against the bundled outline.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import shapely

from shared.extent import partnership_extent
from shared.geometry import point_to_bng, to_bng
from shared.incidents.parsers import parse_file
from shared.incidents.parsers.generic import parse_generic_csv
from tests.conftest import SHARED_DATA
from tests.fixtures.make_stats19 import make_collisions_csv

PLACES = {  # lon, lat; inside the outline + 15 km?
    "Chatham": (0.5270, 51.3800, True),
    "Maidstone": (0.5220, 51.2720, True),  # outside Medway, inside the margin
    "Calais": (1.8587, 50.9513, False),
    "Dublin": (-6.2603, 53.3498, False),
    "North Sea": (2.0, 52.5, False),
    "Channel": (1.0, 50.5, False),
    "Manchester": (-2.2426, 53.4808, False),
    "Swapped Chatham": (51.3800, 0.5270, False),
}
REAL = SHARED_DATA / "real"


def _generic(rows: list[tuple[str, float, float]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "timestamp", "longitude", "latitude", "category"])
    for ident, lon, lat in rows:
        w.writerow([ident, "2023-05-01T10:00", lon, lat, "fire"])
    return buf.getvalue().encode()


def test_places_beyond_the_margin_are_rejected_and_margin_rows_warned() -> None:
    names = list(PLACES)
    data = _generic([(n, PLACES[n][0], PLACES[n][1]) for n in names])
    result = parse_generic_csv(io.BytesIO(data), source="fire")
    line = {n: i + 2 for i, n in enumerate(names)}
    assert {r.source_id for r in result.rows} == {n for n in names if PLACES[n][2]}
    assert {e.line for e in result.errors} == {line[n] for n in names if not PLACES[n][2]}
    reasons = {e.line: e.reason for e in result.errors}
    assert reasons[line["Swapped Chatham"]].startswith("longitude and latitude swapped")
    assert reasons[line["Calais"]].startswith("outside Medway and 15 km around it")
    (warning,) = [w for w in result.warnings if "within 15 km" in w]
    assert warning.startswith("1 row(s) outside Medway") and warning.endswith(
        f"lines {line['Maidstone']}"
    )


def test_the_margin_comes_from_the_caller() -> None:
    data = _generic([("m", *PLACES["Maidstone"][:2]), ("c", *PLACES["Chatham"][:2])])
    strict = parse_generic_csv(io.BytesIO(data), source="fire", extent=partnership_extent(0.0))
    assert [r.source_id for r in strict.rows] == ["c"]
    assert [(e.line, "outside Medway and 0 km" in e.reason) for e in strict.errors] == [(2, True)]


def test_stats19_eastings_in_the_sea_are_rejected(tmp_path: Path) -> None:
    sea_x, sea_y = point_to_bng(2.0, 52.5)
    planted = [
        {},
        {
            "location_easting_osgr": round(sea_x),
            "location_northing_osgr": round(sea_y),
            "longitude": "",
            "latitude": "",
        },
        {},
    ]
    path = make_collisions_csv(tmp_path / "sea.csv", planted, seed=2)
    (result,) = parse_file(path, source="stats19")
    assert [r.attributes["line"] for r in result.rows] == [2, 4]
    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [
        (3, "outside Medway and 15 km around it")
    ]


@pytest.mark.parametrize(
    "name",
    [
        "vancouver_thefts_2020_moved_to_medway.csv",
        "cincinnati_burglary_2016_2018_moved_to_medway.csv",
        "toronto_fire_incidents_2011_2022_moved_to_medway.csv",
    ],
)
def test_the_real_moved_data_sets_still_import_whole(name: str) -> None:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    with path.open(encoding="utf-8", newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    (result,) = parse_file(path, source="generic")
    assert len(result.rows) == n and result.errors == []
    # Independently: every row lies within 15 km of the outline, and the rows the warning
    # lists are exactly those outside it
    outline = partnership_extent(0.0).outline
    x, y = to_bng(np.array([r.lon for r in result.rows]), np.array([r.lat for r in result.rows]))
    dist = shapely.distance(outline, shapely.points(x, y))
    assert float(dist.max()) <= 15_000.0
    outside = int((dist > 0).sum())
    if outside:
        assert any(w.startswith(f"{outside} row(s) outside Medway") for w in result.warnings)
