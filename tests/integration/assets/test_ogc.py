"""OGC API - Features at /ogc: landing, conformance, collections, items, paging, filters, errors."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from geoalchemy2.elements import WKTElement
from pyproj import Transformer

from services.assets.models import Camera

BNG_TO_WGS = Transformer.from_crs(27700, 4326, always_xy=True)
WGS_TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)

# (tag, easting, northing, lifecycle, technology, deployment, bearing, fov, range)
SEED = [
    ("OGC-1", 575800.0, 168000.0, "active", "digital", "fixed", 90.0, 60.0, 80.0),
    ("OGC-2", 576100.0, 168250.0, "active", "analogue", "fixed", 180.0, 90.0, 60.0),
    ("OGC-3", 577000.0, 169000.0, "active", "digital", "rapid", None, None, None),
    ("OGC-4", 574500.0, 167500.0, "under_review", "digital", "fixed", 0.0, 360.0, 40.0),
    ("OGC-5", 575000.0, 168500.0, "proposed", "digital", "fixed", 45.0, 60.0, 50.0),
    ("OGC-6", 575200.0, 168600.0, "decommissioned", "analogue", "fixed", 45.0, 60.0, 50.0),
]
PUBLIC = [s for s in SEED if s[3] in ("active", "under_review", "decommissioning")]


def _cone_wkt(
    x: float, y: float, bearing: float | None, fov: float | None, rng: float | None
) -> str | None:
    """A sector drawn here independently of the service's own view-cone code."""
    if rng is None or fov is None:
        return None
    if fov >= 360:
        pts = [
            (x + rng * math.sin(2 * math.pi * i / 32), y + rng * math.cos(2 * math.pi * i / 32))
            for i in range(33)
        ]
    else:
        assert bearing is not None
        pts = [(x, y)]
        for i in range(9):
            a = math.radians(bearing - fov / 2 + fov * i / 8)
            pts.append((x + rng * math.sin(a), y + rng * math.cos(a)))
        pts.append((x, y))
    return "POLYGON((" + ", ".join(f"{px} {py}" for px, py in pts) + "))"


def seed_cameras(session: Any, prefix: str = "") -> dict[str, Camera]:
    """Insert the SEED cameras through the ORM; returns them by asset tag."""
    out = {}
    for tag, x, y, life, tech, dep, bearing, fov, rng in SEED:
        cone = _cone_wkt(x, y, bearing, fov, rng)
        cam = Camera(
            asset_tag=prefix + tag,
            name=f"Camera {tag}",
            ward="Chatham Central",
            ward_code="E05002000",
            purpose="Town centre",
            technology=tech,
            deployment=dep,
            bearing_deg=bearing,
            fov_deg=fov,
            range_m=rng,
            geom=WKTElement(f"POINT({x} {y})", srid=27700),
            view_geom=WKTElement(cone, srid=27700) if cone else None,
            owner="Medway Council (private contact)",
            dpia_ref="DPIA-SECRET-1",
            retention_days=31,
            lifecycle=life,
            health="online",
        )
        session.add(cam)
        out[tag] = cam
    session.flush()
    return out


@pytest.fixture()
def cams(db_session: Any) -> dict[str, Camera]:
    return seed_cameras(db_session)


def _hrefs(doc: dict[str, Any]) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in doc["links"]}


def test_landing_and_conformance(client: Any) -> None:
    r = client.get("/ogc")
    assert r.status_code == 200
    links = _hrefs(r.json())
    assert {"self", "service-desc", "conformance", "data"} <= set(links)
    assert links["data"].endswith("/ogc/collections")
    assert client.get(urlsplit(links["service-desc"]).path).json()["openapi"].startswith("3.")
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    for cls in ("core", "geojson", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{cls}" in conf


def test_collections_describe_extent_and_items(client: Any, cams: dict[str, Camera]) -> None:
    doc = client.get("/ogc/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert ids == ["cameras", "camera-views"]
    cam = doc["collections"][0]
    assert _hrefs(cam)["items"].endswith("/ogc/collections/cameras/items")
    minx, miny, maxx, maxy = cam["extent"]["spatial"]["bbox"][0]
    for _, x, y, *_ in PUBLIC:
        lon, lat = BNG_TO_WGS.transform(x, y)
        assert minx - 1e-9 <= lon <= maxx + 1e-9 and miny - 1e-9 <= lat <= maxy + 1e-9
    assert client.get("/ogc/collections/cameras").json()["id"] == "cameras"
    r = client.get("/ogc/collections/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_items_are_public_geojson_in_crs84(client: Any, cams: dict[str, Camera]) -> None:
    r = client.get("/ogc/collections/cameras/items")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == fc["numberReturned"] == len(PUBLIC)
    assert fc["timeStamp"].endswith("Z")
    by_tag = {f["properties"]["asset_tag"]: f for f in fc["features"]}
    assert set(by_tag) == {s[0] for s in PUBLIC}
    for tag, x, y, life, tech, dep, bearing, *_ in PUBLIC:
        f = by_tag[tag]
        lon, lat = f["geometry"]["coordinates"]
        # Back to BNG with pyproj: within a centimetre of where it was stored.
        bx, by = WGS_TO_BNG.transform(lon, lat)
        assert abs(bx - x) < 0.02 and abs(by - y) < 0.02
        p = f["properties"]
        assert (p["lifecycle"], p["technology"], p["deployment"]) == (life, tech, dep)
        assert p["bearing_deg"] == bearing
        assert f["id"] == cams[tag].id
        for secret in ("owner", "dpia_ref", "retention_days"):
            assert secret not in p
    assert "DPIA-SECRET" not in r.text and "private contact" not in r.text


def test_json_media_type_and_f_param(client: Any, cams: dict[str, Camera]) -> None:
    r = client.get("/ogc/collections/cameras/items?f=json", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["numberReturned"] == len(PUBLIC)
    assert client.get("/ogc/collections/cameras/items?f=xml").status_code == 400


def test_paging_links_walk_all_features(client: Any, cams: dict[str, Camera]) -> None:
    seen: list[int] = []
    url = "/ogc/collections/cameras/items?limit=3&technology=digital,analogue"
    pages = 0
    prev_seen = False
    while url:
        fc = client.get(url).json()
        pages += 1
        assert fc["numberMatched"] == len(PUBLIC)
        seen += [f["id"] for f in fc["features"]]
        links = _hrefs(fc)
        prev_seen = prev_seen or "prev" in links
        assert parse_qs(urlsplit(links["self"]).query)["technology"] == ["digital,analogue"]
        url = links.get("next", "")
        url = urlsplit(url).path + "?" + urlsplit(url).query if url else ""
    assert pages == 2 and prev_seen
    assert sorted(seen) == sorted(cams[s[0]].id for s in PUBLIC)
    assert len(set(seen)) == len(seen)


def test_limit_bounds(client: Any, cams: dict[str, Camera]) -> None:
    fc = client.get("/ogc/collections/cameras/items?limit=5000").json()
    assert fc["numberReturned"] == len(PUBLIC)
    assert "limit=1000" in _hrefs(fc)["self"]
    for bad in ("limit=0", "limit=x", "offset=-1"):
        r = client.get(f"/ogc/collections/cameras/items?{bad}")
        assert r.status_code == 400, bad
        assert r.headers["content-type"].startswith("application/problem+json")


def test_filters_match_an_independent_selection(client: Any, cams: dict[str, Camera]) -> None:
    cases = {
        "status=under_review": [s for s in PUBLIC if s[3] == "under_review"],
        "technology=analogue": [s for s in PUBLIC if s[4] == "analogue"],
        "deployment=rapid": [s for s in PUBLIC if s[5] == "rapid"],
        "status=active&technology=digital": [s for s in PUBLIC if s[3:5] == ("active", "digital")],
    }
    for query, expected in cases.items():
        fc = client.get(f"/ogc/collections/cameras/items?{query}").json()
        got = sorted(f["properties"]["asset_tag"] for f in fc["features"])
        assert got == sorted(s[0] for s in expected), query
        assert fc["numberMatched"] == len(expected)


def test_bbox_selects_points_inside(client: Any, cams: dict[str, Camera]) -> None:
    # A box around OGC-1 and OGC-2 only, made from their lon/lat with a small margin.
    pts = [BNG_TO_WGS.transform(x, y) for tag, x, y, *_ in SEED if tag in ("OGC-1", "OGC-2")]
    minx = min(p[0] for p in pts) - 0.0005
    maxx = max(p[0] for p in pts) + 0.0005
    miny = min(p[1] for p in pts) - 0.0005
    maxy = max(p[1] for p in pts) + 0.0005
    fc = client.get(f"/ogc/collections/cameras/items?bbox={minx},{miny},{maxx},{maxy}").json()
    assert sorted(f["properties"]["asset_tag"] for f in fc["features"]) == ["OGC-1", "OGC-2"]
    for bad in ("1,2,3", "a,b,c,d", "0.6,51.4,0.5,51.3", "0,95,1,96"):
        r = client.get(f"/ogc/collections/cameras/items?bbox={bad}")
        assert r.status_code == 400, bad


def test_unknown_and_bad_filter_values_are_400(client: Any, cams: dict[str, Camera]) -> None:
    r = client.get("/ogc/collections/cameras/items?owner=x")
    assert r.status_code == 400
    assert "owner" in r.json()["detail"]
    r = client.get("/ogc/collections/cameras/items?status=proposed")
    assert r.status_code == 400  # proposed cameras are not public
    assert r.json()["status"] == 400


def test_single_feature_and_hidden_ones(client: Any, cams: dict[str, Camera]) -> None:
    cid = cams["OGC-1"].id
    r = client.get(f"/ogc/collections/cameras/items/{cid}")
    assert r.status_code == 200
    f = r.json()
    assert f["type"] == "Feature" and f["properties"]["asset_tag"] == "OGC-1"
    assert {"self", "collection"} <= set(_hrefs(f))
    for hidden in (cams["OGC-5"].id, cams["OGC-6"].id, 99999999, "abc"):
        r = client.get(f"/ogc/collections/cameras/items/{hidden}")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")


def test_view_cones_collection(client: Any, cams: dict[str, Camera]) -> None:
    fc = client.get("/ogc/collections/camera-views/items").json()
    with_cone = [s for s in PUBLIC if s[8] is not None]
    assert fc["numberMatched"] == len(with_cone)
    for f in fc["features"]:
        assert f["geometry"]["type"] == "Polygon"
        spec = next(s for s in SEED if s[0] == f["properties"]["asset_tag"])
        for lon, lat in f["geometry"]["coordinates"][0]:
            x, y = WGS_TO_BNG.transform(lon, lat)
            assert math.hypot(x - spec[1], y - spec[2]) <= spec[8] + 0.05


def test_openapi_declares_item_filters(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    params = doc["paths"]["/ogc/collections/cameras/items"]["get"]["parameters"]
    names = {p["name"] for p in params}
    assert {"bbox", "limit", "offset", "status", "technology", "deployment"} <= names


@pytest.fixture()
def live_url(client: Any) -> Any:
    """Serve the test app (same rolled-back session) over real HTTP for GDAL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Links are built on the configured public URL (never the Host header): point it here.
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(
        update={"public_url": f"http://127.0.0.1:{port}"}
    )
    server = uvicorn.Server(
        uvicorn.Config(
            client.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            log_config=None,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def test_gdal_ogrinfo_reads_the_cameras(live_url: str, cams: dict[str, Camera]) -> None:
    import shutil
    import subprocess

    ogrinfo = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"
    out = subprocess.run(
        [ogrinfo, "-ro", "-al", "-so", f"OAPIF:{live_url}/ogc", "cameras"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CPL_DEBUG": "OFF", "GDAL_HTTP_TIMEOUT": "20", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr + out.stdout
    text = out.stdout
    assert "Layer name: cameras" in text
    assert f"Feature Count: {len(PUBLIC)}" in text
    for field in (
        "asset_tag",
        "name",
        "ward",
        "lifecycle",
        "technology",
        "deployment",
        "bearing_deg",
        "fov_deg",
        "range_m",
    ):
        assert f"{field}:" in text, field
    # Public views publish location, type and purpose, never live health (#14).
    assert "health:" not in text
    assert "dpia_ref" not in text and "owner" not in text
    assert "Geometry: Point" in text
    views = subprocess.run(
        [ogrinfo, "-ro", "-al", "-so", f"OAPIF:{live_url}/ogc", "camera-views"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GDAL_HTTP_TIMEOUT": "20", "PATH": "/usr/bin:/bin"},
    )
    assert views.returncode == 0, views.stderr
    assert "Geometry: Polygon" in views.stdout
    assert f"Feature Count: {sum(1 for s in PUBLIC if s[8] is not None)}" in views.stdout
