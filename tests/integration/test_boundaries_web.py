"""``GET /boundaries/{layer}.geojson`` on every service, and ``csp boundaries`` on the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text
from typer.testing import CliRunner

from shared.boundaries.demo import LSOA_FILE, WARDS_FILE
from shared.boundaries.service import load_layer
from shared.extent import OUTLINE_PATH
from tests.conftest import SHARED_DATA, TEST_DB

WARDS = SHARED_DATA / WARDS_FILE
LSOAS = SHARED_DATA / LSOA_FILE
pytestmark = pytest.mark.skipif(not WARDS.is_file(), reason="no ../shared/data boundaries")
_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


def _source(path: Path) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return feats


def _bng(geom: dict[str, Any]) -> Any:
    return shapely.ops.transform(lambda x, y, z=None: _TO_BNG.transform(x, y), shape(geom))


@pytest.mark.parametrize("service", ["assets", "hotspots", "predictive"])
def test_wards_as_wgs84_geojson_with_names(make_client: Any, db_session: Any, service: str) -> None:
    load_layer(db_session, WARDS, layer="ward")
    r = make_client(service).get("/boundaries/ward.geojson")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    source = {f["properties"]["WD13CD"]: f for f in _source(WARDS)}
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(source) == 22
    for f in doc["features"]:
        src = source[f["properties"]["code"]]
        assert f["properties"]["name"] == src["properties"]["WD13NM"]
        served = shape(f["geometry"])
        assert served.is_valid and served.geom_type in ("Polygon", "MultiPolygon")
        lon0, lat0, lon1, lat1 = served.bounds
        assert 0.3 < lon0 < lon1 < 0.8 and 51.25 < lat0 < lat1 < 51.52  # lon/lat, not metres
        # Simplified for display, but still the same area: within a few metres all round.
        here, there = _bng(f["geometry"]), _bng(src["geometry"])
        assert here.symmetric_difference(there).area < 0.01 * there.area
        label = shapely.Point(f["properties"]["label"])
        assert shape(src["geometry"]).contains(label)


def test_etag_and_cache_control_make_a_reload_cheap(
    make_client: Any, db_session: Any, tmp_path: Path
) -> None:
    load_layer(db_session, WARDS, layer="ward")
    client = make_client("assets")
    first = client.get("/boundaries/ward.geojson")
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = client.get("/boundaries/ward.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    load_layer(db_session, WARDS, layer="ward")  # the same file again: same content, same tag
    same = client.get("/boundaries/ward.geojson", headers={"If-None-Match": etag})
    assert same.status_code == 304
    few = tmp_path / "few.geojson"
    few.write_text(json.dumps({"type": "FeatureCollection", "features": _source(WARDS)[:2]}))
    load_layer(db_session, few, layer="ward")
    changed = client.get("/boundaries/ward.geojson", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert len(changed.json()["features"]) == 2


def test_gzip_when_asked(make_client: Any, db_session: Any) -> None:
    load_layer(db_session, LSOAS, layer="lsoa")
    client = make_client("hotspots")
    plain = client.get("/boundaries/lsoa.geojson", headers={"Accept-Encoding": "identity"})
    zipped = client.get(
        "/boundaries/lsoa.geojson", headers={"Accept-Encoding": "gzip"}, follow_redirects=False
    )
    assert zipped.headers.get("content-encoding") == "gzip"
    assert len(plain.json()["features"]) == 163
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content  # httpx decoded the gzip body


def test_unknown_layer_is_a_404_problem(make_client: Any) -> None:
    r = make_client("predictive").get("/boundaries/counties.geojson")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "ward" in r.json()["detail"]


def test_a_layer_not_loaded_is_an_empty_collection(make_client: Any, db_session: Any) -> None:
    db_session.execute(text("DELETE FROM core.boundary_areas WHERE layer = 'lsoa'"))
    r = make_client("assets").get("/boundaries/lsoa.geojson")
    assert r.status_code == 200
    assert r.json()["features"] == [] and r.json()["type"] == "FeatureCollection"


def test_outline_falls_back_to_the_bundled_file(make_client: Any, db_session: Any) -> None:
    db_session.execute(text("DELETE FROM core.boundary_areas WHERE layer = 'outline'"))
    r = make_client("assets").get("/boundaries/outline.geojson")
    assert r.status_code == 200
    [feature] = r.json()["features"]
    bundled = json.loads(OUTLINE_PATH.read_text(encoding="utf-8"))["features"][0]
    assert feature["properties"]["name"] == bundled["properties"]["name"] == "Medway"
    served, src = shape(feature["geometry"]), shape(bundled["geometry"])
    assert served.symmetric_difference(src).area < 0.01 * src.area


def test_pages_admit_only_the_configured_tile_host(make_client: Any) -> None:
    osm = make_client("assets").get("/sign-in").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tile.openstreetmap.org;" in osm
    off = make_client("assets", tile_url="").get("/sign-in").headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in off and "openstreetmap" not in off
    other = make_client("hotspots", tile_url="https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png")
    policy = other.get("/sign-in").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.org:8443;" in policy


runner = CliRunner()


def test_cli_load_and_list(engine: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from csp.cli import app

    monkeypatch.setenv("DATABASE_URL", TEST_DB)
    bad = _source(WARDS)[:2] + [
        {"type": "Feature", "properties": {"WD13CD": "E0", "WD13NM": "Dot"}, "geometry": None}
    ]
    (tmp_path / "w.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": bad}))
    try:
        out = runner.invoke(
            app, ["boundaries", "load", str(tmp_path / "w.geojson"), "--layer", "ward"]
        )
        assert out.exit_code == 0, out.output
        assert "feature 3: refused, no geometry" in out.output and "2 areas" in out.output
        listing = runner.invoke(app, ["boundaries", "list"])
        assert listing.exit_code == 0 and "w.geojson" in listing.stdout
        wrong = runner.invoke(app, ["boundaries", "load", str(WARDS), "--layer", "county"])
        assert wrong.exit_code == 1 and "unknown layer" in wrong.output
        missing = runner.invoke(app, ["boundaries", "load", "/nope.geojson", "--layer", "ward"])
        assert missing.exit_code == 1 and "no such file" in missing.output
        assert "Traceback" not in missing.output
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM core.boundary_areas WHERE source = 'w.geojson'"))
