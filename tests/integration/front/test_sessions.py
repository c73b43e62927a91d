"""People sign in once: one session on the three services, sign-out everywhere, timeouts, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from shared import accounts
from shared.core.models import WebSession

PASSWORD = "correct horse battery"


@pytest.fixture()
def person(db_session: Any) -> Any:
    """An operator account with a password."""
    user = accounts.create_user(
        db_session, username="Ann.Op", role="operator", full_name="Ann Operator", password=PASSWORD
    )
    db_session.flush()
    return user


def sign_in(client: Any, username: str = "ann.op", password: str = PASSWORD, **kw: Any) -> Any:
    """POST the sign-in form as a browser on this site would."""
    return client.post(
        "/sign-in",
        data={"username": username, "password": password, "next": "/control-room"},
        headers={"Origin": str(client.base_url)},
        follow_redirects=False,
        **kw,
    )


def test_one_session_opens_all_three_services(make_client: Any, person: Any) -> None:
    assets, hotspots, predictive = (make_client(s) for s in ("assets", "hotspots", "predictive"))
    r = sign_in(assets)
    assert r.status_code == 303 and r.headers["location"] == "/control-room"
    cookie = assets.cookies.get("csp_session")
    assert cookie and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=lax" in r.headers["set-cookie"].lower()
    for client in (hotspots, predictive):
        client.cookies.set("csp_session", cookie)
    # The API reads the session too: the operator's faults list, on assets.
    assert assets.get("/faults").status_code == 200
    # Home pages on every service name the person.
    for client in (assets, hotspots, predictive):
        page = client.get("/")
        assert page.status_code == 200
        assert "Ann Operator" in page.text
    # Sign out on predictive: assets no longer knows the session.
    out = predictive.post(
        "/sign-out", headers={"Origin": str(predictive.base_url)}, follow_redirects=False
    )
    assert out.status_code == 303
    assets.cookies.set("csp_session", cookie)
    assert assets.get("/faults").status_code == 401
    assert "Ann Operator" not in assets.get("/").text


def test_wrong_password_then_lock(make_client: Any, person: Any, db_session: Any) -> None:
    client = make_client("assets", sign_in_slow_seconds=0, sign_in_max_failures=3)
    for i in range(2):
        r = sign_in(client, password="wrong password!")
        assert r.status_code == 401, i
        assert "do not match" in r.text
    r = sign_in(client, password="wrong password!")
    assert r.status_code == 429 and "locked for 15 minutes" in r.text
    assert int(r.headers["retry-after"]) == 900
    # The right password is refused while locked.
    r = sign_in(client)
    assert r.status_code == 429 and "locked" in r.text
    db_session.refresh(person)
    assert person.failed_sign_ins == 3 and person.locked_until > datetime.now(UTC)
    accounts.enable_user(db_session, username="ann.op")
    assert sign_in(client).status_code == 303


def test_slow_down_before_lock(make_client: Any, person: Any) -> None:
    client = make_client("assets", sign_in_slow_after=2, sign_in_slow_seconds=30)
    assert sign_in(client, password="wrong password!").status_code == 401
    assert sign_in(client, password="wrong password!").status_code == 401
    # The third attempt within 30 s is not even checked: it says how long to wait.
    r = sign_in(client)
    assert r.status_code == 429 and "wait" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 30


def test_unknown_user_and_wrong_password_read_the_same(make_client: Any, person: Any) -> None:
    client = make_client("assets")
    a = sign_in(client, username="nobody", password="whatever12345")
    b = sign_in(client, password="whatever12345")
    assert a.status_code == b.status_code == 401
    assert "do not match an account" in a.text and "do not match an account" in b.text


def test_disabled_account_cannot_sign_in_and_loses_its_session(
    make_client: Any, person: Any, db_session: Any
) -> None:
    client = make_client("assets")
    assert sign_in(client).status_code == 303
    assert client.get("/faults").status_code == 200
    accounts.disable_user(db_session, username="ann.op")
    assert client.get("/faults").status_code == 401
    r = sign_in(client)
    assert r.status_code == 401 and "disabled" in r.text


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"])
def test_idle_and_absolute_timeouts(
    make_client: Any, person: Any, db_session: Any, column: str
) -> None:
    client = make_client("assets", session_idle_minutes=30, session_max_hours=8)
    assert sign_in(client).status_code == 303
    assert client.get("/faults").status_code == 200
    past = datetime.now(UTC) - (timedelta(minutes=31) if column == "last_seen_at" else timedelta(0))
    db_session.execute(update(WebSession).values({column: past}))
    assert client.get("/faults").status_code == 401


def test_cookie_change_needs_same_origin_and_csrf_token(make_client: Any, person: Any) -> None:
    client = make_client("assets")
    assert sign_in(client).status_code == 303
    body = {"category": "no_picture", "description": "x"}
    url = "/cameras/999999/faults"
    # Cross-site: refused before anything else is looked at.
    evil = client.post(url, json=body, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    # Same site but without the session's CSRF token: refused.
    bare = client.post(url, json=body, headers={"Origin": str(client.base_url)})
    assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
    # With the token from the page's meta tag, the request reaches the handler (404: no camera).
    page = client.get("/")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    ok = client.post(
        url, json=body, headers={"Origin": str(client.base_url), "X-CSRF-Token": token}
    )
    assert ok.status_code == 404, ok.text


def test_cross_site_sign_in_refused(make_client: Any, person: Any) -> None:
    client = make_client("assets")
    r = client.post(
        "/sign-in",
        data={"username": "ann.op", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "csp_session" not in r.headers.get("set-cookie", "")


def test_next_never_leaves_the_site(make_client: Any, person: Any) -> None:
    client = make_client("assets")
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.post(
            "/sign-in",
            data={"username": "ann.op", "password": PASSWORD, "next": bad},
            headers={"Origin": str(client.base_url)},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/", bad


def test_audit_names_the_person_and_the_token(
    make_client: Any, db_session: Any, tokens: dict[str, dict[str, str]]
) -> None:
    from tests.factories import post_camera

    accounts.create_user(
        db_session, username="ada", role="admin", full_name="Ada Admin", password=PASSWORD
    )
    db_session.flush()
    client = make_client("assets")
    assert sign_in(client, username="ada").status_code == 303
    token = client.get("/").text.split('name="csrf-token" content="')[1].split('"')[0]
    person = {"Origin": str(client.base_url), "X-CSRF-Token": token}
    cam = post_camera(client, person, name="Audit camera")
    client.cookies.clear()
    r = client.patch(
        f"/cameras/{cam['id']}",
        json={"name": "Audit camera renamed", "reason": "test"},
        headers={**tokens["admin"], "If-Match": cam["_etag"]},
    )
    assert r.status_code == 200, r.text
    history = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    actors = [h["actor"] for h in history]
    assert "Ada Admin (ada, admin)" in actors, actors
    assert any(a.startswith("test admin (admin, token #") for a in actors), actors
