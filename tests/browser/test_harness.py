"""Smoke test of the browser harness: Chromium launches and a live service answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def test_chromium_renders_inline_html(page: Any) -> None:
    page.set_content("<html><body><h1 id='t'>hello</h1></body></html>")
    assert page.inner_text("#t") == "hello"
    assert page.evaluate("1 + 2") == 3


def test_live_service_answers(live_server: Any, page: Any, artifacts_dir: Path) -> None:
    base = live_server("assets")
    resp = page.goto(base + "/healthz")
    assert resp is not None and resp.status == 200
    assert page.evaluate("JSON.parse(document.body.innerText).service") == "assets"
    resp = page.goto(base + "/readyz")
    assert resp is not None and resp.status == 200, page.content()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or ""))
    page.goto(base + "/docs")
    # Swagger UI is the suite's own copy: the operations render with nothing from another host
    # (it came from a CDN, and /docs was a blank page without the internet).
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    assert "CSP assets" in page.title()
    assert hosts <= {"127.0.0.1", "localhost", ""}, hosts
    page.screenshot(path=str(artifacts_dir / "harness_docs.png"))


def test_redoc_renders_offline(live_server: Any, page: Any, artifacts_dir: Path) -> None:
    base = live_server("hotspots")
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or ""))
    page.goto(base + "/redoc")
    # ReDoc draws the operations' menu once it has read the OpenAPI document.
    page.wait_for_selector("[role=menuitem], .menu-content li", timeout=20_000)
    assert page.locator("h1").first.inner_text().strip() != ""
    assert hosts <= {"127.0.0.1", "localhost", ""}, hosts
    page.screenshot(path=str(artifacts_dir / "harness_redoc.png"))
