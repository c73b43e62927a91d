"""Issue 11 over the real PostGIS: grid limits at request time (A1), bounded ids (A3), the
partnership's extent for water sites and default surfaces (D1), bounded banks (A5)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from shared.extent import partnership_extent
from shared.geometry import to_wgs84
from tests.conftest import SHARED_DATA
from tests.factories import incident_row, store_incidents

JAN = SHARED_DATA / "police" / "2022-01-kent-street-medway.csv"
ALLOWED = partnership_extent(15_000.0).allowed.bounds


@pytest.fixture()
def jan(db_session: Any) -> None:
    from shared.incidents.store import import_file

    if not JAN.exists():
        pytest.skip(f"real data not available: {JAN}")
    import_file(db_session, JAN, source="police")
    db_session.flush()


def _runs(db_session: Any) -> int:
    return int(db_session.scalar(text("SELECT count(*) FROM hotspots.surface_runs")))


# ------------------------------------------------------------------------------------------
# A1: the grid a run would use is checked when it is requested
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # the whole of Great Britain at 1 m: refused by the old per-side rule too
        ({"bbox": [-8.0, 49.9, 1.8, 60.8], "cell_m": 1}, "cell_m"),
        # 14 m cells over Medway and its margin: 3,715 x 3,430 cells, under the old 4000 a side
        ({"bbox": [0.27, 51.13, 1.02, 51.56], "cell_m": 14}, "cell_m"),
        ({"gistar": True, "bbox": [0.27, 51.13, 1.02, 51.56], "cell_m": 14}, "cell_m"),
    ],
)
def test_a_grid_over_the_limit_is_a_422_before_a_run_is_queued(
    make_client: Any, tokens: Any, jan: None, db_session: Any, body: dict[str, Any], field: str
) -> None:
    client = make_client("hotspots")
    before = _runs(db_session)
    r = client.post("/surfaces", json=body, headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert "limit is 4,000,000 cells" in problem["detail"]
    assert "CSP_MAX_GRID_CELLS" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [field]
    assert _runs(db_session) == before


def test_the_limit_is_the_setting_and_the_check_is_the_run_s_grid(
    make_client: Any, tokens: Any, jan: None, db_session: Any, tmp_path: Path
) -> None:
    """With the default radius (computed from the incidents) the check pads the extent the way
    the run does: a limit one cell below the run's grid refuses it, the grid's size allows it."""
    ok = make_client("hotspots", output_dir=tmp_path)
    run = ok.post("/surfaces", json={"cell_m": 200}, headers=tokens["analyst"]).json()
    assert run["status"] == "done", run
    cells = run["stats"]["nx"] * run["stats"]["ny"]
    tight = make_client("hotspots", output_dir=tmp_path, max_grid_cells=cells - 1)
    before = _runs(db_session)
    r = tight.post("/surfaces", json={"cell_m": 200}, headers=tokens["analyst"])
    assert r.status_code == 422 and f"limit is {cells - 1:,} cells" in r.json()["detail"]
    assert _runs(db_session) == before
    exact = make_client("hotspots", output_dir=tmp_path, max_grid_cells=cells)
    again = exact.post(
        "/surfaces", json={"cell_m": 200, "percentile": 90}, headers=tokens["analyst"]
    )
    assert again.status_code == 202 and again.json()["status"] == "done", again.text
    # A stored surface over a (lowered) limit is not read for an evaluation
    ev = tight.post(
        f"/surfaces/{run['id']}/evaluate",
        json={"from": "2022-01-01", "to": "2022-01-31"},
        headers=tokens["analyst"],
    )
    assert ev.status_code == 422 and f"limit is {cells - 1:,}" in ev.json()["detail"]


def test_a_run_over_the_limit_fails_with_the_limit_not_an_internal_error(
    db_session: Any, jan: None, tmp_path: Path
) -> None:
    """Defence in depth: a run stored without the request check (an older row) is stopped by
    the pipeline's own check, before any array is made."""
    from services.hotspots.limits import Limits
    from services.hotspots.runs.execute import run_surface

    params = {
        "method": "exact",
        "kernel": "quartic",
        "radius_m": 300,
        "cell_m": 2,
        "percentile": 95.0,
        "gistar": False,
        "use_weights": True,
    }
    run_id = db_session.execute(
        text(
            "INSERT INTO hotspots.surface_runs (status, progress, params, stats) "
            "VALUES ('queued', 0, CAST(:p AS jsonb), '{}') RETURNING id"
        ),
        {"p": __import__("json").dumps(params)},
    ).scalar_one()
    run = run_surface(db_session, run_id, output_dir=tmp_path, limits=Limits.defaults())
    assert run.status == "failed"
    assert "limit is 4,000,000 cells" in str(run.error) and "internal error" not in str(run.error)


def test_road_sites_and_water_counts_are_bounded_by_the_setting(
    make_client: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    from shared.incidents.store import import_file
    from tests.fixtures.make_stats19 import cluster, make_collisions_csv

    path = make_collisions_csv(
        tmp_path / "c.csv", cluster(576_500, 167_500, 30, seed=3), n=0, seed=7
    )
    import_file(db_session, path, source="stats19")
    db_session.flush()
    tight = make_client("hotspots", max_grid_cells=500)
    r = tight.get("/sites/road?radius_m=5000&min_collisions=2", headers=tokens["seg"])
    assert r.status_code == 422, r.text
    assert "900 pairs of collisions" in r.json()["detail"] and "limit is 500" in r.json()["detail"]
    roomy = make_client("hotspots")
    assert (
        roomy.get("/sites/road?radius_m=5000&min_collisions=2", headers=tokens["seg"]).status_code
        == 200
    )

    lon, lat = to_wgs84(575_000.0, 169_000.0)
    site = roomy.post(
        "/water/sites",
        headers=tokens["analyst"],
        json={
            "name": "steps",
            "kind": "access_point",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
        },
    ).json()
    first, last = datetime(1901, 1, 1, tzinfo=UTC), datetime(2199, 1, 1, tzinfo=UTC)
    rows = [
        incident_row(xy=xy, occurred_at=at, source="water", source_id=sid, category="rescue")
        for sid, xy, at in [("w1", (575_000, 169_000), first), ("w2", (575_001, 169_000), last)]
    ]
    store_incidents(db_session, rows, source="water")
    # 298 years of months for one site and one severity: 3,577 cells
    r = make_client("hotspots", max_grid_cells=3_576).get(
        f"/water/sites/{site['id']}/counts?period=month", headers=tokens["crew"]
    )
    assert r.status_code == 422 and "site count table" in r.json()["detail"], r.text
    ok = make_client("hotspots", max_grid_cells=3_577).get(
        f"/water/sites/{site['id']}/counts?period=month", headers=tokens["crew"]
    )
    assert ok.status_code == 200 and len(ok.json()["by_period"]) == 3_577


# ------------------------------------------------------------------------------------------
# A3: ids of any length are a 4xx problem, never a 500
# ------------------------------------------------------------------------------------------

HUGE = "9" * 5000
ID_ROUTES = [
    ("get", "/surfaces/{id}"),
    ("get", "/surfaces/{id}.tif"),
    ("get", "/surfaces/{id}/surface.tif"),
    ("get", "/surfaces/{id}/polygons"),
    ("get", "/surfaces/{id}/map"),
    ("post", "/surfaces/{id}/evaluate"),
    ("get", "/water/sites/{id}/counts"),
    ("get", "/water/sites/{id}/density"),
]


@pytest.mark.parametrize(("method", "route"), ID_ROUTES)
@pytest.mark.parametrize("value", [HUGE, str(2**31), str(2**63), "0"])
def test_ids_out_of_range_are_4xx_problems(
    make_client: Any, tokens: Any, method: str, route: str, value: str
) -> None:
    client = make_client("hotspots")
    body = {"from": "2022-01-01", "to": "2022-01-02"} if method == "post" else None
    for headers in ({}, tokens["analyst"]):
        r = client.request(method, route.format(id=value), headers=headers, json=body)
        assert 400 <= r.status_code < 500, (route, value[:12], r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"
    # The largest id the column holds is a plain 404
    if method == "get":
        r = client.get(route.format(id=2**31 - 1), headers=tokens["analyst"])
        assert r.status_code == 404


# ------------------------------------------------------------------------------------------
# D1: water sites and default surfaces stay within the partnership's area
# ------------------------------------------------------------------------------------------


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": "site",
        "kind": "access_point",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


@pytest.mark.parametrize(
    "where",
    [(1.8587, 50.9513), (-6.2603, 53.3498), (2.0, 52.5), (1.0, 50.5), (-2.2426, 53.48)],
    ids=["Calais", "Dublin", "North Sea", "Channel", "Manchester"],
)
def test_water_sites_beyond_the_margin_are_refused(
    make_client: Any, tokens: Any, where: tuple[float, float]
) -> None:
    r = make_client("hotspots").post("/water/sites", json=_point(*where), headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "geometry"
    assert "beyond Medway and 15 km around it" in r.json()["detail"]


def test_water_sites_in_the_margin_are_kept_with_a_warning(make_client: Any, tokens: Any) -> None:
    client = make_client("hotspots")
    maidstone = client.post("/water/sites", json=_point(0.5220, 51.2720), headers=tokens["analyst"])
    assert maidstone.status_code == 201 and "outside Medway" in maidstone.json()["warnings"][0]
    chatham = client.post("/water/sites", json=_point(0.5270, 51.3800), headers=tokens["analyst"])
    assert chatham.status_code == 201 and chatham.json()["warnings"] == []
    # A bank that runs out to sea is refused as a whole
    bank = {
        "name": "b",
        "kind": "bank_stretch",
        "geometry": {"type": "LineString", "coordinates": [[0.527, 51.38], [2.0, 52.5]]},
    }
    assert client.post("/water/sites", json=bank, headers=tokens["analyst"]).status_code == 422


def test_rows_stored_before_the_extent_do_not_stretch_a_default_surface(
    make_client: Any, tokens: Any, jan: None, db_session: Any, tmp_path: Path
) -> None:
    """Two sea rows (stored before the check existed) stretched the data extent to 460 km and
    coarsened every default surface; the surface now covers the partnership's incidents."""
    sea = [
        incident_row(
            lon=lon,
            lat=lat,
            occurred_at=datetime(2022, 1, 1, tzinfo=UTC),
            time_precision="month",
            source="police",
            source_id=f"sea-{i}",
            category="Anti-social behaviour",
        )
        for i, (lon, lat) in enumerate([(2.0, 55.5), (-1.5, 50.2)])
    ]
    store_incidents(db_session, sea, source="police")
    client = make_client("hotspots", output_dir=tmp_path)
    run = client.post(
        "/surfaces", json={"categories": ["Anti-social behaviour"]}, headers=tokens["analyst"]
    ).json()
    assert run["status"] == "done", run
    x0, y0, x1, y1 = run["stats"]["bounds_27700"]
    ax0, ay0, ax1, ay1 = ALLOWED
    assert ax0 - 5000 <= x0 and x1 <= ax1 + 5000 and ay0 - 5000 <= y0 and y1 <= ay1 + 5000
    assert max(x1 - x0, y1 - y0) < 60_000  # not 460 km
    real = db_session.scalar(
        text(
            "SELECT count(*) FROM incidents.incidents WHERE category = 'Anti-social behaviour' "
            "AND source_id NOT LIKE 'sea-%'"
        )
    )
    assert run["stats"]["incidents"] == real


# ------------------------------------------------------------------------------------------
# A5: banks are bounded; the density on one at the limit is quick and right
# ------------------------------------------------------------------------------------------


def _bank_coords(n: int) -> list[list[float]]:
    t = np.linspace(0.0, 1.0, n)
    x, y = 570_000 + 8_000 * t, 168_000 + 20 * np.sin(t * 900)
    lon, lat = to_wgs84(x, y)
    return np.column_stack([lon, lat]).tolist()


def test_a_bank_over_the_vertex_limit_is_refused_and_one_at_it_is_quick(
    make_client: Any, tokens: Any, db_session: Any
) -> None:
    from services.hotspots.limits import MAX_SITE_VERTICES

    client = make_client("hotspots")
    big = {
        "name": "long bank",
        "kind": "bank_stretch",
        "geometry": {"type": "LineString", "coordinates": _bank_coords(200_000)},
    }
    r = client.post("/water/sites", json=big, headers=tokens["analyst"])
    assert r.status_code == 422, r.text[:300]
    assert f"limit is {MAX_SITE_VERTICES:,}" in r.json()["detail"]
    # One stored before the limit existed: its density is refused the same way
    wkt = shapely.LineString([(570_000 + i * 0.04, 168_000 + (i % 2)) for i in range(200_000)]).wkt
    legacy = db_session.execute(
        text(
            "INSERT INTO hotspots.water_sites (name, kind, geom) VALUES ('old', 'bank_stretch', "
            "ST_GeomFromText(:w, 27700)) RETURNING id"
        ),
        {"w": wkt},
    ).scalar_one()
    r = client.get(f"/water/sites/{legacy}/density", headers=tokens["crew"])
    assert r.status_code == 422 and f"limit is {MAX_SITE_VERTICES:,}" in r.json()["detail"]

    at = {**big, "geometry": {"type": "LineString", "coordinates": _bank_coords(MAX_SITE_VERTICES)}}
    made = client.post("/water/sites", json=at, headers=tokens["analyst"])
    assert made.status_code == 201, made.text[:300]
    rng = np.random.default_rng(3)
    on_bank = [
        incident_row(
            xy=(570_000 + rng.uniform(0, 8_000), 168_000 + rng.normal(0, 30)),
            occurred_at=datetime(2023, 1, 1, tzinfo=UTC),
            source="water",
            source_id=f"bank-{i}",
            category="rescue",
        )
        for i in range(60)
    ]
    store_incidents(db_session, on_bank, source="water")
    t0 = time.perf_counter()
    d = client.get(
        f"/water/sites/{made.json()['id']}/density?step_m=1&bandwidth_m=150", headers=tokens["crew"]
    )
    seconds = time.perf_counter() - t0
    assert d.status_code == 200, d.text[:300]
    body = d.json()
    assert len(body["distance_m"]) > 8_000 and seconds < 10.0, seconds
    assert body["incidents"] == 60
    # Each position lies on the bank as PostGIS places it (ST_LineInterpolatePoint)
    for k in (0, 4_000, len(body["distance_m"]) - 1):
        lon, lat = body["positions"][k]
        off = db_session.scalar(
            text(
                "SELECT ST_Distance(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), "
                "4326), 27700), "
                "ST_LineInterpolatePoint(geom, :f)) FROM hotspots.water_sites WHERE id = :i"
            ),
            {
                "lon": lon,
                "lat": lat,
                "i": made.json()["id"],
                "f": body["distance_m"][k] / body["distance_m"][-1],
            },
        )
        assert off < 0.05, (k, off)
