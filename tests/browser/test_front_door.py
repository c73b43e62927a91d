"""The front door, as a person uses it: sign in once, every page of the three services, sign out.

Every request to another host is blocked (a control-room network closed to the internet), and
no page may fail a request of its own. Screenshots of each page are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.browser.steps import Offline, cut_off

SERVICES = ("assets", "hotspots", "predictive")


@pytest.fixture(scope="module")
def wards(browser_db: str) -> int:
    """The Medway wards in the browser database (what an admin's import would hold)."""
    from shared.boundaries.demo import WARDS_FILE
    from shared.boundaries.service import load_layer
    from shared.db import make_engine, make_sessionmaker
    from tests.conftest import SHARED_DATA

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        report = load_layer(s, SHARED_DATA / WARDS_FILE, layer="ward", source="front door test")
        s.commit()
    eng.dispose()
    return int(report.loaded)


@pytest.fixture()
def suite(live_server: Callable[[str], str], wards: int) -> dict[str, str]:
    """The three services' base URLs (started once per test session), wards loaded."""
    return {s: live_server(s) for s in SERVICES}


def _check_map_context(page: Any, label: str) -> None:
    """A page with a map draws the ward lines and some ward names, with no tiles at all."""
    if page.locator(".leaflet-container").count() == 0:
        return
    page.wait_for_selector("[data-csp-context=ready]", timeout=10_000)
    drawn = int(page.locator("[data-csp-wards]").first.get_attribute("data-csp-wards") or 0)
    assert drawn >= 20, f"{label}: {drawn} ward lines"
    names = [n for n in page.locator(".csp-area-name").all_inner_texts() if n.strip()]
    assert len(names) >= 5, f"{label}: ward names {names}"
    assert page.locator("img.leaflet-tile").count() == 0, f"{label}: tiles drawn"


@pytest.fixture()
def offline(page: Any) -> Offline:
    """The page with the internet cut off."""
    return cut_off(page)


def _header_links(page: Any) -> list[tuple[str, str]]:
    return [
        (a.inner_text().strip(), a.get_attribute("href"))
        for a in page.locator("header.top nav a").all()
    ]


def _shot(page: Any, artifacts_dir: Any, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"front-door-{name}.png"), full_page=True)


def test_sign_in_once_every_page_then_sign_out_everywhere(
    page: Any, offline: Offline, suite: dict[str, str], people: Any, artifacts_dir: Any
) -> None:
    user = people("front.admin", "admin", name="Alex Admin")
    page.goto(suite["assets"] + "/")
    assert page.get_by_test_id("signin-link").is_visible()
    _shot(page, artifacts_dir, "home-signed-out")
    assert_accessible(page, "home page, signed out")
    sign_in(page, suite["assets"], user)
    assert "Alex Admin" in page.get_by_test_id("signed-in-as").inner_text()
    _shot(page, artifacts_dir, "home-signed-in")
    assert_accessible(page, "home page")
    links = _header_links(page)
    hosts = {urlsplit(href).netloc for _, href in links}
    assert len(hosts) == 3, f"the header should link all three services: {links}"
    visited = []
    for label, href in links:
        page.goto(href)
        page.wait_for_load_state("networkidle")
        assert page.get_by_test_id("signin-password").count() == 0, f"{label} asked to sign in"
        assert "Alex Admin" in page.get_by_test_id("signed-in-as").inner_text(), label
        _check_map_context(page, label)
        name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        _shot(page, artifacts_dir, name)
        assert_accessible(page, label)
        visited.append(label)
    for service, base in suite.items():
        page.goto(base + "/docs")
        page.wait_for_selector(".swagger-ui .information-container", timeout=15_000)
        _shot(page, artifacts_dir, f"docs-{service}")
        page.goto(base + "/")
        assert "Alex Admin" in page.get_by_test_id("signed-in-as").inner_text(), service
    offline.check("signed-in tour")
    assert len(visited) >= 5, visited

    # One sign-out, on predictive: every service asks again.
    page.goto(suite["predictive"] + "/")
    page.get_by_test_id("signout").click()
    page.wait_for_load_state("load")
    assert page.get_by_test_id("signin-password").is_visible()
    for label, href in links:
        if "/map" in href and urlsplit(href).netloc == urlsplit(suite["assets"]).netloc:
            continue  # the public camera map stays open, without the signed-in layers
        response = page.goto(href)
        assert response is not None and response.status == 401, (
            label,
            response and response.status,
        )
        assert page.get_by_test_id("signin-password").is_visible(), label
    page.goto(suite["assets"] + "/")
    assert page.get_by_test_id("signin-link").is_visible()
    _shot(page, artifacts_dir, "signed-out-again")
    assert_accessible(page, "sign-in page")
    offline.check("after sign-out")


def test_crew_sees_only_their_agency(
    page: Any, offline: Offline, suite: dict[str, str], people: Any, artifacts_dir: Any
) -> None:
    user = people("front.kfrs", "crew", agency="kfrs", name="Kit Crew")
    sign_in(page, suite["predictive"], user)
    labels = [label for label, _ in _header_links(page)]
    assert "KFRS boxes" in labels and "Police boxes" not in labels, labels
    assert "Control room" not in labels and "Hotspots" not in labels, labels
    response = page.goto(suite["predictive"] + "/targets/page?agency=police")
    assert response is not None and response.status == 403
    _shot(page, artifacts_dir, "crew-police-list-403")
    assert_accessible(page, "403 page")
    api = page.request.get(suite["predictive"] + "/targets?agency=police")
    assert api.status == 403
    response = page.goto(suite["assets"] + "/control-room")
    assert response is not None and response.status == 403
    assert "operator" in page.get_by_test_id("forbidden-reason").inner_text()
    offline.check("crew tour")


def test_cross_site_post_with_the_session_cookie_is_refused(
    page: Any, suite: dict[str, str], people: Any
) -> None:
    user = people("front.operator", "operator", name="Oli Operator")
    sign_in(page, suite["assets"], user)
    # The browser context holds the session cookie; a form post from another site carries it
    # only if SameSite allowed it, and the suite refuses it anyway: no Origin of its own, no token.
    for headers in (
        {"Origin": "https://attacker.example"},
        {"Origin": suite["assets"]},  # same origin but without the session's CSRF token
    ):
        r = page.request.post(
            suite["assets"] + "/cameras/1/faults",
            data='{"category": "power", "description": "forged"}',
            headers={"Content-Type": "application/json", **headers},
        )
        assert r.status == 403, (headers, r.status, r.text()[:200])
    r = page.request.post(
        suite["assets"] + "/sign-out", headers={"Origin": "https://attacker.example"}
    )
    assert r.status == 403
    page.goto(suite["assets"] + "/")
    assert "Oli Operator" in page.get_by_test_id("signed-in-as").inner_text()
