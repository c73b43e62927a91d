"""What period the stored incidents cover: one read per source and time precision (first and
newest instant, how many), and the days those cover in the time zone the caller counts days in.

The services count days differently, and each says which: a hotspot run's ``from``/``to`` are
UTC days, the SEG's evidence windows and the predictive lists are Europe/London days. One rule
is the same for all: a month-precision incident (data.police.uk gives only the month; the
parsers store it as the month's first instant, 00:00 UTC) covers its month up to its last day,
while the day it is dated on stays the 1st. Reading only: nothing here writes.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from shared.incidents.models import Incident
from shared.incidents.registry import Precision

LONDON = ZoneInfo("Europe/London")


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def last_covered_day(moment: datetime, *, by_month: bool, tz: tzinfo) -> date:
    """The last day (in ``tz``) an incident's time covers: its day, or its month's last day."""
    if by_month:
        return month_end(moment.astimezone(UTC).date())
    return moment.astimezone(tz).date()


@dataclass(frozen=True)
class Held:
    """The incidents of one source and one time precision: first and newest instant, count."""

    source: str
    by_month: bool
    first_at: datetime
    newest_at: datetime
    count: int

    def first_day(self, tz: tzinfo) -> date:
        """The day (in ``tz``) the first incident is dated on."""
        return self.first_at.astimezone(tz).date()

    def newest_day(self, tz: tzinfo) -> date:
        """The day (in ``tz``) the newest incident is dated on (a month's 1st for a month)."""
        return self.newest_at.astimezone(tz).date()

    def last_day(self, tz: tzinfo) -> date:
        """The last day (in ``tz``) the newest incident covers (its month's last for a month)."""
        return last_covered_day(self.newest_at, by_month=self.by_month, tz=tz)


def held(session: Session, *, where: Sequence[ColumnElement[bool]] = ()) -> list[Held]:
    """Per source and time precision, the incidents matching ``where`` (all when empty)."""
    q = (
        select(
            Incident.source,
            Incident.time_precision,
            func.min(Incident.occurred_at),
            func.max(Incident.occurred_at),
            func.count(),
        )
        .where(*where)
        .group_by(Incident.source, Incident.time_precision)
        .order_by(Incident.source, Incident.time_precision)
    )
    return [
        Held(source, precision == Precision.MONTH.value, first, newest, int(n))
        for source, precision, first, newest, n in session.execute(q)
    ]


@dataclass(frozen=True)
class SourceDays:
    """The days one source covers in some time zone, both ends inclusive, and how many rows."""

    source: str
    first_day: date
    last_day: date  # the last day covered: a month-only source's newest month's last day
    newest_day: date  # the day the newest incident is dated on
    by_month: bool  # every incident of the source has its month only
    count: int


def source_days(groups: Iterable[Held], *, tz: tzinfo) -> list[SourceDays]:
    """One ``SourceDays`` per source of ``groups`` (its precisions merged), by source name."""
    by_source: dict[str, list[Held]] = {}
    for g in groups:
        by_source.setdefault(g.source, []).append(g)
    return [
        SourceDays(
            source=source,
            first_day=min(g.first_day(tz) for g in gs),
            last_day=max(g.last_day(tz) for g in gs),
            newest_day=max(g.newest_day(tz) for g in gs),
            by_month=all(g.by_month for g in gs),
            count=sum(g.count for g in gs),
        )
        for source, gs in sorted(by_source.items())
    ]
