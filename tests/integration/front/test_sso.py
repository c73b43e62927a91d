"""Single sign-on against a real OpenID provider (node oidc-provider on loopback), driven by httpx.

The suite runs in-process (TestClient, ``http://testserver``); the provider is a separate node
process the suite reaches over HTTP for discovery, keys, tokens and userinfo. A second httpx
client plays the person's browser at the provider. Here the provider releases profile claims
(groups, name) at userinfo only, as oidc-provider does by default in the code flow; the browser
test runs it with the claims in the ID token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import func, select, update

from shared import accounts, oidc
from shared.core.models import SsoAttempt, User, WebSession
from tests.oidc_provider import IDP_PASSWORD, account, client, running_provider
from tests.support import free_port

CALLBACK = "http://testserver/sso/callback"
SECRET = "a-long-test-client-secret-0123456789"  # noqa: S105 - the test provider's
ROLE_MAP = {"csp-kfrs-crew": "crew:kfrs", "csp-operators": "operator", "csp-admins": "admin"}
ACCOUNTS = dict(
    [
        account(
            "ann-sub",
            preferred_username="Ann.Crew",
            name="Ann Crew",
            groups=["staff", "csp-kfrs-crew"],
            roles=["csp-analysts"],
        ),
        # Listed admins first: the map's order decides, so Bob is an operator.
        account(
            "bob-sub", preferred_username="bob", name="Bob", groups=["csp-admins", "csp-operators"]
        ),
        account("cy-sub", preferred_username="cy", name="Cy", groups=["staff", "visitors"]),
        account("dee-sub", email="dee@medway.example", name="Dee", groups=["csp-operators"]),
    ]
)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """The provider, with one client authenticating by basic and one held to post."""
    clients = [
        client("csp-suite", SECRET, [CALLBACK]),
        client("csp-post", SECRET, [CALLBACK], auth="client_secret_post"),
    ]
    with running_provider(
        clients=clients, accounts=ACCOUNTS, basic_refused_for=("csp-post",)
    ) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    oidc.forget_providers()
    yield
    oidc.forget_providers()


@pytest.fixture()
def suite(make_client: Any, issuer: str) -> Any:
    """The assets service with SSO configured (a builder for other settings)."""

    def build(**overrides: Any) -> Any:
        settings = {
            "oidc_issuer": issuer,
            "oidc_client_id": "csp-suite",
            "oidc_client_secret": SECRET,
            "oidc_role_map": ROLE_MAP,
        }
        return make_client("assets", **(settings | overrides))

    return build


def start(app: Any, next_path: str = "/control-room") -> str:
    """GET /sso/start as a browser would; returns the provider's authorization URL."""
    r = app.get("/sso/start", params={"next": next_path}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return str(r.headers["location"])


def at_provider(auth_url: str, login: str, password: str = IDP_PASSWORD) -> str:
    """Sign in at the provider's own login page; returns the URL it sends the browser back to."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(auth_url))
    with httpx.Client(base_url=origin, follow_redirects=False, timeout=10) as browser:
        r = browser.get(auth_url)
        while r.status_code in (302, 303) and r.headers["location"].startswith(("/", origin)):
            r = browser.get(r.headers["location"])
        assert r.status_code == 200 and 'data-testid="idp-login"' in r.text, r.text[:300]
        action = re.search(r'<form method="post" action="([^"]+)"', r.text)
        assert action
        r = browser.post(action.group(1), data={"login": login, "password": password})
        while r.status_code in (302, 303) and r.headers["location"].startswith(("/", origin)):
            r = browser.get(r.headers["location"])
        assert r.status_code in (302, 303), r.text[:300]
        return str(r.headers["location"])


def sso(app: Any, login: str, next_path: str = "/control-room") -> Any:
    """The whole flow: start, provider sign-in, callback; the callback's response."""
    back = at_provider(start(app, next_path), login)
    assert back.startswith(CALLBACK + "?"), back
    return app.get(back, follow_redirects=False)


def refused(r: Any, key: str, app: Any) -> str:
    """Assert the callback sent the browser back to the form with ``key``; the page's text."""
    assert r.status_code == 303, r.text[:300]
    target = urlsplit(r.headers["location"])
    assert target.path == "/sign-in" and parse_qs(target.query)["error"] == [key], target
    assert "csp_session" not in r.headers.get("set-cookie", "")
    page = app.get(r.headers["location"])
    assert page.status_code == 200
    assert oidc.SSO_MESSAGES[key].replace("'", "&#39;") in page.text
    return str(page.text)


def test_first_sign_in_makes_the_account_with_the_mapped_role(
    suite: Any, issuer: str, db_session: Any
) -> None:
    app = suite()
    r = sso(app, "ann-sub")
    assert r.status_code == 303 and r.headers["location"] == "/control-room"
    assert (
        "csp_session" in r.headers["set-cookie"] and "httponly" in r.headers["set-cookie"].lower()
    )
    user = accounts.find_user(db_session, "ann.crew")
    assert user is not None
    assert (user.role, user.agency_code, user.full_name) == ("crew", "kfrs", "Ann Crew")
    assert (user.sso_issuer, user.sso_subject, user.password_hash) == (issuer, "ann-sub", None)
    via = db_session.scalars(select(WebSession.via).where(WebSession.user_id == user.id)).all()
    assert via == ["sso"]
    # Signed in: the home page names her; the attempt is used up.
    assert "Ann Crew" in app.get("/").text
    assert db_session.scalar(select(func.count()).select_from(SsoAttempt)) == 0


def test_second_sign_in_reuses_the_account(suite: Any, db_session: Any) -> None:
    first = sso(suite(), "ann-sub")
    second = sso(suite(), "ann-sub")
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == "/control-room"
    rows = db_session.scalars(select(User).where(User.sso_subject == "ann-sub")).all()
    assert len(rows) == 1
    sessions = db_session.scalar(
        select(func.count()).select_from(WebSession).where(WebSession.user_id == rows[0].id)
    )
    assert sessions == 2


def test_disabled_account_cannot_sign_in_by_sso(suite: Any, db_session: Any) -> None:
    assert sso(suite(), "ann-sub").status_code == 303
    accounts.disable_user(db_session, username="ann.crew")
    db_session.flush()
    app = suite()
    text = refused(sso(app, "ann-sub"), "sso-disabled", app)
    assert "disabled" in text
    assert "Ann Crew" not in app.get("/").text


def test_map_order_decides_and_username_falls_back_to_email(suite: Any, db_session: Any) -> None:
    assert sso(suite(), "bob-sub").status_code == 303
    bob = accounts.find_user(db_session, "bob")
    assert bob is not None and (bob.role, bob.agency_code) == ("operator", None)
    assert sso(suite(), "dee-sub").status_code == 303
    dee = accounts.find_user(db_session, "dee@medway.example")
    assert dee is not None and (dee.full_name, dee.sso_subject) == ("Dee", "dee-sub")


def test_role_claim_is_a_setting(suite: Any, db_session: Any) -> None:
    app = suite(oidc_role_claim="roles", oidc_role_map={"csp-analysts": "analyst"})
    assert sso(app, "ann-sub").status_code == 303
    ann = accounts.find_user(db_session, "ann.crew")
    assert ann is not None and (ann.role, ann.agency_code) == ("analyst", None)


def test_no_mapped_role_is_refused(suite: Any, db_session: Any) -> None:
    app = suite()
    text = refused(sso(app, "cy-sub"), "sso-no-role", app)
    assert "no role in this suite" in text
    assert accounts.find_user(db_session, "cy") is None


def test_state_must_match_be_fresh_and_used_once(suite: Any, db_session: Any) -> None:
    app = suite()
    back = at_provider(start(app), "ann-sub")
    query = parse_qs(urlsplit(back).query)
    forged = dict(query, state=["x" + query["state"][0][1:]])
    refused(
        app.get(CALLBACK + "?" + urlencode(forged, doseq=True), follow_redirects=False),
        "sso-expired",
        app,
    )
    # Another browser (no state cookie) cannot finish this sign-in: no login CSRF.
    other = suite()
    refused(other.get(back, follow_redirects=False), "sso-expired", other)
    # The real answer in the browser that started still works, once.
    assert app.get(back, follow_redirects=False).headers["location"] == "/control-room"
    again = suite()
    again.cookies.set("csp_sso_state", query["state"][0], path="/sso/callback")
    refused(again.get(back, follow_redirects=False), "sso-expired", again)


def test_an_attempt_older_than_ten_minutes_is_refused_and_swept(
    suite: Any, db_session: Any
) -> None:
    app = suite()
    back = at_provider(start(app), "ann-sub")
    old = datetime.now(UTC) - timedelta(minutes=11)
    db_session.execute(update(SsoAttempt).values(created_at=old))
    db_session.flush()
    refused(app.get(back, follow_redirects=False), "sso-expired", app)
    # A stale attempt nobody finished goes when the next one starts.
    start(app)
    db_session.execute(update(SsoAttempt).values(created_at=old))
    start(app)
    ages = db_session.scalars(select(SsoAttempt.created_at)).all()
    assert len(ages) == 1 and ages[0] > old


def test_wrong_nonce_is_refused(suite: Any, db_session: Any) -> None:
    app = suite()
    back = at_provider(start(app), "ann-sub")
    # The ID token carries the nonce sent at the start; the suite now expects another.
    db_session.execute(update(SsoAttempt).values(nonce="not-the-nonce-sent"))
    db_session.flush()
    refused(app.get(back, follow_redirects=False), "sso", app)
    assert accounts.find_user(db_session, "ann.crew") is None


def test_signature_is_checked_against_the_providers_keys(suite: Any, issuer: str) -> None:
    info = oidc.provider_info(issuer)
    real = oidc.provider_keys(info)
    kid = str(real.keys[0].kid)
    # A key of the same name that is not the provider's: the signature does not hold.
    oidc._keys[info.jwks_uri] = (time.monotonic(), _foreign_keys(kid))
    app = suite()
    refused(sso(app, "ann-sub"), "sso", app)
    # A cached set without the token's key (a rotation): fetched again, and the sign-in works.
    oidc._keys[info.jwks_uri] = (time.monotonic(), _foreign_keys("retired-key"))
    assert sso(suite(), "ann-sub").headers["location"] == "/control-room"


def _foreign_keys(kid: str) -> KeySet:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return KeySet.import_key_set({"keys": [key.as_dict(private=False)]})


def real_id_token(suite: Any, issuer: str, db_session: Any) -> tuple[str, str]:
    """An ID token the provider issued to the suite for Ann (the exchange done here); and nonce."""
    app = suite()
    back = at_provider(start(app), "ann-sub")
    attempt = db_session.scalars(select(SsoAttempt)).one()
    tokens = oidc.exchange_code(
        oidc.provider_info(issuer),
        code=parse_qs(urlsplit(back).query)["code"][0],
        verifier=attempt.code_verifier,
        redirect_uri=CALLBACK,
        client_id="csp-suite",
        client_secret=SECRET,
    )
    return str(tokens["id_token"]), attempt.nonce


def test_id_token_checks(suite: Any, issuer: str, db_session: Any) -> None:
    token, nonce = real_id_token(suite, issuer, db_session)
    info = oidc.provider_info(issuer)
    good: dict[str, Any] = {
        "keys": oidc.provider_keys(info),
        "issuer": info.issuer,
        "client_id": "csp-suite",
        "nonce": nonce,
    }
    claims = oidc.verify_id_token(token, **good)
    assert claims["sub"] == "ann-sub" and claims["aud"] == "csp-suite"
    header, payload, signature = token.split(".")
    swapped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    secret_key = OctKey.import_key(SECRET.encode())
    bad_tokens = [
        f"{header}.{swapped}.{signature}",  # tampered payload
        f"{header}.{payload}.",  # signature dropped
        jwt.encode({"alg": "HS256"}, claims, secret_key),  # MAC'd with the client secret
    ]
    for bad in bad_tokens:
        with pytest.raises(oidc.SsoFailed, match="ID token refused"):
            oidc.verify_id_token(bad, **good)
    for field, value in (("nonce", "other"), ("issuer", "http://x")):
        with pytest.raises(oidc.SsoFailed, match="ID token refused"):
            oidc.verify_id_token(token, **(good | {field: value}))
    with pytest.raises(oidc.SsoFailed, match="not this client"):
        oidc.verify_id_token(token, **(good | {"client_id": "csp-post"}))


def test_client_secret_post_and_a_wrong_secret(suite: Any, db_session: Any) -> None:
    post = suite(oidc_client_id="csp-post")
    assert sso(post, "bob-sub").headers["location"] == "/control-room"
    wrong = suite(oidc_client_secret="not-the-secret-at-all-000000")
    refused(sso(wrong, "cy-sub"), "sso", wrong)


def test_the_provider_can_say_no(suite: Any) -> None:
    app = suite()
    state = parse_qs(urlsplit(start(app)).query)["state"][0]
    answer = {"error": "access_denied", "state": state}
    r = app.get("/sso/callback", params=answer, follow_redirects=False)
    refused(r, "sso-denied", app)


def test_an_answer_naming_another_issuer_is_refused(suite: Any) -> None:
    app = suite()
    back = at_provider(start(app), "ann-sub")
    query = parse_qs(urlsplit(back).query)
    assert query["iss"]  # RFC 9207: the provider names itself in its answer
    mixed = dict(query, iss=["http://127.0.0.1:1/other"])
    refused(
        app.get(CALLBACK + "?" + urlencode(mixed, doseq=True), follow_redirects=False), "sso", app
    )


def test_next_stays_on_the_suite(suite: Any) -> None:
    r = sso(suite(), "ann-sub", next_path="//evil.example/x")
    assert r.headers["location"] == "/"


def test_unreachable_provider_says_so_quickly(suite: Any) -> None:
    app = suite(oidc_issuer=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    r = app.get("/sso/start", params={"next": "/x"}, follow_redirects=False)
    assert time.monotonic() - started < 5
    refused(r, "sso-unavailable", app)
    assert parse_qs(urlsplit(r.headers["location"]).query)["next"] == ["/x"]


def test_button_when_configured_and_none_when_off(suite: Any, make_client: Any) -> None:
    on = suite(oidc_button_label="Sign in with Medway")
    page = on.get("/sign-in", params={"next": "/control-room"}).text
    button = re.search(r'<a class="btn" href="([^"]+)" data-testid="signin-sso">([^<]+)</a>', page)
    assert button and button.group(2) == "Sign in with Medway"
    assert button.group(1).replace("&amp;", "&") == "/sso/start?next=%2Fcontrol-room"
    off = make_client("assets")
    assert 'data-testid="signin-sso"' not in off.get("/sign-in").text
    refused(off.get("/sso/start", follow_redirects=False), "sso-off", off)
    refused(off.get("/sso/callback?code=x&state=y", follow_redirects=False), "sso-off", off)


def test_claim_shapes() -> None:
    """A role claim may be one string or a list holding other things; names may be unusable."""
    role_map = {"a": "analyst", "k": "crew:kfrs"}
    assert oidc.map_role({"g": "k"}, claim="g", role_map=role_map) == ("crew", "kfrs")
    assert oidc.map_role({"g": [{"x": 1}, "k", "a"]}, claim="g", role_map=role_map) == (
        "analyst",
        "",
    )
    assert oidc.map_role({"g": 7}, claim="g", role_map=role_map) == ("", "")
    spaced = {"preferred_username": "Ann Smith", "email": "Ann@Medway.example", "sub": "s"}
    assert oidc.pick_username(spaced) == "ann@medway.example"
    assert oidc.pick_username({"sub": "x" * 300}) is None
    assert oidc.full_name({"given_name": "Ann", "family_name": "Smith"}) == "Ann Smith"
    assert oidc.full_name({"name": "bad\u202ename"}) == ""


def test_behind_a_proxy_the_callback_is_the_public_url(suite: Any) -> None:
    app = suite(public_url="https://cctv.medway.example/assets/")
    r = app.get("/sso/start", follow_redirects=False)
    sent = parse_qs(urlsplit(r.headers["location"]).query)
    assert sent["redirect_uri"] == ["https://cctv.medway.example/assets/sso/callback"]
    cookie = r.headers["set-cookie"].lower()
    assert "path=/assets/sso/callback" in cookie and "httponly" in cookie and "secure" in cookie
    assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) == 43


def test_a_password_account_is_never_taken_over_by_sso(suite: Any, db_session: Any) -> None:
    # A provider where people pick their own username could name someone else's account.
    accounts.create_user(
        db_session, username="ann.crew", role="admin", full_name="Real Ann", password="x" * 12
    )
    db_session.flush()
    app = suite()
    refused(sso(app, "ann-sub"), "sso-account", app)
    user = accounts.find_user(db_session, "ann.crew")
    assert user is not None and user.sso_subject is None and user.role == "admin"


def test_an_account_made_for_sso_is_linked_on_first_sign_in(suite: Any, db_session: Any) -> None:
    accounts.create_user(db_session, username="ann.crew", role="seg", full_name="Ann")
    db_session.flush()
    assert sso(suite(), "ann-sub").status_code == 303
    user = accounts.find_user(db_session, "ann.crew")
    assert user is not None and user.sso_subject == "ann-sub" and user.role == "crew"


def test_production_refuses_a_plain_http_issuer() -> None:
    from pydantic import ValidationError

    from shared.settings import CommonSettings

    good = "postgresql+psycopg2://csp:a-real-password@db/csp"
    with pytest.raises(ValidationError, match="https"):
        CommonSettings(environment="production", database_url=good, oidc_issuer="http://idp")
    assert CommonSettings(environment="production", database_url=good, oidc_issuer="https://idp")
