"""S5: reading never writes. GETs read stored lists; lists are made nightly or by POST /targets."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import LIST_DAY, today

COUNT_LISTS = "SELECT count(*) FROM predictive.target_lists"
COUNT_AGENCIES = "SELECT count(*) FROM predictive.agencies"
READS = ("/targets", "/targets.csv", "/targets/page", "/targets/page.csv")


def _count(db: Any, sql: str) -> int:
    return int(db.execute(text(sql)).scalar_one())


@pytest.mark.parametrize("day", ["1900-01-01", "2200-12-31", LIST_DAY.isoformat(), None])
def test_gets_for_a_date_without_a_list_store_nothing(
    client: Any, tokens: Any, db_session: Any, day: str | None
) -> None:
    """Each read of a date without a list is a 404 naming how lists are made; nothing stored."""
    q = {"agency": "kfrs"} | ({"date": day} if day else {})
    for path in READS:
        r = client.get(path, params=q, headers=tokens["crew"])
        assert r.status_code == 404, (path, r.status_code, r.text[:300])
        if path == "/targets/page":
            assert r.headers["content-type"].startswith("text/html")
            continue
        assert r.headers["content-type"] == "application/problem+json", path
        detail = r.json()["detail"]
        assert detail.startswith(f"no list for kfrs on {day or today().isoformat()}")
        assert "nightly" in detail and "POST /targets" in detail
    assert _count(db_session, COUNT_LISTS) == 0


def test_a_cross_site_navigation_cannot_make_a_list(signed_in: Any, db_session: Any) -> None:
    """A link on another site opening the page with the crew's session reads, never writes."""
    crew = signed_in("pat.police", "crew", agency="police")
    r = crew.get(
        "/targets/page",
        params={"agency": "police", "date": "2150-06-01"},
        headers={"Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status_code == 404 and 'data-testid="no-list"' in r.text
    assert "Pat Police" in r.text  # the session was read: the person is named in the header
    assert _count(db_session, COUNT_LISTS) == 0


def test_the_page_says_there_is_no_list_and_links_the_dates_that_have_one(
    client: Any, tokens: Any, make_list: Any
) -> None:
    made = [LIST_DAY, LIST_DAY + timedelta(days=2)]
    for d in made:
        make_list("kfrs", d)
    asked = LIST_DAY + timedelta(days=1)
    r = client.get(
        "/targets/page", params={"agency": "kfrs", "date": asked.isoformat()},
        headers=tokens["crew"],
    )  # fmt: skip
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert f"No list for Kent Fire and Rescue Service on {asked.day} {asked:%B %Y}" in html
    assert 'data-testid="no-list"' in html and "POST /targets" in html
    dates = html[html.index('data-testid="list-dates"') :]
    for d in made:  # newest first, each a link to its page
        assert f'<a href="/targets/page?agency=kfrs&amp;date={d.isoformat()}">' in dates
    assert dates.index(made[1].isoformat()) < dates.index(f"date={made[0].isoformat()}")
    newest = re.search(r'<a class="newest" href="([^"]+)" data-testid="newest-list-link">', html)
    assert newest and newest.group(1) == f"/targets/page?agency=kfrs&amp;date={made[1]}"
    # The problem for the API carries the same dates.
    api = client.get(
        "/targets", params={"agency": "kfrs", "date": asked.isoformat()}, headers=tokens["crew"]
    )
    assert api.json()["dates_with_lists"] == [d.isoformat() for d in reversed(made)]


def test_post_makes_the_list_once_for_analysts_and_admins(
    client: Any, tokens: Any, db_session: Any
) -> None:
    day = today().isoformat()
    body = {"agency": "kfrs", "date": day}
    assert client.post("/targets", json=body).status_code == 401
    for role in ("crew", "operator", "seg"):
        assert client.post("/targets", json=body, headers=tokens[role]).status_code == 403, role
    assert _count(db_session, COUNT_LISTS) == 0
    made = client.post("/targets", json=body, headers=tokens["analyst"])
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/geo+json")
    assert made.headers["location"] == f"/targets?agency=kfrs&date={day}"
    again = client.post("/targets", json=body, headers=tokens["admin"])
    assert again.status_code == 200 and again.json()["list_id"] == made.json()["list_id"]
    assert _count(db_session, COUNT_LISTS) == 1
    # Crews now read it, by GET, without anyone else.
    read = client.get("/targets", params={"agency": "kfrs"}, headers=tokens["crew"])
    assert read.status_code == 200 and read.json()["list_id"] == made.json()["list_id"]
    default = client.post("/targets", json={"agency": "kfrs"}, headers=tokens["analyst"])
    assert default.status_code == 200 and default.json()["date"] == day


@pytest.mark.parametrize(
    "offset_days, ok", [(-367, False), (-366, True), (7, True), (8, False), (-45_000, False)]
)
def test_post_only_for_dates_in_the_window(
    client: Any, tokens: Any, db_session: Any, offset_days: int, ok: bool
) -> None:
    day = today() + timedelta(days=offset_days)
    if not date(1900, 1, 1) <= day:
        day = date(1900, 1, 1)
    r = client.post(
        "/targets", json={"agency": "police", "date": day.isoformat()}, headers=tokens["analyst"]
    )
    if ok:
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    lo, hi = today() - timedelta(days=366), today() + timedelta(days=7)
    assert f"from {lo.isoformat()} to {hi.isoformat()}" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "date"
    assert _count(db_session, COUNT_LISTS) == 0


def test_get_agencies_stores_nothing(make_client: Any, tokens: Any, db_session: Any) -> None:
    """With no agency stored yet, GET /agencies shows the defaults and writes no row."""
    client = make_client("predictive")
    assert _count(db_session, COUNT_AGENCIES) == 0
    r = client.get("/agencies", headers=tokens["crew"])
    assert r.status_code == 200
    assert [a["code"] for a in r.json()] == ["kfrs", "police"]
    assert all(a["has_own_area"] is False for a in r.json())
    for path in ("/visits", "/diagnostics"):
        got = client.get(path, params={"agency": "police"}, headers=tokens["analyst"])
        assert got.status_code == 200, (path, got.text)
    assert _count(db_session, COUNT_AGENCIES) == 0
    assert _count(db_session, COUNT_LISTS) == 0
    # The first write creates the agency.
    r = client.patch("/agencies/police", json={"boxes_per_day": 7}, headers=tokens["admin"])
    assert r.status_code == 200 and r.json()["boxes_per_day"] == 7
    assert _count(db_session, COUNT_AGENCIES) == 2


def test_nightly_job_makes_todays_lists_for_the_crews(
    client: Any, tokens: Any, db_session: Any
) -> None:
    from services.predictive.tasks import nightly_refit_run

    done = nightly_refit_run(db_session)
    assert sorted(x["agency"] for x in done) == ["kfrs", "police"]
    assert all(x["date"] == today().isoformat() and x["list_id"] for x in done)
    for agency in ("kfrs", "police"):
        r = client.get("/targets/page", params={"agency": agency}, headers=tokens["crew"])
        assert r.status_code == 200, agency
