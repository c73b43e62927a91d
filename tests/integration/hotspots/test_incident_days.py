"""One reader of what period the incidents cover (``shared.incidents.coverage``), three day
conventions: hotspot runs count UTC days, the SEG's evidence and the predictive lists London days.

The same stored incidents, near midnight in summer time (23:30 UTC is 00:30 the next day in
London) and month-only ones, are read by each service's own function; the expected days are
written out by hand from the calendar, not computed by the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from services.assets.recommendations.coverage import incident_coverage
from services.hotspots.limits import Limits
from services.hotspots.runs.coverage import source_periods
from services.predictive.lists.period import incident_period
from shared.incidents.coverage import LONDON, held, source_days
from tests.factories import incident_row, store_incidents

# Rochester, inside the partnership's outline.
XY = (574_000.0, 168_000.0)


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


ROWS = {
    "fire": [  # dated incidents; the newest at 00:30 BST on 1 July, still 30 June in UTC
        (_at(2023, 1, 1, 0, 30), "exact"),
        (_at(2023, 6, 30, 23, 30), "exact"),
    ],
    "police": [  # month only: stored as the 1st, 00:00 UTC; covers the whole month
        (_at(2023, 3, 1), "month"),
        (_at(2023, 5, 1), "month"),
    ],
    "stats19": [  # both precisions: the dated one is newer than the month's 1st
        (_at(2023, 5, 1), "month"),
        (_at(2023, 5, 20, 12, 0), "exact"),
    ],
}


@pytest.fixture()
def stored(db_session: Any) -> Any:
    """Only the incidents above (the rest of the database's incidents removed, rolled back)."""
    db_session.execute(text("DELETE FROM incidents.incidents"))
    for source, rows in ROWS.items():
        store_incidents(
            db_session,
            [
                incident_row(
                    occurred_at=when,
                    xy=XY,
                    source=source,
                    source_id=f"days-{source}-{i}",
                    category=f"{source}-category",
                    time_precision=precision,
                )
                for i, (when, precision) in enumerate(rows)
            ],
            source=source,
        )
    return db_session


def test_the_shared_reader_counts_days_in_the_zone_it_is_given(stored: Any) -> None:
    groups = held(stored)
    assert sorted((g.source, g.by_month, g.count) for g in groups) == [
        ("fire", False, 2),
        ("police", True, 2),
        ("stats19", False, 1),
        ("stats19", True, 1),
    ]
    utc = {d.source: d for d in source_days(groups, tz=UTC)}
    london = {d.source: d for d in source_days(groups, tz=LONDON)}
    assert (utc["fire"].last_day, london["fire"].last_day) == (date(2023, 6, 30), date(2023, 7, 1))
    assert utc["fire"].first_day == london["fire"].first_day == date(2023, 1, 1)
    # A month is the same month whatever the zone: its last day is covered, it is dated the 1st.
    for days in (utc, london):
        assert (days["police"].last_day, days["police"].newest_day) == (
            date(2023, 5, 31),
            date(2023, 5, 1),
        )
        assert days["police"].by_month and not days["stats19"].by_month
        assert (days["stats19"].last_day, days["stats19"].newest_day) == (
            date(2023, 5, 31),
            date(2023, 5, 20),
        )


def test_hotspots_count_utc_days(stored: Any) -> None:
    periods = {p.source: p for p in source_periods(stored, box=Limits.defaults().allowed_box())}
    assert list(periods) == ["police", "stats19", "fire"]  # the registry's order
    fire, police = periods["fire"], periods["police"]
    assert (fire.first_day, fire.last_day, fire.newest_day) == (
        date(2023, 1, 1),
        date(2023, 6, 30),
        date(2023, 6, 30),
    )
    assert (police.first_day, police.last_day, police.newest_day, police.by_month) == (
        date(2023, 3, 1),
        date(2023, 5, 31),
        date(2023, 5, 1),
        True,
    )
    assert (fire.label, fire.incidents, police.incidents) == ("Fires", 2, 2)
    # A box away from the incidents: no source holds any.
    assert source_periods(stored, box=(0.0, 0.0, 1000.0, 1000.0)) == []


def test_assets_count_london_days(stored: Any) -> None:
    cov = incident_coverage(stored)
    assert cov is not None
    # Newest last day first, then by source.
    assert [(s.source, s.first, s.last, s.rows) for s in cov.spans] == [
        ("fire", date(2023, 1, 1), date(2023, 7, 1), 2),
        ("police", date(2023, 3, 1), date(2023, 5, 31), 2),
        ("stats19", date(2023, 5, 1), date(2023, 5, 31), 2),
    ]
    assert (cov.first, cov.last) == (date(2023, 1, 1), date(2023, 7, 1))


def test_predictive_counts_london_days_to_the_newest_incident(stored: Any) -> None:
    every = incident_period(stored, categories=[])
    assert (every.first, every.last, every.count) == (date(2023, 1, 1), date(2023, 7, 1), 6)
    police = incident_period(stored, categories=[], source="police")
    assert (police.first, police.last, police.next_day) == (
        date(2023, 3, 1),
        date(2023, 5, 31),
        date(2023, 6, 1),
    )
    # The newest stats19 incident is dated (20 May), so the older month does not extend it.
    assert incident_period(stored, categories=["stats19-category"]).last == date(2023, 5, 20)
    # Asked for incidents before a day: never on or after it.
    before = incident_period(stored, categories=[], source="police", before=_at(2023, 5, 15))
    assert (before.last, before.count) == (date(2023, 5, 14), 2)
    none = incident_period(stored, categories=["no such category"])
    assert (none.first, none.last, none.count, none.empty) == (None, None, 0, True)
