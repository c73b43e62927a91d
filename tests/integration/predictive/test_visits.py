"""Visits: logged by crews against a list's boxes, listed, summarised, never used to train."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import LIST_DAY


@pytest.fixture(autouse=True)
def _lists(client: Any, make_list: Any) -> None:
    """Both agencies' lists for LIST_DAY, stored as the nightly job would."""
    make_list("kfrs")
    make_list("police")


def _list(client: Any, tokens: Any, agency: str = "kfrs") -> dict[str, Any]:
    r = client.get(
        "/targets", params={"agency": agency, "date": LIST_DAY.isoformat()}, headers=tokens["crew"]
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_visits_logged_both_ways_and_listed(client: Any, tokens: Any) -> None:
    body = _list(client, tokens)
    lid = body["list_id"]
    cells = [f["properties"]["cell_id"] for f in body["features"]]
    r = client.post(
        f"/targets/{lid}/boxes/{cells[0]}/visits",
        json={
            "visited_at": f"{LIST_DAY}T10:15:00+01:00",
            "crew": "Blue Watch",
            "notes": "bins alight, cleared",
        },
        headers=tokens["crew"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["list_id"] == lid and r.json()["cell_id"] == cells[0]
    r = client.post(
        "/visits",
        json={
            "agency": "kfrs",
            "date": LIST_DAY.isoformat(),
            "cell_id": cells[1],
            "visited_at": f"{LIST_DAY}T11:00:00",
            "crew": "Red Watch",
        },
        headers=tokens["admin"],
    )
    assert r.status_code == 201, r.text
    r = client.get(
        "/visits",
        params={"agency": "kfrs", "from": LIST_DAY.isoformat(), "to": LIST_DAY.isoformat()},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200
    page = r.json()
    assert page["count"] == 2 and page["from"] == LIST_DAY.isoformat()
    assert [v["cell_id"] for v in page["visits"]] == cells[:2]
    assert page["visits"][0]["logged_by"].startswith("test crew (crew")
    # The list itself now shows the visits per box.
    again = _list(client, tokens)
    assert [f["properties"]["visits"] for f in again["features"][:3]] == [1, 1, 0]
    diag = client.get(
        "/diagnostics",
        params={"agency": "kfrs", "from": LIST_DAY.isoformat(), "to": LIST_DAY.isoformat()},
        headers=tokens["analyst"],
    ).json()
    assert diag["lists"][0]["boxes_visited"] == 2
    assert diag["lists"][0]["visit_coverage"] == pytest.approx(2 / 20)
    wards = [f["properties"]["ward"] or "(outside the wards)" for f in body["features"]]
    assert diag["ward_box_counts"] == {w: wards.count(w) for w in set(wards)}


def test_visit_rules(client: Any, tokens: Any) -> None:
    body = _list(client, tokens)
    lid, cell = body["list_id"], body["features"][0]["properties"]["cell_id"]
    ok = {"visited_at": f"{LIST_DAY}T10:00:00Z", "crew": "Blue Watch"}
    url = f"/targets/{lid}/boxes/{cell}/visits"
    assert client.post(url, json=ok).status_code == 401
    assert client.post(url, json=ok, headers=tokens["analyst"]).status_code == 403
    off_list = client.post(f"/targets/{lid}/boxes/150m_0_0/visits", json=ok, headers=tokens["crew"])
    assert off_list.status_code == 404
    future = client.post(
        url, json={**ok, "visited_at": "2999-01-01T00:00:00Z"}, headers=tokens["crew"]
    )
    assert future.status_code == 422
    missing = client.post(url, json={"crew": "x"}, headers=tokens["crew"])
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "visited_at"
    no_list = client.post(
        "/visits",
        json={**ok, "agency": "kfrs", "date": "2024-01-01", "cell_id": cell},
        headers=tokens["crew"],
    )
    assert no_list.status_code == 404


def test_visits_never_change_the_training_data(client: Any, tokens: Any, db_session: Any) -> None:
    from services.predictive.lists import service as lists

    before = _list(client, tokens, "police")
    for f in before["features"][:10]:
        r = client.post(
            f"/targets/{before['list_id']}/boxes/{f['properties']['cell_id']}/visits",
            json={"visited_at": f"{LIST_DAY}T09:00:00Z", "crew": "A"},
            headers=tokens["crew"],
        )
        assert r.status_code == 201
    view, replaced = lists.get_or_create_list(
        db_session, agency_code="police", day=LIST_DAY, force=True
    )
    assert replaced and view.target_list.id == before["list_id"]
    assert view.target_list.n_events == before["n_events"]
    assert [b.cell_id for b in view.boxes] == [f["id"] for f in before["features"]]
    assert [b.score for b in view.boxes] == pytest.approx(
        [f["properties"]["score"] for f in before["features"]], rel=1e-12
    )
    # Visits keep their link to the refitted list.
    assert sum(view.visits.values()) == 10


def test_incidents_on_the_list_date_are_not_used(
    client: Any, tokens: Any, db_session: Any, incidents: Any
) -> None:
    """Training is strictly before the date: an incident on the day itself changes nothing."""
    from datetime import UTC, datetime, timedelta

    from services.predictive.lists import service as lists
    from tests.factories import incident_row, store_incidents

    before = _list(client, tokens, "kfrs")
    at = incidents["fire"][-1]
    first = datetime(LIST_DAY.year, LIST_DAY.month, LIST_DAY.day, 1, tzinfo=UTC)
    on_day = [
        incident_row(
            lon=at.lon,
            lat=at.lat,
            xy=(at.x, at.y),
            occurred_at=first + timedelta(minutes=i),
            source_id=f"late-{i}",
        )
        for i in range(50)
    ]
    store_incidents(db_session, on_day, source="fire")
    view, _ = lists.get_or_create_list(db_session, agency_code="kfrs", day=LIST_DAY, force=True)
    assert view.target_list.n_events == before["n_events"]
    assert [b.score for b in view.boxes] == pytest.approx(
        [f["properties"]["score"] for f in before["features"]], rel=1e-9
    )
    # ... while the next day's list does see them.
    nxt, _ = lists.get_or_create_list(
        db_session, agency_code="kfrs", day=LIST_DAY + timedelta(days=1)
    )
    assert nxt.target_list.n_events == before["n_events"] + 50


@pytest.mark.parametrize(
    "when, ok",
    [
        ("1900-01-01T10:00:00Z", False),  # D8: a 1900 visit on a 2024 list
        ("2024-04-29T23:30:00+01:00", False),  # before the day before the list's date
        ("2024-04-30T00:30:00+01:00", True),  # the day before, London time
        ("2024-05-02T23:30:00+01:00", True),  # the day after
        ("2024-05-03T00:30:00+01:00", False),  # after the day after
        ("2024-05-02T22:30:00Z", True),  # the same instant as 23:30 BST
        ("2024-05-02T23:00:00Z", False),  # midnight BST: the window is half-open
    ],
)
def test_visit_time_must_fit_the_list_date(
    client: Any, tokens: Any, db_session: Any, when: str, ok: bool
) -> None:
    from sqlalchemy import text

    assert LIST_DAY.isoformat() == "2024-05-01"  # the cases above are written for it
    body = _list(client, tokens)
    cell = body["features"][0]["properties"]["cell_id"]
    for url, extra in (
        (f"/targets/{body['list_id']}/boxes/{cell}/visits", {}),
        ("/visits", {"agency": "kfrs", "date": LIST_DAY.isoformat(), "cell_id": cell}),
    ):
        r = client.post(
            url, json={"visited_at": when, "crew": f"Blue {url}", **extra}, headers=tokens["crew"]
        )
        if ok:
            assert r.status_code == 201, (url, r.text)
            continue
        assert r.status_code == 422, (url, r.text)
        problem = r.json()
        assert problem["errors"][0]["field"] == "visited_at"
        assert "from 2024-04-30 00:00 BST to 2024-05-03 00:00 BST" in problem["detail"]
    n = db_session.execute(text("SELECT count(*) FROM predictive.visits")).scalar_one()
    assert n == (2 if ok else 0)
