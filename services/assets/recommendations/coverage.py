"""What period the incident data cover, and the SEG's evidence window ending on a chosen day.

The recommendations' evidence (incidents in view, footage requests, downtime) is counted over a
window; when the incident data end before the window does, "0 incidents in view" says nothing
about the camera. Pages say what the data cover and offer the window ending on the newest day
that has data. Days are Europe/London days; a month-precision incident (data.police.uk gives
only the month) covers its month up to the last day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.incidents.coverage import LONDON as LONDON  # the pages take it from here
from shared.incidents.coverage import held, last_covered_day, source_days
from shared.incidents.models import Incident
from shared.incidents.registry import Precision

# A day the window may end on: far enough either side for any record, near enough that the
# window's arithmetic never leaves the calendar.
EARLIEST_DAY = date(1990, 1, 1)
LATEST_DAY = date(2100, 12, 31)


@dataclass(frozen=True)
class SourceSpan:
    """The days one incident source covers (London dates, inclusive) and how many rows."""

    source: str
    first: date
    last: date
    rows: int


@dataclass(frozen=True)
class IncidentCoverage:
    """The incident data held: one span per source, newest last day first."""

    spans: tuple[SourceSpan, ...]

    @property
    def first(self) -> date:
        """The first day any source covers."""
        return min(s.first for s in self.spans)

    @property
    def last(self) -> date:
        """The newest day with incident data (any source)."""
        return max(s.last for s in self.spans)

    def ending_before(self, day: date, *, slack_days: int = 0) -> list[SourceSpan]:
        """The sources whose data end more than ``slack_days`` before ``day``."""
        return [s for s in self.spans if (day - s.last).days > slack_days]


@dataclass(frozen=True)
class EvidenceWindow:
    """The window the evidence is counted over: [start, end), aware UTC datetimes."""

    start: datetime
    end: datetime
    as_of: date | None  # the day chosen (None: the window ends now)

    @property
    def first_day(self) -> date:
        """The window's first London day."""
        return self.start.astimezone(LONDON).date()

    @property
    def last_day(self) -> date:
        """The window's last London day (the day before ``end`` when it ends at midnight)."""
        return (self.end.astimezone(LONDON) - timedelta(microseconds=1)).date()

    @property
    def days(self) -> int:
        """How many London days it spans (first and last included)."""
        return (self.last_day - self.first_day).days + 1


def local_day(moment: datetime, precision: str) -> date:
    """The last London day an incident's time covers: its day, or its month's last day."""
    return last_covered_day(moment, by_month=precision == Precision.MONTH.value, tz=LONDON)


def first_local_day(moment: datetime) -> date:
    """The London day of an incident's time (a month's first day for a month)."""
    return moment.astimezone(LONDON).date()


def incident_coverage(session: Session) -> IncidentCoverage | None:
    """The days each incident source covers; None when no incident is held."""
    spans = [
        SourceSpan(d.source, d.first_day, d.last_day, d.count)
        for d in source_days(held(session), tz=LONDON)
    ]
    if not spans:
        return None
    return IncidentCoverage(tuple(sorted(spans, key=lambda s: (-s.last.toordinal(), s.source))))


def incidents_in(session: Session, *, start: datetime, end: datetime) -> int:
    """How many incidents occurred in [start, end)."""
    stmt = select(func.count()).where(Incident.occurred_at >= start, Incident.occurred_at < end)
    return int(session.scalar(stmt) or 0)


def end_of_day(day: date) -> datetime:
    """The instant a London day ends (the next day's midnight), aware."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=LONDON)


def months_before(moment: datetime, months: int) -> datetime:
    """The same London wall-clock time ``months`` calendar months earlier (day clamped)."""
    local = moment.astimezone(LONDON)
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


def months_window(*, months: int, as_of: date | None, now: datetime) -> EvidenceWindow:
    """The ``months`` calendar months ending at the end of London day ``as_of`` (or ``now``)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    end = end_of_day(as_of) if as_of is not None else now
    return EvidenceWindow(months_before(end, months), end.astimezone(UTC), as_of)


def dates_window(*, first: date, last: date) -> EvidenceWindow:
    """The London days ``first`` to ``last``, both whole."""
    if last < first:
        raise ValueError("the window must not end before it starts")
    start = datetime.combine(first, time.min, tzinfo=LONDON)
    return EvidenceWindow(start.astimezone(UTC), end_of_day(last).astimezone(UTC), last)


def covered_days(coverage: IncidentCoverage | None, *, first: date, last: date) -> int:
    """How many of the London days ``first`` to ``last`` lie inside some source's span."""
    if coverage is None or last < first:
        return 0
    cuts = sorted(
        (max(s.first, first), min(s.last, last))
        for s in coverage.spans
        if s.first <= last and s.last >= first
    )
    days, reach = 0, first - timedelta(days=1)
    for a, b in cuts:
        a = max(a, reach + timedelta(days=1))
        if b >= a:
            days += (b - a).days + 1
            reach = b
    return days


def evidence_window(*, window_days: int, as_of: date | None, now: datetime) -> EvidenceWindow:
    """The ``window_days`` ending at the end of London day ``as_of`` (or ``now`` when None)."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    end = end_of_day(as_of) if as_of is not None else now
    # Days back in London wall-clock time (a window over a clock change still starts at midnight).
    start = end.astimezone(LONDON) - timedelta(days=window_days)
    return EvidenceWindow(start.astimezone(UTC), end.astimezone(UTC), as_of)
