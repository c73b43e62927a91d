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
from datetime import UTC, date, datetime, timedelta
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
    from sqlalchemy import text

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
    # Exposure of each ward (#15 item 6): every ward, those without a box too, per method; each
    # method's box-days add up to its boxes a day times the origin days.
    wards = page.locator("[data-testid=bt-wards]")
    heads = wards.locator("thead th").all_inner_texts()
    assert heads[0] == "Ward" and heads[2:] == [
        "naive28: box-days (share)", "naive90: box-days (share)"
    ], heads  # fmt: skip
    with seeded["engine"].connect() as c:
        all_wards = set(c.execute(text("SELECT name FROM predictive.areas WHERE kind = 'ward'"))
                        .scalars())  # fmt: skip
    assert len(all_wards) == 22
    cells = "tr => [...tr.querySelectorAll('td')].map(td => td.textContent.split(' (')[0])"
    shown = {
        tr.locator("th").inner_text(): tr.evaluate(cells) for tr in wards.locator("tbody tr").all()
    }
    assert all_wards <= set(shown), all_wards - set(shown)
    for i, want in enumerate(done["results"]["table"]):
        by_ward = dict(done["results"]["wards"][want["fitted"]])
        column = {w: int(v[i].replace(",", "")) for w, v in shown.items()}
        assert sum(column.values()) == 20 * 14, column  # 20 boxes a day, 14 origin days
        assert {w: n for w, n in column.items() if n} == by_ward
    assert any(v[0] == "0" for v in shown.values())  # some ward never had a box: it is listed
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
    # The near-repeat section follows the backtest opened: its agency and period.
    context = page.get_by_test_id("nr-context").inner_text()
    assert context.startswith("Kent Fire and Rescue Service, incidents from "), context
    assert context.endswith(f"to 14 June 2021 (backtest {job_id}'s period)."), context
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


# ------------------------------------------------------------------ near repeats (#15 item 4)

# Two KFRS categories, exact-timed, 1 July 2020 to 31 May 2021 (no other browser test seeds
# them then): fires that repeat within 40 m and 3 days by construction, and anti-social
# behaviour spread uniformly over a 3 km square and the period (no near repeats).
NR_START, NR_DAYS = date(2020, 7, 1), 334
REPEATS, SPREAD = "Deliberate fire", "Anti-social behaviour"


@pytest.fixture(scope="module")
def near_seeded(seeded: dict[str, Any]) -> dict[str, Any]:
    """Seed the two categories once; returns ``seeded``."""
    import numpy as np

    from shared.db import make_sessionmaker
    from shared.geometry import point_to_bng
    from tests.factories import CENTRES, incident_row

    rng = np.random.default_rng(SEED)
    x0, y0 = point_to_bng(*CENTRES[0])
    t0 = datetime.combine(NR_START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    rows: list[Any] = []

    def add(category: str, x: float, y: float, t_days: float) -> None:
        rows.append(
            incident_row(
                occurred_at=t0 + timedelta(days=t_days),
                xy=(x, y),
                category=category,
                source_id=f"nr-{len(rows)}",
            )
        )

    for _ in range(40):  # a fire, and another within 40 m a few days later
        x, y = x0 + rng.uniform(-3000, 3000), y0 + rng.uniform(-3000, 3000)
        t = rng.uniform(0, NR_DAYS - 4)
        add(REPEATS, x, y, t)
        angle = rng.uniform(0, 2 * np.pi)
        add(REPEATS, x + 40 * np.cos(angle), y + 40 * np.sin(angle), t + rng.uniform(0.5, 3))
    for _ in range(400):
        add(SPREAD, x0 + rng.uniform(-1500, 1500), y0 + rng.uniform(-1500, 1500),
            rng.uniform(0, NR_DAYS))  # fmt: skip
    with make_sessionmaker(seeded["engine"])() as s:
        store_incidents(s, rows, source="fire")
        s.commit()
    return seeded


def _knox_first_cell(engine: Any, category: str, start: date, end: date) -> tuple[int, float]:
    """Pairs within 100 m and 7 days, and the exact mean of that count over all permutations of
    the times among the places (close pairs x share of time pairs within 7 days), by brute force
    over the stored incidents."""
    import numpy as np
    from sqlalchemy import text

    with engine.connect() as c:
        pts = np.array(
            c.execute(
                text(
                    "SELECT ST_X(geom), ST_Y(geom), extract(epoch FROM occurred_at) / 86400.0 "
                    "FROM incidents.incidents WHERE category = :c AND time_precision <> 'month' "
                    "AND occurred_at >= (CAST(:f AS date)::timestamp AT TIME ZONE 'Europe/London') "
                    "AND occurred_at < (CAST(:t AS date)::timestamp AT TIME ZONE 'Europe/London')"
                ),
                {"c": category, "f": start.isoformat(), "t": (end + timedelta(days=1)).isoformat()},
            ).all(),
            dtype=float,
        )
    n = len(pts)
    close = soon = both = 0
    for i in range(n):
        for j in range(i + 1, n):
            near = float(np.hypot(pts[i, 0] - pts[j, 0], pts[i, 1] - pts[j, 1])) < 100
            quick = abs(float(pts[i, 2] - pts[j, 2])) < 7
            close += near
            soon += quick
            both += near and quick
    return both, close * soon / (n * (n - 1) / 2)


def _run_near_repeat(page: Any, category: str) -> dict[str, Any]:
    """Choose ``category`` ("" for all), press Check, wait until done; the first request's body."""
    page.get_by_test_id("nr-category").select_option(category)
    with page.expect_request(lambda r: r.url.endswith("/near-repeat")) as asked:
        page.get_by_test_id("nr-run").click()
    status = "document.querySelector('[data-testid=nr-status]').textContent"
    wait_js(page, f"{status}.startsWith('Done')", 60)
    assert asked.value.method == "POST" and asked.value.headers.get("x-csrf-token")
    body: dict[str, Any] = asked.value.post_data_json
    return body


def test_an_analyst_sees_whether_a_category_repeats_nearby(
    page: Any, offline: Offline, live_server: Any, near_seeded: dict[str, Any], artifacts_dir: Path
) -> None:
    from sqlalchemy import text

    base = live_server("predictive")
    eng = near_seeded["engine"]
    sign_in(page, base, near_seeded["analyst"], next_path="/backtests/page")
    page.get_by_test_id("bt-agency").select_option("kfrs")
    page.get_by_test_id("bt-from").fill(FROM.isoformat())
    page.get_by_test_id("bt-to").fill(TO.isoformat())
    context = page.get_by_test_id("nr-context").inner_text()
    assert context.startswith("Kent Fire and Rescue Service, incidents from "), context
    assert context.endswith("to 14 June 2021 (the period in the form)."), context

    # The fires repeat nearby by construction: the sentence says so, with the numbers of the cell.
    body = _run_near_repeat(page, REPEATS)
    kfrs_cats = ["Criminal damage and arson", "Anti-social behaviour", "deliberate_fire", REPEATS]
    with eng.connect() as c:
        first = c.execute(
            text(
                "SELECT min(occurred_at AT TIME ZONE 'Europe/London')::date "
                "FROM incidents.incidents WHERE category = ANY(:c)"
            ),
            {"c": kfrs_cats},
        ).scalar_one()
    want_from = max(first, FROM - timedelta(days=365))  # the year the methods are fitted on
    assert body["categories"] == [REPEATS] and body["permutations"] == 99
    assert (body["from"], body["to"]) == (want_from.isoformat(), TO.isoformat())
    observed, expected = _knox_first_cell(eng, REPEATS, want_from, TO)
    assert observed >= 40  # the 40 planted pairs, and any close by chance
    result = page.locator(f"[data-testid=nr-category-result][data-category='{REPEATS}']")
    sentence = result.get_by_test_id("nr-sentence").inner_text()
    prefix = f"{REPEATS} repeats nearby: within 100 m and 7 days there were "
    assert sentence.startswith(prefix), sentence
    shown_ratio = float(sentence.removeprefix(prefix).split(" ")[0])
    assert shown_ratio == pytest.approx(observed / expected, rel=0.25), (sentence, expected)
    assert f"({observed} pairs against " in sentence and "p = 0.01)" in sentence, sentence
    cell = result.locator("[data-testid=nr-cell][data-d='0'][data-t='0']")
    lines = cell.inner_text().split("\n")
    assert lines[1].startswith(f"{observed} of ") and lines[2] == "p = 0.01", lines
    assert lines[3] == "More than chance" and "sig" in (cell.get_attribute("class") or "")
    heads = result.locator("thead th").all_inner_texts()
    assert heads == ["Distance apart", "0–7 days", "7–14 days", "14–28 days", "28–56 days"]
    rows = result.locator("tbody th").all_inner_texts()
    assert rows == ["0–100 m", "100–200 m", "200–400 m", "400–800 m"]
    assert_accessible(page, "near-repeat table")
    _shot(page, artifacts_dir, "near-repeat")

    # Uniformly spread incidents: no sign of near repeats, the cell not marked.
    _run_near_repeat(page, SPREAD)
    observed, expected = _knox_first_cell(eng, SPREAD, want_from, TO)
    assert expected > 5  # enough pairs are expected for the test to say something
    result = page.locator(f"[data-testid=nr-category-result][data-category='{SPREAD}']")
    sentence = result.get_by_test_id("nr-sentence").inner_text()
    assert sentence.startswith(
        f"{SPREAD}: no sign of near repeats: within 100 m and 7 days there were {observed} pairs "
        "against "
    ), sentence
    shown_expected = float(sentence.split(" against ")[1].split(" ")[0])
    assert shown_expected == pytest.approx(expected, rel=0.15), (sentence, expected)
    cell = result.locator("[data-testid=nr-cell][data-d='0'][data-t='0']")
    assert "More than chance" not in cell.inner_text()
    assert page.locator("[data-testid=nr-category-result]").count() == 1  # the last one only

    # All: one request per category the agency's incidents have (dated to the day), each shown.
    with eng.connect() as c:
        by_day = c.execute(
            text(
                "SELECT DISTINCT category FROM incidents.incidents "
                "WHERE category = ANY(:c) AND time_precision <> 'month'"
            ),
            {"c": kfrs_cats},
        ).scalars().all()  # fmt: skip
    _run_near_repeat(page, "")
    shown = page.locator("[data-testid=nr-category-result]")
    assert sorted(shown.evaluate_all("els => els.map(e => e.dataset.category)")) == sorted(by_day)
    status = page.get_by_test_id("nr-status").inner_text()
    assert status.startswith(f"Done: {len(by_day)} categories, "), status
    assert_accessible(page, "near-repeat tables")
    _shot(page, artifacts_dir, "near-repeat-all")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    _shot(page, artifacts_dir, "near-repeat-phone")
    offline.check()


def _window_count(engine: Any, category: str, start: date, end: date) -> int:
    """The category's incidents dated to the day in the window (Medway days), counted in SQL."""
    from sqlalchemy import text

    with engine.connect() as c:
        n = c.execute(
            text(
                "SELECT count(*) FROM incidents.incidents WHERE category = :c "
                "AND time_precision <> 'month' "
                "AND (occurred_at AT TIME ZONE 'Europe/London')::date BETWEEN :f AND :t"
            ),
            {"c": category, "f": start, "t": end},
        ).scalar_one()
    return int(n)


def test_near_repeat_refusals_a_time_limit_and_stop(
    page: Any,
    offline: Offline,
    live_server: Any,
    near_seeded: dict[str, Any],
    artifacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server's bound, said for the category it refuses; bands checked before asking; a
    computation past the page's time limit is given up, and Stop stops."""
    import threading

    from services.predictive.compute.nearrepeat import MAX_EVENTS, knox
    from services.predictive.nearrepeat import service
    from services.predictive.web import backtests

    base = live_server("predictive")
    monkeypatch.setattr(service, "MAX_EVENTS", 100)  # the 80 fires pass, the 400 ASB do not

    def open_page() -> None:
        page.goto(f"{base}/backtests/page")
        page.get_by_test_id("bt-agency").select_option("kfrs")
        page.get_by_test_id("bt-from").fill(FROM.isoformat())
        page.get_by_test_id("bt-to").fill(TO.isoformat())

    sign_in(page, base, near_seeded["analyst"], next_path="/backtests/page")
    open_page()
    body = _run_near_repeat(page, "")
    start = date.fromisoformat(body["from"])
    n_spread = _window_count(near_seeded["engine"], SPREAD, start, TO)
    spread = page.locator(f"[data-testid=nr-category-result][data-category='{SPREAD}']")
    assert spread.get_by_test_id("nr-sentence").inner_text() == (
        f"Could not be analysed: {n_spread} incidents of {SPREAD} in this window: the analysis "
        "takes at most 100; shorten the period"
    )
    assert spread.get_by_test_id("nr-table").count() == 0
    asked_for = page.locator("[data-testid=nr-category-result]").evaluate_all(
        "els => els.map(e => e.dataset.category)"
    )
    over = [c for c in asked_for if _window_count(near_seeded["engine"], c, start, TO) > 100]
    assert SPREAD in over and REPEATS not in over
    status = page.get_by_test_id("nr-status").inner_text()
    assert status.endswith(f" ({len(over)} could not be analysed)."), status
    fires = page.locator(f"[data-testid=nr-category-result][data-category='{REPEATS}']")
    assert fires.get_by_test_id("nr-sentence").inner_text().startswith(f"{REPEATS} repeats nearby")
    _shot(page, artifacts_dir, "near-repeat-refused")
    offline.failed = [f for f in offline.failed if not f.endswith("/near-repeat -> 422")]

    # Band edges that do not increase are said at once, without asking the server.
    page.get_by_test_id("nr-category").select_option(REPEATS)
    page.locator("#nr summary").click()
    page.get_by_test_id("nr-distances").fill("0, 200, 100")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/near-repeat" in r.url else None)
    page.get_by_test_id("nr-run").click()
    error = page.get_by_test_id("nr-error")
    assert error.inner_text() == "The distance band edges must start at 0 or more and increase."
    assert asked == [] and page.get_by_test_id("nr-category-result").count() == 0

    # A computation that outlasts the page's time limit (1 s here) is given up and said.
    gate = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        gate.wait(10)
        return knox(*args, **kwargs)

    monkeypatch.setattr(service, "MAX_EVENTS", MAX_EVENTS)
    monkeypatch.setattr(service, "knox", slow)
    monkeypatch.setattr(backtests, "NEAR_TIME_LIMIT_MS", 1000)
    status_js = "document.querySelector('[data-testid=nr-status]').textContent"
    try:
        open_page()
        page.get_by_test_id("nr-category").select_option(REPEATS)
        page.get_by_test_id("nr-run").click()
        wait_js(page, f"{status_js}.startsWith('Stopped')", 10)
        assert page.get_by_test_id("nr-status").inner_text() == (
            f"Stopped: {REPEATS} took longer than 1 s. Try a shorter period or fewer shuffles. "
            "0 of 1 done."
        )
        assert page.get_by_test_id("nr-run").is_enabled()
        # While it works the page shows progress and a Stop button; Stop stops.
        monkeypatch.setattr(backtests, "NEAR_TIME_LIMIT_MS", 60_000)
        open_page()
        page.get_by_test_id("nr-category").select_option("")
        page.get_by_test_id("nr-run").click()
        wait_js(page, f"{status_js}.startsWith('Counting pairs')", 5)
        assert page.get_by_test_id("nr-progress").is_visible()
        assert page.get_by_test_id("nr-run").is_disabled()
        shown = page.get_by_test_id("nr-status").inner_text()
        assert shown.startswith("Counting pairs: ") and "(1 of " in shown, shown
        assert_accessible(page, "near-repeat working")
        page.get_by_test_id("nr-stop").click()
        wait_js(page, f"{status_js}.startsWith('Stopped')", 5)
        assert page.get_by_test_id("nr-status").inner_text().startswith("Stopped. 0 of ")
        assert page.get_by_test_id("nr-progress").is_hidden()
    finally:
        gate.set()
    offline.failed = [f for f in offline.failed if "ERR_ABORTED" not in f]
    offline.check()
