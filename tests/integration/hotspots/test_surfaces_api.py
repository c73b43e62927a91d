"""Surface runs over the real PostGIS: POST, eager run, COG, polygons, auth, errors, idempotency."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.conftest import SHARED_DATA

POLICE = SHARED_DATA / "police"
JAN = POLICE / "2022-01-kent-street-medway.csv"
FEB = POLICE / "2022-02-kent-street-medway.csv"
ASB = "Anti-social behaviour"


@pytest.fixture()
def jan(db_session: Any) -> None:
    from shared.incidents.store import import_file

    import_file(db_session, JAN, source="police")
    db_session.flush()


@pytest.fixture()
def client(make_client: Any, tmp_path: Path) -> Any:
    return make_client("hotspots", output_dir=tmp_path)


def _quartic_per_km2(px: np.ndarray, py: np.ndarray, x: float, y: float, r: float) -> float:
    """Independent quartic KDE at one point: sum 3/(pi r^2) (1 - d^2/r^2)^2, per km2."""
    d2 = (px - x) ** 2 + (py - y) ** 2
    inside = d2 < r * r
    return float(np.sum(3 / (math.pi * r * r) * (1 - d2[inside] / (r * r)) ** 2) * 1e6)


def test_post_surface_runs_and_writes_cog_and_polygons(
    client: Any, tokens: Any, jan: None, db_session: Any
) -> None:
    import rasterio
    from shapely.geometry import shape

    body = {"method": "exact", "radius_m": 400, "cell_m": 100, "categories": [ASB]}
    r = client.post("/surfaces", json=body, headers=tokens["analyst"])
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "done", run
    assert r.headers["location"] == f"/surfaces/{run['id']}"
    got = client.get(f"/surfaces/{run['id']}", headers=tokens["operator"]).json()
    assert got["progress"] == 1.0 and got["parameters"]["categories"] == [ASB]
    n_asb = db_session.scalar(
        text("SELECT count(*) FROM incidents.incidents WHERE category = :c"), {"c": ASB}
    )
    assert got["stats"]["incidents"] == n_asb > 100

    tif = client.get(f"/surfaces/{run['id']}.tif", headers=tokens["seg"])
    assert tif.status_code == 200 and tif.headers["content-type"].startswith("image/tiff")
    alias = client.get(f"/surfaces/{run['id']}/surface.tif", headers=tokens["seg"])
    assert alias.content == tif.content
    with rasterio.open(io.BytesIO(tif.content)) as src:
        assert src.crs.to_epsg() == 27700
        assert src.res == (100.0, 100.0)
        assert src.tags()["units"] == "incidents per km2"
        arr = src.read(1).astype(np.float64)
        t = src.transform
    # Independent check at the hottest cell and one other: direct quartic sum over the points.
    pts = db_session.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM incidents.incidents WHERE category = :c"),
        {"c": ASB},
    ).all()
    px = np.array([p[0] for p in pts])
    py = np.array([p[1] for p in pts])
    row, col = np.unravel_index(int(np.argmax(arr)), arr.shape)
    for rr, cc in ((row, col), (row + 3, col - 2)):
        cx, cy = t.c + (cc + 0.5) * t.a, t.f + (rr + 0.5) * t.e
        assert arr[rr, cc] == pytest.approx(_quartic_per_km2(px, py, cx, cy, 400), rel=1e-4)

    gj = client.get(f"/surfaces/{run['id']}/polygons", headers=tokens["crew"])
    assert gj.status_code == 200 and gj.headers["content-type"] == "application/geo+json"
    fc = gj.json()
    assert fc["parameters"]["radius_m"] == 400 and fc["features"]
    threshold = got["stats"]["threshold"]
    # The threshold is the 95th percentile of the non-zero cells, computed here independently.
    assert threshold == pytest.approx(float(np.percentile(arr[arr > 0], 95)), rel=1e-5)
    for f in fc["features"]:
        g = shape(f["geometry"])
        assert g.is_valid and g.geom_type == "MultiPolygon"
        minx, miny, maxx, maxy = g.bounds
        assert 0.3 < minx < maxx < 0.8 and 51.25 < miny < maxy < 51.5  # Medway, lon/lat
        assert f["properties"]["peak"] >= threshold * (1 - 1e-6)
    peaks = [f["properties"]["peak"] for f in fc["features"]]
    assert peaks == sorted(peaks, reverse=True)
    assert peaks[0] == pytest.approx(arr.max(), rel=1e-5)
    # Cells at or above the threshold cover exactly the polygons' area.
    area = sum(f["properties"]["area_m2"] for f in fc["features"])
    assert area == pytest.approx(float((arr >= threshold * (1 - 1e-6)).sum()) * 100 * 100, rel=0.02)

    page = client.get("/surfaces", headers=tokens["operator"]).json()
    assert page["total"] >= 1 and page["items"][0]["id"] == run["id"]

    html = client.get(f"/surfaces/{run['id']}/map", headers=tokens["analyst"]).text
    assert "data:image/png;base64" in html and "/static/vendor/leaflet/leaflet.js" in html


def test_gistar_run(client: Any, tokens: Any, jan: None) -> None:
    r = client.post(
        "/surfaces",
        json={"gistar": True, "cell_m": 250, "neighbourhood_cells": 2},
        headers=tokens["admin"],
    )
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "done" and run["stats"]["units"] == "Gi* z-score"
    fc = client.get(f"/surfaces/{run['id']}/polygons", headers=tokens["admin"]).json()
    assert fc["features"] and all(f["properties"]["peak"] > 1.96 for f in fc["features"])


def test_auth(client: Any, tokens: Any, jan: None) -> None:
    assert client.get("/surfaces").status_code == 401
    assert client.get("/surfaces", headers={"Authorization": "Bearer csp_nope"}).status_code == 401
    r = client.post("/surfaces", json={}, headers=tokens["operator"])
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert client.post("/surfaces", json={}, headers=tokens["seg"]).status_code == 403
    assert client.get("/surfaces", headers=tokens["crew"]).status_code == 200
    assert client.get("/ogc/collections").status_code == 401
    assert client.get("/water/sites").status_code == 401
    assert client.get("/sites/road").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"radius_m": 0}, "radius_m"),
        ({"radius_m": -5}, "radius_m"),
        ({"cell_m": 0.5}, "cell_m"),
        ({"method": "magic"}, "method"),
        ({"kernel": "gaussian"}, "kernel"),
        ({"percentile": 100}, "percentile"),
        ({"bbox": [1, 2, 3]}, "bbox"),
        ({"nonsense": 1}, "nonsense"),
        ({"from": "2022-02-01", "to": "2022-01-01"}, "to"),
        ({"sources": ["tweets"]}, "sources"),
        ({"categories": ["No such crime"]}, "categories"),
        ({"cell_m": 2}, "cell_m"),  # 2 m cells over Medway: far more cells than the limit
    ],
)
def test_bad_parameters_name_the_field(
    client: Any, tokens: Any, jan: None, body: dict[str, Any], field: str
) -> None:
    r = client.post("/surfaces", json=body, headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


def test_cell_cap_message_says_the_limit(client: Any, tokens: Any, jan: None) -> None:
    r = client.post("/surfaces", json={"cell_m": 2}, headers=tokens["analyst"])
    assert r.status_code == 422
    assert "4,000,000 cells" in r.json()["detail"] and "CSP_MAX_GRID_CELLS" in r.json()["detail"]


def test_idempotency_key_returns_the_same_run(
    client: Any, tokens: Any, jan: None, db_session: Any
) -> None:
    body = {"method": "fast", "radius_m": 300, "cell_m": 200}
    h = {**tokens["analyst"], "Idempotency-Key": "abc-123"}
    before = db_session.scalar(text("SELECT count(*) FROM hotspots.surface_runs"))
    a = client.post("/surfaces", json=body, headers=h)
    b = client.post("/surfaces", json=body, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"]
    assert db_session.scalar(text("SELECT count(*) FROM hotspots.surface_runs")) == before + 1
    c = client.post("/surfaces", json={**body, "radius_m": 500}, headers=h)
    assert c.status_code == 409
    # Another caller's identical key is a different request.
    other = {**tokens["admin"], "Idempotency-Key": "abc-123"}
    d = client.post("/surfaces", json=body, headers=other)
    assert d.json()["id"] != a.json()["id"]


def test_run_surface_is_idempotent_and_records_failures(
    db_session: Any, jan: None, tmp_path: Path
) -> None:
    from services.hotspots.runs.execute import run_surface
    from services.hotspots.runs.service import create_run
    from services.hotspots.schemas import SurfaceCreate

    run, created = create_run(
        db_session, body=SurfaceCreate(method="fast", cell_m=150), actor="t", idempotency_key=None
    )
    assert created and run.status == "queued"
    done = run_surface(db_session, run.id, output_dir=tmp_path)
    assert done.status == "done" and done.tif_path and not Path(done.tif_path).is_absolute()
    finished = done.finished_at
    tif = tmp_path / done.tif_path
    mtime = tif.stat().st_mtime_ns
    again = run_surface(db_session, run.id, output_dir=tmp_path)
    assert again.finished_at == finished and tif.stat().st_mtime_ns == mtime
    n_poly = db_session.scalar(
        text("SELECT count(*) FROM hotspots.hotspot_polygons WHERE run_id = :r"), {"r": run.id}
    )
    assert n_poly == done.stats["hotspots"] > 0

    # A run whose incidents vanished fails with a message; it is not left running.
    bad, _ = create_run(
        db_session, body=SurfaceCreate(categories=[ASB]), actor="t", idempotency_key=None
    )
    db_session.execute(text("DELETE FROM incidents.incidents WHERE category = :c"), {"c": ASB})
    failed = run_surface(db_session, bad.id, output_dir=tmp_path)
    assert failed.status == "failed" and "no incidents" in (failed.error or "")


def test_task_is_named_and_time_limited() -> None:
    from services.hotspots.tasks import compute_surface

    assert compute_surface.name == "hotspots.compute_surface"
    assert compute_surface.acks_late and compute_surface.time_limit


def test_evaluate_against_later_month(client: Any, tokens: Any, jan: None, db_session: Any) -> None:
    import rasterio

    from shared.incidents.store import import_file

    import_file(db_session, FEB, source="police")
    db_session.flush()
    r = client.post(
        "/surfaces",
        json={"radius_m": 300, "cell_m": 100, "to": "2022-01-31"},
        headers=tokens["analyst"],
    )
    run = r.json()
    assert run["stats"]["incidents"] == db_session.scalar(
        text("SELECT count(*) FROM incidents.incidents WHERE occurred_at < '2022-02-01'")
    )
    ev = client.post(
        f"/surfaces/{run['id']}/evaluate",
        json={"from": "2022-02-01", "to": "2022-02-28"},
        headers=tokens["analyst"],
    )
    assert ev.status_code == 200, ev.text
    rows = ev.json()["rows"]
    assert [round(x["area_fraction"], 2) for x in rows] == [0.01, 0.05, 0.10]
    # Independent: the top 10% cells of the tif, and February incidents counted per cell.
    tif = client.get(f"/surfaces/{run['id']}.tif", headers=tokens["analyst"]).content
    with rasterio.open(io.BytesIO(tif)) as src:
        arr = src.read(1).astype(np.float64)
        t = src.transform
    feb = db_session.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents.incidents WHERE occurred_at >= "
            "'2022-02-01'"
        )
    ).all()
    k = rows[2]["cells"]
    top = np.zeros(arr.size, bool)
    top[np.argsort(-arr.ravel(), kind="stable")[:k]] = True
    hits = 0
    for x, y in feb:
        c, rr = (x - t.c) / t.a, (y - t.f) / t.e
        if 0 <= rr < arr.shape[0] and 0 <= c < arr.shape[1]:
            hits += int(top[int(rr) * arr.shape[1] + int(c)])
    assert rows[2]["hits"] == pytest.approx(hits, abs=2)  # ties at the cut may differ
    assert rows[2]["pai"] == pytest.approx(rows[2]["hit_rate"] / rows[2]["area_fraction"])
    assert rows[0]["pai"] > 1.0
    bad = client.post(
        f"/surfaces/{run['id']}/evaluate",
        json={"from": "2022-03-01", "to": "2022-02-01"},
        headers=tokens["analyst"],
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"


def test_not_found_and_unfinished(client: Any, tokens: Any, db_session: Any) -> None:
    assert client.get("/surfaces/999999", headers=tokens["analyst"]).status_code == 404
    assert client.get("/surfaces/999999.tif", headers=tokens["analyst"]).status_code == 404
    db_session.execute(
        text(
            "INSERT INTO hotspots.surface_runs (id, status, progress, params, stats) "
            "VALUES (888888, 'queued', 0, '{}', '{}')"
        )
    )
    r = client.get("/surfaces/888888.tif", headers=tokens["analyst"])
    assert r.status_code == 409
    assert client.get("/surfaces/888888/polygons", headers=tokens["analyst"]).status_code == 409


def test_tif_path_cannot_escape_the_output_folder(
    client: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    outside = tmp_path.parent / "secret.tif"
    outside.write_bytes(b"not for you")
    db_session.execute(
        text(
            "INSERT INTO hotspots.surface_runs (id, status, progress, params, stats, tif_path) "
            "VALUES (777777, 'done', 1, '{}', '{}', '../secret.tif')"
        )
    )
    assert client.get("/surfaces/777777.tif", headers=tokens["analyst"]).status_code == 404


def test_all_real_police_incidents(db_session: Any, tmp_path: Path) -> None:
    """Import the nine real Medway months and compute a surface over all 26,961 incidents."""
    from services.hotspots.runs.execute import run_surface
    from services.hotspots.runs.service import create_run
    from services.hotspots.schemas import SurfaceCreate
    from shared.incidents.store import import_file

    t0 = time.perf_counter()
    for f in sorted(POLICE.glob("*.csv")):
        import_file(db_session, f, source="police")
    t_import = time.perf_counter() - t0
    run, _ = create_run(
        db_session,
        body=SurfaceCreate(method="exact", sources=["police"]),
        actor="t",
        idempotency_key=None,
    )
    t0 = time.perf_counter()
    done = run_surface(db_session, run.id, output_dir=tmp_path)
    t_run = time.perf_counter() - t0
    print(
        f"import {t_import:.1f} s, run {t_run:.2f} s, kde {done.stats['compute_seconds']} s, "
        f"grid {done.stats['nx']}x{done.stats['ny']}"
    )
    assert done.status == "done", done.error
    assert done.stats["incidents"] == 26_961
    assert done.stats["hotspots"] > 0
    assert t_run < 30
