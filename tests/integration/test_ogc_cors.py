"""CORS: origins on the allow-list (CSP_CORS_ORIGINS) may read the OGC API; others may not."""

from __future__ import annotations

from typing import Any

ALLOWED = "https://maps.partner.example"


def test_cors_allow_list(make_client: Any) -> None:
    client = make_client("assets", cors_origins=[ALLOWED])
    ok = client.get("/ogc/collections", headers={"Origin": ALLOWED})
    assert ok.headers.get("access-control-allow-origin") == ALLOWED
    assert "content-crs" in ok.headers.get("access-control-expose-headers", "").lower()
    pre = client.options(
        "/ogc/collections/cameras/items",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED
    other = client.get("/ogc/collections", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    # no cookies cross-origin
    assert "access-control-allow-credentials" not in ok.headers


def test_no_cors_without_a_list(make_client: Any) -> None:
    client = make_client("assets")
    r = client.get("/ogc/collections", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in r.headers
