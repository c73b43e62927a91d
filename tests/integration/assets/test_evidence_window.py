"""The evidence window and the incident data's days, on Europe/London days (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.assets.recommendations.coverage import (
    IncidentCoverage,
    SourceSpan,
    evidence_window,
    local_day,
)
from services.assets.web.evidence import long_date, parse_day, period_sentence


@pytest.mark.parametrize(
    ("moment", "precision", "day"),
    [
        # data.police.uk "2022-09" is stored as 1 September 00:00 UTC: it covers to the 30th.
        (datetime(2022, 9, 1, tzinfo=UTC), "month", date(2022, 9, 30)),
        (datetime(2024, 2, 1, tzinfo=UTC), "month", date(2024, 2, 29)),
        (datetime(2022, 12, 1, tzinfo=UTC), "month", date(2022, 12, 31)),
        # An exact time late in a summer evening is already the next day in London (BST).
        (datetime(2022, 6, 30, 23, 30, tzinfo=UTC), "exact", date(2022, 7, 1)),
        (datetime(2022, 12, 31, 23, 30, tzinfo=UTC), "exact", date(2022, 12, 31)),
    ],
)
def test_the_last_day_an_incident_covers(moment: datetime, precision: str, day: date) -> None:
    assert local_day(moment, precision) == day


def test_a_window_ending_on_a_day_counts_whole_london_days() -> None:
    # 30 days ending on Sunday 10 April 2022 (BST); the clocks went forward on 27 March.
    w = evidence_window(window_days=30, as_of=date(2022, 4, 10), now=datetime.now(UTC))
    assert w.end == datetime(2022, 4, 10, 23, 0, tzinfo=UTC)  # midnight BST
    assert w.start == datetime(2022, 3, 12, 0, 0, tzinfo=UTC)  # midnight GMT, 30 days before
    assert (w.first_day, w.last_day) == (date(2022, 3, 12), date(2022, 4, 10))


def test_a_window_ending_now() -> None:
    now = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    w = evidence_window(window_days=365, as_of=None, now=now)
    assert w.end == now and w.start == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)
    assert w.last_day == date(2026, 1, 15)


def test_coverage_runs_from_the_first_to_the_newest_day_of_any_source() -> None:
    cov = IncidentCoverage(
        (
            SourceSpan("fire", date(2021, 3, 2), date(2022, 12, 20), 4),
            SourceSpan("police", date(2022, 1, 1), date(2022, 9, 30), 9),
        )
    )
    assert (cov.first, cov.last) == (date(2021, 3, 2), date(2022, 12, 20))
    assert period_sentence(cov) == "Incidents up to 20 December 2022 (from 2 March 2021)."
    assert [s.source for s in cov.ending_before(date(2022, 12, 31), slack_days=31)] == ["police"]
    assert period_sentence(None) == "No incident data are held."


@pytest.mark.parametrize(
    ("raw", "day", "error"),
    [
        (None, None, False),
        ("", None, False),
        (" 2022-09-30 ", date(2022, 9, 30), False),
        ("2022-02-29", None, True),
        ("2022-9-30", None, True),
        ("20220930", None, True),  # fromisoformat takes it; the page asks for YYYY-MM-DD
        ("1066-10-14", None, True),
        ("9999-12-31", None, True),
    ],
)
def test_the_pages_as_of(raw: str | None, day: date | None, error: bool) -> None:
    got, why = parse_day(raw)
    assert got == day and (why is not None) is error


def test_long_dates_are_english_whatever_the_locale() -> None:
    assert long_date(date(2022, 9, 30)) == "30 September 2022"
    assert long_date(date(2023, 1, 1)) == "1 January 2023"
