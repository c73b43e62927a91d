"""A crew member sees their own agency's lists only: page, JSON and CSV API, and visits."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from tests.factories import LIST_DAY

DAY = LIST_DAY.isoformat()


def _q(agency: str) -> dict[str, str]:
    return {"agency": agency, "date": DAY}


def _csrf(client: Any, agency: str) -> str:
    html = client.get("/targets/page", params=_q(agency)).text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found
    return found.group(1)


def _count_visits(db: Any) -> int:
    return int(db.execute(text("SELECT count(*) FROM predictive.visits")).scalar_one())


def test_crew_members_see_their_own_agencys_lists_only(
    signed_in: Any, make_list: Any, db_session: Any
) -> None:
    lists = {a: make_list(a) for a in ("kfrs", "police")}
    for mine, other in (("kfrs", "police"), ("police", "kfrs")):
        crew = signed_in(f"crew.{mine}", "crew", agency=mine)
        for path in ("/targets", "/targets.csv", "/targets/page", "/targets/page.csv", "/visits"):
            assert crew.get(path, params=_q(mine)).status_code == 200, (mine, path)
        for path in ("/targets", "/targets.csv", "/visits"):
            r = crew.get(path, params=_q(other))
            assert r.status_code == 403, (mine, path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
            assert f"crew member of {mine.upper()}" in r.json()["detail"]
            assert r.json()["your_agency"] == mine
        # The page: an HTML 403 naming the person's agency, with a link to their own list.
        for path in ("/targets/page", "/targets/page.csv"):
            r = crew.get(path, params=_q(other))
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
            reason = re.search(r'data-testid="forbidden-reason">(.*?)</p>', r.text, re.S)
            assert reason and "crew member of" in reason.group(1)
            assert f"({mine.upper()})" in reason.group(1), reason.group(1)
            link = re.search(r'href="([^"]+)" data-testid="own-list-link"', r.text)
            assert link and link.group(1) == f"/targets/page?agency={mine}&amp;date={DAY}"
        # Nor may they log a visit against the other agency's list, by either route.
        token = _csrf(crew, mine)
        headers = {"X-CSRF-Token": token, "Origin": str(crew.base_url)}
        box = lists[other].boxes[0].cell_id
        body = {"crew": "Blue", "visited_at": f"{DAY}T10:00:00+01:00"}
        r = crew.post(
            f"/targets/{lists[other].target_list.id}/boxes/{box}/visits", json=body, headers=headers
        )
        assert r.status_code == 403, r.text
        r = crew.post("/visits", json={**body, "agency": other, "date": DAY, "cell_id": box},
                      headers=headers)  # fmt: skip
        assert r.status_code == 403, r.text
        # Their own agency's list takes the visit (so the 403s above were about the agency).
        own_box = lists[mine].boxes[0].cell_id
        r = crew.post(
            f"/targets/{lists[mine].target_list.id}/boxes/{own_box}/visits",
            json=body,
            headers=headers,
        )
        assert r.status_code == 201, r.text
    assert _count_visits(db_session) == 2


def test_analysts_admins_and_tokens_see_every_agency(
    signed_in: Any, make_client: Any, tokens: Any, make_list: Any
) -> None:
    for a in ("kfrs", "police"):
        make_list(a)
    analyst = signed_in("ann.analyst", "analyst")
    admin = signed_in("ada.admin", "admin")
    script = make_client("predictive")
    for agency in ("kfrs", "police"):
        for client, headers in ((analyst, {}), (admin, {}), (script, tokens["crew"])):
            for path in ("/targets", "/targets.csv", "/targets/page", "/visits"):
                r = client.get(path, params=_q(agency), headers=headers)
                assert r.status_code == 200, (agency, path, r.status_code)


def test_an_unknown_agency_is_a_readable_page(signed_in: Any) -> None:
    analyst = signed_in("ann.analyst", "analyst")
    r = analyst.get("/targets/page", params=_q("coastguard"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert 'There is no agency "coastguard"' in r.text and "kfrs, police" in r.text
