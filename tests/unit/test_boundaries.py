"""Boundary files read without a database; GeoJSON for maps; the map's context and tile setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from shared.boundaries.geojson import Feature, feature_collection, label_point, simplify_areas
from shared.boundaries.layers import LAYER_CHECK, Layer
from shared.boundaries.reader import BoundaryFileError, guess_fields, read_boundaries
from tests.conftest import ROOT, SHARED_DATA

DATA = SHARED_DATA / "boundaries"
WARDS = DATA / "medway_wards_martinjc.geojson"
needs_data = pytest.mark.skipif(not WARDS.is_file(), reason="no ../shared/data boundaries")
_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
CONTEXT_JS = ROOT / "shared" / "static" / "csp" / "context.js"


def _features(path: Path) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return feats


def _bng(geom: dict[str, Any]) -> Any:
    return shapely.ops.transform(lambda x, y, z=None: _TO_BNG.transform(x, y), shape(geom))


def test_layer_check_is_derived_from_the_registry() -> None:
    assert LAYER_CHECK == "layer IN ('outline','ward','lsoa')"
    assert [v.value for v in Layer] == ["outline", "ward", "lsoa"]


@pytest.mark.parametrize(
    ("columns", "layer", "expected"),
    [
        (["WD13CD", "WD13CDO", "WD13NM", "WD13NMW", "geometry"], Layer.WARD, ("WD13CD", "WD13NM")),
        (["LSOA11CD", "LSOA11NM", "geometry"], Layer.LSOA, ("LSOA11CD", "LSOA11NM")),
        (["LSOA11CD", "LSOA21CD", "LSOA21NM"], Layer.LSOA, ("LSOA21CD", "LSOA21NM")),
        (["WD23CD", "WD23NM", "LAD23CD", "LAD23NM"], Layer.WARD, ("WD23CD", "WD23NM")),
        (["code", "name", "source"], Layer.OUTLINE, ("code", "name")),
        (["ref", "label"], Layer.WARD, ("", "")),
    ],
)
def test_code_and_name_columns_guessed(columns: list[str], layer: Layer, expected: Any) -> None:
    if expected == ("", ""):
        with pytest.raises(BoundaryFileError, match="--code-field"):
            guess_fields(columns, layer, code_field=None, name_field=None)
    else:
        assert guess_fields(columns, layer, code_field=None, name_field=None) == expected


def test_given_columns_win_and_must_exist() -> None:
    cols = ["ref", "label", "WD13CD"]
    assert guess_fields(cols, Layer.WARD, code_field="ref", name_field="label") == ("ref", "label")
    assert guess_fields(cols, Layer.WARD, code_field="ref", name_field=None) == ("ref", "ref")
    with pytest.raises(BoundaryFileError, match="no column 'nope'"):
        guess_fields(cols, Layer.WARD, code_field="nope", name_field=None)


@needs_data
def test_reading_the_ward_file_projects_to_bng() -> None:
    read = read_boundaries(WARDS, layer=Layer.WARD)
    source = _features(WARDS)
    assert read.features == len(source) == len(read.areas) == 22 and read.problems == []
    for area, f in zip(read.areas, source, strict=True):
        assert area.code == f["properties"]["WD13CD"] and area.name == f["properties"]["WD13NM"]
        assert area.geom.geom_type == "MultiPolygon"
        assert area.geom.area == pytest.approx(_bng(f["geometry"]).area, rel=1e-9)


def test_bad_features_are_numbered(tmp_path: Path) -> None:
    ring = [[0.5, 51.38], [0.51, 51.38], [0.51, 51.39], [0.5, 51.38]]
    bowtie = [[0.5, 51.38], [0.51, 51.39], [0.51, 51.38], [0.5, 51.39], [0.5, 51.38]]

    def feat(code: Any, geom: Any) -> dict[str, Any]:
        return {"type": "Feature", "properties": {"WD13CD": code, "WD13NM": "n"}, "geometry": geom}

    features = [
        feat("E1", {"type": "Polygon", "coordinates": [ring]}),
        feat("E2", None),
        feat("E3", {"type": "LineString", "coordinates": ring}),
        feat(None, {"type": "Polygon", "coordinates": [ring]}),
        feat("E5", {"type": "Polygon", "coordinates": [bowtie]}),
        feat("E6", {"type": "Polygon", "coordinates": "junk"}),
        feat("E1", {"type": "Polygon", "coordinates": [ring]}),
        feat("X" * 41, {"type": "Polygon", "coordinates": [ring]}),
    ]
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    read = read_boundaries(path, layer=Layer.WARD)
    assert [a.code for a in read.areas] == ["E1", "E5"]
    reasons = {p.row: p.reason for p in read.problems}
    assert sorted(reasons) == [2, 3, 4, 6, 7, 8]
    assert "LineString" in reasons[3] and "no code" in reasons[4]
    assert "repeats feature 1" in reasons[7] and "longer than 40" in reasons[8]
    assert [w.row for w in read.warnings] == [5] and "repaired" in read.warnings[0].reason
    assert read.areas[1].geom.is_valid and read.areas[1].geom.area > 0


@needs_data
def test_a_shapefile_without_prj_in_bng_is_recognised(tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.read_file(WARDS).to_crs(27700)
    frame.to_file(tmp_path / "w.shp")
    (tmp_path / "w.prj").unlink()
    read = read_boundaries(tmp_path / "w.shp", layer=Layer.WARD)
    assert read.crs == "EPSG:27700" and len(read.areas) == 22
    assert read.areas[0].geom.area == pytest.approx(frame.geometry.iloc[0].area, rel=1e-9)


def test_unreadable_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.geojson").write_text("not json at all")
    with pytest.raises(BoundaryFileError, match="cannot read x.geojson"):
        read_boundaries(tmp_path / "x.geojson", layer=Layer.WARD)
    with pytest.raises(BoundaryFileError, match="no such file"):
        read_boundaries(tmp_path / "missing.gpkg", layer=Layer.WARD)


@needs_data
def test_wards_simplify_as_one_coverage_without_gaps_or_overlaps() -> None:
    geoms = [a.geom for a in read_boundaries(WARDS, layer=Layer.WARD).areas]
    simple = simplify_areas(geoms, 50.0)  # coarse, so any drift between neighbours would show
    union_before = shapely.union_all(geoms).area
    union_after = shapely.union_all(simple).area
    assert sum(g.area for g in simple) == pytest.approx(union_after, rel=1e-6)  # no overlaps
    assert union_after == pytest.approx(union_before, rel=0.01)  # no gaps opened
    assert all(g.is_valid for g in simple)
    assert sum(shapely.get_num_coordinates(simple)) < sum(shapely.get_num_coordinates(geoms))


def test_label_point_inside_a_concave_area() -> None:
    u = shapely.Polygon(
        [(0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100), (100, 300), (0, 300)]
    )
    x, y = label_point(shapely.MultiPolygon([u, shapely.box(1000, 0, 1001, 1)]))
    assert u.contains(shapely.Point(x, y))
    assert not shapely.box(100, 100, 200, 300).contains(shapely.Point(x, y))


@needs_data
def test_feature_collection_is_wgs84_with_code_name_and_label() -> None:
    read = read_boundaries(WARDS, layer=Layer.WARD)
    doc = feature_collection([Feature(a.code, a.name, a.geom) for a in read.areas], layer="ward")
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 22
    source = {f["properties"]["WD13CD"]: f for f in _features(WARDS)}
    for f in doc["features"]:
        src = shape(source[f["properties"]["code"]]["geometry"])
        served = shape(f["geometry"])
        assert f["properties"]["name"] == source[f["properties"]["code"]]["properties"]["WD13NM"]
        assert served.is_valid and src.symmetric_difference(served).area < 0.01 * src.area
        assert src.contains(shapely.Point(f["properties"]["label"]))
    empty = feature_collection([], layer="lsoa")
    assert empty["features"] == [] and empty["type"] == "FeatureCollection"


@pytest.mark.parametrize(
    ("tile_url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
        ("http://tiles.local:8080/osm/{z}/{x}/{y}.png", "http://tiles.local:8080"),
        ("", None),
        ("/tiles/{z}/{x}/{y}.png", None),  # the suite itself: 'self'
        ("javascript:alert(1)", None),
        ("https://{s}/{z}/{x}/{y}.png", None),
        ("https://a.example.org; script-src *", None),
    ],
)
def test_csp_admits_only_the_configured_tile_host(tile_url: str, source: str | None) -> None:
    from shared.app import content_security_policy, tile_source

    assert tile_source(tile_url) == source
    img_src = content_security_policy(tile_url).split("img-src ", 1)[1].split(";", 1)[0]
    assert img_src == "'self' data: blob:" + (f" {source}" if source else "")


def test_make_map_tiles_setting() -> None:
    from shared.maps import OSM_ATTRIBUTION, OSM_TILES, make_map, render_map_html, tile_layer

    assert tile_layer(True) == (OSM_TILES, OSM_ATTRIBUTION)
    assert tile_layer(False) is None and tile_layer("") is None and tile_layer("  ") is None
    other = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert tile_layer(other, "&copy; Example") == (other, "&copy; Example")
    assert tile_layer(other) == (other, "tiles.example.org")
    with pytest.raises(ValueError, match="XYZ"):
        tile_layer("https://tiles.example.org/tile.png")
    with pytest.raises(ValueError, match="http"):
        tile_layer("javascript:{z}{x}{y}")
    assert OSM_TILES in render_map_html(make_map((0.52, 51.38), tiles=OSM_TILES))
    html = render_map_html(make_map((0.52, 51.38), tiles=other, tile_attribution="Ex"))
    assert other in html and OSM_TILES not in html and '"Ex"' in html
    off = render_map_html(make_map((0.52, 51.38), tiles=""))
    assert "L.tileLayer" not in off and "tile.openstreetmap" not in off


def test_every_map_draws_the_suite_boundaries_from_its_own_origin() -> None:
    from shared.maps import external_assets, make_map, map_parts, render_map_html

    m = make_map((0.52, 51.38), tiles=False)
    html = render_map_html(m)
    assert '<script src="/static/csp/context.js"></script>' in html
    assert f'CSP_CONTEXT.draw({m.get_name()}, {{"base": "/boundaries"' in html
    assert external_assets(html) == []
    assert CONTEXT_JS.is_file()
    parts = map_parts(make_map((0.52, 51.38)))
    assert "context.js" in parts.head and "CSP_CONTEXT.draw" in parts.script
    assert "csp-area-name" in parts.head  # the label styles travel with the map
    bare = render_map_html(make_map((0.52, 51.38), context=False))
    assert "CSP_CONTEXT" not in bare
    with pytest.raises(ValueError, match="path on this site"):
        make_map((0.52, 51.38), boundaries_url="https://elsewhere.example/b")


def test_context_script_builds_names_as_text_never_markup() -> None:
    js = CONTEXT_JS.read_text(encoding="utf-8")
    assert "textContent" in js and "innerHTML" not in js
    assert "eval(" not in js and "new Function" not in js and "interactive: false" in js
