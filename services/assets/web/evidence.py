"""What the review map says about its evidence: the incident data's period and the window.

The SEG's recommendations count incidents in each camera's view over a window ending today (or
on a chosen day, ``?as_of=YYYY-MM-DD``). When the incident data end before the window, a "0
incidents" is no evidence of anything; the page says so in plain words and links to the window
ending on the newest day with data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from services.assets.recommendations.coverage import (
    EARLIEST_DAY,
    LATEST_DAY,
    LONDON,
    EvidenceWindow,
    IncidentCoverage,
    evidence_window,
    incident_coverage,
    incidents_in,
)

# Data end some days before the window does in the normal course (the last incident is rarely
# on the last day); a source that stops over a month before is worth saying (police files come
# out monthly).
STALE_AFTER_DAYS = 31
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def long_date(day: date) -> str:
    """``30 September 2022`` (English month names whatever the locale)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def parse_day(raw: str | None) -> tuple[date | None, str | None]:
    """The page's ``as_of`` as a day, or (None, why not) for anything but a sensible date."""
    if raw is None or not raw.strip():
        return None, None
    text = raw.strip()
    try:
        day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        return None, f"\u201c{text}\u201d is not a date (YYYY-MM-DD)"
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        return None, f"{long_date(day)} is outside the days the register can count"
    return day, None


@dataclass(frozen=True)
class EvidenceNote:
    """The sentences and links the map shows above the recommendations."""

    window: EvidenceWindow
    period: str
    window_text: str
    no_data: str | None = None
    newest_href: str | None = None
    newest_label: str | None = None
    today_href: str | None = None
    ending_early: str | None = None
    day_error: str | None = None
    incidents: int = 0
    coverage: IncidentCoverage | None = field(default=None, repr=False)


def _href(map_path: str, day: date | None, tiles: bool) -> str:
    query = {"as_of": day.isoformat()} if day else {}
    if not tiles:
        query["tiles"] = "false"
    return map_path + ("?" + urlencode(query) if query else "")


def period_sentence(coverage: IncidentCoverage | None) -> str:
    """``Incidents up to 30 September 2022 (from 1 January 2022).``"""
    if coverage is None:
        return "No incident data are held."
    return f"Incidents up to {long_date(coverage.last)} (from {long_date(coverage.first)})."


def _window_sentence(window: EvidenceWindow, days: int, today: date) -> str:
    last = long_date(window.last_day)
    ends = f"today, {last}" if window.as_of is None and window.last_day == today else last
    return f"Evidence is counted over the {days} days from {long_date(window.first_day)} to {ends}."


def _no_data_sentence(coverage: IncidentCoverage | None, window: EvidenceWindow) -> str:
    if coverage is None:
        return (
            "Every camera shows 0 incidents in view, whatever happened there: advice that rests "
            "on incidents does not hold until incident data are imported."
        )
    if coverage.first > window.last_day:
        why = f"the incident data begin on {long_date(coverage.first)}, after it"
    elif coverage.last < window.first_day:
        why = f"the incident data end on {long_date(coverage.last)}, before it"
    else:
        why = "the incident data have a gap over these days"
    return (
        f"This window holds no incident data ({why}): every camera shows 0 incidents in view "
        "whatever happened there, so advice that rests on incidents does not hold."
    )


def _ending_early(coverage: IncidentCoverage, window: EvidenceWindow) -> str | None:
    early = coverage.ending_before(window.last_day, slack_days=STALE_AFTER_DAYS)
    if not early:
        return None
    which = ", ".join(f"{s.source} (up to {long_date(s.last)})" for s in early)
    return (
        f"Some incident data end well before this window does: {which}. Later incidents from "
        "those sources are not in the counts."
    )


def evidence_note(
    session: Session,
    *,
    window_days: int,
    as_of: date | None,
    day_error: str | None,
    now: datetime,
    map_path: str,
    tiles: bool,
) -> EvidenceNote:
    """The window for ``as_of`` (today when None) and what the page says about its data."""
    window = evidence_window(window_days=window_days, as_of=as_of, now=now)
    coverage = incident_coverage(session)
    count = incidents_in(session, start=window.start, end=window.end)
    today = now.astimezone(LONDON).date()
    newest = coverage.last if coverage else None
    offer_newest = count == 0 and newest is not None and newest != window.as_of
    return EvidenceNote(
        window=window,
        period=period_sentence(coverage),
        window_text=_window_sentence(window, window_days, today),
        no_data=_no_data_sentence(coverage, window) if count == 0 else None,
        newest_href=_href(map_path, newest, tiles) if offer_newest else None,
        newest_label=(
            f"Show the window ending {long_date(newest)}, the newest day with incident data"
            if offer_newest and newest
            else None
        ),
        today_href=_href(map_path, None, tiles) if as_of is not None else None,
        ending_early=_ending_early(coverage, window) if coverage and count else None,
        day_error=day_error,
        incidents=count,
        coverage=coverage,
    )
