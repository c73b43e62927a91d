"""Footage requests: the time window, officer and retention; search across cameras; updates
with If-Match, audited; operators only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

NOW = datetime.now(UTC).replace(microsecond=0)


def _body(**kw: Any) -> dict[str, Any]:
    return {
        "requested_on": date.today().isoformat(),
        "reference": "46/1234/26",
        "window_start": (NOW - timedelta(days=2, hours=3)).isoformat(),
        "window_end": (NOW - timedelta(days=2)).isoformat(),
        "officer": "PC 1234 Smith, Gillingham",
        "retain_until": (date.today() + timedelta(days=90)).isoformat(),
    } | kw


def _post(client: Any, tokens: Any, cam_id: int, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/cameras/{cam_id}/footage-requests", json=body, headers=tokens["operator"] | headers
    )


def test_a_request_keeps_its_window_officer_and_retention(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    r = _post(client, tokens, cam["id"], _body())
    assert r.status_code == 201, r.text
    got = r.json()
    assert r.headers["etag"] == 'W/"1"' and got["version"] == 1 and got["outcome"] == "pending"
    assert datetime.fromisoformat(got["window_start"]) == NOW - timedelta(days=2, hours=3)
    assert got["officer"] == "PC 1234 Smith, Gillingham"
    assert got["retain_until"] == (date.today() + timedelta(days=90)).isoformat()
    # The old body (date, reference, outcome) still works: the new fields are optional.
    old = {"requested_on": "2026-05-02", "reference": "KP/2026/9", "outcome": "provided"}
    r = _post(client, tokens, cam["id"], old)
    assert r.status_code == 201 and r.json()["window_start"] is None


def test_a_window_that_does_not_add_up_is_422_naming_the_field(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    cases = {
        "window_end": _body(window_end=(NOW - timedelta(days=3)).isoformat()),
        "window_end ": _body(window_start=(NOW - timedelta(days=40)).isoformat()),
        "window_start": _body(
            window_start=(NOW + timedelta(days=1)).isoformat(),
            window_end=(NOW + timedelta(days=2)).isoformat(),
        ),
        "retain_until": _body(retain_until="2001-01-01"),
    }
    for field, body in cases.items():
        r = _post(client, tokens, cam["id"], body)
        assert r.status_code == 422, (field, r.text)
        assert field.strip() in r.text, (field, r.text)


def test_requests_are_searched_across_cameras_and_filtered_by_outcome(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    a = new_camera(name="Footage High Street")
    b = new_camera(name="Footage Station Road")
    _post(client, tokens, a["id"], _body(reference="46/555/26", officer="DC Jones"))
    _post(client, tokens, b["id"], _body(reference="46/777/26", outcome="provided"))

    def refs(**params: Any) -> list[str]:
        r = client.get("/footage-requests", params=params, headers=tokens["operator"])
        assert r.status_code == 200, r.text
        return sorted(x["reference"] for x in r.json()["items"] if x["camera_id"] in ids)

    ids = {a["id"], b["id"]}
    assert refs() == ["46/555/26", "46/777/26"]
    assert refs(q="dc jones") == ["46/555/26"]
    assert refs(q="station road") == ["46/777/26"]
    assert refs(q="777") == ["46/777/26"]
    assert refs(outcome="provided") == ["46/777/26"]
    assert refs(camera_id=a["id"]) == ["46/555/26"]
    assert refs(q="%") == []  # plain text, not a pattern
    too_long = client.get("/footage-requests", params={"q": "x" * 101}, headers=tokens["operator"])
    assert too_long.status_code == 422
    for role in ("seg", "analyst", "crew"):
        assert client.get("/footage-requests", headers=tokens[role]).status_code == 403, role


def test_an_update_needs_if_match_is_audited_and_a_stale_one_changes_nothing(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera()
    row = _post(client, tokens, cam["id"], _body()).json()
    url = f"/footage-requests/{row['id']}"
    change = {"outcome": "provided", "retain_until": "2027-06-30", "reason": "Disc handed over"}
    assert client.patch(url, json=change, headers=tokens["operator"]).status_code == 428
    assert (
        client.patch(url, json=change, headers=tokens["seg"] | {"If-Match": 'W/"1"'}).status_code
        == 403
    )
    r = client.patch(url, json=change, headers=tokens["operator"] | {"If-Match": 'W/"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == 'W/"2"' and r.json()["outcome"] == "provided"
    assert r.json()["retain_until"] == "2027-06-30" and r.json()["updated_at"]
    stale = client.patch(
        url, json={"outcome": "refused"}, headers=tokens["operator"] | {"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    got = client.get(url, headers=tokens["operator"])
    assert got.json()["outcome"] == "provided" and got.headers["etag"] == 'W/"2"'
    audit = db_session.execute(
        text(
            "SELECT before, after, reason, actor FROM assets.audit_log "
            "WHERE entity = 'footage_request' AND entity_id = :r AND action = 'footage_update'"
        ),
        {"r": row["id"]},
    ).all()
    assert len(audit) == 1
    assert audit[0].before["outcome"] == "pending" and audit[0].after["outcome"] == "provided"
    assert audit[0].after["retain_until"] == "2027-06-30" and audit[0].reason == "Disc handed over"
    # Nothing to change: the version stays. A cleared outcome or an unknown field is 422.
    same = client.patch(
        url, json={"outcome": "provided"}, headers=tokens["operator"] | {"If-Match": 'W/"2"'}
    )
    assert same.status_code == 200 and same.headers["etag"] == 'W/"2"'
    for bad in ({"outcome": None}, {"reference": "46/9/26"}, {"window_end": "2001-01-01T00:00Z"}):
        r = client.patch(url, json=bad, headers=tokens["operator"] | {"If-Match": 'W/"2"'})
        assert r.status_code == 422, (bad, r.text)
    assert client.get("/footage-requests/987654", headers=tokens["operator"]).status_code == 404


def test_a_retried_request_is_recorded_once(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera()
    key = {"Idempotency-Key": "footage-retry-1"}
    first = _post(client, tokens, cam["id"], _body(), **key)
    again = _post(client, tokens, cam["id"], _body(), **key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert _post(client, tokens, cam["id"], _body(officer="Someone else"), **key).status_code == 409
    n = db_session.scalar(
        text("SELECT count(*) FROM assets.footage_requests WHERE camera_id = :c"), {"c": cam["id"]}
    )
    assert n == 1
