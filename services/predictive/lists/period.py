"""What period the incident data behind a list cover, and the newest day a list can use them.

A list of day D is fitted on the incidents before D (local midnight). Police files give only the
month, so an incident stamped 1 September 2022 with month precision stands for any day of
September: the data then cover up to 30 September, and the newest day with data is 1 October.
Reading only: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from services.predictive.dates import LONDON
from services.predictive.lists.generate import STALE_DAYS
from services.predictive.models import Agency, TargetList
from shared.incidents.coverage import held
from shared.incidents.models import Incident


@dataclass(frozen=True)
class DataPeriod:
    """The first and last day (Medway dates, inclusive) of the incidents of some categories.

    ``last`` is the end of the newest incident's month when only its month is known, but never
    on or after ``before`` when the period was asked for incidents before a day.
    """

    first: date | None
    last: date | None
    count: int

    @property
    def empty(self) -> bool:
        """Whether there are no incidents at all."""
        return self.last is None

    @property
    def next_day(self) -> date | None:
        """The first list date that can use every incident of the period (the day after)."""
        return None if self.last is None else self.last + timedelta(days=1)

    def days_before(self, day: date) -> int | None:
        """How many days the newest incident is before ``day`` (None without incidents)."""
        return None if self.last is None else (day - self.last).days

    def near(self, day: date, *, stale_days: int = STALE_DAYS) -> bool:
        """Whether the data reach within ``stale_days`` of ``day`` (a list of it has data)."""
        gap = self.days_before(day)
        return gap is not None and gap <= stale_days


def incident_period(
    session: Session,
    *,
    categories: list[str],
    before: datetime | None = None,
    source: str | None = None,
) -> DataPeriod:
    """The period of the incidents of ``categories`` (all when empty), before ``before`` if set,
    of one ``source`` if given."""
    cond: list[ColumnElement[bool]] = []
    if categories:
        cond.append(Incident.category.in_(list(categories)))
    if source is not None:
        cond.append(Incident.source == source)
    if before is not None:
        cond.append(Incident.occurred_at < before)
    groups = held(session, where=cond)
    if not groups:
        return DataPeriod(None, None, 0)
    # The newest incident says how far the data reach: its day, or its month's end when only
    # its month is known (a month-precision incident older than a dated one does not extend it).
    newest = max(groups, key=lambda g: (g.newest_at, g.by_month))
    last = newest.last_day(LONDON)
    if before is not None:
        last = min(last, before.astimezone(LONDON).date() - timedelta(days=1))
    first = min(g.first_day(LONDON) for g in groups)
    return DataPeriod(first, last, sum(g.count for g in groups))


def list_period(session: Session, *, target_list: TargetList) -> DataPeriod:
    """The incidents a stored list could be fitted on: its categories, before its date."""
    return incident_period(
        session, categories=list(target_list.categories), before=target_list.trained_before
    )


def agency_period(session: Session, *, agency: Agency, source: str | None = None) -> DataPeriod:
    """Every stored incident of the agency's categories (of one source if given)."""
    return incident_period(session, categories=list(agency.categories), source=source)


def newest_list_with_data(
    session: Session, *, agency: Agency | None, period: DataPeriod
) -> date | None:
    """The newest stored list date from the data's first day to the newest day with data."""
    if agency is None or agency.id is None or period.first is None or period.next_day is None:
        return None
    return session.scalar(
        select(func.max(TargetList.list_date)).where(
            TargetList.agency_id == agency.id,
            TargetList.list_date > period.first,
            TargetList.list_date <= period.next_day,
        )
    )
