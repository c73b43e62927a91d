"""Open311 GeoReport v2 at /open311/v2: services, definitions, POST and GET requests, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyproj import Transformer
from sqlalchemy import select

from services.assets.lifecycle import FAULT_CATEGORIES
from services.assets.models import Camera, Fault
from tests.factories import make_camera

BNG_TO_WGS = Transformer.from_crs(27700, 4326, always_xy=True)
BASE = "/open311/v2"

# tag, easting, northing, lifecycle
SEED = [
    ("O311-A", 575800.0, 168000.0, "active"),
    ("O311-B", 575830.0, 168000.0, "active"),  # 30 m east of A
    ("O311-C", 576500.0, 168500.0, "in_store"),
]


@pytest.fixture()
def cams(db_session: Any) -> dict[str, Camera]:
    out = {}
    for tag, x, y, life in SEED:
        lon, lat = _lonlat(x, y)
        out[tag] = make_camera(
            db_session, asset_tag=tag, name=f"Camera {tag}", lon=lon, lat=lat, lifecycle=life
        )
    return out


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = BNG_TO_WGS.transform(x, y)
    return float(lon), float(lat)


def _post(client: Any, data: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.post(f"{BASE}/requests.json", data=data, headers=headers or {})


def test_services_one_per_category(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]]
) -> None:
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200
    services = r.json()
    # Every category but the two only the control room's systems can see.
    hidden = {"no_connection", "authentication_failed"}
    assert [s["service_code"] for s in services] == [c for c in FAULT_CATEGORIES if c not in hidden]
    for code in hidden:
        assert client.get(f"{BASE}/services/{code}.json").status_code == 404
        camera = str(cams["O311-B"].id)
        r = _post(client, {"service_code": code, "attribute[camera]": camera}, tokens["operator"])
        assert r.status_code == 404 and code in r.json()[0]["description"], r.text
    for s in services:
        assert s["type"] == "realtime" and s["group"] == "CCTV" and s["metadata"] is True
        assert s["service_name"] and s["description"] and "cctv" in s["keywords"]


def test_service_definition(client: Any) -> None:
    d = client.get(f"{BASE}/services/vandalism.json").json()
    assert d["service_code"] == "vandalism"
    attr = d["attributes"][0]
    assert attr["code"] == "camera" and attr["required"] is True
    r = client.get(f"{BASE}/services/nonsense.json")
    assert r.status_code == 404
    # GeoReport's error form (the spec's), not problem+json.
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()[0]["code"] == 404 and "nonsense" in r.json()[0]["description"]


def test_post_with_camera_attribute_logs_a_fault(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    r = _post(
        client,
        {
            "service_code": "no_picture",
            "attribute[camera]": "O311-A",
            "description": "Black screen",
        },
        tokens["operator"],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    number = body[0]["service_request_id"]
    assert number.startswith("F-") and "O311-A" in body[0]["service_notice"]
    fault = db_session.scalar(select(Fault).where(Fault.number == number))
    assert fault.camera_id == cams["O311-A"].id
    assert (fault.category, fault.status, fault.source) == ("no_picture", "open", "open311")
    db_session.refresh(cams["O311-A"])
    assert cams["O311-A"].health == "offline"


def test_post_accepts_numeric_id_and_api_key_field(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]]
) -> None:
    key = tokens["operator"]["Authorization"].removeprefix("Bearer ")
    r = _post(
        client,
        {"service_code": "vandalism", "attribute[camera]": str(cams["O311-B"].id), "api_key": key},
    )
    assert r.status_code == 201, r.text
    assert "O311-B" in r.json()[0]["service_notice"]


def test_post_by_location_picks_nearest_camera_in_service(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    # 10 m east of B (so 40 m from A): B is nearest.
    lon, lat = _lonlat(575840.0, 168000.0)
    r = _post(client, {"service_code": "power", "lat": lat, "long": lon}, tokens["operator"])
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    fault = db_session.scalar(select(Fault).where(Fault.number == number))
    assert fault.camera_id == cams["O311-B"].id
    # Beside C, which is in store, and > 50 m from A and B: no camera.
    lon, lat = _lonlat(576500.0, 168505.0)
    r = _post(client, {"service_code": "power", "lat": lat, "long": lon}, tokens["operator"])
    assert r.status_code == 400
    assert r.json()[0]["code"] == 400 and "50 m" in r.json()[0]["description"]


def test_post_errors(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]]
) -> None:
    ok = {"service_code": "power", "attribute[camera]": "O311-A"}
    assert _post(client, ok).status_code == 401
    assert _post(client, ok | {"api_key": "csp_wrong"}).status_code == 401
    assert _post(client, ok, tokens["analyst"]).status_code == 403
    r = _post(client, {"service_code": "bogus", "attribute[camera]": "O311-A"}, tokens["operator"])
    assert r.status_code == 404
    r = _post(client, {"service_code": "power"}, tokens["operator"])
    assert r.status_code == 400 and "attribute[camera]" in r.json()[0]["description"]
    r = _post(client, {"service_code": "power", "attribute[camera]": "NOPE"}, tokens["operator"])
    assert r.status_code == 400 and "NOPE" in r.json()[0]["description"]
    r = _post(client, {"service_code": "power", "attribute[camera]": "O311-C"}, tokens["operator"])
    # Whether a camera in store takes faults is the service's rule; either way the shape holds.
    assert r.status_code in (201, 409)
    if r.status_code == 409:
        assert r.json()[0]["code"] == 409


def test_get_requests_filters_and_status_mapping(
    client: Any, cams: dict[str, Camera], tokens: dict[str, dict[str, str]]
) -> None:
    op = tokens["operator"]
    numbers = {}
    for tag, code in (("O311-A", "no_picture"), ("O311-A", "vandalism"), ("O311-B", "network")):
        r = _post(client, {"service_code": code, "attribute[camera]": tag}, op)
        numbers[(tag, code)] = r.json()[0]["service_request_id"]
    # Move one to in_progress (still "open") and one to fixed ("closed") via the JSON API.
    faults = client.get("/faults", headers=op)
    assert faults.status_code == 200
    by_number = {f["number"]: f["id"] for f in faults.json()["items"]}
    fixed = numbers[("O311-B", "network")]
    assert (
        client.patch(
            f"/faults/{by_number[fixed]}", json={"status": "fixed", "note": "Reset"}, headers=op
        ).status_code
        == 200
    )
    ip = numbers[("O311-A", "vandalism")]
    client.patch(f"/faults/{by_number[ip]}", json={"status": "in_progress"}, headers=op)

    reader = tokens["analyst"]
    everything = client.get(f"{BASE}/requests.json", headers=reader).json()
    by_id = {r["service_request_id"]: r for r in everything}
    assert set(numbers.values()) <= set(by_id)
    # status_notes is the status's public sentence: the operator's note ("Reset") stays inside.
    assert by_id[fixed]["status"] == "closed"
    assert by_id[fixed]["status_notes"] == "The fault has been fixed."
    assert "Reset" not in str(everything)
    assert by_id[ip]["status"] == "open"
    a_lon, a_lat = _lonlat(575800.0, 168000.0)
    first = by_id[numbers[("O311-A", "no_picture")]]
    assert abs(first["long"] - a_lon) < 1e-5 and abs(first["lat"] - a_lat) < 1e-5
    assert first["address_id"] == "O311-A"

    def ids(query: str) -> set[str]:
        r = client.get(f"{BASE}/requests.json?{query}", headers=reader)
        assert r.status_code == 200, r.text
        return {x["service_request_id"] for x in r.json()} & set(numbers.values())

    assert ids("status=closed") == {fixed}
    assert ids("status=open") == set(numbers.values()) - {fixed}
    assert ids("service_code=vandalism") == {ip}
    assert ids(f"service_request_id={fixed},{ip}") == {fixed, ip}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"start_date={future}") == set()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"start_date={past}&end_date={future}") == set(numbers.values())

    one = client.get(f"{BASE}/requests/{fixed}.json", headers=reader)
    assert one.status_code == 200 and one.json()[0]["service_request_id"] == fixed
    assert client.get(f"{BASE}/requests/F-1999-000001.json", headers=reader).status_code == 404
    assert client.get(f"{BASE}/requests.json").status_code == 401
    assert client.get(f"{BASE}/requests.json?status=maybe", headers=reader).status_code == 400
    r = client.get(f"{BASE}/requests.json?start_date=yesterday", headers=reader)
    assert r.status_code == 400
