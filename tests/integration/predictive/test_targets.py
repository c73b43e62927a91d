"""Daily lists over real PostGIS: GeoJSON, CSV, page, idempotence and the nightly task."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import LIST_DAY

AGENCIES = ("kfrs", "police")


def _get_list(client: Any, tokens: Any, agency: str, role: str = "crew") -> dict[str, Any]:
    r = client.get(
        "/targets", params={"agency": agency, "date": LIST_DAY.isoformat()}, headers=tokens[role]
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    return r.json()


@pytest.mark.parametrize("agency", AGENCIES)
def test_geojson_list_is_valid_ranked_and_inside_medway(
    client: Any, tokens: Any, db_session: Any, make_list: Any, agency: str
) -> None:
    t0 = time.perf_counter()
    make_list(agency)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20, f"making the list took {elapsed:.1f} s"
    body = _get_list(client, tokens, agency)
    assert body["type"] == "FeatureCollection"
    feats = body["features"]
    k = 20
    assert [f["properties"]["rank"] for f in feats] == list(range(1, k + 1))
    scores = [f["properties"]["score"] for f in feats]
    assert all(a >= b for a, b in zip(scores, scores[1:], strict=False))
    assert scores[-1] > 0
    for key in ("method", "warnings", "params", "list_id", "date", "cell_size_m"):
        assert key in body
    for f in feats:
        ring = f["geometry"]["coordinates"][0]
        assert f["geometry"]["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
        assert all(0.3 < lon < 0.8 and 51.2 < lat < 51.6 for lon, lat in ring)
        lon, lat = f["properties"]["centre"]
        assert min(p[0] for p in ring) < lon < max(p[0] for p in ring)
        assert f["id"] == f["properties"]["cell_id"]
    # Independent checks in PostGIS: every box touches the outline, and the ward named is the
    # one containing the box centre.
    cells = [f["properties"]["cell_id"] for f in feats]
    rows = db_session.execute(
        text(
            "SELECT b.cell_id, b.ward, ST_Intersects(b.geom, d.geom) AS inside, "
            " (SELECT w.name FROM predictive.areas w WHERE w.kind = 'ward' "
            "   AND ST_Contains(w.geom, ST_Centroid(b.geom)) LIMIT 1) AS ward_pg "
            "FROM predictive.target_boxes b, predictive.areas d "
            "WHERE d.kind = 'district' AND b.list_id = :lid ORDER BY b.rank"
        ),
        {"lid": body["list_id"]},
    ).all()
    assert [r.cell_id for r in rows] == cells
    assert all(r.inside for r in rows)
    assert [r.ward for r in rows] == [r.ward_pg for r in rows]
    assert [f["properties"]["ward"] for f in feats] == [r.ward_pg for r in rows]
    # The boxes hold far more of the training incidents than their share of Medway's area.
    share = db_session.execute(
        text(
            "SELECT (SELECT count(*) FROM incidents.incidents i JOIN predictive.target_boxes b "
            "        ON ST_Intersects(b.geom, i.geom) WHERE b.list_id = :lid "
            "        AND i.occurred_at < :d AND i.category = ANY(:cats))::float "
            "     / (SELECT count(*) FROM incidents.incidents i WHERE i.occurred_at < :d "
            "        AND i.category = ANY(:cats))"
        ),
        {"lid": body["list_id"], "d": LIST_DAY, "cats": body["categories"]},
    ).scalar_one()
    area_share = k / body["n_candidate_cells"]
    assert share > 10 * area_share, (share, area_share)


def test_methods_follow_timestamp_quality(client: Any, tokens: Any, make_list: Any) -> None:
    make_list("kfrs")
    make_list("police")
    fire = _get_list(client, tokens, "kfrs")
    police = _get_list(client, tokens, "police")
    # Fires are timed to the day or finer: the space-time self-exciting model (sepp).
    assert fire["method"] == "sepp"
    assert 0 <= fire["params"]["theta"] < 1
    assert police["method"].startswith("best_static")
    assert any("month" in w for w in police["warnings"])
    assert police["params"]["theta"] is None


def test_second_request_returns_the_stored_list(client: Any, tokens: Any, make_list: Any) -> None:
    make_list("police")
    a = _get_list(client, tokens, "police")
    b = _get_list(client, tokens, "police", role="analyst")
    assert a["list_id"] == b["list_id"] and a["features"] == b["features"]


def test_csv_matches_geojson_and_neutralises_formulas(
    client: Any, tokens: Any, db_session: Any, make_list: Any
) -> None:
    make_list("kfrs")
    body = _get_list(client, tokens, "kfrs")
    evil = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)"]
    for rank, name in enumerate(evil, start=1):
        db_session.execute(
            text("UPDATE predictive.target_boxes SET ward = :w WHERE list_id = :l AND rank = :r"),
            {"w": name, "l": body["list_id"], "r": rank},
        )
    db_session.flush()
    r = client.get(
        "/targets.csv",
        params={"agency": "kfrs", "date": LIST_DAY.isoformat()},
        headers=tokens["crew"],
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["rank"]) for x in rows] == list(range(1, 21))
    assert [x["cell_id"] for x in rows] == [f["properties"]["cell_id"] for f in body["features"]]
    assert [x["ward"] for x in rows[:4]] == ["'" + e for e in evil]
    assert not any(v.startswith(("=", "+", "-", "@")) for x in rows for v in x.values())
    assert float(rows[0]["score"]) == pytest.approx(body["features"][0]["properties"]["score"])


def test_page_has_map_list_and_print_css(client: Any, tokens: Any, make_list: Any) -> None:
    make_list("police")
    r = client.get(
        "/targets/page",
        params={"agency": "police", "date": LIST_DAY.isoformat()},
        headers=tokens["crew"],
    )
    assert r.status_code == 200, r.text
    html = r.text
    assert "@media print" in html and "folium-map" in html
    assert html.count('<li data-cell="') == 20
    assert "https://cdn" not in html and "unpkg.com" not in html


def test_roles(client: Any, tokens: Any, make_list: Any) -> None:
    make_list("kfrs")
    q = {"agency": "kfrs", "date": LIST_DAY.isoformat()}
    assert client.get("/targets", params=q).status_code == 401
    assert client.get("/targets", params=q, headers=tokens["operator"]).status_code == 403
    assert client.get("/targets/page", params=q, headers=tokens["seg"]).status_code == 403
    assert (
        client.get("/diagnostics", params={"agency": "kfrs"}, headers=tokens["crew"]).status_code
        == 403
    )
    assert (
        client.get("/targets", params={"agency": "nobody"}, headers=tokens["admin"]).status_code
        == 404
    )
    bad = client.get(
        "/targets", params={"agency": "kfrs", "date": "2024-13-01"}, headers=tokens["crew"]
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_admin_changes_boxes_per_day(client: Any, tokens: Any, make_list: Any) -> None:
    r = client.patch("/agencies/police", json={"boxes_per_day": 5}, headers=tokens["analyst"])
    assert r.status_code == 403
    r = client.patch("/agencies/police", json={"boxes_per_day": 5}, headers=tokens["admin"])
    assert r.status_code == 200 and r.json()["boxes_per_day"] == 5
    make_list("police")
    body = _get_list(client, tokens, "police")
    assert [f["properties"]["rank"] for f in body["features"]] == [1, 2, 3, 4, 5]


def test_nightly_task_makes_one_list_per_agency_and_rerun_adds_nothing(
    incidents: Any, db_session: Any
) -> None:
    from services.predictive.tasks import nightly_refit, nightly_refit_run

    assert nightly_refit.name == "predictive.nightly_refit"
    first = nightly_refit_run(db_session, day=LIST_DAY)
    assert sorted(x["agency"] for x in first) == ["kfrs", "police"]
    assert all(x["created"] for x in first)
    count = "SELECT count(*) FROM predictive.target_lists WHERE list_date = :d"
    boxes = "SELECT count(*) FROM predictive.target_boxes"
    n_lists = db_session.execute(text(count), {"d": LIST_DAY}).scalar_one()
    n_boxes = db_session.execute(text(boxes)).scalar_one()
    second = nightly_refit_run(db_session, day=LIST_DAY)
    assert not any(x["created"] for x in second)
    assert [x["list_id"] for x in second] == [x["list_id"] for x in first]
    assert db_session.execute(text(count), {"d": LIST_DAY}).scalar_one() == n_lists == 2
    assert db_session.execute(text(boxes)).scalar_one() == n_boxes


def test_nightly_task_runs_through_background_task_with_its_own_session(
    incidents: Any, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registered task opens the session itself, reads the ISO day and keeps its limits."""
    import shared.tasks
    from services.predictive.tasks import nightly_refit

    opened: list[str] = []

    @contextmanager
    def test_session(url: str) -> Iterator[Any]:
        opened.append(url)
        yield db_session  # the test's transaction stands in for the task's own connection

    monkeypatch.setattr(shared.tasks, "task_session", test_session)
    assert nightly_refit.time_limit == 30 * 60 and nightly_refit.soft_time_limit == 25 * 60
    out = nightly_refit.apply(kwargs={"day": LIST_DAY.isoformat()}).get()
    assert len(opened) == 1
    assert sorted(x["agency"] for x in out) == ["kfrs", "police"]
    assert all(x["created"] and x["date"] == LIST_DAY.isoformat() for x in out)
    again = nightly_refit.apply(kwargs={"day": LIST_DAY.isoformat()}).get()
    assert [x["list_id"] for x in again] == [x["list_id"] for x in out]
    assert not any(x["created"] for x in again)
