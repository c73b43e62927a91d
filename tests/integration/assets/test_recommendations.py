"""Recommendations: each rule fires on its evidence and not without it; thresholds configurable."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import shape
from shapely.ops import transform

from shared.geometry import point_to_bng, point_to_wgs84, to_bng
from tests.factories import incident_row, post_camera, store_incidents

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
BASE = (0.6150, 51.3660)


def _add_incidents(db: Any, x: float, y: float, n: int, when: datetime, tag: str) -> None:
    rows = [
        incident_row(
            xy=(x, y),
            occurred_at=when,
            source="test",
            source_id=f"{tag}-{i}",
            category="Anti-social behaviour",
        )
        for i in range(n)
    ]
    store_incidents(db, rows, source="test")


def _recs(client: Any, tokens: Any, role: str = "seg", **params: Any) -> Any:
    return client.get(
        "/recommendations", params={"as_of": AS_OF.isoformat()} | params, headers=tokens[role]
    )


def _by_camera(body: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for r in body["items"]:
        out.setdefault(r["camera_id"], []).append((r["action"], r["rule"]))
    return out


def _ahead(lon: float, lat: float, bearing: float, metres: float) -> tuple[float, float]:
    x, y = point_to_bng(lon, lat)
    b = math.radians(bearing)
    return x + metres * math.sin(b), y + metres * math.cos(b)


def test_rapid_camera_without_then_with_incidents(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(
        lon=BASE[0],
        lat=BASE[1],
        deployment="rapid",
        bearing_deg=45.0,
        fov_deg=70.0,
        range_m=60.0,
        installed_on="2026-03-01",
    )
    # No incident data in the window at all: the camera is not judged on its use (#14).
    recs = _by_camera(_recs(client, tokens).json())
    assert cam["id"] not in recs
    # incidents behind the camera are outside its view and do not count
    bx, by = _ahead(BASE[0], BASE[1], 225.0, 30.0)
    _add_incidents(db_session, bx, by, 5, AS_OF - timedelta(days=10), "behind")
    assert _by_camera(_recs(client, tokens).json())[cam["id"]] == [("review", "no_evidence_of_use")]
    # two in view: still under the default threshold of 3
    fx, fy = _ahead(BASE[0], BASE[1], 45.0, 30.0)
    _add_incidents(db_session, fx, fy, 2, AS_OF - timedelta(days=10), "front")
    assert _by_camera(_recs(client, tokens).json())[cam["id"]] == [("review", "no_evidence_of_use")]
    # older than the window: does not count either
    _add_incidents(db_session, fx, fy, 4, AS_OF - timedelta(days=400), "old")
    assert _by_camera(_recs(client, tokens).json())[cam["id"]] == [("review", "no_evidence_of_use")]
    _add_incidents(db_session, fx, fy, 1, AS_OF - timedelta(days=1), "front2")
    body = _recs(client, tokens).json()
    assert _by_camera(body)[cam["id"]] == [("make_permanent", "rapid_in_use")]
    item = next(r for r in body["items"] if r["camera_id"] == cam["id"])
    assert item["evidence"]["incidents"] == 3
    # a wider window takes in the old ones too
    body = _recs(client, tokens, window_days=800).json()
    item = next(r for r in body["items"] if r["camera_id"] == cam["id"])
    assert item["evidence"]["incidents"] == 7


def test_footage_requests_make_a_rapid_camera_in_use(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera(lon=BASE[0], lat=BASE[1], deployment="rapid")
    client.post(
        f"/cameras/{cam['id']}/footage-requests",
        headers=tokens["operator"],
        json={"requested_on": "2026-10-01", "reference": "KP/1"},
    )
    assert _by_camera(_recs(client, tokens).json())[cam["id"]] == [
        ("make_permanent", "rapid_in_use")
    ]


def test_threshold_is_configurable(make_client: Any, tokens: Any, db_session: Any) -> None:
    client = make_client("assets", recommend_min_incidents=1)
    cam = post_camera(
        client,
        tokens["admin"],
        name="Rapid",
        lon=BASE[0],
        lat=BASE[1],
        deployment="rapid",
        bearing_deg=0.0,
        fov_deg=90.0,
        range_m=50.0,
    )
    fx, fy = _ahead(BASE[0], BASE[1], 0.0, 20.0)
    _add_incidents(db_session, fx, fy, 1, AS_OF - timedelta(days=3), "cfg")
    assert _by_camera(_recs(client, tokens).json())[cam["id"]] == [
        ("make_permanent", "rapid_in_use")
    ]


def _view_bng(cam: dict[str, Any]) -> Any:
    return transform(lambda x, y, z=None: to_bng(x, y), shape(cam["view"]))


def test_redundant_pair_decommission_one_replace_other(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    kw = {
        "technology": "analogue",
        "bearing_deg": 90.0,
        "fov_deg": 60.0,
        "range_m": 60.0,
        "installed_on": "2009-05-01",
        "expected_life_years": 10,
    }
    a = new_camera(lon=0.6090, lat=51.3620, **kw)
    x, y = point_to_bng(0.6090, 51.3620)
    lon_b, lat_b = point_to_wgs84(x, y + 4.0)
    b = new_camera(lon=lon_b, lat=lat_b, **kw)
    va, vb = _view_bng(a), _view_bng(b)
    share = va.intersection(vb).area / min(va.area, vb.area)
    assert share > 0.8
    # b has a footage request, so b is kept (and replaced with digital); a is removed
    client.post(
        f"/cameras/{b['id']}/footage-requests",
        headers=tokens["operator"],
        json={"requested_on": "2026-10-01", "reference": "KP/2"},
    )
    body = _recs(client, tokens).json()
    recs = _by_camera(body)
    assert recs[a["id"]] == [("decommission", "redundant_overlap")]
    assert ("replace_with_digital", "redundant_overlap") in recs[b["id"]]
    item = next(r for r in body["items"] if r["camera_id"] == a["id"])
    assert item["related_camera_id"] == b["id"]
    assert abs(item["evidence"]["overlap_share"] - share) < 0.02
    # same answer on a second call (deterministic)
    assert _by_camera(_recs(client, tokens).json()) == recs


def test_overlap_below_threshold_is_not_redundant(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    kw = {"technology": "digital", "bearing_deg": 90.0, "fov_deg": 60.0, "range_m": 60.0}
    a = new_camera(lon=0.5100, lat=51.3855, **kw)
    x, y = point_to_bng(0.5100, 51.3855)
    lon_b, lat_b = point_to_wgs84(x + 45.0, y)
    b = new_camera(lon=lon_b, lat=lat_b, **kw)
    va, vb = _view_bng(a), _view_bng(b)
    share = va.intersection(vb).area / min(va.area, vb.area)
    assert 0.0 < share < 0.5
    recs = _by_camera(_recs(client, tokens).json())
    assert all(rule != "redundant_overlap" for _, rule in recs.get(a["id"], []))
    assert all(rule != "redundant_overlap" for _, rule in recs.get(b["id"], []))


def test_end_of_life_and_poor_reliability(client: Any, tokens: Any, new_camera: Any) -> None:
    old = new_camera(
        lon=0.5225,
        lat=51.3832,
        technology="analogue",
        installed_on="2012-01-01",
        expected_life_years=10,
    )
    young = new_camera(lon=0.5050, lat=51.3885, installed_on="2024-01-01", expected_life_years=10)
    for i in range(4):
        client.post(
            f"/cameras/{young['id']}/faults?duplicate=allow",
            headers=tokens["operator"],
            json={
                "category": "other",
                "description": f"f{i}",
                "reported_at": (AS_OF - timedelta(days=30 + i)).isoformat(),
            },
        )
    recs = _by_camera(_recs(client, tokens).json())
    assert ("replace_with_digital", "end_of_life") in recs[old["id"]]
    assert ("review", "poor_reliability") in recs[young["id"]]
    assert all(rule != "end_of_life" for _, rule in recs[young["id"]])


def test_recommendation_roles(client: Any, tokens: Any) -> None:
    assert client.get("/recommendations").status_code == 401
    for role in ("operator", "crew"):
        assert _recs(client, tokens, role=role).status_code == 403
    for role in ("seg", "analyst", "admin"):
        assert _recs(client, tokens, role=role).status_code == 200


def test_recommendation_changes_nothing(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(deployment="rapid")
    _recs(client, tokens)
    got = client.get(f"/cameras/{cam['id']}", headers=tokens["seg"])
    assert got.headers["etag"] == cam["_etag"] and got.json()["lifecycle"] == "active"
