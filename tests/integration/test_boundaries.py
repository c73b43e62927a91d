"""Boundary areas on the real PostGIS: the Medway files load whole, reloads replace, bad features
are reported, the ward of points agrees with shapely on the source file, and every service serves
the layers as WGS84 GeoJSON with names."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, shape
from sqlalchemy import text

from shared.boundaries.demo import LSOA_FILE, WARDS_FILE, load_demo
from shared.boundaries.reader import BoundaryFileError
from shared.boundaries.service import (
    areas_for_points,
    list_layers,
    load_layer,
    ward_at,
    ward_for_points,
)
from tests.conftest import SHARED_DATA

WARDS = SHARED_DATA / WARDS_FILE
LSOAS = SHARED_DATA / LSOA_FILE
pytestmark = pytest.mark.skipif(not WARDS.is_file(), reason="no ../shared/data boundaries")
_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


def _features(path: Path) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return feats


def _bng(geom: dict[str, Any]) -> Any:
    """A GeoJSON (WGS84) geometry in EPSG:27700, projected here with pyproj directly."""
    return shapely.ops.transform(lambda x, y, z=None: _TO_BNG.transform(x, y), shape(geom))


def _stored(session: Any, layer: str) -> dict[str, str]:
    rows = session.execute(
        text("SELECT code, name FROM core.boundary_areas WHERE layer = :l"), {"l": layer}
    ).all()
    return {r.code: r.name for r in rows}


def _write(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_demo_loads_every_ward_and_lsoa_of_the_files(db_session: Any) -> None:
    msg = load_demo(db_session, shared_data=SHARED_DATA)
    wards, lsoas = _features(WARDS), _features(LSOAS)
    counts = {s.layer: s.areas for s in list_layers(db_session)}
    assert counts == {"outline": 1, "ward": len(wards), "lsoa": len(lsoas)}, msg
    assert (len(wards), len(lsoas)) == (22, 163)
    assert _stored(db_session, "ward") == {
        f["properties"]["WD13CD"]: f["properties"]["WD13NM"] for f in wards
    }
    assert set(_stored(db_session, "lsoa")) == {f["properties"]["LSOA11CD"] for f in lsoas}
    srid, kinds = db_session.execute(
        text(
            "SELECT min(ST_SRID(geom)), array_agg(DISTINCT GeometryType(geom)) "
            "FROM core.boundary_areas"
        )
    ).one()
    assert srid == 27700 and kinds == ["MULTIPOLYGON"]


def test_stored_wards_are_the_source_polygons_in_bng(db_session: Any) -> None:
    load_layer(db_session, WARDS, layer="ward")
    for f in _features(WARDS)[:5]:
        expected = _bng(f["geometry"])
        area = db_session.execute(
            text("SELECT ST_Area(geom) FROM core.boundary_areas WHERE layer='ward' AND code=:c"),
            {"c": f["properties"]["WD13CD"]},
        ).scalar_one()
        assert area == pytest.approx(expected.area, rel=1e-6)


def test_demo_load_twice_replaces_not_duplicates(db_session: Any) -> None:
    load_demo(db_session, shared_data=SHARED_DATA)
    load_demo(db_session, shared_data=SHARED_DATA)
    assert {s.layer: s.areas for s in list_layers(db_session)} == {
        "outline": 1,
        "ward": 22,
        "lsoa": 163,
    }


def test_reload_replaces_the_layer(db_session: Any, tmp_path: Path) -> None:
    load_layer(db_session, WARDS, layer="ward")
    few = _features(WARDS)[:3]
    report = load_layer(db_session, _write(tmp_path / "three.geojson", few), layer="ward")
    assert (report.loaded, report.replaced) == (3, 22)
    assert set(_stored(db_session, "ward")) == {f["properties"]["WD13CD"] for f in few}


def test_a_file_with_nothing_usable_leaves_the_layer_as_it_was(
    db_session: Any, tmp_path: Path
) -> None:
    load_layer(db_session, WARDS, layer="ward")
    junk = [{"type": "Feature", "properties": {"WD13CD": "E1", "WD13NM": "x"}, "geometry": None}]
    with pytest.raises(BoundaryFileError, match="no usable area"):
        load_layer(db_session, _write(tmp_path / "junk.geojson", junk), layer="ward")
    assert len(_stored(db_session, "ward")) == 22


def test_bad_features_are_reported_and_good_ones_kept(db_session: Any, tmp_path: Path) -> None:
    good = _features(WARDS)[:4]
    dup = json.loads(json.dumps(good[0]))
    nameless = json.loads(json.dumps(good[3]))
    nameless["properties"]["WD13NM"] = None
    features = [
        good[0],
        {"type": "Feature", "properties": {"WD13CD": "E9", "WD13NM": "Nowhere"}, "geometry": None},
        good[1],
        {
            "type": "Feature",
            "properties": {"WD13CD": "E8", "WD13NM": "Dot"},
            "geometry": {"type": "Point", "coordinates": [0.5, 51.38]},
        },
        {**good[2], "properties": {"WD13CD": None, "WD13NM": "No code"}},
        dup,
        {
            "type": "Feature",
            "properties": {"WD13CD": "E7", "WD13NM": "Broken"},
            "geometry": {"type": "Polygon", "coordinates": [[[0.5, 51.38]]]},
        },
        nameless,
    ]
    report = load_layer(db_session, _write(tmp_path / "mixed.geojson", features), layer="ward")
    reasons = {p.row: p.reason for p in report.problems}
    assert set(reasons) == {2, 4, 5, 6, 7}
    assert "no geometry" in reasons[2] and "Point" in reasons[4] and "no code" in reasons[5]
    assert "repeats feature 1" in reasons[6] and "no geometry" in reasons[7]
    stored = _stored(db_session, "ward")
    codes = [f["properties"]["WD13CD"] for f in good]
    assert set(stored) == set(codes[:2] + codes[3:])
    assert stored[codes[3]] == codes[3]  # no name: the code is shown, and it says so
    assert [w.row for w in report.warnings] == [8]


def test_bng_geopackage_and_named_fields(db_session: Any, tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.read_file(WARDS).to_crs(27700).rename(columns={"WD13CD": "ref", "WD13NM": "label"})
    frame[["ref", "label", "geometry"]].to_file(tmp_path / "w.gpkg", driver="GPKG")
    report = load_layer(
        db_session, tmp_path / "w.gpkg", layer="ward", code_field="ref", name_field="label"
    )
    assert report.loaded == 22 and (report.code_field, report.name_field) == ("ref", "label")
    assert "Chatham Central" in _stored(db_session, "ward").values()
    with pytest.raises(BoundaryFileError, match="no column 'nope'"):
        load_layer(db_session, tmp_path / "w.gpkg", layer="ward", code_field="nope")


def test_ward_for_points_agrees_with_shapely_on_the_source_file(db_session: Any) -> None:
    load_layer(db_session, WARDS, layer="ward")
    wards = [(f["properties"]["WD13NM"], _bng(f["geometry"])) for f in _features(WARDS)]
    rng = random.Random(13)
    points = []  # 30 in each ward's bounding box (so inside it, its neighbours, or none), and
    for _, g in wards:  # 100 across the district's box and 2 km around it
        minx, miny, maxx, maxy = g.bounds
        points += [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(30)]
    minx, miny, maxx, maxy = shapely.union_all([g for _, g in wards]).bounds
    points += [
        (rng.uniform(minx - 2000, maxx + 2000), rng.uniform(miny - 2000, maxy + 2000))
        for _ in range(100)
    ]
    expected = [next((n for n, g in wards if g.covers(Point(p))), None) for p in points]
    got = ward_for_points(db_session, points)
    assert got == expected
    assert sum(e is None for e in expected) > 20 and len(set(expected)) == 23  # all + outside
    x, y = points[expected.index("Chatham Central")]
    assert ward_at(db_session, x, y) == "Chatham Central"
    assert ward_for_points(db_session, []) == []
    assert ward_for_points(db_session, [(float("nan"), 170_000.0), (0.0, 0.0)]) == [None, None]


def test_areas_for_points_gives_codes_of_any_layer(db_session: Any) -> None:
    load_layer(db_session, LSOAS, layer="lsoa")
    f = _features(LSOAS)[7]
    inside = _bng(f["geometry"]).representative_point()
    got = areas_for_points(db_session, [(inside.x, inside.y)], layer="lsoa")
    assert got == [(f["properties"]["LSOA11CD"], f["properties"]["LSOA11NM"])]
