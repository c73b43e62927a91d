"""Register: create, read (public and full), patch with ETags, import, roles."""

from __future__ import annotations

import math
from typing import Any

from shapely.geometry import Point, shape
from shapely.ops import transform

from shared.geometry import point_to_bng, to_bng
from tests.factories import camera_body
from tests.support import GILLINGHAM

GB = {"lon": GILLINGHAM[0], "lat": GILLINGHAM[1]}


def test_create_round_trips_wgs84_and_stores_bng(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(name="Gillingham High Street", **GB, asset_tag="MED-T1")
    assert cam["asset_tag"] == "MED-T1"
    assert abs(cam["lon"] - GB["lon"]) < 1e-6 and abs(cam["lat"] - GB["lat"]) < 1e-6
    assert cam["_etag"] == 'W/"1"' and cam["version"] == 1
    from sqlalchemy import text

    x, y, srid = db_session.execute(
        text("SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM assets.cameras WHERE id=:i"),
        {"i": cam["id"]},
    ).one()
    ex, ey = point_to_bng(GB["lon"], GB["lat"])
    assert srid == 27700 and abs(x - ex) < 0.01 and abs(y - ey) < 0.01


def test_view_polygon_is_a_sector_with_the_right_area(client: Any, new_camera: Any) -> None:
    cam = new_camera(bearing_deg=0.0, fov_deg=90.0, range_m=100.0)
    poly = shape(cam["view"])
    bng = transform(lambda x, y, z=None: to_bng(x, y), poly)
    exact = math.pi * 100.0**2 / 4.0
    assert abs(bng.area - exact) / exact < 0.01
    cx, cy = point_to_bng(cam["lon"], cam["lat"])
    # bearing 0 = north: the centroid lies north of the camera, not east or west
    assert bng.centroid.y > cy + 30 and abs(bng.centroid.x - cx) < 1.0
    assert bng.buffer(0.01).contains(Point(cx, cy))


def test_public_list_hides_private_fields_and_non_public_cameras(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    on_street = new_camera(owner="Medway Council", dpia_ref="DPIA-1")
    proposed = new_camera(lifecycle="proposed")
    r = client.get("/cameras?limit=1000")
    assert r.status_code == 200
    ids = {c["id"] for c in r.json()["items"]}
    assert on_street["id"] in ids and proposed["id"] not in ids
    item = next(c for c in r.json()["items"] if c["id"] == on_street["id"])
    assert "owner" not in item and "health" not in item and "dpia_ref" not in item
    full = client.get("/cameras?limit=1000", headers=tokens["analyst"]).json()["items"]
    assert {proposed["id"], on_street["id"]} <= {c["id"] for c in full}
    assert client.get(f"/cameras/{proposed['id']}").status_code == 404


def test_list_filters_bbox_and_technology(client: Any, tokens: Any, new_camera: Any) -> None:
    a = new_camera(lon=0.50, lat=51.38, technology="analogue")
    b = new_camera(lon=0.61, lat=51.36)
    h = tokens["analyst"]
    r = client.get("/cameras", params={"bbox": "0.49,51.37,0.51,51.39"}, headers=h).json()
    ids = {c["id"] for c in r["items"]}
    assert a["id"] in ids and b["id"] not in ids
    r = client.get("/cameras", params={"technology": "analogue", "limit": 1000}, headers=h).json()
    assert a["id"] in {c["id"] for c in r["items"]} and b["id"] not in {c["id"] for c in r["items"]}
    assert client.get("/cameras", params={"bbox": "1,2,3"}).status_code == 422


def test_patch_needs_if_match_and_rejects_stale(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    url, h = f"/cameras/{cam['id']}", tokens["admin"]
    r = client.patch(url, json={"name": "Renamed"}, headers=h)
    assert r.status_code == 428 and r.headers["content-type"] == "application/problem+json"
    r = client.patch(url, json={"name": "Renamed"}, headers=h | {"If-Match": cam["_etag"]})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    assert r.headers["etag"] == 'W/"2"'
    r = client.patch(url, json={"name": "Again"}, headers=h | {"If-Match": cam["_etag"]})
    assert r.status_code == 412
    assert client.get(url, headers=h).json()["name"] == "Renamed"


def test_patch_bearing_rederives_view(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(bearing_deg=0.0, fov_deg=60.0, range_m=50.0)
    r = client.patch(
        f"/cameras/{cam['id']}",
        json={"bearing_deg": 180.0},
        headers=tokens["admin"] | {"If-Match": cam["_etag"]},
    )
    assert r.status_code == 200
    cy = point_to_bng(cam["lon"], cam["lat"])[1]
    bng = transform(lambda x, y, z=None: to_bng(x, y), shape(r.json()["view"]))
    assert bng.centroid.y < cy - 10


def test_get_returns_etag(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    r = client.get(f"/cameras/{cam['id']}", headers=tokens["seg"])
    assert r.status_code == 200 and r.headers["etag"] == 'W/"1"'
    assert client.get("/cameras/999999", headers=tokens["seg"]).status_code == 404


def test_duplicate_asset_tag_conflicts(client: Any, new_camera: Any, tokens: Any) -> None:
    new_camera(asset_tag="DUP-1")
    r = client.post(
        "/cameras", json=camera_body(name="x", asset_tag="DUP-1"), headers=tokens["admin"]
    )
    assert r.status_code == 409


def test_create_rejects_swapped_coordinates(client: Any, tokens: Any) -> None:
    swapped = camera_body(name="x", lon=GILLINGHAM[1], lat=GILLINGHAM[0])
    r = client.post("/cameras", json=swapped, headers=tokens["admin"])
    assert r.status_code == 422


def test_roles_on_register(client: Any, tokens: Any, new_camera: Any) -> None:
    body = camera_body(name="x")
    assert client.post("/cameras", json=body).status_code == 401
    for role in ("operator", "seg", "crew", "analyst"):
        assert client.post("/cameras", json=body, headers=tokens[role]).status_code == 403
    cam = new_camera()
    r = client.patch(
        f"/cameras/{cam['id']}",
        json={"name": "y"},
        headers=tokens["seg"] | {"If-Match": cam["_etag"]},
    )
    assert r.status_code == 403
    assert client.get(f"/cameras/{cam['id']}/history").status_code == 401


def test_audit_rows_for_create_and_patch(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(name="Before")
    client.patch(
        f"/cameras/{cam['id']}",
        json={"name": "After", "reason": "typo"},
        headers=tokens["admin"] | {"If-Match": cam["_etag"]},
    )
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    assert [h["action"] for h in hist] == ["create", "update"]
    assert hist[1]["before"] == {"name": "Before"} and hist[1]["after"] == {"name": "After"}
    assert hist[1]["reason"] == "typo" and hist[1]["actor"].startswith("test admin (admin")


def test_openapi_documents_the_paths(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/cameras",
        "/cameras/{camera_id}",
        "/cameras/{camera_id}/faults",
        "/faults/{fault_id}",
        "/faults/sla-breaches",
        "/cameras/{camera_id}/footage-requests",
        "/cameras/{camera_id}/decisions",
        "/cameras/{camera_id}/history",
        "/cameras/{camera_id}/transitions",
        "/reviews/due",
        "/recommendations",
        "/cameras/import",
    ):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/cameras/{camera_id}"]["patch"]["parameters"]}
    assert "If-Match" in params
