"""GDAL's OAPIF driver (ogrinfo, ogr2ogr from Debian's gdal-bin) against the live services.

bbox (-spat), a datetime window and a CQL2 filter (-where) on the cameras; EPSG:27700 (the
server's ``crs`` and ogr2ogr's -t_srs agree to the centimetre); the protected hotspot layers
read with ``GDAL_HTTP_USERPWD`` (HTTP Basic, the password an API token) and refused without.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer

from shared.auth import create_token
from tests.factories import make_camera

OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"
OGR2OGR = shutil.which("ogr2ogr") or "/usr/bin/ogr2ogr"
pytestmark = pytest.mark.skipif(not os.path.exists(OGRINFO), reason="gdal-bin is not installed")
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
# (name, lon, lat, technology, installed_on)
CAMS = (
    ("Gillingham High St", 0.5466, 51.3887, "digital", date(2019, 5, 1)),
    ("Chatham Waterfront", 0.5230, 51.3830, "analogue", date(2012, 3, 1)),
    ("Rochester Bridge", 0.5010, 51.3905, "digital", date(2021, 8, 9)),
    ("Strood Station", 0.4780, 51.3960, "analogue", date(2016, 1, 20)),
)


def gdal(*args: str, userpwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a GDAL tool with a clean environment (and Basic credentials when given)."""
    env = {"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "20", "CPL_DEBUG": "ON"}
    if userpwd:
        env["GDAL_HTTP_USERPWD"] = userpwd
    return subprocess.run(args, capture_output=True, text=True, timeout=90, env=env)


@pytest.fixture()
def cameras(db_session: Any) -> dict[str, Any]:
    out = {}
    for name, lon, lat, tech, installed in CAMS:
        out[name] = make_camera(
            db_session, name=name, lon=lon, lat=lat, technology=tech, installed_on=installed
        )
    db_session.flush()
    return out


def names(stdout: str) -> set[str]:
    return {
        line.split("=", 1)[1].strip() for line in stdout.splitlines() if "name (String) =" in line
    }


def test_ogrinfo_bbox_datetime_and_cql2_where(live: Any, cameras: Any, tmp_path: Path) -> None:
    url, _ = live("assets")
    every = gdal(OGRINFO, "-ro", "-al", "-q", f"OAPIF:{url}/ogc", "cameras")
    assert every.returncode == 0, every.stderr
    assert names(every.stdout) == {c[0] for c in CAMS}
    assert "health" not in every.stdout  # live health is not public
    # -spat: a box around Gillingham and Chatham only (GDAL sends bbox=)
    spat = gdal(
        OGRINFO,
        "-ro",
        "-al",
        "-q",
        "-spat",
        "0.515",
        "51.38",
        "0.55",
        "51.392",
        f"OAPIF:{url}/ogc",
        "cameras",
    )
    assert spat.returncode == 0, spat.stderr
    assert names(spat.stdout) == {"Gillingham High St", "Chatham Waterfront"}
    assert "bbox=" in spat.stderr
    # a CQL2 -where the server runs (GDAL translates it to filter=...)
    where = gdal(
        OGRINFO,
        "-ro",
        "-al",
        "-q",
        "-where",
        "technology = 'digital' AND fov_deg IS NULL OR name LIKE 'Strood%'",
        f"OAPIF:{url}/ogc",
        "cameras",
    )
    assert where.returncode == 0, where.stderr
    assert names(where.stdout) == {"Gillingham High St", "Rochester Bridge", "Strood Station"}
    assert "filter-lang=cql-text" in where.stderr  # run by the server, not by GDAL
    # a datetime window, in the URL (GDAL passes its query on to every request)
    window = gdal(
        OGRINFO, "-ro", "-al", "-q", f"OAPIF:{url}/ogc?datetime=2015-01-01/2020-12-31", "cameras"
    )
    assert window.returncode == 0, window.stderr
    assert names(window.stdout) == {"Gillingham High St", "Strood Station"}
    # a time comparison in -where: GDAL sends it as text; the server reads it as a date
    since = gdal(
        OGRINFO,
        "-ro",
        "-al",
        "-q",
        "-where",
        "installed_on >= '2019-01-01'",
        f"OAPIF:{url}/ogc",
        "cameras",
    )
    assert since.returncode == 0, since.stderr
    assert names(since.stdout) == {"Gillingham High St", "Rochester Bridge"}, since.stderr[-1500:]


def test_epsg_27700_server_and_ogr2ogr_agree(live: Any, cameras: Any, tmp_path: Path) -> None:
    url, client = live("assets")
    out = tmp_path / "cameras_bng.geojson"
    done = gdal(
        OGR2OGR, "-f", "GeoJSON", "-t_srs", "EPSG:27700", str(out), f"OAPIF:{url}/ogc", "cameras"
    )
    assert done.returncode == 0, done.stderr
    by_gdal = {
        f["properties"]["name"]: f["geometry"]["coordinates"]
        for f in json.loads(out.read_text())["features"]
    }
    r = client.get("/ogc/collections/cameras/items?crs=EPSG:27700")
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/27700>"
    for f in r.json()["features"]:
        e, n = f["geometry"]["coordinates"]
        ge, gn = by_gdal[f["properties"]["name"]]
        assert abs(e - ge) < 0.05 and abs(n - gn) < 0.05
        # and an independent projection of the camera's own lon/lat
        spec = next(c for c in CAMS if c[0] == f["properties"]["name"])
        pe, pn = TO_BNG.transform(spec[1], spec[2])
        assert abs(e - pe) < 0.05 and abs(n - pn) < 0.05
    # bbox-crs: a box in metres around Strood only
    e, n = TO_BNG.transform(0.4780, 51.3960)
    box = f"{e - 50},{n - 50},{e + 50},{n + 50}"
    r = client.get(f"/ogc/collections/cameras/items?bbox={box}&bbox-crs=EPSG:27700")
    assert [f["properties"]["name"] for f in r.json()["features"]] == ["Strood Station"]


def test_protected_hotspot_layers_through_gdal_http_userpwd(live: Any, db_session: Any) -> None:
    from shared.core.models import ApiToken  # noqa: F401 - the token table is migrated

    url, _ = live("hotspots")
    _, token = create_token(db_session, name="QGIS desktop", role="analyst")
    db_session.flush()
    refused = gdal(OGRINFO, "-ro", "-so", f"OAPIF:{url}/ogc")
    assert refused.returncode != 0
    assert "401" in refused.stderr or "needs a token" in refused.stderr
    wrong = gdal(OGRINFO, "-ro", "-so", f"OAPIF:{url}/ogc", userpwd="me:csp_not-a-token")
    assert wrong.returncode != 0
    ok = gdal(OGRINFO, "-ro", "-so", f"OAPIF:{url}/ogc", userpwd=f"analyst:{token}")
    assert ok.returncode == 0, ok.stderr
    assert "water-sites" in ok.stdout and "hotspots" in ok.stdout
