"""The review map page by role: faults only for those who may read them; redirects are paths."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

ISLAND = re.compile(r'<script type="application/json" id="csp-map-data">(.*?)</script>', re.S)


def _map_as(client: Any, token: str | None) -> str:
    client.cookies.clear()
    if token:
        r = client.post("/map/sign-in", data={"token": token}, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/map"  # a path, never a host from the request
    r = client.get("/map")
    assert r.status_code == 200
    return str(r.text)


@pytest.mark.parametrize(
    ("role", "sees_faults"),
    [
        (None, False),
        ("crew", False),
        ("operator", True),
        ("seg", True),
        ("analyst", True),
        ("admin", True),
    ],
)
def test_faults_on_the_map_by_role(
    client: Any,
    tokens: dict[str, dict[str, str]],
    new_camera: Callable[..., dict[str, Any]],
    role: str | None,
    sees_faults: bool,
) -> None:
    cam = new_camera(name="Map role camera")
    r = client.post(
        f"/cameras/{cam['id']}/faults",
        json={"category": "no_picture", "description": "Secret fault text"},
        headers=tokens["operator"],
    )
    assert r.status_code == 201, r.text
    token = tokens[role]["Authorization"].removeprefix("Bearer ") if role else None
    page = _map_as(client, token)
    m = ISLAND.search(page)
    assert m is not None
    data = json.loads(m.group(1))
    assert ("Secret fault text" in json.dumps(data)) is sees_faults
    assert ('id="fault-list"' in page) is sees_faults
    assert "Secret fault text" not in page.replace(m.group(0), "")  # only ever as data


def test_sign_in_redirect_ignores_a_forged_host(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    token = tokens["seg"]["Authorization"].removeprefix("Bearer ")
    r = client.post(
        "/map/sign-in",
        data={"token": token},
        headers={"Host": "evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/map"
    r = client.post("/map/sign-out", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.headers["location"] == "/map"
