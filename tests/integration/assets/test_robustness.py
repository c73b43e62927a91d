"""Issue 11 regressions in the assets API: 500s that are now 4xx, strict input types, the fault
time window, world-extent boxes and LIKE wildcards.

Each case was a 500 or a wrong answer before its fix (the outside test's reproductions).
Requests go through a client whose requests each get their own savepoint session, as in
production each gets its own session, so a request that fails in the database cannot poison
the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import camera_body, post_camera
from tests.support import problem, savepoint_per_request

CAMERA = camera_body(name="Robust camera")


@pytest.fixture()
def client(make_client: Callable[..., Any], db_session: Any) -> Any:
    """The assets app with a savepoint session per request on the test's connection."""
    app_client = make_client("assets")
    savepoint_per_request(app_client.app, db_session.connection())
    return app_client


@pytest.fixture()
def camera(client: Any, tokens: dict[str, dict[str, str]]) -> dict[str, Any]:
    return post_camera(client, tokens["admin"], **CAMERA, installed_on="2020-06-01")


# ------------------------------------------------------------------ A3: 500s that are 4xx


@pytest.mark.parametrize(
    "bbox",
    [
        "-200,-100,200,100",
        "nan,51,1,52",
        "0,51,inf,52",
        "-inf,51,1,52",
        "0,51,1e308,52",
        "-1e308,-1e308,1e308,1e308",
        "0,nan,1,52",
    ],
)
def test_a_camera_bbox_out_of_range_is_422_without_a_token(client: Any, bbox: str) -> None:
    body = problem(client.get("/cameras", params={"bbox": bbox}), 422)
    assert "bbox" in body["detail"]


def test_a_world_bbox_on_cameras_finds_them(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    for bbox in ("-180,-90,180,90", "-90,0,90,80"):
        r = client.get("/cameras", params={"bbox": bbox}, headers=tokens["analyst"])
        assert r.status_code == 200, r.text
        assert [c["id"] for c in r.json()["items"]] == [camera["id"]]
    far = client.get("/cameras", params={"bbox": "100,0,110,10"}, headers=tokens["analyst"])
    assert far.status_code == 200 and far.json()["total"] == 0


@pytest.mark.parametrize("bbox", ["-90,0,90,80", "-180,-90,180,90", "-10,49,3,62"])
def test_ogc_world_and_continental_boxes_find_the_cameras(
    client: Any, camera: dict[str, Any], bbox: str
) -> None:
    """A4: clients send world extents; the box is clipped to EPSG:27700's area of use."""
    r = client.get("/ogc/collections/cameras/items", params={"bbox": bbox})
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["features"]] == [camera["id"]]
    views = client.get("/ogc/collections/camera-views/items", params={"bbox": bbox})
    assert views.status_code == 200, views.text


def test_an_ogc_box_outside_the_storage_crs_area_is_empty(
    client: Any, camera: dict[str, Any]
) -> None:
    r = client.get("/ogc/collections/cameras/items", params={"bbox": "100,0,110,10"})
    assert r.status_code == 200, r.text
    assert r.json()["features"] == [] and r.json()["numberMatched"] == 0


def test_patching_a_required_field_to_null_is_422(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/cameras/{camera['id']}"
    h = tokens["admin"] | {"If-Match": camera["_etag"]}
    for field in ("name",):
        body = problem(client.patch(url, json={field: None}, headers=h), 422)
        assert field in body["detail"]
    # Nullable fields still clear with null.
    r = client.patch(url, json={"ward": None}, headers=h)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "params",
    [
        {"today": "9999-12-31", "within_days": "3650"},
        {"today": "0001-01-01"},
        {"today": "20240101"},
    ],
)
def test_reviews_due_far_dates_are_422(
    client: Any, tokens: dict[str, dict[str, str]], params: dict[str, str]
) -> None:
    problem(client.get("/reviews/due", params=params, headers=tokens["seg"]), 422)


@pytest.mark.parametrize("digits", [4301, 5000, 19])
def test_an_if_match_of_many_digits_is_412(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]], digits: int
) -> None:
    h = tokens["admin"] | {"If-Match": f'W/"{"9" * digits}"'}
    problem(client.patch(f"/cameras/{camera['id']}", json={"owner": "x"}, headers=h), 412)
    r = client.patch(
        "/faults/1",
        json={"status": "fixed"},
        headers=tokens["operator"] | {"If-Match": f'W/"{"9" * digits}"'},
    )
    assert r.status_code in (404, 412), r.text


def _arabic_indic(n: int) -> str:
    return "".join(chr(0x0660 + int(d)) for d in str(n))


def test_open311_camera_refs_take_ascii_digits_only(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    from sqlalchemy import text

    for ref in ("\u00b2", _arabic_indic(camera["id"]), "\uff11", "1\u00b2"):
        form = {"service_code": "power", "attribute[camera]": ref}
        r = client.post("/open311/v2/requests.json", data=form, headers=tokens["operator"])
        # GeoReport v2 errors: a list of {code, description}, not problem+json.
        assert r.status_code == 400
        assert "camera" in r.json()[0]["description"]
    n = db_session.execute(
        text("SELECT count(*) FROM assets.faults WHERE camera_id=:c"), {"c": camera["id"]}
    ).scalar_one()
    assert n == 0
    ok = client.post(
        "/open311/v2/requests.json",
        headers=tokens["operator"],
        data={"service_code": "power", "attribute[camera]": str(camera["id"])},
    )
    assert ok.status_code == 201, ok.text


# ------------------------------------------------------------------ D7: strict types


@pytest.mark.parametrize(
    "change",
    [
        {"lon": True},
        {"lat": False},
        {"bearing_deg": True},
        {"range_m": True},
        {"expected_life_years": True},
        {"retention_days": 30.5},
        {"lon": "0.5"},
        {"installed_on": 20200101},
        {"installed_on": 0},
        {"name": "   "},
        {"name": "\u200b"},
        {"name": "\ufeff\u00a0"},
        {"name": "\t\n"},
        {"asset_tag": " "},
    ],
)
def test_a_camera_with_a_loosely_typed_or_blank_field_is_422(
    client: Any, tokens: dict[str, dict[str, str]], change: dict[str, Any]
) -> None:
    body = problem(client.post("/cameras", json=CAMERA | change, headers=tokens["admin"]), 422)
    assert next(iter(change)) in body["detail"]


def test_blank_optional_text_is_stored_as_none(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    r = client.post(
        "/cameras", json=CAMERA | {"ward": "   ", "owner": "\u200b"}, headers=tokens["admin"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["ward"] is None and r.json()["owner"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"name": " "},
        {"name": "\u2060"},
        {"bearing_deg": True},
        {"next_review_due": 1},
        {"lon": True, "lat": 51.38},
    ],
)
def test_a_patch_with_a_loosely_typed_or_blank_field_is_422(
    client: Any,
    camera: dict[str, Any],
    tokens: dict[str, dict[str, str]],
    change: dict[str, Any],
) -> None:
    h = tokens["admin"] | {"If-Match": camera["_etag"]}
    problem(client.patch(f"/cameras/{camera['id']}", json=change, headers=h), 422)


@pytest.mark.parametrize("when", [123, "123", 1.5e9, True, "1714550400"])
def test_a_number_is_not_a_fault_time(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]], when: Any
) -> None:
    body = {"category": "power", "description": "No power", "reported_at": when}
    r = client.post(f"/cameras/{camera['id']}/faults", json=body, headers=tokens["operator"])
    assert "reported_at" in problem(r, 422)["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("footage-requests", {"requested_on": 20240502, "reference": "KENT/1"}),
        ("footage-requests", {"requested_on": "2024-05-02", "reference": "  "}),
        ("faults", {"category": "power", "description": "\u200b "}),
    ],
)
def test_other_records_refuse_numbers_as_dates_and_blank_text(
    client: Any,
    camera: dict[str, Any],
    tokens: dict[str, dict[str, str]],
    path: str,
    body: dict[str, Any],
) -> None:
    r = client.post(f"/cameras/{camera['id']}/{path}", json=body, headers=tokens["operator"])
    problem(r, 422)


def test_a_number_is_not_a_query_time(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    r = client.get(
        f"/cameras/{camera['id']}/availability",
        params={"start": "0", "end": "1714550400"},
        headers=tokens["analyst"],
    )
    problem(r, 422)


def test_a_decision_refuses_bool_numbers(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    body = {
        "decision": "relocate",
        "meeting_date": "2024-05-01",
        "minute_ref": "SEG/1",
        "reason": "move",
        "lon": True,
        "lat": 51.38,
    }
    h = tokens["seg"] | {"If-Match": camera["_etag"]}
    problem(client.post(f"/cameras/{camera['id']}/decisions", json=body, headers=h), 422)
    body |= {"lon": 0.5466, "keep_under_review": "yes", "decision": "retain"}
    problem(client.post(f"/cameras/{camera['id']}/decisions", json=body, headers=h), 422)


# ------------------------------------------------------------------ D8: the fault time window


@pytest.mark.parametrize(
    "when",
    ["1900-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2020-05-31T12:00:00Z"],
)
def test_a_fault_before_the_window_is_422_naming_it(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]], when: str
) -> None:
    body = {"category": "power", "description": "Old", "reported_at": when}
    r = client.post(f"/cameras/{camera['id']}/faults", json=body, headers=tokens["operator"])
    detail = problem(r, 422)["detail"]
    # The camera was installed on 2020-06-01, later than 2000-01-01: that is the window's start.
    assert "2020-06-01" in detail


def test_a_fault_far_in_the_future_is_422(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"category": "power", "description": "Later", "reported_at": when}
    r = client.post(f"/cameras/{camera['id']}/faults", json=body, headers=tokens["operator"])
    assert "future" in problem(r, 422)["detail"]


def test_a_fault_inside_the_window_is_logged(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    for when in ("2020-06-01T00:00:00Z", "2024-05-01T09:00:00+01:00"):
        body = {"category": "power", "description": f"At {when}", "reported_at": when}
        # Two reports of one kind on one camera: the second insists (a duplicate is a 409).
        url = f"/cameras/{camera['id']}/faults?duplicate=allow"
        r = client.post(url, json=body, headers=tokens["operator"])
        assert r.status_code == 201, r.text


def test_a_camera_without_an_install_date_keeps_the_2000_floor(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    cam = post_camera(client, tokens["admin"], **CAMERA)
    url = f"/cameras/{cam['id']}/faults"
    old = {"category": "power", "description": "Old", "reported_at": "1999-06-01T00:00:00Z"}
    assert (
        "2000-01-01"
        in problem(client.post(url, json=old, headers=tokens["operator"]), 422)["detail"]
    )
    ok = old | {"reported_at": "2000-01-01T00:00:00Z"}
    assert client.post(url, json=ok, headers=tokens["operator"]).status_code == 201


def test_a_status_change_in_the_future_is_422(
    client: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    r = client.post(
        f"/cameras/{camera['id']}/faults",
        headers=tokens["operator"],
        json={"category": "power", "description": "No power"},
    )
    assert r.status_code == 201, r.text
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = client.patch(
        f"/faults/{r.json()['id']}",
        json={"status": "fixed", "at": later},
        headers=tokens["operator"],
    )
    assert "future" in problem(r, 422)["detail"]


# ------------------------------------------------------------------ D12: LIKE wildcards


def test_q_matches_wildcards_literally(client: Any, tokens: dict[str, dict[str, str]]) -> None:
    names = ["Alpha Street", "100% Corner", "Under_score Lane", "Back\\slash Row", "Plain"]
    ids = {}
    for name in names:
        ids[name] = post_camera(client, tokens["admin"], name=name)["id"]

    def found(q: str) -> set[str]:
        r = client.get("/cameras", params={"q": q, "limit": 1000}, headers=tokens["analyst"])
        assert r.status_code == 200, r.text
        return {c["name"] for c in r.json()["items"] if c["name"] in ids}

    # An independent reference: a plain, case-insensitive substring test.
    for q in ("%%%", "%", "_", "\\", "0%", "r_s", "e_s", "k\\s", "alpha", "PLAIN", "%Corner"):
        assert found(q) == {n for n in names if q.lower() in n.lower()}, q
