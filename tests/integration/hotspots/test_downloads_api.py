"""A run's outputs as people download them, over the real PostGIS: categories in any case, the
hotspot table (CSV, formula-neutralised) with the incidents inside each hotspot, the polygons as
a GeoPackage GDAL opens, a COG whose tags say what it is; downloads work with the session."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, text

from tests.conftest import SHARED_DATA

POLICE = [SHARED_DATA / "police" / f"2022-0{m}-kent-street-medway.csv" for m in (1, 2, 3)]
WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
BURGLARY = "Burglary"
HOSTILE_WARD = '=HYPERLINK("http://x","Chatham Central")'


@pytest.fixture()
def client(make_client: Any, tmp_path: Path) -> Any:
    return make_client("hotspots", output_dir=tmp_path / "out")


@pytest.fixture()
def police(db_session: Any, tmp_path: Path) -> None:
    """Three months of police data and Medway's wards, one renamed as a spreadsheet formula."""
    from shared.boundaries.service import load_layer
    from shared.incidents.store import import_file

    for f in POLICE:
        import_file(db_session, f, source="police")
    wards = json.loads(WARDS.read_text(encoding="utf-8"))
    for f in wards["features"]:
        if f["properties"]["WD13NM"] == "Chatham Central":
            f["properties"]["WD13NM"] = HOSTILE_WARD
    path = tmp_path / "wards.geojson"
    path.write_text(json.dumps(wards), encoding="utf-8")
    load_layer(db_session, path, layer="ward", source="downloads test")
    db_session.flush()


def _count(db_session: Any, sql: str, **params: Any) -> int:
    return int(db_session.scalar(text(sql), params) or 0)


def _signed_in(db_session: Any) -> dict[str, str]:
    """The cookie a browser signed in as an analyst sends (no Bearer header)."""
    from shared import accounts
    from shared.web import sessions
    from tests.support import service_settings

    user = accounts.create_user(
        db_session, username="downloads.analyst", role="analyst", password="downloads-password"
    )
    clear = sessions.start(
        db_session, user, via="password", settings=service_settings("hotspots", "postgresql://x")
    )
    db_session.flush()
    return {"Cookie": f"{sessions.COOKIE}={clear}"}


def test_categories_match_without_regard_to_case(
    client: Any, tokens: Any, police: None, db_session: Any
) -> None:
    h = tokens["analyst"]
    n = _count(
        db_session, "SELECT count(*) FROM incidents.incidents WHERE category = :c", c=BURGLARY
    )
    assert n > 100
    for spelling in ("burglary", "BURGLARY", " Burglary".strip()):
        r = client.post(
            "/surfaces",
            json={"categories": [spelling], "method": "fast", "radius_m": 400, "cell_m": 200},
            headers=h,
        )
        assert r.status_code == 202, r.text
        run = r.json()
        assert run["parameters"]["categories"] == [BURGLARY]
        assert run["stats"]["incidents"] == n
    got = client.get("/incidents/coverage", params={"categories": "bUrGlArY"}, headers=h).json()
    assert got["window"]["incidents"] == n and got["window"]["categories"] == [BURGLARY]
    scored = client.post(
        f"/surfaces/{run['id']}/evaluate",
        json={"from": "2022-03-01", "to": "2022-03-31", "categories": ["burglary"]},
        headers=h,
    )
    n_march = _count(
        db_session,
        "SELECT count(*) FROM incidents.incidents WHERE category = :c "
        "AND occurred_at >= '2022-03-01' AND occurred_at < '2022-04-01'",
        c=BURGLARY,
    )
    assert scored.status_code == 200 and scored.json()["incidents"] == n_march
    # A category no incident has is named, with the ones that are held.
    r = client.post("/surfaces", json={"categories": ["burglery"]}, headers=h)
    assert r.status_code == 422
    err = r.json()
    assert err["errors"][0]["field"] == "categories"
    assert "'burglery'" in err["detail"] and "Burglary, Criminal damage and arson" in err["detail"]


def test_hotspot_table_csv_counts_incidents_inside_and_neutralises_formulas(
    client: Any, tokens: Any, police: None, db_session: Any
) -> None:
    body = {"categories": [BURGLARY], "method": "fast", "radius_m": 500, "cell_m": 100}
    run = client.post("/surfaces", json=body, headers=tokens["analyst"]).json()
    cookie = _signed_in(db_session)
    r = client.get(f"/surfaces/{run['id']}/hotspots.csv", headers=cookie)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="hotspots-run-{run["id"]}.csv"'
    )
    assert r.text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "run", "rank", "ward", "grid_ref", "area_km2", "incidents", "peak", "mean", "units",
        "centroid_x_27700", "centroid_y_27700",
    ]  # fmt: skip
    polys = db_session.execute(
        text(
            "SELECT p.rank, ST_Area(p.geom), (SELECT count(*) FROM incidents.incidents i "
            "WHERE i.category = :c AND ST_Covers(p.geom, i.geom)) "
            "FROM hotspots.hotspot_polygons p WHERE p.run_id = :r ORDER BY p.rank"
        ),
        {"r": run["id"], "c": BURGLARY},
    ).all()
    assert len(rows) == len(polys) >= 3
    for row, (rank, area, inside) in zip(rows, polys, strict=True):
        assert int(row["rank"]) == rank
        assert int(row["incidents"]) == inside  # PostGIS, not the run's own count
        assert float(row["area_km2"]) == pytest.approx(area / 1e6, rel=1e-6)
        assert row["units"] == "incidents per km2"
    assert sum(int(r["incidents"]) for r in rows) > 0
    # The ward named like a formula is text in a spreadsheet: a quote in front.
    wards = {r["ward"] for r in rows}
    assert "'" + HOSTILE_WARD in wards and HOSTILE_WARD not in wards
    # The GeoJSON carries the same counts and areas in km².
    fc = client.get(f"/surfaces/{run['id']}/polygons", headers=cookie).json()
    assert [f["properties"]["incidents"] for f in fc["features"]] == [p[2] for p in polys]
    assert fc["features"][0]["properties"]["area_km2"] == pytest.approx(polys[0][1] / 1e6)


def test_polygons_as_a_geopackage_gdal_opens(
    client: Any, tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    import pyogrio

    body = {
        "categories": ["burglary"],
        "from": "2022-02-01",
        "to": "2022-03-31",
        "method": "fast",
        "radius_m": 500,
        "cell_m": 100,
    }
    run = client.post("/surfaces", json=body, headers=tokens["analyst"]).json()
    r = client.get(f"/surfaces/{run['id']}/polygons.gpkg", headers=_signed_in(db_session))
    assert r.status_code == 200 and r.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "hotspots.gpkg"
    path.write_bytes(r.content)
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", str(path)], capture_output=True, text=True, check=True
    ).stdout
    n = _count(
        db_session, "SELECT count(*) FROM hotspots.hotspot_polygons WHERE run_id = :r", r=run["id"]
    )
    assert f"Layer name: hotspots_run_{run['id']}" in info and f"Feature Count: {n}" in info
    assert "British National Grid" in info and "Multi Polygon" in info
    for tag in (
        'categories=["Burglary"]',
        "period=2022-02-01/2022-03-31",
        "method=fast",
        "kernel=quartic",
        "radius_m=500",
        "cell_m=100",
        'sources_read=["police"]',
    ):
        assert tag in info, tag
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 27700 and len(frame) == n
    areas = db_session.execute(
        text("SELECT ST_Area(geom) FROM hotspots.hotspot_polygons WHERE run_id = :r ORDER BY rank"),
        {"r": run["id"]},
    ).scalars()
    assert list(frame.geometry.area) == pytest.approx(list(areas), rel=1e-9)
    assert list(frame["rank"]) == list(range(1, n + 1))


def test_surface_cog_says_what_it_is(
    client: Any, tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    import rasterio

    body = {
        "categories": ["burglary", "Robbery"],
        "sources": ["police"],
        "from": "2022-01-01",
        "to": "2022-02-28",
        "method": "exact",
        "kernel": "triweight",
        "radius_m": 450,
        "cell_m": 150,
        "percentile": 90,
        "use_weights": False,
    }
    run = client.post("/surfaces", json=body, headers=tokens["analyst"]).json()
    tif = client.get(f"/surfaces/{run['id']}.tif", headers=_signed_in(db_session))
    assert tif.status_code == 200
    (tmp_path / "s.tif").write_bytes(tif.content)
    with rasterio.open(tmp_path / "s.tif") as src:
        tags = src.tags()
        arr = src.read(1, masked=True).filled(0.0).astype(np.float64)
    assert json.loads(tags["categories"]) == [BURGLARY, "Robbery"]
    assert json.loads(tags["sources"]) == ["police"]
    assert json.loads(tags["sources_read"]) == ["police"]
    assert tags["period"] == "2022-01-01/2022-02-28"
    assert (tags["method"], tags["kernel"]) == ("exact", "triweight")
    assert (tags["radius_m"], tags["cell_m"]) == ("450", "150")
    assert tags["weighting"].startswith("unweighted")
    assert tags["hotspot_percentile"] == "90"
    # The threshold is the 90th percentile of the non-zero cells, worked out here.
    cut = float(np.percentile(arr[arr > 0], 90))
    assert float(tags["hotspot_threshold"]) == pytest.approx(cut, rel=1e-5)
    assert tags["hotspot_rule"].startswith("cells at or above the 90th percentile")
    desc = tags["TIFFTAG_IMAGEDESCRIPTION"]
    assert "Kernel density" in desc and '["Burglary", "Robbery"]' in desc and "EPSG:27700" in desc
    n = _count(
        db_session,
        "SELECT count(*) FROM incidents.incidents WHERE category IN ('Burglary', 'Robbery') "
        "AND occurred_at >= '2022-01-01' AND occurred_at < '2022-03-01'",
    )
    assert tags["incidents"] == str(n)
    # Gi*: its own rule and no kernel; an all-data run says "all" and what it read.
    gi = client.post(
        "/surfaces", json={"gistar": True, "cell_m": 250}, headers=tokens["analyst"]
    ).json()
    raw = client.get(f"/surfaces/{gi['id']}.tif", headers=tokens["analyst"]).content
    (tmp_path / "g.tif").write_bytes(raw)
    with rasterio.open(tmp_path / "g.tif") as src:
        g = src.tags()
    assert g["method"] == "gistar" and g["kernel"] == "none (cell counts)"
    assert g["categories"] == "all" and g["period"] == "../.."
    assert g["period_read"] == "2022-01-01/2022-03-01"  # police months are dated the 1st
    assert "95% confidence" in g["hotspot_rule"] and g["radius_m"] == "250"


def test_a_run_from_before_counts_were_kept_downloads_without_them(
    client: Any, tokens: Any, police: None, db_session: Any
) -> None:
    from services.hotspots.models import HotspotPolygon, SurfaceRun

    body = {"method": "fast", "radius_m": 400, "cell_m": 200}
    run = client.post("/surfaces", json=body, headers=tokens["analyst"]).json()
    for p in db_session.scalars(select(HotspotPolygon).where(HotspotPolygon.run_id == run["id"])):
        p.incidents = None
    stored = db_session.get(SurfaceRun, run["id"])
    stored.stats = {k: v for k, v in stored.stats.items() if k != "selection"}
    db_session.flush()
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/surfaces/{run['id']}/hotspots.csv", headers=tokens["seg"]).text
    )))  # fmt: skip
    assert rows and {r["incidents"] for r in rows} == {""}
    gpkg = client.get(f"/surfaces/{run['id']}/polygons.gpkg", headers=tokens["seg"])
    assert gpkg.status_code == 200 and gpkg.content[:16] == b"SQLite format 3\x00"


def test_downloads_of_a_run_not_finished_are_a_conflict(
    client: Any, tokens: Any, police: None, db_session: Any
) -> None:
    from services.hotspots.runs.service import create_run
    from services.hotspots.schemas import SurfaceCreate

    run, _ = create_run(
        db_session, body=SurfaceCreate(radius_m=300), actor="test", idempotency_key=None
    )
    for path in ("polygons.gpkg", "hotspots.csv"):
        r = client.get(f"/surfaces/{run.id}/{path}", headers=tokens["analyst"])
        assert r.status_code == 409 and "status queued" in r.json()["detail"]
    assert client.get("/surfaces/99999/hotspots.csv", headers=tokens["analyst"]).status_code == 404


def test_downloads_take_basic_auth_with_a_token_as_desktop_gis_sends_it(
    client: Any, tokens: Any, police: None
) -> None:
    """QGIS 3.22 and GDAL_HTTP_USERPWD send HTTP Basic (password = an API token), not Bearer."""
    import base64

    body = {"categories": ["Burglary"], "from": "2022-02-01", "to": "2022-03-31", "method": "fast"}
    run = client.post("/surfaces", json=body, headers=tokens["analyst"]).json()
    clear = tokens["seg"]["Authorization"].removeprefix("Bearer ")
    basic = {"Authorization": "Basic " + base64.b64encode(f"qgis:{clear}".encode()).decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"qgis:csp_not-a-token").decode()}
    for path in (".tif", "/polygons", "/polygons.gpkg", "/hotspots.csv"):
        url = f"/surfaces/{run['id']}{path}"
        assert client.get(url, headers=basic).status_code == 200, path
        refused = client.get(url, headers=wrong)
        assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
        assert client.get(url).status_code == 401, path
    # Only downloads: the JSON API itself still wants a Bearer token.
    assert client.get(f"/surfaces/{run['id']}", headers=basic).status_code == 401
