"""Demo loader idempotence and the day-to-day stability in diagnostics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tests.conftest import SHARED_DATA
from tests.factories import LIST_DAY

LONDON = ZoneInfo("Europe/London")


def test_demo_is_idempotent(db_session: Any, incidents: Any) -> None:
    from services.predictive.demo import load_demo

    first = load_demo(db_session, shared_data=SHARED_DATA)
    assert "2 made" in first
    n = db_session.execute(text("SELECT count(*) FROM predictive.target_lists")).scalar_one()
    second = load_demo(db_session, shared_data=SHARED_DATA)
    assert "0 made" in second and "already loaded" in second
    assert (
        db_session.execute(text("SELECT count(*) FROM predictive.target_lists")).scalar_one() == n
    )
    wards = "SELECT count(*) FROM predictive.areas WHERE kind = 'ward'"
    assert db_session.execute(text(wards)).scalar_one() == 22
    # GETs no longer make lists: the demo leaves today's in place for both agencies.
    from services.predictive.dates import today_london

    todays = db_session.execute(
        text(
            "SELECT a.code FROM predictive.target_lists l JOIN predictive.agencies a "
            "ON a.id = l.agency_id WHERE l.list_date = :d ORDER BY a.code"
        ),
        {"d": today_london()},
    ).scalars()
    assert list(todays) == ["kfrs", "police"]


def test_demo_opens_the_crews_lists_on_a_day_with_data(
    db_session: Any, incidents: dict[str, list[Any]], make_client: Any, tokens: Any
) -> None:
    """The demo's incidents end before today: it makes each agency's list for the day after its
    newest incident and prints that page's address, where the list has data near it."""
    import re

    from services.predictive.agencies.defaults import DEFAULTS
    from services.predictive.demo import load_demo

    message = load_demo(db_session, shared_data=SHARED_DATA)
    client = make_client("predictive")
    for agency, defaults in DEFAULTS.items():
        # The newest incident of the agency's kinds, from the rows the fixture stored.
        rows = [r for rs in incidents.values() for r in rs if r.category in defaults.categories]
        newest = max(rows, key=lambda r: r.occurred_at)
        last = newest.occurred_at.astimezone(LONDON).date()
        if newest.time_precision == "month":  # a police month stands for its every day
            last = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        day = last + timedelta(days=1)
        url = f"/targets/page?agency={agency}&date={day.isoformat()}"
        assert url in message, (url, message)
        r = client.get(url, headers=tokens["crew"])
        assert r.status_code == 200, r.text[:300]
        assert 'data-testid="stale-data"' not in r.text and 'data-testid="box-1"' in r.text
    assert len(re.findall(r"/targets/page\?agency=\w+&date=", message)) == len(DEFAULTS)


def test_diagnostics_stability_is_the_overlap_of_consecutive_lists(
    client: Any, tokens: Any, make_list: Any
) -> None:
    days = [LIST_DAY, LIST_DAY + timedelta(days=1), LIST_DAY + timedelta(days=3)]
    cells = []
    for d in days:
        make_list("kfrs", d)
        r = client.get(
            "/targets", params={"agency": "kfrs", "date": d.isoformat()}, headers=tokens["crew"]
        )
        cells.append({f["id"] for f in r.json()["features"]})
    r = client.get(
        "/diagnostics",
        params={"agency": "kfrs", "from": days[0].isoformat(), "to": days[-1].isoformat()},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200
    lists = r.json()["lists"]
    assert [x["date"] for x in lists] == [d.isoformat() for d in days]
    expected = len(cells[0] & cells[1]) / len(cells[0] | cells[1])
    assert lists[0]["jaccard_with_previous_day"] is None
    assert lists[1]["jaccard_with_previous_day"] == pytest.approx(expected)
    assert lists[2]["jaccard_with_previous_day"] is None  # not the day after
    assert r.json()["mean_day_to_day_jaccard"] == pytest.approx(expected)


def test_agencies_listed_with_defaults(client: Any, tokens: Any) -> None:
    r = client.get("/agencies", headers=tokens["analyst"])
    assert r.status_code == 200
    by_code = {a["code"]: a for a in r.json()}
    assert "Criminal damage and arson" in by_code["kfrs"]["categories"]
    assert "deliberate_fire" in by_code["kfrs"]["categories"]
    assert set(by_code["police"]["categories"]) == {
        "Burglary",
        "Violence and sexual offences",
        "Robbery",
        "Vehicle crime",
    }
    assert by_code["police"]["cell_size_m"] == 150


def test_a_few_recent_demo_incidents_do_not_move_the_demo_day(
    db_session: Any, incidents: dict[str, list[Any]]
) -> None:
    """Eight recent incidents in view of a camera (the assets demo's) must not put the crews'
    demo list on a day trained on them alone: the day follows the agency's main source."""
    from datetime import UTC, datetime

    from services.predictive.agencies.defaults import DEFAULTS
    from services.predictive.demo import newest_data_days
    from tests.factories import incident_row, store_incidents

    before = newest_data_days(db_session)
    recent = datetime(2026, 11, 20, 21, tzinfo=UTC)
    rows = [
        incident_row(
            occurred_at=recent - timedelta(days=i),
            lon=0.6,
            lat=51.36,
            source="assets_demo",
            source_id=f"recent-{agency}-{i}",
            category=DEFAULTS[agency].categories[0],
        )
        for agency in DEFAULTS
        for i in range(8)
    ]
    store_incidents(db_session, rows, source="assets_demo")
    assert newest_data_days(db_session) == before
