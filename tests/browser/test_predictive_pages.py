"""The daily list page in headless Chromium at phone and laptop size, with screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.factories import load_medway, make_list, store_incidents, synthetic_incidents, today

# Lists are read, never made, by the page, and a visit logged "now" counts for today's list:
# the module's fixture stores today's list as the nightly job would.
LIST_DAY = today()


@pytest.fixture(scope="module")
def crew_header(browser_db: str) -> dict[str, str]:
    """Boundaries, incidents, today's kfrs list and a crew token in the browser database."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        load_medway(s)
        store_incidents(s, synthetic_incidents(seed=11, end=LIST_DAY), source="fire")
        s.commit()
        make_list(s, "kfrs", LIST_DAY)
        _, clear = create_token(s, name="browser crew", role="crew")
        s.commit()
    eng.dispose()
    return {"Authorization": f"Bearer {clear}"}


def _open(page: Any, live_server: Any, header: dict[str, str]) -> Any:
    base = live_server("predictive")
    page.set_extra_http_headers(header)
    resp = page.goto(f"{base}/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}")
    assert resp is not None and resp.status == 200, page.content()
    page.wait_for_selector(".leaflet-interactive", timeout=15_000)
    return resp


def test_page_at_phone_size(
    page: Any, live_server: Any, crew_header: dict[str, str], artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _open(page, live_server, crew_header)
    assert page.locator("ol.boxes li").count() == 20
    assert page.locator("path.leaflet-interactive").count() == 20  # one polygon per box
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # no sideways scroll
    heights = page.eval_on_selector_all(
        "a.go, .actions button", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44  # touch targets
    assert page.locator("ol.boxes li .rank").first.inner_text() == "1"
    page.screenshot(path=str(artifacts_dir / "predictive_targets_phone.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".actions").is_visible()
    page.screenshot(path=str(artifacts_dir / "predictive_targets_print.png"), full_page=True)


def test_page_at_laptop_size(
    page: Any, live_server: Any, crew_header: dict[str, str], artifacts_dir: Path
) -> None:
    _open(page, live_server, crew_header)
    map_box = page.locator("#map-wrap").bounding_box()
    list_box = page.locator("section.list").bounding_box()
    assert map_box and list_box and map_box["x"] + map_box["width"] <= list_box["x"] + 1
    assert map_box["height"] > 400
    page.screenshot(path=str(artifacts_dir / "predictive_targets_laptop.png"))


def test_a_date_without_a_list_is_a_readable_page(
    page: Any, live_server: Any, crew_header: dict[str, str], artifacts_dir: Path
) -> None:
    """No list is made by looking: the page says so and links the dates that have one."""
    base = live_server("predictive")
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_extra_http_headers(crew_header)
    resp = page.goto(f"{base}/targets/page?agency=kfrs&date=2150-01-01")
    assert resp is not None and resp.status == 404
    assert "No list for kfrs on 2150-01-01" in page.inner_text("h1")
    assert page.locator("[data-testid=no-list]").is_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "predictive_targets_no_list_phone.png"))
    page.click(f"[data-testid=list-dates] a:text('{LIST_DAY.isoformat()}')")
    page.wait_for_selector(".leaflet-interactive", timeout=15_000)
    assert page.locator("ol.boxes li").count() == 20


def test_page_needs_a_token(page: Any, live_server: Any) -> None:
    base = live_server("predictive")
    resp = page.goto(f"{base}/targets/page?agency=kfrs")
    assert resp is not None and resp.status == 401


def test_crew_signs_in_on_a_phone_without_headers(
    page: Any, live_server: Any, crew_header: dict[str, str], artifacts_dir: Path
) -> None:
    """A phone cannot send a Bearer header: the page asks once, then the cookie carries it."""
    base = live_server("predictive")
    page.set_viewport_size({"width": 390, "height": 844})
    url = f"{base}/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}"
    page.goto(url)
    page.fill("#token", "csp_wrong-token")
    page.click("#sign-in button")
    assert page.locator(".err").is_visible()  # a wrong token is refused, with a message
    page.fill("#token", crew_header["Authorization"].split()[1])
    page.click("#sign-in button")
    page.wait_for_selector(".leaflet-interactive", timeout=15_000)
    assert page.locator("ol.boxes li").count() == 20
    assert page.url.endswith(f"/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}")
    cookie = next(c for c in page.context.cookies() if c["name"] == "csp_page_token")
    assert cookie["httpOnly"] and cookie["path"] == "/targets"
    # The cookie opens the page again, but never the JSON API.
    assert page.goto(url).status == 200
    api = page.request.get(f"{base}/targets?agency=kfrs&date={LIST_DAY.isoformat()}")
    assert api.status == 401
    with page.expect_download() as dl:
        page.click("text=Download CSV")
    rows = Path(dl.value.path()).read_text().splitlines()
    assert rows[0].startswith("rank,") and len(rows) == 21
    page.screenshot(path=str(artifacts_dir / "predictive_targets_signed_in_phone.png"))


def test_crew_logs_a_visit_from_the_phone(
    page: Any, live_server: Any, crew_header: dict[str, str], artifacts_dir: Path
) -> None:
    """Signed in once on the phone, a crew logs a visit to a box; the name is kept for next time."""
    import httpx

    base = live_server("predictive")
    url = _sign_in_on_phone(page, base, crew_header)
    box = page.locator("ol.boxes li").nth(2)
    cell = box.get_attribute("data-cell")
    before = _visits(base, crew_header)
    box.locator("summary").click()
    heights = box.locator("input:not([type=hidden]), textarea, button").evaluate_all(
        "els => els.map(e => e.offsetHeight)"
    )
    assert heights and min(heights) >= 44  # touch targets
    box.locator("input[name=crew]").fill("Chatham Blue Watch")
    box.locator("textarea[name=notes]").fill("Bins alight behind the shops, cleared")
    box.locator("button[type=submit]").click()
    page.wait_for_selector("#logged")
    assert "box 3" in page.inner_text("#logged")
    assert page.url.endswith(f"#box-{cell}")
    assert "visited 1" in page.locator(f"li[data-cell='{cell}'] .visited").inner_text()
    after = _visits(base, crew_header)
    new = [v for v in after if v["id"] not in {b["id"] for b in before}]
    assert [(v["cell_id"], v["crew"], v["notes"]) for v in new] == [
        (cell, "Chatham Blue Watch", "Bins alight behind the shops, cleared")
    ]
    page.screenshot(path=str(artifacts_dir / "predictive_targets_visit_logged_phone.png"))
    # The crew's name is filled in on the next box's form.
    nxt = page.locator("ol.boxes li").nth(4)
    nxt.locator("summary").click()
    assert nxt.locator("input[name=crew]").input_value() == "Chatham Blue Watch"
    page.emulate_media(media="print")
    assert not nxt.locator("details.visit").is_visible()
    assert httpx.get(url).status_code == 401  # the page itself still needs the sign-in


def _sign_in_on_phone(page: Any, base: str, header: dict[str, str]) -> str:
    """Open the list page at phone size and sign in with the token; returns its URL."""
    page.set_viewport_size({"width": 390, "height": 844})
    url = f"{base}/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}"
    page.goto(url)
    page.fill("#token", header["Authorization"].split()[1])
    page.click("#sign-in button")
    page.wait_for_selector(".leaflet-interactive", timeout=15_000)
    return url


def _visits(base: str, header: dict[str, str]) -> list[dict[str, Any]]:
    import httpx

    day = LIST_DAY.isoformat()
    r = httpx.get(
        f"{base}/visits", params={"agency": "kfrs", "from": day, "to": day}, headers=header
    )
    r.raise_for_status()
    return list(r.json()["visits"])
