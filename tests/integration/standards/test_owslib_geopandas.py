"""OWSLib (queryables, CQL2 filter, sortby, datetime) and geopandas (a protected collection
through HTTP Basic with a token as password) against the live services."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
from pyproj import Transformer

from shared.auth import create_token
from tests.factories import make_camera

CAMS = (
    ("Gillingham High St", 0.5466, 51.3887, "digital", date(2019, 5, 1), 80.0),
    ("Chatham Waterfront", 0.5230, 51.3830, "analogue", date(2012, 3, 1), 40.0),
    ("Rochester Bridge", 0.5010, 51.3905, "digital", date(2021, 8, 9), 120.0),
)


@pytest.fixture()
def cameras(db_session: Any) -> None:
    for name, lon, lat, tech, installed, range_m in CAMS:
        make_camera(
            db_session,
            name=name,
            lon=lon,
            lat=lat,
            technology=tech,
            installed_on=installed,
            bearing_deg=90.0,
            fov_deg=60.0,
            range_m=range_m,
        )
    db_session.flush()


def test_owslib_queryables_filter_sortby_datetime(live: Any, cameras: None) -> None:
    from owslib.ogcapi.features import Features

    url, _ = live("assets")
    api = Features(f"{url}/ogc")
    conf = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    q = api.collection_queryables("cameras")
    assert {"name", "technology", "range_m", "geometry"} <= set(q["properties"])
    assert "health" not in q["properties"]
    fc = api.collection_items(
        "cameras",
        filter="range_m BETWEEN 50 AND 200 AND technology IN ('digital') "
        "AND S_INTERSECTS(geometry, POLYGON((0.49 51.38, 0.56 51.38, 0.56 51.40, 0.49 51.40, "
        "0.49 51.38)))",
        sortby=("range_m", "desc"),
    )
    assert [f["properties"]["name"] for f in fc["features"]] == [
        "Rochester Bridge",
        "Gillingham High St",
    ]
    fc = api.collection_items("cameras", filter="NOT (name LIKE 'Roch%')", sortby=("name", "asc"))
    assert [f["properties"]["name"] for f in fc["features"]] == [
        "Chatham Waterfront",
        "Gillingham High St",
    ]
    fc = api.collection_items("cameras", datetime_="../2015-01-01")
    assert [f["properties"]["name"] for f in fc["features"]] == ["Chatham Waterfront"]


def test_bad_filters_are_clear_400s(live: Any, cameras: None) -> None:
    import httpx

    url, _ = live("assets")
    items = f"{url}/ogc/collections/cameras/items"
    for flt, words in (
        ("health = 'offline'", "not a queryable"),
        ("name = 3", "cannot be compared"),
        ("name = 'x' AND (", "not valid"),
        (" AND ".join(["name = 'x'"] * 30), "deeper"),
        ("technology = 'steam'", "one of"),
    ):
        r = httpx.get(items, params={"filter": flt})
        assert r.status_code == 400, (flt, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if words:
            assert words in r.json()["detail"], r.json()
    r = httpx.get(items, params={"datetime": "2020-13-01"})
    assert r.status_code == 400 and "datetime" in r.json()["detail"]
    r = httpx.get(items, params={"crs": "EPSG:3857"})
    assert r.status_code == 400 and "crs" in r.json()["detail"]
    r = httpx.get(items, params={"sortby": "health"})
    assert r.status_code == 400 and "sortable" in r.json()["detail"]
    # a value that looks like SQL is only ever a value
    r = httpx.get(items, params={"filter": "name = 'x; DROP TABLE assets.cameras; --'"})
    assert r.status_code == 200 and r.json()["numberMatched"] == 0


def test_geopandas_reads_a_protected_collection(live: Any, db_session: Any) -> None:
    url, client = live("hotspots")
    _, token = create_token(db_session, name="desk analyst", role="analyst")
    db_session.flush()
    h = {"Authorization": f"Bearer {token}"}
    r = client.post(
        "/water/sites",
        headers=h,
        json={
            "name": "Strand steps",
            "kind": "access_point",
            "geometry": {"type": "Point", "coordinates": [0.55, 51.395]},
        },
    )
    assert r.status_code == 201, r.text
    # geopandas in its own process, as a desktop script runs (pyogrio holds the GIL while GDAL
    # reads, which would stall a server thread in this process)
    script = (
        "import sys, geopandas as gpd; f = gpd.read_file(sys.argv[1], layer='water-sites'); "
        "g = f.geometry[0]; "
        "print(f.crs.to_epsg(), '|'.join(f['name']), round(g.x, 1), round(g.y, 1))"
    )

    def read(userpwd: str | None) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GDAL_HTTP_TIMEOUT": "20"}
        if userpwd:
            env["GDAL_HTTP_USERPWD"] = userpwd
        return subprocess.run(
            [sys.executable, "-c", script, f"OAPIF:{url}/ogc"],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )

    refused = read(None)
    assert refused.returncode != 0 and "401" in refused.stderr
    done = read(f"desk:{token}")
    assert done.returncode == 0, done.stderr[-2000:]
    epsg, name, x, y = done.stdout.split(" ", 1)[0], *done.stdout.split(" ", 1)[1].rsplit(" ", 2)
    assert name == "Strand steps"
    # GDAL asks for the storage CRS the collection offers (Part 2) and labels it so
    want = (
        (0.55, 51.395)
        if epsg == "4326"
        else Transformer.from_crs(4326, 27700, always_xy=True).transform(0.55, 51.395)
    )
    assert epsg in ("4326", "27700")
    assert abs(float(x) - want[0]) < 0.2 and abs(float(y) - want[1]) < 0.2
