"""Single sign-on in headless Chromium against a real OpenID provider (node oidc-provider).

The three services run with SSO configured (their own servers here: the shared ``live_server``
has no OIDC settings); the provider runs on another loopback port, with the person's claims in
the ID token (the integration tests cover claims from userinfo). Every request to another host
is blocked and none of the suite's own may fail. Screenshots are kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.steps import cut_off
from tests.oidc_provider import IDP_PASSWORD, account, client, running_provider
from tests.support import free_port, service_app, serving

SERVICES = ("assets", "hotspots", "predictive")
SECRET = "browser-sso-client-secret-0123456789"  # noqa: S105 - the test provider's
ROLE_MAP = {"csp-kfrs-crew": "crew:kfrs", "csp-analysts": "analyst"}
ACCOUNTS = dict(
    [
        account("kim-sub", preferred_username="sso.kim", name="Kim Crew", groups=["csp-kfrs-crew"]),
        account("vic-sub", preferred_username="sso.vic", name="Vic Visitor", groups=["visitors"]),
    ]
)


@pytest.fixture(scope="module")
def sso_suite(browser_db: str) -> Iterator[dict[str, str]]:
    """The provider and the three services configured for it; their base URLs by name."""
    ports = {s: free_port() for s in SERVICES}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    callbacks = [f"{u}/sso/callback" for u in urls.values()]
    with contextlib.ExitStack() as running:
        issuer = running.enter_context(
            running_provider(
                clients=[client("csp-suite", SECRET, callbacks)],
                accounts=ACCOUNTS,
                claims_in_id_token=True,
            )
        )
        for service, port in ports.items():
            app = service_app(
                service,
                browser_db,
                port=port,
                oidc_issuer=issuer,
                oidc_client_id="csp-suite",
                oidc_client_secret=SECRET,
                oidc_role_map=ROLE_MAP,
                oidc_button_label="Sign in with the partnership account",
                **{f"{s}_url": u for s, u in urls.items()},
            )
            running.enter_context(serving(app, port=port))
        yield urls | {"idp": issuer}


def _at_provider(page: Any, idp: str, login: str) -> None:
    """Sign in on the provider's own page (it must be the provider's, not the suite's)."""
    page.get_by_test_id("idp-login").wait_for()
    assert page.url.startswith(idp + "/interaction/"), page.url
    page.get_by_test_id("idp-login").fill(login)
    page.get_by_test_id("idp-password").fill(IDP_PASSWORD)
    page.get_by_test_id("idp-submit").click()
    page.wait_for_load_state("load")


def test_sso_button_provider_and_back_signed_in_on_every_service(
    page: Any, sso_suite: dict[str, str], artifacts_dir: Any
) -> None:
    offline = cut_off(page)
    assets = sso_suite["assets"]
    page.goto(assets + "/sign-in?next=/")
    button = page.get_by_test_id("signin-sso")
    assert button.inner_text().strip() == "Sign in with the partnership account"
    assert_accessible(page, "sign-in page with the SSO button")
    page.screenshot(path=str(artifacts_dir / "sso-sign-in.png"), full_page=True)
    button.click()
    _at_provider(page, sso_suite["idp"], "kim-sub")
    page.screenshot(path=str(artifacts_dir / "sso-back-on-assets.png"), full_page=True)
    assert page.url == assets + "/", page.url
    assert "Kim Crew" in page.get_by_test_id("signed-in-as").inner_text()
    assert page.get_by_test_id("signout").is_visible()
    # One sign-in: the other two services know the person without asking again.
    for service in ("hotspots", "predictive"):
        page.goto(sso_suite[service] + "/")
        assert page.url == sso_suite[service] + "/"
        assert "Kim Crew" in page.get_by_test_id("signed-in-as").inner_text(), service
        assert page.get_by_test_id("signin-username").count() == 0
        page.screenshot(path=str(artifacts_dir / f"sso-home-{service}.png"), full_page=True)
    offline.check("SSO sign-in")


def test_sso_without_a_role_comes_back_to_the_form_saying_so(
    page: Any, sso_suite: dict[str, str], artifacts_dir: Any
) -> None:
    offline = cut_off(page)
    hotspots = sso_suite["hotspots"]
    page.goto(hotspots + "/sign-in?next=/")
    page.get_by_test_id("signin-sso").click()
    _at_provider(page, sso_suite["idp"], "vic-sub")
    assert page.url.startswith(hotspots + "/sign-in?"), page.url
    assert "no role in this suite" in page.get_by_test_id("signin-error").inner_text()
    assert page.get_by_test_id("signin-username").is_visible()
    assert_accessible(page, "sign-in page after an SSO refusal")
    page.screenshot(path=str(artifacts_dir / "sso-no-role.png"), full_page=True)
    offline.check("SSO refused")
