"""QGIS 3.22 headless (PyQGIS from Debian's packages, run by the system python3): the protected
OAPIF water-sites layer with HTTP Basic credentials (the password an API token), and the
cameras' vector tiles. Skipped, saying why, where PyQGIS is not installed."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from shared.auth import create_token

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsVectorLayer, QgsVectorTileLayer
QgsApplication.setPrefixPath("/usr", True)  # without it the providers are not found (a crash)
app = QgsApplication([], False)
app.initQgis()
assets, hotspots, token = sys.argv[1:4]
out = {}
def oapif(user=None):
    uri = f"url='{hotspots}/ogc' typename='water-sites'"
    if user:
        uri += f" username='{user}' password='{token}'"
    return QgsVectorLayer(uri, "water", "OAPIF")
# Without credentials first: Qt keeps the credentials of a host once they have worked.
bare = oapif()
out["without_credentials_valid"] = bare.isValid()
out["without_credentials_features"] = (
    sum(1 for _ in bare.getFeatures()) if bare.isValid() else 0)
good = oapif("qgis")
out["valid"] = good.isValid()
out["names"] = sorted(f["name"] for f in good.getFeatures()) if good.isValid() else []
tiles = QgsVectorTileLayer(
    "type=xyz&url=" + assets + "/ogc/collections/cameras/tiles/WebMercatorQuad/{z}/{y}/{x}.mvt"
    "&zmin=0&zmax=22", "cameras")
out["tiles_valid"] = tiles.isValid()
out["tiles_source"] = tiles.sourceType() if tiles.isValid() else ""
print("RESULT " + json.dumps(out), flush=True)
app.exitQgis()
"""


def _have_qgis() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _have_qgis(), reason="PyQGIS (Debian's python3-qgis) is not installed on this machine"
)


def test_qgis_opens_the_protected_layer_with_basic_auth_and_the_vector_tiles(
    live: Any, db_session: Any
) -> None:
    assets_url, _ = live("assets")
    hotspots_url, client = live("hotspots")
    _, token = create_token(db_session, name="qgis analyst", role="analyst")
    db_session.flush()
    made = client.post(
        "/water/sites",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "Sun Pier steps",
            "kind": "access_point",
            "geometry": {"type": "Point", "coordinates": [0.528, 51.386]},
        },
    )
    assert made.status_code == 201, made.text
    run = subprocess.run(
        [SYSTEM_PYTHON, "-c", SCRIPT, assets_url, hotspots_url, token],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")},
    )
    line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, (run.returncode, run.stdout[-1500:], run.stderr[-1500:])
    got = json.loads(line.removeprefix("RESULT "))
    assert got["valid"] and got["names"] == ["Sun Pier steps"], got
    assert not got["without_credentials_valid"] and got["without_credentials_features"] == 0, got
    assert got["tiles_valid"], got
