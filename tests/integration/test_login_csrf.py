"""Login CSRF: a cross-site form post cannot sign a victim in (or out) on any service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared import accounts

SERVICES = ("assets", "hotspots", "predictive")
CROSS = [
    {"Origin": "https://attacker.example"},
    {"Origin": "null"},
    {"Referer": "https://attacker.example/page.html"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://testserver.attacker.example"},
]
PASSWORD = "login-csrf-password"


@pytest.fixture()
def person(db_session: Any) -> str:
    """An account the attacker would sign the victim into."""
    accounts.create_user(
        db_session, username="attacker.crew", role="crew", agency="kfrs", password=PASSWORD
    )
    db_session.flush()
    return "attacker.crew"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("headers", CROSS, ids=[next(iter(h.items()))[1][:20] for h in CROSS])
def test_cross_site_sign_in_is_refused(
    make_client: Callable[..., Any], person: str, service: str, headers: dict[str, str]
) -> None:
    client = make_client(service)
    r = client.post(
        "/sign-in",
        data={"username": person, "password": PASSWORD},
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("service", SERVICES)
def test_same_site_sign_in_works(
    make_client: Callable[..., Any], person: str, service: str
) -> None:
    client = make_client(service)
    r = client.post(
        "/sign-in",
        data={"username": person, "password": PASSWORD},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "csp_session=" in r.headers["set-cookie"]


def test_cross_site_sign_out_is_refused(make_client: Callable[..., Any]) -> None:
    client = make_client("assets")
    r = client.post(
        "/sign-out", headers={"Origin": "https://attacker.example"}, follow_redirects=False
    )
    assert r.status_code == 403
