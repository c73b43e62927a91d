"""OGC API - Tiles: Mapbox Vector Tiles cut in PostGIS, decoded with mapbox-vector-tile.

Every check is against an independent computation: which cameras, incidents and wards fall in a
tile and where, from the lon/lat the test put in, projected with mercantile and shapely (never
from the server's SQL); incident counts per cell the same way. GDAL's MVT driver reads a tile
from the live service as a real client.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import mapbox_vector_tile
import mercantile
import pytest
from shapely.geometry import box, shape

from shared.auth import create_token
from tests.factories import WARDS, incident_row, make_camera, store_incidents

EXTENT = 4096
BUFFER = 64
CHATHAM = (0.5270, 51.3810)
Z = 14
TILE = mercantile.tile(*CHATHAM, Z)
MVT_PATH = "/ogc/collections/{}/tiles/WebMercatorQuad/{}/{}/{}"
OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"


def tile_url(tileset: str, t: mercantile.Tile = TILE) -> str:
    return MVT_PATH.format(tileset, t.z, t.y, t.x)


def decode(data: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(data) if data else {}


def tile_xy(lon: float, lat: float, t: mercantile.Tile) -> tuple[float, float]:
    """Where a lon/lat point falls in tile units (y up, as the decoder gives it)."""
    b = mercantile.xy_bounds(t)
    x, y = mercantile.xy(lon, lat)
    return (
        (x - b.left) / (b.right - b.left) * EXTENT,
        (y - b.bottom) / (b.top - b.bottom) * EXTENT,
    )


def inside(lon: float, lat: float, t: mercantile.Tile, buffer: int = BUFFER) -> bool:
    px, py = tile_xy(lon, lat, t)
    return -buffer <= px <= EXTENT + buffer and -buffer <= py <= EXTENT + buffer


# Cameras in and around the Chatham tile: (name, lon, lat); one just outside its buffer.
def _ring() -> list[tuple[str, float, float]]:
    b = mercantile.bounds(TILE)
    w, e, s, n = b.west, b.east, b.south, b.north
    dx, dy = e - w, n - s
    return [
        ("Centre", w + dx * 0.5, s + dy * 0.5),
        ("North west", w + dx * 0.1, s + dy * 0.9),
        ("South east", w + dx * 0.93, s + dy * 0.07),
        ("In the buffer", e + dx * 0.005, s + dy * 0.5),
        ("Beyond the buffer", e + dx * 0.05, s + dy * 0.5),
        ("Gillingham", 0.5466, 51.3887),
        ("Strood", 0.4780, 51.3960),
    ]


@pytest.fixture()
def cameras(db_session: Any) -> dict[str, tuple[float, float]]:
    out = {}
    for name, lon, lat in _ring():
        make_camera(db_session, name=name, lon=lon, lat=lat, purpose=f"Watching {name}")
        out[name] = (lon, lat)
    make_camera(
        db_session, name="Proposed one", lon=CHATHAM[0], lat=CHATHAM[1], lifecycle="proposed"
    )
    db_session.flush()
    return out


@pytest.fixture()
def incidents(db_session: Any) -> list[tuple[float, float, str]]:
    """240 incidents on a lattice around Chatham, two categories."""
    rows, out = [], []
    for i in range(240):
        lon = CHATHAM[0] - 0.02 + (i % 20) * 0.0021 + (i % 7) * 0.00013
        lat = CHATHAM[1] - 0.012 + (i // 20) * 0.0021 + (i % 5) * 0.00011
        cat = "burglary" if i % 3 == 0 else "theft"
        when = datetime(2022, 1 + i % 6, 1 + i % 27, 12, tzinfo=UTC)
        rows.append(
            incident_row(lon=lon, lat=lat, occurred_at=when, source_id=f"t-{i}", category=cat)
        )
        out.append((lon, lat, cat))
    store_incidents(db_session, rows)
    return out


def bearer(db_session: Any, role: str) -> tuple[dict[str, str], str]:
    _, clear = create_token(db_session, name=f"tiles {role}", role=role)
    db_session.flush()
    return {"Authorization": f"Bearer {clear}"}, clear


def basic(clear: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"qgis:{clear}".encode()).decode()}


def test_camera_tile_is_the_cameras_in_the_tile(make_client: Any, cameras: Any) -> None:
    client = make_client("assets")
    r = client.get(tile_url("cameras"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["cache-control"].startswith("public")
    layer = decode(r.content)["cameras"]
    assert layer["extent"] == EXTENT
    got = {f["properties"]["name"]: f for f in layer["features"]}
    expected = {n for n, (lon, lat) in cameras.items() if inside(lon, lat, TILE)}
    assert expected == {"Centre", "North west", "South east", "In the buffer"}
    assert set(got) == expected  # not the proposed camera, not the ones outside
    for name, f in got.items():
        assert f["geometry"]["type"] == "Point"
        lon, lat = cameras[name]
        px, py = tile_xy(lon, lat, TILE)
        gx, gy = f["geometry"]["coordinates"]
        assert abs(gx - px) <= 3 and abs(gy - py) <= 3, (name, (gx, gy), (px, py))
        props = f["properties"]
        assert props["purpose"] == f"Watching {name}"
        assert props["technology"] in ("analogue", "digital")
        assert not {"health", "lifecycle", "owner", "dpia_ref", "installed_on"} & set(props)


def test_camera_etag_follows_published_fields_not_health(
    make_client: Any, cameras: Any, db_session: Any
) -> None:
    from services.assets.models import Camera

    client = make_client("assets")
    first = client.get(tile_url("cameras"))
    tag = first.headers["etag"]
    again = client.get(tile_url("cameras"), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    centre = db_session.query(Camera).filter_by(name="Centre").one()
    centre.health = "offline"
    db_session.flush()
    assert client.get(tile_url("cameras")).headers["etag"] == tag  # health is not published
    centre.name = "Centre renamed"
    db_session.flush()
    changed = client.get(tile_url("cameras"), headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert "Centre renamed" in {
        f["properties"]["name"] for f in decode(changed.content)["cameras"]["features"]
    }


def test_wards_tile_holds_the_wards_meeting_it(make_client: Any, db_session: Any) -> None:
    from shared.boundaries.service import load_layer

    load_layer(db_session, WARDS, layer="ward")
    db_session.flush()
    client = make_client("assets")
    t = mercantile.tile(*CHATHAM, 12)
    r = client.get(tile_url("wards", t))  # public: no credentials
    assert r.status_code == 200, r.text
    got = {f["properties"]["code"] for f in decode(r.content)["wards"]["features"]}
    b = mercantile.bounds(t)
    tile_box = box(b.west, b.south, b.east, b.north)
    wards = json.loads(WARDS.read_text())["features"]
    code_key = next(k for k in wards[0]["properties"] if k.lower().endswith("cd"))
    expected = {
        w["properties"][code_key] for w in wards if shape(w["geometry"]).intersects(tile_box)
    }
    assert len(expected) >= 5 and got == expected


def test_incident_cells_count_what_falls_in_them(
    make_client: Any, db_session: Any, incidents: Any
) -> None:
    headers, _ = bearer(db_session, "operator")
    client = make_client("hotspots")
    r = client.get(tile_url("incidents"), headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"].startswith("private")
    tile = decode(r.content)
    assert set(tile) == {"incident_cells"}  # operators see counts only, even at zoom 14
    cell = 2 * 20037508.342789244 / 2 ** (13 + 4)  # never finer than zoom 13's 16 per tile
    b = mercantile.xy_bounds(TILE)
    expected: Counter[tuple[int, int]] = Counter()
    for lon, lat, _ in incidents:
        x, y = mercantile.xy(lon, lat)
        if b.left <= x < b.right and b.bottom <= y < b.top:
            expected[(math.floor(x / cell), math.floor(y / cell))] += 1
    got: Counter[tuple[int, int]] = Counter()
    for f in tile["incident_cells"]["features"]:
        ring = f["geometry"]["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        cx = (min(xs) + max(xs)) / 2 / EXTENT * (b.right - b.left) + b.left
        cy = (min(ys) + max(ys)) / 2 / EXTENT * (b.top - b.bottom) + b.bottom
        got[(math.floor(cx / cell), math.floor(cy / cell))] += f["properties"]["count"]
    assert sum(expected.values()) > 50 and got == expected
    only = client.get(tile_url("incidents") + "?category=burglary", headers=headers)
    counted = sum(
        f["properties"]["count"] for f in decode(only.content)["incident_cells"]["features"]
    )
    assert counted == sum(
        1 for lon, lat, c in incidents if c == "burglary" and inside(lon, lat, TILE, 0)
    )


def test_analysts_see_incident_points_at_zoom_14(
    make_client: Any, db_session: Any, incidents: Any
) -> None:
    headers, _ = bearer(db_session, "analyst")
    client = make_client("hotspots")
    tile = decode(client.get(tile_url("incidents"), headers=headers).content)
    assert set(tile) == {"incidents"}
    feats = tile["incidents"]["features"]
    expected = [(lon, lat) for lon, lat, _ in incidents if inside(lon, lat, TILE)]
    assert len(feats) == len(expected) > 50
    got = sorted(tuple(f["geometry"]["coordinates"]) for f in feats)
    want = sorted(tile_xy(lon, lat, TILE) for lon, lat in expected)
    assert all(
        abs(g[0] - w[0]) <= 3 and abs(g[1] - w[1]) <= 3 for g, w in zip(got, want, strict=True)
    )
    assert {f["properties"]["category"] for f in feats} == {"burglary", "theft"}
    window = client.get(tile_url("incidents") + "?datetime=2022-01-01/2022-02-01", headers=headers)
    in_jan = decode(window.content)["incidents"]["features"]
    assert in_jan and all(f["properties"]["occurred_at"].startswith("2022-01") for f in in_jan)
    low = decode(
        client.get(tile_url("incidents", mercantile.parent(TILE)), headers=headers).content
    )
    assert set(low) == {"incident_cells"}  # below zoom 14 counts for everyone


def test_protected_tilesets_need_a_token_bearer_or_basic(
    make_client: Any, db_session: Any, incidents: Any
) -> None:
    headers, clear = bearer(db_session, "crew")
    client = make_client("hotspots")
    for name in ("incidents", "hotspots"):
        bare = client.get(tile_url(name))
        assert bare.status_code == 401, name
        assert bare.headers["content-type"].startswith("application/problem+json")
        assert "Basic" in bare.headers["www-authenticate"]
        assert client.get(tile_url(name), headers=headers).status_code == 200, name
        assert client.get(tile_url(name), headers=basic(clear)).status_code == 200, name
        assert client.get(tile_url(name), headers=basic("csp_wrong")).status_code == 401
        tj = client.get(f"/ogc/collections/{name}/tiles/WebMercatorQuad/tilejson.json")
        assert tj.status_code == 401
    # every OGC route of the hotspots service needs a caller, the wards too (public on assets)
    assert client.get(tile_url("wards")).status_code == 401
    assert client.get(tile_url("wards"), headers=basic(clear)).status_code == 200
    assert client.get("/ogc/tiles").status_code == 401
    items = "/ogc/collections/incidents/items"
    assert client.get(items, headers=headers).status_code == 403  # points: analysts only
    analyst, _ = bearer(db_session, "analyst")
    assert client.get(items, headers=analyst).json()["numberMatched"] == len(incidents)


def test_hotspots_tile_is_the_newest_run_or_the_one_asked(
    make_client: Any, db_session: Any
) -> None:
    from geoalchemy2.shape import from_shape
    from shapely.geometry import MultiPolygon

    from services.hotspots.models import HotspotPolygon, SurfaceRun
    from shared.geometry import point_to_bng

    b = mercantile.bounds(TILE)
    x, y = point_to_bng((b.west + b.east) / 2, (b.south + b.north) / 2)
    runs = []
    for rank_base in (10, 20):
        run = SurfaceRun(status="done", params={}, finished_at=datetime.now(UTC))
        db_session.add(run)
        db_session.flush()
        for k in range(2):
            poly = box(x - 300 + k * 400, y - 200, x - 100 + k * 400, y + 200)
            geom = from_shape(MultiPolygon([poly]), 27700)
            db_session.add(
                HotspotPolygon(
                    run_id=run.id,
                    rank=rank_base + k,
                    peak=1.0,
                    mean=0.5,
                    area_m2=poly.area,
                    geom=geom,
                )
            )
        runs.append(run.id)
    db_session.flush()
    headers, _ = bearer(db_session, "seg")
    client = make_client("hotspots")
    newest = decode(client.get(tile_url("hotspots"), headers=headers).content)["hotspots"]
    assert {f["properties"]["rank"] for f in newest["features"]} == {20, 21}
    assert {f["geometry"]["type"] for f in newest["features"]} == {"Polygon"}
    older = client.get(tile_url("hotspots") + f"?run={runs[0]}", headers=headers)
    assert {f["properties"]["rank"] for f in decode(older.content)["hotspots"]["features"]} == {
        10,
        11,
    }
    assert (
        older.headers["etag"] != client.get(tile_url("hotspots"), headers=headers).headers["etag"]
    )
    assert client.get(tile_url("hotspots") + "?run=99999", headers=headers).status_code == 404
    assert client.get(tile_url("hotspots") + "?run=abc", headers=headers).status_code == 400


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (MVT_PATH.format("cameras", 23, 0, 0), 404),
        (MVT_PATH.format("cameras", 3, 0, 8), 404),
        (MVT_PATH.format("cameras", 3, 8, 0), 404),
        (MVT_PATH.format("cameras", "x", 0, 0), 400),
        (MVT_PATH.format("cameras", 3, -1, 0), 400),
        (MVT_PATH.format("cameras", 3, 0, "9" * 40), 400),
        (MVT_PATH.format("nope", 3, 0, 0), 404),
        (MVT_PATH.format("cameras", 3, 0, 0) + "?bbox=1,2,3,4", 400),
        (MVT_PATH.format("cameras", 3, 0, 0) + "?f=png", 400),
    ],
)
def test_tiles_outside_the_matrix_are_refused(make_client: Any, path: str, status: int) -> None:
    r = make_client("assets").get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status and r.json()["detail"]


def test_tilejson_and_ogc_metadata_lead_to_the_tiles(make_client: Any, cameras: Any) -> None:
    client = make_client("assets", public_url="http://tiles.example")
    tj = client.get("/ogc/collections/cameras/tiles/WebMercatorQuad/tilejson.json")
    assert tj.status_code == 200
    doc = tj.json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    assert 0 <= doc["minzoom"] <= doc["maxzoom"] <= 22
    w, s, e, n = doc["bounds"]
    assert w < CHATHAM[0] < e and s < CHATHAM[1] < n
    assert [v["id"] for v in doc["vector_layers"]] == ["cameras"]
    assert "health" not in doc["vector_layers"][0]["fields"]
    (template,) = doc["tiles"]
    assert template.startswith("http://tiles.example/ogc/") and "{z}" in template
    path = template.removeprefix("http://tiles.example").format(z=TILE.z, x=TILE.x, y=TILE.y)
    assert "Centre" in {
        f["properties"]["name"] for f in decode(client.get(path).content)["cameras"]["features"]
    }
    assert client.get("/ogc/collections/cameras/tiles/WebMercatorQuad?f=tilejson").json() == doc
    meta = client.get("/ogc/collections/cameras/tiles/WebMercatorQuad").json()
    rels = {link["rel"]: link for link in meta["links"]}
    assert rels["item"]["href"] == template.replace("{z}/{y}/{x}", "{z}/{y}/{x}")
    assert meta["dataType"] == "vector"
    landing = client.get("/ogc/tiles").json()
    assert {t["id"] for t in landing["tilesets"]} == {"cameras", "wards"}
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert len(tms["tileMatrices"]) == 23
    assert tms["tileMatrices"][14]["matrixWidth"] == 2**14


@pytest.mark.skipif(not os.path.exists(OGRINFO), reason="gdal-bin is not installed")
def test_gdal_reads_a_camera_tile(live: Any, cameras: Any) -> None:
    url, _ = live("assets")
    src = f"MVT:{url}{tile_url('cameras')}.pbf"  # GDAL goes by the extension
    out = subprocess.run(
        [OGRINFO, "-ro", "-al", "-oo", f"X={TILE.x}", "-oo", f"Y={TILE.y}", "-oo", f"Z={TILE.z}"]
        + [src],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "20"},
    )
    assert out.returncode == 0, out.stderr + out.stdout[:3000]
    names = {
        line.split("=", 1)[1].strip()
        for line in out.stdout.splitlines()
        if "name (String) =" in line
    }
    assert names == {"Centre", "North west", "South east"}  # GDAL clips off the buffer
    # GDAL georeferences the tile itself (EPSG:3857): the centre camera comes back where it is
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "name (String) = Centre")
    point = next(line for line in lines[at:] if line.strip().startswith("POINT"))
    gx, gy = (float(v) for v in point.strip()[len("POINT (") : -1].split())
    ex, ey = mercantile.xy(*cameras["Centre"])
    assert abs(gx - ex) < 3 and abs(gy - ey) < 3, (gx, gy, ex, ey)
