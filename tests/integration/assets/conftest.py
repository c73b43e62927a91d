"""Fixtures for the assets integration tests: a client and a helper that registers cameras."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

GILLINGHAM = (0.5466, 51.3887)


@pytest.fixture()
def client(make_client: Callable[..., Any]) -> Any:
    return make_client("assets")


@pytest.fixture()
def new_camera(client: Any, tokens: dict[str, dict[str, str]]) -> Callable[..., dict[str, Any]]:
    """POST a camera as admin and return the JSON body (with its ETag under ``_etag``)."""
    counter = {"n": 0}

    def make(**kw: Any) -> dict[str, Any]:
        counter["n"] += 1
        body = {
            "name": f"Test camera {counter['n']}",
            "lon": GILLINGHAM[0],
            "lat": GILLINGHAM[1],
            "technology": "digital",
            "deployment": "fixed",
            "bearing_deg": 90.0,
            "fov_deg": 60.0,
            "range_m": 80.0,
        } | kw
        r = client.post("/cameras", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        out["_etag"] = r.headers["etag"]
        return out

    return make
