"""Browser harness: a live server on a migrated database and headless Chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import BASE_TEST_DB
from tests.support import free_port, service_app, serving

# The browser tests' own database, on the test PostGIS (TEST_DATABASE_URL's server, so a
# suite run on other ports keeps to them): one per pytest process.
BROWSER_DB = (
    os.environ.get("BROWSER_DATABASE_URL", BASE_TEST_DB.rsplit("/", 1)[0] + "/csp_browser")
    + f"_{os.getpid()}"
)
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_db() -> Iterator[str]:
    """A fresh database for pages: browser tests commit, so they keep away from csp_test."""
    from tests.conftest import _reset_database, create_database, drop_database

    create_database(BROWSER_DB)
    _reset_database(BROWSER_DB)
    yield BROWSER_DB
    drop_database(BROWSER_DB)


SERVICES = ("assets", "hotspots", "predictive")


@pytest.fixture(scope="session")
def live_server(browser_db: str) -> Iterator[Callable[[str], str]]:
    """Start a service on its port (once per session) and return its base URL.

    The three ports are chosen up front, so every service's header links the others and a
    session started on one is valid on all (one host: the browser sends the cookie to each).
    Tiles are off, as on a closed network.
    """
    ports = {s: free_port() for s in SERVICES}
    links = {f"{s}_url": f"http://127.0.0.1:{p}" for s, p in ports.items()}
    # A control-room network closed to the internet: no tile source (maps draw the suite's
    # boundaries instead), so a page that reaches for another host fails its test.
    links["tile_url"] = ""
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as running:

        def start(service: str) -> str:
            if service not in urls:
                port = ports[service]
                app = service_app(service, browser_db, port=port, **links)
                urls[service] = running.enter_context(serving(app, port=port))
            return urls[service]

        yield start


PASSWORD = "browser-test-password"  # noqa: S105 - a test account's


@pytest.fixture(scope="session")
def people(browser_db: str) -> Callable[..., str]:
    """Make (once) a person account in the browser database; returns the username."""
    from shared import accounts
    from shared.db import make_engine, make_sessionmaker

    made: set[str] = set()

    def make(username: str, role: str, agency: str | None = None, name: str | None = None) -> str:
        if username not in made:
            eng = make_engine(browser_db)
            with make_sessionmaker(eng)() as s:
                if accounts.find_user(s, username) is None:
                    accounts.create_user(
                        s,
                        username=username,
                        role=role,
                        agency=agency,
                        full_name=name or username.replace(".", " ").title(),
                        password=PASSWORD,
                    )
                    s.commit()
            eng.dispose()
            made.add(username)
        return username

    return make


def sign_in(page: Any, base_url: str, username: str, *, next_path: str = "/") -> None:
    """Sign in through the form as a person would (the suite's data-testid hooks)."""
    from urllib.parse import quote

    page.goto(f"{base_url}/sign-in?next={quote(next_path)}")
    page.get_by_test_id("signin-username").fill(username)
    page.get_by_test_id("signin-password").fill(PASSWORD)
    page.get_by_test_id("signin-submit").click()
    page.wait_for_load_state("load")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh page at laptop size; tests may resize it to a phone."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    blocked: list[str] = []
    pg.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield pg
    context.close()
    # Our pages must work under their own Content-Security-Policy: nothing refused.
    assert not blocked, f"CSP refused: {blocked[:3]}"


@pytest.fixture()
def errors(page: Any) -> list[str]:
    """JavaScript errors raised on the page (none expected)."""
    from tests.browser.steps import watch_errors

    return watch_errors(page)


@pytest.fixture()
def browser_session(browser_db: str) -> Iterator[Any]:
    """A committing session on the browser database, for seeding pages' data."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        yield s
    eng.dispose()


def wait_js(page: Any, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JS expression until truthy (wait_for_function compiles strings, which CSP refuses)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        page.wait_for_timeout(50)
