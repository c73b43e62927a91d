"""Crews log visits from the list page (a plain HTML form with the page's sign-in)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tests.factories import LIST_DAY


@pytest.fixture()
def page(today_list: Any) -> str:
    """The page of today's kfrs list: a visit logged from the page is "now", so it counts for
    today's list (and the day before's), not for an old one."""
    return f"/targets/page?agency=kfrs&date={today_list.target_list.list_date.isoformat()}"


def _page(client: Any, headers: dict[str, str], url: str) -> str:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return str(r.text)


def _form(html: str, rank: int) -> dict[str, str]:
    """The hidden fields of the visit form of the box at ``rank`` (1-based)."""
    forms = re.findall(r'<form method="post" action="page/visit".*?</form>', html, re.S)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', forms[rank - 1]))
    assert set(fields) == {"list_id", "cell_id", "key", "back"}, fields
    return fields


def _visits(db: Any) -> list[tuple[str, str, str | None, str]]:
    return [
        tuple(r)
        for r in db.execute(
            text("SELECT cell_id, crew, notes, logged_by FROM predictive.visits ORDER BY id")
        )
    ]


def test_crew_logs_a_visit_and_sees_it(
    client: Any, tokens: Any, db_session: Any, page: str
) -> None:
    crew = tokens["crew"]
    form = _form(_page(client, crew, page), 2)
    assert form["back"] in (page, page.replace("&", "&amp;"))
    sent = {**form, "back": page, "crew": "  Chatham Blue Watch ", "notes": "youths moved on"}
    r = client.post("/targets/page/visit", data=sent, headers=crew, follow_redirects=False)
    assert r.status_code == 303, r.text
    where = urlsplit(r.headers["location"])
    assert where.path == "/targets/page" and where.fragment == f"box-{form['cell_id']}"
    assert parse_qs(where.query)["logged"] == [form["cell_id"]]
    assert [v[:3] for v in _visits(db_session)] == [
        (form["cell_id"], "Chatham Blue Watch", "youths moved on")
    ]
    assert _visits(db_session)[0][3].startswith("test crew (crew")
    shown = _page(client, crew, f"{where.path}?{where.query}")
    assert "Visit logged for box 2" in shown and "visited 1&times;" in shown
    # The same form sent again (double press, resend after a lost answer): still one visit.
    again = client.post("/targets/page/visit", data=sent, headers=crew, follow_redirects=False)
    assert again.status_code == 303 and len(_visits(db_session)) == 1
    # The key with other notes is not a resend: refused, nothing changed.
    other = client.post(
        "/targets/page/visit",
        data={**sent, "notes": "something else"},
        headers=crew,
        follow_redirects=False,
    )
    assert other.status_code == 409 and len(_visits(db_session)) == 1
    # A fresh page has fresh keys: a second visit to the box is a second visit.
    form2 = _form(_page(client, crew, page), 2)
    assert form2["key"] != form["key"]
    r = client.post(
        "/targets/page/visit",
        data={**form2, "crew": "Red Watch"},
        headers=crew,
        follow_redirects=False,
    )
    assert r.status_code == 303 and len(_visits(db_session)) == 2


def test_only_crews_from_this_site_may_log(
    client: Any, tokens: Any, db_session: Any, page: str
) -> None:
    form = {**_form(_page(client, tokens["crew"], page), 1), "crew": "Green Watch"}
    assert client.post("/targets/page/visit", data=form).status_code == 401
    for role in ("analyst", "operator", "seg"):
        r = client.post("/targets/page/visit", data=form, headers=tokens[role])
        assert r.status_code == 403, (role, r.text)
    assert "Log visit" not in _page(client, tokens["analyst"], page)  # analysts read, no forms
    for origin in ("https://evil.example", "null"):
        r = client.post(
            "/targets/page/visit", data=form, headers={**tokens["crew"], "Origin": origin}
        )
        assert r.status_code == 403 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
    r = client.post(
        "/targets/page/visit",
        data=form,
        headers={**tokens["crew"], "Referer": "https://evil.example/x"},
    )
    assert r.status_code == 403
    assert _visits(db_session) == []
    r = client.post(
        "/targets/page/visit", data={**form, "cell_id": "150m_1_1"}, headers=tokens["crew"]
    )
    assert r.status_code == 404
    # Same site, and a "back" that points elsewhere stays on the list page.
    r = client.post(
        "/targets/page/visit",
        data={**form, "back": "https://evil.example/"},
        headers={**tokens["crew"], "Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/targets/page?")
    assert len(_visits(db_session)) == 1


def test_an_old_list_is_for_reading(
    client: Any, tokens: Any, db_session: Any, make_list: Any
) -> None:
    """'Visited now' on a list of 2024 would log a visit years after its day: no forms, 422."""
    old = make_list("kfrs", LIST_DAY)
    url = f"/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}"
    html = _page(client, tokens["crew"], url)
    assert html.count('<li data-cell="') == 20 and "Log visit" not in html
    form = {"list_id": str(old.target_list.id), "cell_id": old.boxes[0].cell_id, "crew": "Blue"}
    r = client.post("/targets/page/visit", data=form, headers=tokens["crew"])
    assert r.status_code == 422 and "2024-05-01" in r.json()["detail"]
    assert _visits(db_session) == []
