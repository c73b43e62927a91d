"""The analysts' backtest page in headless Chromium: start one, watch it, read the table and plot.

An analyst signs in through the suite's form (``tests.browser.conftest.sign_in``), runs a backtest
of KFRS over two weeks (the live server runs jobs in its own process after answering, as Celery
eager mode does) and reads the table and the plot; the person's actions are counted
(``clicks-backtest.json``). A job advanced by the test, acting as the worker, shows the page
following its progress. Every request to another host is stopped and must not happen; no request
of the suite's may fail; axe-core checks each page; screenshots are kept in the artifacts folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in, wait_js
from tests.factories import load_medway, store_incidents, synthetic_incidents

# Exact-timed fires, 150 days up to 1 July 2021: a period no other browser test seeds.
DATA_END = date(2021, 7, 1)
FROM, TO = date(2021, 6, 1), date(2021, 6, 14)
SEED = 41
ANALYST_NAME = "Ann <i>Analyst</i>"  # user text: it must reach the page as text


@pytest.fixture(scope="module")
def seeded(browser_db: str, people: Any) -> Iterator[dict[str, Any]]:
    """Medway's boundaries and agencies, fires for KFRS, an analyst and a crew member."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(browser_db)
    with make_sessionmaker(eng)() as s:
        load_medway(s)
        store_incidents(s, synthetic_incidents(seed=SEED, end=DATA_END), source="fire")
        s.commit()
    out = {
        "analyst": people("bt.analyst", "analyst", name=ANALYST_NAME),
        "crew": people("bt.crew", "crew", agency="kfrs", name="Kit Crew"),
        "engine": eng,
    }
    try:
        yield out
    finally:
        eng.dispose()


@dataclass
class Offline:
    """What the page asked of other hosts (nothing may be), and what failed."""

    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Nothing left the machine and no request failed."""
        assert self.blocked == [], self.blocked[:5]
        assert self.failed == [], self.failed[:5]


@pytest.fixture()
def offline(page: Any) -> Iterator[Offline]:
    """Stop every request to another host; record failed requests and JavaScript errors."""
    seen = Offline()

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            seen.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    page.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
    page.on("pageerror", lambda exc: seen.failed.append(f"JavaScript: {exc}"))
    page.on(
        "response",
        lambda r: (
            seen.failed.append(f"{r.url} -> {r.status}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    yield seen


@dataclass
class Clicks:
    """The actions a person makes (a click, a choice, a date typed, a form sent), in order."""

    steps: list[str] = field(default_factory=list)

    def do(self, step: str, action: Any) -> None:
        """Do ``action`` and count it as one of the person's actions."""
        action()
        self.steps.append(step)

    def save(self, path: Path, task: str) -> None:
        """Write {"task", "clicks", "steps"} to ``path``."""
        body = {"task": task, "clicks": len(self.steps), "steps": self.steps}
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _shot(page: Any, artifacts_dir: Path, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"backtests-{name}.png"), full_page=True)


def _watch_progress(page: Any, timeout_s: float = 60.0) -> list[str]:
    """The progress sentences the page shows until the job is done (or failed)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        shown = page.get_by_test_id("bt-progress-text").text_content() or ""
        if shown and (not seen or seen[-1] != shown):
            seen.append(shown)
        status = page.get_by_test_id("bt-status").text_content()
        if status in ("done", "failed"):
            return seen
        assert time.monotonic() < deadline, f"the backtest did not finish: {seen}"
        page.wait_for_timeout(50)


def _progress_shows(page: Any, start: str) -> None:
    """Wait (up to a few polls) until the progress sentence starts with ``start``."""
    sentence = "document.querySelector('[data-testid=bt-progress-text]').textContent"
    wait_js(page, f"{sentence}.startsWith('{start}')", 10)


def _api(page: Any, path: str) -> Any:
    """GET ``path`` with the page's own session (as its script does)."""
    return page.evaluate("async (p) => (await fetch(p, {credentials: 'same-origin'})).json()", path)


def test_an_analyst_backtests_an_agency_over_a_period(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    clicks = Clicks()
    clicks.do(
        "sign in: username and password, Sign in",
        lambda: sign_in(page, base, seeded["analyst"], next_path="/backtests/page"),
    )
    assert urlsplit(page.url).path == "/backtests/page"
    assert "Kent Fire and Rescue Service" in page.get_by_test_id("bt-held-kfrs").inner_text()
    assert_accessible(page, "backtest page")
    _shot(page, artifacts_dir, "form")

    clicks.do("choose KFRS", lambda: page.get_by_test_id("bt-agency").select_option("kfrs"))
    clicks.do(
        "type the first origin day", lambda: page.get_by_test_id("bt-from").fill(FROM.isoformat())
    )
    clicks.do("type the last origin day", lambda: page.get_by_test_id("bt-to").fill(TO.isoformat()))
    window = page.get_by_test_id("bt-window").inner_text()
    assert window.startswith("14 origin days, 1 June 2021 to 14 June 2021."), window
    with page.expect_response(
        lambda r: r.url.endswith("/backtests") and r.request.method == "POST"
    ) as posted:
        clicks.do("Start the backtest", lambda: page.get_by_test_id("bt-start").click())
    assert posted.value.status == 202
    job = posted.value.json()
    assert job["progress"] == {"origins_done": 0, "origins_total": 14, "fraction": 0.0}

    # The page follows the job: its first words are those of the queued job, the last 14 of 14.
    seen = _watch_progress(page)
    assert seen[0] == "0 of 14 origin days done: waiting for a worker to start it.", seen
    assert seen[-1] == "14 of 14 origin days done.", seen
    # The list of recent backtests follows: this one is done there too.
    row = f"[data-testid=bt-list-row][data-job='{job['id']}'] .status"
    wait_js(page, f"document.querySelector(\"{row}\").textContent === 'done'")
    assert page.get_by_test_id("bt-status").inner_text() == "done"
    assert page.get_by_test_id("bt-progress").evaluate("p => [p.value, p.max]") == [14, 14]
    assert f"job={job['id']}" in page.url  # the address opens this backtest again

    # The table: one row per method, the numbers the API gives, formatted for people.
    done = _api(page, f"/backtests/{job['id']}")
    rows = page.get_by_test_id("bt-row")
    assert rows.count() == 3
    names = [rows.nth(i).locator("th").inner_text().split("\n")[0] for i in range(3)]
    assert names[0].startswith("auto (") and names[1:] == ["naive28", "naive90"], names
    heads = page.locator("[data-testid=bt-table] thead th").all_inner_texts()
    assert heads[:4] == ["Method", "Days judged", "Hit rate at 20 boxes", "PAI at 20 boxes"], heads
    assert "Hit rate at 1% of the area" in heads and "PAI at 5% of the area" in heads
    for i, want in enumerate(done["results"]["table"]):
        cell = rows.nth(i).locator("td[data-key=hit_rate_at_k]").inner_text().split("\n")
        assert cell[0] == f"{100 * want['values']['hit_rate_at_k']['mean']:.1f}%", cell
        low, high = want["values"]["hit_rate_at_k"]["low"], want["values"]["hit_rate_at_k"]["high"]
        assert cell[1] == f"{100 * low:.1f}% – {100 * high:.1f}%", cell
    # The plot: the job's PNG, loaded.
    plot = page.get_by_test_id("bt-plot")
    wait_js(page, "document.querySelector('[data-testid=bt-plot]').naturalWidth > 0")
    assert plot.get_attribute("src") == f"/backtests/{job['id']}/plot.png"
    assert "hit rate" in (plot.get_attribute("alt") or "")
    assert page.locator("[data-testid=bt-wards] tbody tr").count() > 0
    assert "no evidence" not in page.locator("main").inner_text().lower()
    # The analyst's name is text on the page, never markup.
    what = page.locator("#bt-what")
    assert "started by Ann <i>Analyst</i>" in what.inner_text()
    assert what.locator("i").count() == 0
    assert_accessible(page, "backtest results")
    _shot(page, artifacts_dir, "results")
    # On a phone the page is one column; the wide table scrolls in its own box, not the page.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    _shot(page, artifacts_dir, "results-phone")
    offline.check()
    clicks.save(artifacts_dir / "clicks-backtest.json", "backtest")
    assert len(clicks.steps) == 5


def test_the_page_follows_a_running_job(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    """The test is the worker here: each step it records, the page shows at its next poll."""
    from sqlalchemy import select, update
    from sqlalchemy.orm import Session

    from services.predictive.models import Agency, BacktestJob

    base = live_server("predictive")
    with Session(seeded["engine"]) as s:
        kfrs = s.scalars(select(Agency).where(Agency.code == "kfrs")).one()
        job = BacktestJob(
            agency_id=kfrs.id,
            status="running",
            date_from=FROM,
            date_to=TO,
            params={"methods": ["naive28"]},
            origins_total=14,
            origins_done=5,
            created_by="A worker test (bt.worker, analyst)",
        )
        s.add(job)
        s.commit()
        job_id = job.id

    def advance(**values: Any) -> None:
        with Session(seeded["engine"]) as s:
            s.execute(update(BacktestJob).where(BacktestJob.id == job_id).values(**values))
            s.commit()

    sign_in(page, base, seeded["analyst"], next_path=f"/backtests/page?job={job_id}")
    text = page.get_by_test_id("bt-progress-text")
    _progress_shows(page, "5 of 14")
    assert page.get_by_test_id("bt-status").inner_text() == "running"
    assert page.get_by_test_id("bt-progress").evaluate("p => [p.value, p.max]") == [5, 14]
    _shot(page, artifacts_dir, "running")
    advance(origins_done=9)
    _progress_shows(page, "9 of 14")
    assert text.inner_text() == "9 of 14 origin days done."
    advance(status="failed", error="the worker was stopped")
    wait_js(page, "document.querySelector('[data-testid=bt-status]').textContent === 'failed'", 10)
    assert text.inner_text() == "9 of 14 origin days done. Failed: the worker was stopped"
    assert page.get_by_test_id("bt-table").is_hidden()
    offline.check()


def test_a_window_without_incident_data_is_said_and_work_is_bounded(
    page: Any, offline: Offline, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    sign_in(page, base, seeded["analyst"], next_path="/backtests/page?job=abc")
    assert "There is no backtest 'abc'" in page.get_by_test_id("bt-job-problem").inner_text()
    page.get_by_test_id("bt-agency").select_option("kfrs")
    page.get_by_test_id("bt-from").fill("2019-01-01")
    page.get_by_test_id("bt-to").fill("2019-01-14")
    window = page.get_by_test_id("bt-window").inner_text()
    assert window.startswith("No incident data for this window: Kent Fire and Rescue Service's"), (
        window
    )
    assert "no evidence" not in window.lower()
    assert page.get_by_test_id("bt-start").is_disabled()
    offer = page.get_by_test_id("bt-use-newest")
    assert offer.is_visible() and offer.inner_text().startswith("Use ")
    _shot(page, artifacts_dir, "no-data")
    # The server's bound on the work, said on the page: a year of days by six methods.
    page.get_by_test_id("bt-from").fill("2021-02-10")
    page.get_by_test_id("bt-to").fill("2021-12-31")
    for name in ("kde", "etas", "prospective"):
        page.get_by_test_id(f"bt-method-{name}").check()
    page.get_by_test_id("bt-start").click()
    wait_js(page, "document.querySelector('[data-testid=bt-error]').textContent.length > 0")
    error = page.get_by_test_id("bt-error").inner_text()
    assert error.startswith("Could not start the backtest: methods: 325 origin days x 6 methods"), (
        error
    )
    assert_accessible(page, "backtest page with an error")
    _shot(page, artifacts_dir, "too-much-work")
    # That answer was a 422 the page asked for: not a failed request of the page's own.
    offline.failed = [f for f in offline.failed if not f.endswith("/backtests -> 422")]
    offline.check()


def test_others_get_the_403_page_and_nobody_the_sign_in_page(
    page: Any, live_server: Any, seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    base = live_server("predictive")
    r = page.goto(f"{base}/backtests/page")
    assert r is not None and r.status == 401
    assert page.get_by_test_id("signin-username").is_visible()
    sign_in(page, base, seeded["crew"], next_path="/backtests/page")
    assert page.locator("h1").first.inner_text() != "Backtests of the forecast methods"
    body = page.locator("main").inner_text()
    assert "analyst" in body and "admin" in body, body
    r = page.goto(f"{base}/backtests/page")
    assert r is not None and r.status == 403
    assert_accessible(page, "backtest page refused")
    _shot(page, artifacts_dir, "crew-403")
