"""A1 and D9: agency areas are checked when set, and every list's grid is bounded before use."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import today
from tests.support import CHATHAM

# Great Britain's rectangle in WGS84 (the area that took the service to 21 GB).
WHOLE_GB = {
    "type": "Polygon",
    "coordinates": [[[-8.65, 49.86], [1.77, 49.86], [1.77, 60.86], [-8.65, 60.86], [-8.65, 49.86]]],
}


def _patch(client: Any, tokens: Any, body: Any, code: str = "kfrs") -> Any:
    return client.patch(f"/agencies/{code}", json=body, headers=tokens["admin"])


def _area_problem(r: Any) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["area"], errors
    return str(r.json()["detail"])


def _stored_area(db: Any) -> Any:
    return db.execute(
        text("SELECT area FROM predictive.agencies WHERE code = 'kfrs'")
    ).scalar_one_or_none()


def test_whole_gb_area_is_refused(client: Any, tokens: Any, db_session: Any) -> None:
    detail = _area_problem(_patch(client, tokens, {"area": WHOLE_GB}))
    assert "beyond Medway and 15 km" in detail
    assert _stored_area(db_session) is None


@pytest.mark.parametrize(
    "area, words",
    [
        (  # a bow tie: its outline crosses itself, explained with the place
            {"type": "Polygon", "coordinates": [[[0.50, 51.36], [0.58, 51.40], [0.58, 51.36],
                                                 [0.50, 51.40], [0.50, 51.36]]]},
            "crosses itself at lon 0.540000, lat 51.380000",
        ),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "MultiPolygon", "coordinates": []}, "empty"),
        (  # collinear: no area
            {"type": "Polygon", "coordinates": [[[0.5, 51.36], [0.55, 51.36], [0.58, 51.36],
                                                 [0.5, 51.36]]]},
            "not a valid polygon",
        ),
        (  # off-shore, in the North Sea
            {"type": "Polygon", "coordinates": [[[2.5, 53.0], [2.6, 53.0], [2.6, 53.1],
                                                 [2.5, 53.1], [2.5, 53.0]]]},
            "reaches beyond Medway",
        ),
        (  # half in Medway, half in Essex beyond the margin
            {"type": "Polygon", "coordinates": [[[0.5, 51.36], [0.9, 51.36], [0.9, 51.8],
                                                 [0.5, 51.8], [0.5, 51.36]]]},
            "reaches beyond Medway",
        ),
        ({"type": "Point", "coordinates": [0.5, 51.38]}, "Polygon or MultiPolygon"),
        ({"type": "LineString", "coordinates": CHATHAM}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0.5, 51.36], [0.6, 51.36]]]}, "rings"),
        ({"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], [1, 2]]]}, "rings"),
        ({"type": "Polygon", "coordinates": [[[0.5, 95], [0.6, 95], [0.6, 96], [0.5, 95]]]},
         "latitude"),
        (  # two overlapping parts
            {"type": "MultiPolygon", "coordinates": [[CHATHAM], [[[x + 0.02, y] for x, y in
                                                                  CHATHAM]]]},
            "two of its polygons overlap",
        ),
    ],
)  # fmt: skip
def test_bad_areas_are_refused_saying_why(
    client: Any, tokens: Any, db_session: Any, area: Any, words: str
) -> None:
    assert words in _area_problem(_patch(client, tokens, {"area": area}))
    assert _stored_area(db_session) is None


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinate_is_a_422_not_a_500(
    client: Any, tokens: Any, db_session: Any, bad: str
) -> None:
    ring = f"[[0.5, 51.36], [0.58, {bad}], [0.58, 51.40], [0.5, 51.36]]"
    body = '{"area": {"type": "Polygon", "coordinates": [' + ring + "]}}"
    r = client.patch(
        "/agencies/kfrs",
        content=body,
        headers={**tokens["admin"], "Content-Type": "application/json"},
    )
    assert "finite" in _area_problem(r)
    assert _stored_area(db_session) is None


def test_a_good_area_is_stored_and_used(
    client: Any, tokens: Any, db_session: Any, make_list: Any
) -> None:
    r = _patch(client, tokens, {"area": {"type": "Polygon", "coordinates": [CHATHAM]}})
    assert r.status_code == 200, r.text
    assert r.json()["has_own_area"] is True
    view = make_list("kfrs")
    assert view.boxes
    # Independently, in PostGIS: every box touches the stored area.
    outside = db_session.execute(
        text(
            "SELECT count(*) FROM predictive.target_boxes b, predictive.agencies a "
            "WHERE a.code = 'kfrs' AND b.list_id = :l AND NOT ST_Intersects(b.geom, a.area)"
        ),
        {"l": view.target_list.id},
    ).scalar_one()
    assert outside == 0


def test_grid_limit_refuses_area_and_cell_size(
    make_client: Any, tokens: Any, medway: Any, db_session: Any
) -> None:
    """With a limit of 20,000 cells a 25 m grid over Chatham (about 5.6 x 4.5 km) is refused."""
    client = make_client("predictive", max_grid_cells=20_000)
    r = client.patch(
        "/agencies/kfrs",
        json={"cell_size_m": 25, "area": {"type": "Polygon", "coordinates": [CHATHAM]}},
        headers=tokens["admin"],
    )
    detail = _area_problem(r)
    assert "the limit is 20,000 cells" in detail and "CSP_MAX_GRID_CELLS" in detail
    # The district (no own area) at 25 m: refused on the cell size.
    r = client.patch("/agencies/kfrs", json={"cell_size_m": 25}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cell_size_m"
    assert "20,000" in r.json()["detail"]
    cell = db_session.execute(
        text("SELECT cell_size_m FROM predictive.agencies WHERE code = 'kfrs'")
    ).scalar_one()
    assert cell == 150
    # At 150 m the same area is fine.
    r = client.patch(
        "/agencies/kfrs",
        json={"area": {"type": "Polygon", "coordinates": [CHATHAM]}},
        headers=tokens["admin"],
    )
    assert r.status_code == 200, r.text


def _store_whole_gb_area(db: Any) -> None:
    """An area stored before the checks existed (bypassing PATCH), 700 x 1,250 km."""
    db.execute(
        text(
            "UPDATE predictive.agencies SET area = ST_Multi(ST_MakeEnvelope("
            "0, 0, 700000, 1250000, 27700)) WHERE code = 'kfrs'"
        )
    )
    db.flush()


def test_a_stored_oversized_area_is_refused_before_any_allocation(
    client: Any, tokens: Any, db_session: Any
) -> None:
    """The grid is counted from the area's bounds, so the refusal costs nothing."""
    import resource

    _store_whole_gb_area(db_session)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = client.post("/targets", json={"agency": "kfrs"}, headers=tokens["analyst"])
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    detail = r.json()["detail"]
    assert "agency's area" in detail and "the limit is 4,000,000 cells" in detail
    assert grown_mb < 100
    n = db_session.execute(text("SELECT count(*) FROM predictive.target_lists")).scalar_one()
    assert n == 0


def test_nightly_job_skips_an_agency_it_cannot_serve_and_makes_the_others(
    incidents: Any, db_session: Any
) -> None:
    from services.predictive.tasks import nightly_refit_run

    _store_whole_gb_area(db_session)
    done = {x["agency"]: x for x in nightly_refit_run(db_session)}
    assert done["kfrs"]["list_id"] is None and not done["kfrs"]["created"]
    assert done["police"]["list_id"] and done["police"]["created"]
    assert done["police"]["date"] == today().isoformat()


def test_incident_extent_grid_is_clipped_to_the_partnership(
    make_client: Any, tokens: Any, db_session: Any
) -> None:
    """No boundaries loaded: the grid covers the incidents, but never beyond the extent."""
    from services.predictive.lists import service as lists
    from tests.factories import incident_row, store_incidents, synthetic_incidents

    rows = synthetic_incidents(end=today(), seed=17)
    # One stray row in Birmingham: the old grid stretched 180 km to reach it (960,000 cells).
    far = incident_row(lon=-1.9, lat=52.48, occurred_at=rows[-1].occurred_at, source_id="far-away")
    store_incidents(db_session, [*rows, far], source="fire")
    stored = "SELECT count(*) FROM incidents.incidents WHERE source_id = 'far-away'"
    assert db_session.execute(text(stored)).scalar_one() == 1
    view, _ = lists.get_or_create_list(db_session, agency_code="kfrs", day=today())
    # Medway and 15 km around it at 150 m: at most 349 x 319 cells.
    assert 0 < view.target_list.n_candidate_cells <= 349 * 319
    assert any("incidents' extent" in w for w in view.target_list.warnings)
    assert len(view.boxes) == 20
