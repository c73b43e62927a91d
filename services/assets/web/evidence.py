"""What the review map says about its evidence: the window chosen and the incident data in it.

The SEG's recommendations count incidents in each camera's view over a window: 6, 12 or 24
months ending today or on a chosen day (``?months=12&as_of=YYYY-MM-DD``), or between two dates
(``?months=dates&from=...&as_of=...``). The page says how much of the window the incident data
cover; where they cover none of it, "no incident data for this window" (a count of 0 there is
no evidence of anything), and it links to the window ending on the newest day with data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from services.assets.recommendations.coverage import (
    EARLIEST_DAY,
    LATEST_DAY,
    LONDON,
    EvidenceWindow,
    IncidentCoverage,
    covered_days,
    dates_window,
    incident_coverage,
    incidents_in,
    months_window,
)

# Data end some days before the window does in the normal course (the last incident is rarely
# on the last day); a source that stops over a month before is worth saying (police files come
# out monthly).
STALE_AFTER_DAYS = 31
MONTH_CHOICES = (6, 12, 24)
DEFAULT_MONTHS = 12
DATES = "dates"
# The longest window between dates: the evidence queries scan every incident in it.
MAX_WINDOW_DAYS = 5 * 366
NO_DATA = "No incident data for this window"
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
        return None, f"\u201c{text[:40]}\u201d is not a date (YYYY-MM-DD)"
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        return None, f"{long_date(day)} is outside the days the register can count"
    return day, None


@dataclass(frozen=True)
class WindowChoice:
    """The window asked for: ``months`` back from ``as_of`` (None: today), or between dates."""

    months: int | None = DEFAULT_MONTHS  # None: between the dates ``first`` and ``as_of``
    as_of: date | None = None
    first: date | None = None
    error: str | None = None  # what was wrong with the request, and what is shown instead

    @property
    def mode(self) -> str:
        """``"6"``, ``"12"``, ``"24"`` or ``"dates"``: the selector's value."""
        return DATES if self.months is None else str(self.months)


def parse_window(
    months: str | None, as_of: str | None, first: str | None, *, today: date
) -> WindowChoice:
    """The window from the page's query; a readable error and the 12 months otherwise."""
    end, end_error = parse_day(as_of)
    if end_error:
        return WindowChoice(error=f"{end_error}: showing {_fallback(None)}")
    mode = (months or "").strip().lower()
    start_text = (first or "").strip()
    if mode == DATES or (not mode and start_text):
        return _dates_choice(start_text, end, today)
    if not mode:
        return WindowChoice(as_of=end)
    if mode in {str(m) for m in MONTH_CHOICES}:
        return WindowChoice(months=int(mode), as_of=end)
    shown = f"\u201c{mode[:20]}\u201d is not a window: choose 6, 12 or 24 months, or dates"
    return WindowChoice(as_of=end, error=f"{shown}: showing {_fallback(end)}")


def _fallback(end: date | None) -> str:
    ending = f"ending {long_date(end)}" if end else "ending today"
    return f"the {DEFAULT_MONTHS} months {ending}"


def _dates_choice(start_text: str, end: date | None, today: date) -> WindowChoice:
    start, start_error = parse_day(start_text)
    last = end or today
    problem = None
    if start is None:
        problem = start_error or "Between dates needs a first day (From)"
    elif start > last:
        problem = f"The window starts on {long_date(start)}, after it ends ({long_date(last)})"
    elif (last - start).days + 1 > MAX_WINDOW_DAYS:
        days = (last - start).days + 1
        problem = f"A window of {days} days is longer than the {MAX_WINDOW_DAYS} days allowed"
    if problem:
        return WindowChoice(as_of=end, error=f"{problem}: showing {_fallback(end)}")
    return WindowChoice(months=None, as_of=last, first=start)


@dataclass(frozen=True)
class EvidenceNote:
    """The sentences and links the map shows above the recommendations."""

    window: EvidenceWindow
    choice: WindowChoice
    period: str
    window_text: str
    coverage_text: str
    covered_days: int = 0
    no_data: str | None = None
    newest_href: str | None = None
    newest_label: str | None = None
    today_href: str | None = None
    ending_early: str | None = None
    day_error: str | None = None
    incidents: int = 0
    coverage: IncidentCoverage | None = field(default=None, repr=False)

    @property
    def without_data(self) -> bool:
        """True when the window holds no incident data at all."""
        return self.covered_days == 0


def window_href(map_path: str, choice: WindowChoice, day: date | None, tiles: bool) -> str:
    """The map's path for the window of ``choice``'s length ending on ``day`` (None: today)."""
    query: dict[str, str] = {}
    if choice.months is not None and choice.months != DEFAULT_MONTHS:
        query["months"] = str(choice.months)
    if day:
        query["as_of"] = day.isoformat()
    if not tiles:
        query["tiles"] = "false"
    return map_path + ("?" + urlencode(query) if query else "")


def period_sentence(coverage: IncidentCoverage | None) -> str:
    """``Incidents up to 30 September 2022 (from 1 January 2022).``"""
    if coverage is None:
        return "No incident data are held."
    return f"Incidents up to {long_date(coverage.last)} (from {long_date(coverage.first)})."


def _window_sentence(window: EvidenceWindow, choice: WindowChoice, today: date) -> str:
    last = long_date(window.last_day)
    ends = f"today, {last}" if window.as_of is None and window.last_day == today else last
    over = f"{choice.months} months" if choice.months is not None else "the dates chosen"
    return (
        f"Evidence is counted over {over}: the {window.days} days from "
        f"{long_date(window.first_day)} to {ends}."
    )


def _coverage_sentence(days: int, window: EvidenceWindow) -> str:
    if days == 0:
        return f"{NO_DATA}."
    if days >= window.days:
        return "Incident data cover the whole window."
    return f"Incident data cover {days} of the window\u2019s {window.days} days."


def _no_data_sentence(coverage: IncidentCoverage | None, window: EvidenceWindow) -> str:
    if coverage is None:
        why = "none are held yet"
    elif coverage.first > window.last_day:
        why = f"the incident data begin on {long_date(coverage.first)}, after it"
    elif coverage.last < window.first_day:
        why = f"the incident data end on {long_date(coverage.last)}, before it"
    else:
        why = "the incident data have a gap over these days"
    return (
        f"{NO_DATA} ({why}): every camera shows 0 incidents in view whatever happened there, "
        "so no camera is judged on its use."
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


def choose_window(choice: WindowChoice, now: datetime) -> EvidenceWindow:
    """The evidence window of ``choice`` (months back from its day or now, or its dates)."""
    if choice.months is None and choice.first is not None and choice.as_of is not None:
        return dates_window(first=choice.first, last=choice.as_of)
    return months_window(months=choice.months or DEFAULT_MONTHS, as_of=choice.as_of, now=now)


def evidence_note(
    session: Session, *, choice: WindowChoice, now: datetime, map_path: str, tiles: bool
) -> EvidenceNote:
    """The window of ``choice`` and what the page says about the incident data in it."""
    window = choose_window(choice, now)
    coverage = incident_coverage(session)
    count = incidents_in(session, start=window.start, end=window.end)
    days = covered_days(coverage, first=window.first_day, last=window.last_day) if count else 0
    today = now.astimezone(LONDON).date()
    newest = coverage.last if coverage else None
    offer_newest = days == 0 and newest is not None and newest != window.as_of
    if offer_newest and newest is not None and newest + timedelta(days=1) > LATEST_DAY:
        offer_newest = False
    return EvidenceNote(
        window=window,
        choice=choice,
        period=period_sentence(coverage),
        window_text=_window_sentence(window, choice, today),
        coverage_text=_coverage_sentence(days, window),
        covered_days=days,
        no_data=_no_data_sentence(coverage, window) if days == 0 else None,
        newest_href=window_href(map_path, choice, newest, tiles) if offer_newest else None,
        newest_label=(
            f"Show the window ending {long_date(newest)}, the newest day with incident data"
            if offer_newest and newest
            else None
        ),
        today_href=(
            window_href(map_path, choice, None, tiles)
            if choice.as_of is not None and choice.months is not None
            else None
        ),
        ending_early=_ending_early(coverage, window) if coverage and count else None,
        day_error=choice.error,
        incidents=count,
        coverage=coverage,
    )
