"""Comparisons of two periods over the real PostGIS: the difference surface, the changed areas
and the table by ward checked against independent sums and PostGIS; refusals before any work
(order, overlap, no incident data for the window, nothing in either period, the cell limit);
idempotency; roles; downloads; the job's lease and the stale sweep."""

from __future__ import annotations

import csv
import io
import math
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text

from tests.conftest import SHARED_DATA

POLICE = [SHARED_DATA / "police" / f"2022-0{m}-kent-street-medway.csv" for m in (1, 2, 3, 4)]
WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
BURGLARY = "Burglary"
BODY: dict[str, Any] = {
    "categories": ["burglary"],
    "before": {"from": "2022-01-01", "to": "2022-02-28"},
    "after": {"from": "2022-03-01", "to": "2022-04-30"},
    "method": "exact",
    "kernel": "quartic",
    "radius_m": 500,
    "cell_m": 100,
}


@pytest.fixture()
def client(make_client: Any, tmp_path: Path) -> Any:
    return make_client("hotspots", output_dir=tmp_path / "out")


@pytest.fixture()
def police(db_session: Any) -> None:
    from shared.boundaries.service import load_layer
    from shared.incidents.store import import_file

    for f in POLICE:
        import_file(db_session, f, source="police")
    load_layer(db_session, WARDS, layer="ward", source="comparisons test")
    db_session.flush()


def _points(db_session: Any, first: str, last: str) -> tuple[np.ndarray, np.ndarray]:
    rows = db_session.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents.incidents WHERE category = :c "
            "AND occurred_at >= CAST(:a AS date) AND occurred_at < CAST(:b AS date) + 1"
        ),
        {"c": BURGLARY, "a": first, "b": last},
    ).all()
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def _quartic_rate(px: np.ndarray, py: np.ndarray, cx: np.ndarray, cy: np.ndarray, days: int) -> Any:
    """Quartic KDE (per km2) at cell centres, per 30 days: summed here, point by point."""
    r = 500.0
    out = np.zeros(cx.shape)
    for x, y in zip(px, py, strict=True):
        d2 = (cx - x) ** 2 + (cy - y) ** 2
        inside = d2 < r * r
        out[inside] += 3 / (math.pi * r * r) * (1 - d2[inside] / (r * r)) ** 2
    return out * 1e6 * 30 / days


def test_two_periods_compared_against_independent_sums_and_postgis(
    client: Any, tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    import rasterio
    from shapely import contains_xy, wkt

    r = client.post("/comparisons", json=BODY, headers=tokens["analyst"])
    assert r.status_code == 202, r.text
    c = r.json()
    assert r.headers["location"] == f"/comparisons/{c['id']}"
    assert c["status"] == "done" and c["parameters"]["categories"] == [BURGLARY]
    assert c["stats"]["units"] == "incidents per km2 per 30 days" and "wards" not in c["stats"]
    tif = client.get(c["links"]["surface"], headers=tokens["seg"])
    assert tif.status_code == 200
    (tmp_path / "d.tif").write_bytes(tif.content)
    with rasterio.open(tmp_path / "d.tif") as src:
        diff = src.read(1, masked=True).filled(0.0).astype(np.float64)
        t, tags = src.transform, src.tags()
    ny, nx = diff.shape
    cx = t.c + (np.arange(nx) + 0.5) * t.a
    cy = t.f + (np.arange(ny) + 0.5) * t.e
    gx, gy = np.meshgrid(cx, cy)
    before = _quartic_rate(*_points(db_session, "2022-01-01", "2022-02-28"), gx, gy, 59)
    after = _quartic_rate(*_points(db_session, "2022-03-01", "2022-04-30"), gx, gy, 61)
    assert np.allclose(diff, after - before, rtol=1e-4, atol=1e-6)
    pooled = np.concatenate([before[before > 0], after[after > 0]])
    cut = float(np.percentile(pooled, 95))
    assert c["stats"]["threshold"] == pytest.approx(cut, rel=1e-5)
    assert tags["period_before"] == "2022-01-01/2022-02-28"
    assert tags["period_after"] == "2022-03-01/2022-04-30"
    assert tags["categories"] == '["Burglary"]' and tags["difference"] == "after minus before"
    assert tags["units"] == "incidents per km2 per 30 days"

    # Each area: its hotspot cells in each period (cut applied here), incidents (PostGIS).
    areas = db_session.execute(
        text(
            "SELECT a.rank, a.change, a.area_before_m2, a.area_after_m2, a.incidents_before, "
            "a.incidents_after, ST_AsText(a.geom), "
            "(SELECT count(*) FROM incidents.incidents i WHERE i.category = :c "
            " AND i.occurred_at < '2022-03-01' AND ST_Covers(a.geom, i.geom)), "
            "(SELECT count(*) FROM incidents.incidents i WHERE i.category = :c "
            " AND i.occurred_at >= '2022-03-01' AND ST_Covers(a.geom, i.geom)) "
            "FROM hotspots.comparison_areas a WHERE a.comparison_id = :id ORDER BY a.rank"
        ),
        {"id": c["id"], "c": BURGLARY},
    ).all()
    assert len(areas) == c["stats"]["areas"] >= 2
    hot_b, hot_a = before >= cut, after >= cut
    union = np.zeros(diff.shape, dtype=bool)
    for rank, change, area_b, area_a, inc_b, inc_a, geom, pg_b, pg_a in areas:
        inside = contains_xy(wkt.loads(geom), gx, gy)
        union |= inside
        assert area_b == pytest.approx((inside & hot_b).sum() * 100 * 100)
        assert area_a == pytest.approx((inside & hot_a).sum() * 100 * 100)
        assert (inc_b, inc_a) == (pg_b, pg_a)
        expected = (
            "appeared" if area_b == 0 else "gone" if area_a == 0
            else "grew" if area_a >= 1.25 * area_b else "shrank" if area_a * 1.25 <= area_b
            else "stayed"
        )  # fmt: skip
        assert change == expected, rank
    assert (union == (hot_b | hot_a)).all()  # every hotspot cell of either period, once
    assert sum(c["stats"]["changes"].values()) == len(areas)

    # The table by ward: incidents in each ward in each period, counted by PostGIS.
    wards = client.get(c["links"]["wards"], headers=tokens["crew"]).json()["items"]
    by_pg = dict(
        db_session.execute(
            text(
                "SELECT b.name, count(*) FILTER (WHERE i.occurred_at < '2022-03-01') || '/' || "
                "count(*) FILTER (WHERE i.occurred_at >= '2022-03-01') "
                "FROM core.boundary_areas b LEFT JOIN incidents.incidents i "
                "ON i.category = :c AND ST_Covers(b.geom, i.geom) "
                "WHERE b.layer = 'ward' GROUP BY b.name"
            ),
            {"c": BURGLARY},
        ).all()
    )
    assert len(wards) == len(by_pg) == 22
    assert [w["ward"] for w in wards] == sorted(by_pg)
    for w in wards:
        assert f"{w['incidents_before']}/{w['incidents_after']}" == by_pg[w["ward"]], w
    assert {w["change"] for w in wards} <= {"appeared", "grew", "shrank", "gone", "stayed", "none"}
    assert any(w["change"] != "none" for w in wards)


def test_refused_before_any_work(
    make_client: Any, client: Any, tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    from services.hotspots.models import SurfaceComparison

    h = tokens["analyst"]

    def refused(body: dict[str, Any], field: str, client: Any = client) -> str:
        r = client.post("/comparisons", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        problem = r.json()
        assert problem["errors"][0]["field"] == field, problem
        return str(problem["detail"])

    refused({**BODY, "before": {"from": "2022-02-01", "to": "2022-01-01"}}, "before")
    said = refused({**BODY, "after": {"from": "2022-02-01", "to": "2022-03-31"}}, "after")
    assert "must start after the period before ends" in said
    said = refused({**BODY, "after": {"from": "2022-06-01", "to": "2022-07-31"}}, "after")
    assert said == (
        "after: no incident data for this window: the incident data (Crime and ASB) cover "
        "1 January 2022 to 30 April 2022, and this period runs from 1 June 2022 to 31 July 2022"
    )
    said = refused({**BODY, "before": {"from": "2021-12-01", "to": "2022-01-31"}}, "before")
    assert said.startswith("before: no incident data for part of this window")
    refused({**BODY, "categories": ["No such crime"]}, "categories")
    refused({**BODY, "sources": ["stats19"]}, "sources")  # none imported
    # A corner of the estuary with no incident in it in either period.
    refused({**BODY, "bbox": [0.60, 51.44, 0.62, 51.45]}, "filters")
    refused({**BODY, "cell_m": 2}, "cell_m")  # far more cells than the limit
    small = make_client("hotspots", output_dir=tmp_path / "small", max_grid_cells=5_000)
    said = refused(BODY, "cell_m", client=small)
    assert "5,000" in said or "5000" in said
    assert db_session.scalar(select(func.count()).select_from(SurfaceComparison)) == 0


def test_a_retry_with_the_same_key_is_the_same_comparison(
    client: Any, tokens: Any, police: None, db_session: Any
) -> None:
    from services.hotspots.models import SurfaceComparison

    h = {**tokens["analyst"], "Idempotency-Key": "compare-once"}
    first = client.post("/comparisons", json=BODY, headers=h).json()
    again = client.post("/comparisons", json=BODY, headers=h)
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    assert db_session.scalar(select(func.count()).select_from(SurfaceComparison)) == 1
    other = client.post("/comparisons", json={**BODY, "cell_m": 200}, headers=h)
    assert other.status_code == 409
    # SEG reads comparisons but may not start one.
    assert client.post("/comparisons", json=BODY, headers=tokens["seg"]).status_code == 403
    page = client.get("/comparisons", headers=tokens["seg"]).json()
    assert page["total"] == 1 and page["items"][0]["id"] == first["id"]


def test_downloads_of_a_comparison(
    client: Any, tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    c = client.post("/comparisons", json=BODY, headers=tokens["analyst"]).json()
    h = tokens["operator"]
    n = int(
        db_session.scalar(
            text("SELECT count(*) FROM hotspots.comparison_areas WHERE comparison_id = :i"),
            {"i": c["id"]},
        )
    )
    gpkg = client.get(c["links"]["areas_gpkg"], headers=h)
    assert gpkg.status_code == 200
    (tmp_path / "c.gpkg").write_bytes(gpkg.content)
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", str(tmp_path / "c.gpkg")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Feature Count: {n}" in info and "British National Grid" in info
    assert "period_before=2022-01-01/2022-02-28" in info
    areas = list(csv.DictReader(io.StringIO(client.get(c["links"]["areas_csv"], headers=h).text)))
    assert len(areas) == n and areas[0]["change"] in {
        "appeared",
        "grew",
        "shrank",
        "gone",
        "stayed",
    }
    wards = list(csv.DictReader(io.StringIO(client.get(c["links"]["wards_csv"], headers=h).text)))
    assert len(wards) == 22 and list(wards[0])[:3] == ["ward", "code", "change"]
    fc = client.get(c["links"]["areas"], headers=h)
    assert fc.headers["content-type"] == "application/geo+json"
    assert [f["properties"]["rank"] for f in fc.json()["features"]] == list(range(1, n + 1))
    html = client.get(c["links"]["map"], headers=h).text
    assert "data:image/png;base64" in html and "Comparison" in html
    assert client.get("/comparisons/999999", headers=h).status_code == 404
    assert client.get("/comparisons/999999/wards.csv", headers=h).status_code == 404


def test_a_queued_comparison_is_computed_by_its_task_and_a_lapsed_one_sent_again(
    tokens: Any, police: None, db_session: Any, tmp_path: Path
) -> None:
    from services.hotspots.comparisons.execute import run_comparison
    from services.hotspots.comparisons.schemas import ComparisonCreate
    from services.hotspots.comparisons.service import create_comparison
    from services.hotspots.models import SurfaceComparison
    from services.hotspots.runs.leases import COMPARISONS, sweep_stale_runs

    body = ComparisonCreate.model_validate(BODY)
    row, created = create_comparison(db_session, body=body, actor="test", idempotency_key=None)
    assert created and row.status == "queued"
    done = run_comparison(db_session, row.id, output_dir=tmp_path)
    assert done.status == "done" and done.attempts == 1 and done.lease_owner is None
    assert done.tif_path and (tmp_path / done.tif_path).is_file()
    # Computing it again leaves it as it is (a finished job is never redone).
    assert run_comparison(db_session, row.id, output_dir=tmp_path).finished_at == done.finished_at
    # A worker died holding another: the sweep sends it to a worker again.
    lost, _ = create_comparison(db_session, body=body, actor="test 2", idempotency_key=None)
    stale = db_session.get(SurfaceComparison, lost.id)
    stale.status, stale.lease_owner, stale.attempts = "running", "dead@host:1", 1
    stale.lease_until = datetime.now(UTC) - timedelta(minutes=1)
    db_session.flush()
    swept = sweep_stale_runs(db_session, table=COMPARISONS)
    assert swept.requeued == [lost.id] and swept.failed == []
    again = run_comparison(db_session, lost.id, output_dir=tmp_path)
    assert again.status == "done" and again.attempts == 2
