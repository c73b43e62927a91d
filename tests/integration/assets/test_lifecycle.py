"""Lifecycle transitions: every allowed one succeeds, every other one is a 409 naming the
allowed next states; commissioning sets the next review; nothing is ever deleted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

# The state model, written out independently of services.assets.lifecycle.
EXPECTED = {
    "proposed": {"approved", "rejected"},
    "approved": {"active", "rejected"},
    "rejected": {"proposed"},
    "active": {"under_review", "in_store", "decommissioning"},
    "under_review": {"active", "in_store", "decommissioning"},
    "in_store": {"active", "decommissioning"},
    "decommissioning": {"decommissioned", "active"},
    "decommissioned": set(),
}
STATES = list(EXPECTED)
PATHS = {
    "proposed": ("proposed", []),
    "approved": ("proposed", ["approved"]),
    "rejected": ("proposed", ["rejected"]),
    "active": ("active", []),
    "under_review": ("active", ["under_review"]),
    "in_store": ("active", ["in_store"]),
    "decommissioning": ("active", ["decommissioning"]),
    "decommissioned": ("active", ["decommissioning", "decommissioned"]),
}


def _move(client: Any, tokens: Any, cam_id: int, etag: str, to: str) -> Any:
    return client.post(
        f"/cameras/{cam_id}/transitions",
        json={"to": to, "reason": "test"},
        headers=tokens["admin"] | {"If-Match": etag},
    )


def _camera_in(client: Any, tokens: Any, new_camera: Any, state: str) -> tuple[int, str]:
    start, steps = PATHS[state]
    cam = new_camera(lifecycle=start)
    etag = cam["_etag"]
    for step in steps:
        r = _move(client, tokens, cam["id"], etag, step)
        assert r.status_code == 200, r.text
        etag = r.headers["etag"]
    return cam["id"], etag


@pytest.mark.parametrize("src", STATES)
def test_every_transition_from(src: str, client: Any, tokens: Any, new_camera: Any) -> None:
    for dst in STATES:
        if dst == src:
            continue
        cam_id, etag = _camera_in(client, tokens, new_camera, src)
        r = _move(client, tokens, cam_id, etag, dst)
        if dst in EXPECTED[src]:
            assert r.status_code == 200, (src, dst, r.text)
            assert r.json()["lifecycle"] == dst
            assert set(r.json()["allowed_transitions"]) == EXPECTED[dst]
        else:
            assert r.status_code == 409, (src, dst, r.text)
            body = r.json()
            assert r.headers["content-type"] == "application/problem+json"
            assert set(body["allowed"]) == EXPECTED[src]
            for state in EXPECTED[src]:
                assert state in body["detail"]
            cam = client.get(f"/cameras/{cam_id}", headers=tokens["admin"]).json()
            assert cam["lifecycle"] == src


def test_commissioning_sets_next_review(client: Any, tokens: Any, new_camera: Any) -> None:
    cam_id, etag = _camera_in(client, tokens, new_camera, "approved")
    r = _move(client, tokens, cam_id, etag, "active")
    due = date.fromisoformat(r.json()["next_review_due"])
    assert due == date.today() + timedelta(days=365)


def test_transition_needs_if_match_and_fresh_etag(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    url = f"/cameras/{cam['id']}/transitions"
    body = {"to": "under_review", "reason": "x"}
    assert client.post(url, json=body, headers=tokens["admin"]).status_code == 428
    r = client.post(url, json=body, headers=tokens["admin"] | {"If-Match": 'W/"7"'})
    assert r.status_code == 412
    assert (
        client.post(url, json=body, headers=tokens["seg"] | {"If-Match": cam["_etag"]}).status_code
        == 403
    )
    assert client.post(url, json=body, headers={"If-Match": cam["_etag"]}).status_code == 401


def test_no_delete_route(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    assert client.delete(f"/cameras/{cam['id']}", headers=tokens["admin"]).status_code == 405


def test_transition_is_audited(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    _move(client, tokens, cam["id"], cam["_etag"], "under_review")
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    last = hist[-1]
    assert last["action"] == "transition" and last["reason"] == "test"
    assert last["before"]["lifecycle"] == "active" and last["after"]["lifecycle"] == "under_review"
