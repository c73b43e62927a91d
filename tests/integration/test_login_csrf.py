"""S4: a cross-site form post cannot sign a victim in with the attacker's token (login CSRF)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

ROUTES = [
    ("assets", "/map/sign-in", {}),
    ("predictive", "/targets/sign-in", {"next": "/targets/page?agency=kfrs"}),
]
CROSS = [
    {"Origin": "https://attacker.example"},
    {"Origin": "null"},
    {"Referer": "https://attacker.example/page.html"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://testserver.attacker.example"},
]


def _bearer(tokens: dict[str, dict[str, str]], role: str) -> str:
    return tokens[role]["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize(("service", "path", "extra"), ROUTES, ids=["map", "targets"])
@pytest.mark.parametrize("headers", CROSS, ids=[next(iter(h.items()))[1][:20] for h in CROSS])
def test_cross_site_sign_in_is_refused(
    make_client: Callable[..., Any],
    tokens: dict[str, dict[str, str]],
    service: str,
    path: str,
    extra: dict[str, str],
    headers: dict[str, str],
) -> None:
    client = make_client(service)
    r = client.post(
        path,
        data={"token": _bearer(tokens, "crew"), **extra},
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(("service", "path", "extra"), ROUTES, ids=["map", "targets"])
def test_same_site_sign_in_works(
    make_client: Callable[..., Any],
    tokens: dict[str, dict[str, str]],
    service: str,
    path: str,
    extra: dict[str, str],
) -> None:
    client = make_client(service)
    r = client.post(
        path,
        data={"token": _bearer(tokens, "crew"), **extra},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "set-cookie" in r.headers


def test_cross_site_sign_out_is_refused(make_client: Callable[..., Any]) -> None:
    client = make_client("assets")
    r = client.post(
        "/map/sign-out", headers={"Origin": "https://attacker.example"}, follow_redirects=False
    )
    assert r.status_code == 403
