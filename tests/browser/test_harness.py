"""Smoke test of the browser harness: Chromium launches and a live service answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
    page.goto(base + "/docs")
    # Swagger UI loads its bundle from a CDN; the title is enough to prove the page was served.
    assert "CSP assets" in page.title()
    page.screenshot(path=str(artifacts_dir / "harness_docs.png"))
