"""Crews log visits from the list page: an HTML form, the person's session and its CSRF token."""

from __future__ import annotations

import html as html_text
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


def _page(client: Any, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, r.text
    return str(r.text)


def _form(html: str, rank: int) -> dict[str, str]:
    """The hidden fields of the visit form of the box at ``rank`` (1-based)."""
    forms = re.findall(r'<form method="post" action="page/visit".*?</form>', html, re.S)
    found = re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', forms[rank - 1])
    fields = {k: html_text.unescape(v) for k, v in found}  # as a browser sends them
    assert set(fields) == {"csrf_token", "list_id", "cell_id", "key", "back"}, fields
    return fields


def _meta_csrf(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found, "the signed-in page carries the session's CSRF token"
    return found.group(1)


def _visits(db: Any) -> list[tuple[str, str, str | None, str]]:
    return [
        tuple(r)
        for r in db.execute(
            text("SELECT cell_id, crew, notes, logged_by FROM predictive.visits ORDER BY id")
        )
    ]


def _post(client: Any, form: dict[str, str], **headers: str) -> Any:
    return client.post(
        "/targets/page/visit",
        data=form,
        headers={"Origin": str(client.base_url), **headers},
        follow_redirects=False,
    )


def test_crew_logs_a_visit_and_sees_it(signed_in: Any, db_session: Any, page: str) -> None:
    crew = signed_in("kit.crew", "crew", agency="kfrs")
    html = _page(crew, page)
    form = _form(html, 2)
    assert form["csrf_token"] == _meta_csrf(html)  # the session's token, in each form
    assert form["back"] == page
    sent = {**form, "crew": "  Chatham Blue Watch ", "notes": "youths moved on"}
    r = _post(crew, sent)
    assert r.status_code == 303, r.text
    where = urlsplit(r.headers["location"])
    assert where.path == "/targets/page" and where.fragment == f"box-{form['cell_id']}"
    assert parse_qs(where.query)["logged"] == [form["cell_id"]]
    assert [v[:3] for v in _visits(db_session)] == [
        (form["cell_id"], "Chatham Blue Watch", "youths moved on")
    ]
    # The audit names the person, not a token.
    assert _visits(db_session)[0][3] == "Kit Crew (kit.crew, crew)"
    shown = _page(crew, f"{where.path}?{where.query}")
    assert "Visit logged for box 2" in shown and "Visited 1 time<" in shown
    # The same form sent again (double press, resend after a lost answer): still one visit.
    assert _post(crew, sent).status_code == 303 and len(_visits(db_session)) == 1
    # The key with other notes is not a resend: refused, nothing changed.
    other = _post(crew, {**sent, "notes": "something else"})
    assert other.status_code == 409 and len(_visits(db_session)) == 1
    # A fresh page has fresh keys: a second visit to the box is a second visit.
    form2 = _form(_page(crew, page), 2)
    assert form2["key"] != form["key"]
    r = _post(crew, {**form2, "crew": "Red Watch"})
    assert r.status_code == 303 and len(_visits(db_session)) == 2
    assert "Visited 2 times<" in _page(crew, page)


def test_the_form_needs_the_session_token_and_this_site(
    signed_in: Any, make_client: Any, tokens: Any, db_session: Any, page: str
) -> None:
    crew = signed_in("kit.crew", "crew", agency="kfrs")
    form = {**_form(_page(crew, page), 1), "crew": "Green Watch"}
    # Signed out (another browser): the sign-in page, coming back to the list.
    nobody = make_client("predictive")
    r = _post(nobody, form)
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'data-testid="signin-username"' in r.text and "log the visit again" in r.text
    # Back to the list the form came from, not to the form's address.
    assert f'name="next" value="{html_text.escape(page)}"' in r.text
    # The session cookie without the page's CSRF token, or with another, is refused.
    for bad in ("", "not-the-token"):
        r = _post(crew, {**form, "csrf_token": bad})
        assert r.status_code == 403, (bad, r.text)
    # Another site's page posting with the crew's cookie (and even the token) is refused.
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}):
        r = crew.post("/targets/page/visit", data=form, headers=headers)
        assert r.status_code == 403 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
    r = crew.post("/targets/page/visit", data=form, headers={"Referer": "https://evil.example/x"})
    assert r.status_code == 403
    assert _visits(db_session) == []
    # Analysts read lists but log no visits: no forms, and a 403 page for a forged post.
    analyst = signed_in("ann.analyst", "analyst")
    html = _page(analyst, page)
    assert "Log visit" not in html and 'data-testid="box-1"' in html
    r = _post(analyst, {**form, "csrf_token": _meta_csrf(html)})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "Logging a visit needs the role" in r.text
    # A crew member of the police cannot log a visit to a KFRS list.
    police = signed_in("pat.police", "crew", agency="police")
    token = _meta_csrf(_page(police, "/targets/page?agency=police&date=2150-01-01", 404))
    assert _post(police, {**form, "csrf_token": token}).status_code == 403
    # Scripts with a crew token still post (no cookie, so no CSRF token), same site only.
    script = make_client("predictive")
    r = _post(script, form, **tokens["crew"], Origin="https://evil.example")
    assert r.status_code == 403
    assert _visits(db_session) == []
    r = _post(crew, {**form, "cell_id": "150m_1_1"})
    assert r.status_code == 404
    # Same site, and a "back" that points elsewhere stays on the list page.
    r = _post(crew, {**form, "back": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"].startswith("/targets/page?")
    assert len(_visits(db_session)) == 1


def test_an_old_list_is_for_reading(signed_in: Any, db_session: Any, make_list: Any) -> None:
    """'Visited now' on a list of 2024 would log a visit years after its day: no forms, 422."""
    old = make_list("kfrs", LIST_DAY)
    crew = signed_in("kit.crew", "crew", agency="kfrs")
    html = _page(crew, f"/targets/page?agency=kfrs&date={LIST_DAY.isoformat()}")
    assert html.count('<li data-cell="') == 20 and "Log visit" not in html
    form = {
        "csrf_token": _meta_csrf(html),
        "list_id": str(old.target_list.id),
        "cell_id": old.boxes[0].cell_id,
        "crew": "Blue",
    }
    r = _post(crew, form)
    assert r.status_code == 422 and "2024-05-01" in r.json()["detail"]
    assert _visits(db_session) == []
